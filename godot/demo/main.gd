extends Node
## The Soirée demo: paste a party's link, join its lobby, walk around with the others. Or play
## the second scene, a game written the plain Godot 4 way (demo/multiplayer/game.gd): host it,
## join its host, or play it in mesh mode, through the same party.
##
## Keys: WASD or arrows to walk, E to grab or drop the ball, F to ask for or drop the lamp,
## Y / N to answer when someone asks for a lamp you hold as Master. Walk into the ring to go to
## the party whose link is in the portal field (and back again).
##
## Command-line arguments (after `--`) fill the form and join at once, for scripted runs:
## link=<link> name=<name> portal=<link> room=<room> ask=grant|deny steps=<step>,<step>,...
## Steps: see:<name>[:<seconds>], gone:<name>, heard:<words>, ball, lamp, portal,
## wait:<seconds>, quit.
## With play=host|join|mesh the second scene starts instead (its own steps: game.gd).

const P := preload("res://addons/soiree/protocol.gd")
const World := preload("res://demo/world.gd")
const GAME := preload("res://demo/multiplayer/game.tscn")
## The room the second scene's game is played in, unless the link or `room=` names one.
const GAME_ROOM := "arena"
const STEP_TIMEOUT := 30.0

var party: SoireeClient
var world: Node3D
var room_name := "lobby"
var portal_link := ""
var _link_edit: LineEdit
var _name_edit: LineEdit
var _portal_edit: LineEdit
var _join_button: Button
var _status: Label
var _travelling := false
var _options := {}
var _said: Array[String] = []


func _ready() -> void:
	_build_form()
	world = World.new()
	add_child(world)
	world.said.connect(_say)
	world.portal_entered.connect(_travel)
	for arg in OS.get_cmdline_user_args():
		var split := arg.find("=")
		if split > 0:
			_options[arg.substr(0, split)] = arg.substr(split + 1)
	world.ask_policy = _options.get("ask", "")
	_link_edit.text = _options.get("link", "")
	_name_edit.text = _options.get("name", "")
	_portal_edit.text = _options.get("portal", "")
	if _options.has("play"):
		_play.call_deferred(_options["play"])  # the tree is still adding this scene
	elif not _link_edit.text.is_empty():
		await _join()
		_run_steps(str(_options.get("steps", "")).split(",", false))


func _build_form() -> void:
	var layer := CanvasLayer.new()
	add_child(layer)
	var panel := PanelContainer.new()
	panel.position = Vector2(12, 12)
	panel.custom_minimum_size = Vector2(420, 0)
	layer.add_child(panel)
	var box := VBoxContainer.new()
	panel.add_child(box)
	var title := Label.new()
	title.text = "Soirée demo"
	box.add_child(title)
	_link_edit = _field(box, "Paste the link the host gave you")
	_name_edit = _field(box, "Your name")
	_portal_edit = _field(box, "Portal: a second party's link (optional)")
	_join_button = Button.new()
	_join_button.text = "Join"
	_join_button.pressed.connect(_join)
	box.add_child(_join_button)
	_status = Label.new()
	_status.autowrap_mode = TextServer.AUTOWRAP_WORD_SMART
	box.add_child(_status)
	var keys := Label.new()
	keys.text = "WASD: walk · E: ball · F: lamp · Y/N: answer an ask · the ring: portal"
	box.add_child(keys)
	var second := Label.new()
	second.text = "Or play a Godot multiplayer game on the party's default map:"
	box.add_child(second)
	var modes := HBoxContainer.new()
	box.add_child(modes)
	for choice in [["Host it", "host"], ["Join the host", "join"], ["Mesh (no host)", "mesh"]]:
		var button := Button.new()
		button.text = choice[0]
		button.pressed.connect(_play.bind(choice[1]))
		modes.add_child(button)


func _field(box: VBoxContainer, hint: String) -> LineEdit:
	var edit := LineEdit.new()
	edit.placeholder_text = hint
	box.add_child(edit)
	return edit


func _join() -> void:
	if party != null:
		return
	portal_link = _portal_edit.text.strip_edges()
	var client := _open_client(_link_edit.text)
	if client == null:
		return
	_join_button.disabled = true
	room_name = _options.get(
		"room", client.link.room if not client.link.room.is_empty() else "lobby"
	)
	_say("connecting to %s" % client.link)
	var join := client.join(room_name)
	await join.completed
	if not join.is_ok():
		_say(
			(
				"could not join %s: %s"
				% [room_name, client.last_error if client.last_error else join.status_name()]
			)
		)
		client.queue_free()
		_join_button.disabled = false
		return
	party = client
	for edit in [_link_edit, _portal_edit, _name_edit]:
		edit.editable = false
		edit.release_focus()
	world.enter(party, room_name, _player_name())
	_say("joined %s as member %d" % [room_name, party.room(room_name).me()])


func _open_client(link_text: String) -> SoireeClient:
	var client := SoireeClient.new()
	client.display_name = _name_edit.text.strip_edges()  # what the others and the host will see
	add_child(client)
	client.connection_failed.connect(_say)
	var problem := client.open(link_text)
	if not problem.is_empty():
		client.queue_free()
		return null
	return client


# The second scene: a game played with SoireeMultiplayerPeer, in `mode` host, join or mesh. It
# takes this screen's place; its Leave button comes back here.
func _play(mode: String) -> void:
	if party != null:
		return
	var link := SoireeLink.parse(_link_edit.text)
	if not link.is_valid():
		_say(link.error)
		if _options.has("steps"):  # a scripted run goes on here (quit)
			_run_steps(str(_options["steps"]).split(",", false))
		return
	var room: String = _options.get("room", link.room if not link.room.is_empty() else GAME_ROOM)
	var game := GAME.instantiate()
	var tree := get_tree()
	tree.root.add_child(game)
	tree.current_scene = game
	queue_free()
	game.start(_link_edit.text, _name_edit.text.strip_edges(), mode, room)
	if _options.has("steps"):
		game.run_steps(str(_options["steps"]).split(",", false))


# The avatar's label: the name typed, else the one the party knows this player by.
func _player_name() -> String:
	var text := _name_edit.text.strip_edges()
	if text.is_empty():
		var joined := party.room(room_name)
		text = joined.member_name(joined.me())
	return text if not text.is_empty() else "Guest"


# The avatar walked into the ring: join the other party, hand the avatar over, leave this one.
func _travel() -> void:
	if _travelling or party == null:
		return
	if portal_link.is_empty():
		_say("the portal leads nowhere: paste a second party's link in the portal field")
		return
	_travelling = true
	_say("travelling")
	var other := _open_client(portal_link)
	var join := other.join(room_name) if other != null else null
	if join != null:
		await join.completed
	if join == null or not join.is_ok():
		_say("the portal's party did not let us in")
		if other != null:
			other.queue_free()
		_travelling = false
		return
	var status: int = await world.me.sync.move_to(other, room_name)
	if world.me.sync.session != other:
		_say("could not move there: %s" % P.status_name(status))
		other.close()
		other.queue_free()
		_travelling = false
		return
	var old := party
	# The way back is the link of the party we came from.
	var back := _link_edit.text
	_link_edit.text = portal_link
	_portal_edit.text = back
	portal_link = back
	party = other
	world.show_party(other, room_name)
	old.close()
	old.queue_free()
	_travelling = false
	_say("arrived in the other party as member %d" % party.room(room_name).me())


func _say(text: String) -> void:
	_said.append(text)
	_status.text = text
	print("demo: " + text)


# --- scripted runs ----------------------------------------------------------------------------


func _run_steps(steps: PackedStringArray) -> void:
	for step in steps:
		var ok: bool = await _step(step)
		print("demo: step %s %s" % [step, "done" if ok else "FAILED"])
		if not ok:
			get_tree().quit(1)
			return


func _step(step: String) -> bool:
	var parts := step.split(":")
	var ok := false
	match parts[0]:
		"see":  # an optional deadline: the other player may still be starting
			ok = await _wait_for(
				func() -> bool: return world.find_thing("avatar", parts[1]) != null,
				float(parts[2]) if parts.size() > 2 else STEP_TIMEOUT
			)
		"gone":
			ok = await _wait_for(
				func() -> bool: return world.find_thing("avatar", parts[1]) == null
			)
		"ball", "lamp":
			ok = await _carry(parts[0])
		"heard":
			ok = await _wait_for(
				func() -> bool: return _said.any(func(t: String) -> bool: return parts[1] in t)
			)
		"portal":
			var before := party.get_instance_id()
			world.me.global_position = World.PORTAL_SPOT
			var moved := func() -> bool:
				return party.get_instance_id() != before and not _travelling
			ok = await _wait_for(moved)
		"wait":
			await get_tree().create_timer(float(parts[1])).timeout
			ok = true
		"quit":
			if party != null:
				party.close()
			await get_tree().create_timer(0.5).timeout
			get_tree().quit(0)
			ok = true
	return ok


func _carry(kind: String) -> bool:
	if not await _wait_for(func() -> bool: return world.find_thing(kind) != null):
		return false
	var thing: Node3D = world.find_thing(kind)
	world.me.global_position = thing.global_position + Vector3(1, 0, 0)
	var request: SoireeRequest = world.toggle_carry(kind)
	if request == null:
		return false
	if not request.is_done():
		await request.completed
	return true


func _wait_for(condition: Callable, seconds: float = STEP_TIMEOUT) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await get_tree().process_frame
	return true
