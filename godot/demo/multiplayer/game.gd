extends Node3D
## The demo's second scene: a game written the plain Godot 4 way, played through a party with
## SoireeMultiplayerPeer. The world is the party's default map; each player's character appears
## at one of its spawn points, spawned by a MultiplayerSpawner and moved through a
## MultiplayerSynchronizer; the chat is an @rpc; the ball (rule Allow) belongs to whoever grabbed
## it last, as the relay decides: its SoireeAuthority keeps its multiplayer authority equal to the
## relay object's Owner.
##
## Modes: "host" (this player hosts the room's game: Godot peer 1), "join" (a client of that
## host; the game ends when the host leaves) and "mesh" (nobody hosts; players come and go).
##
## Each player spawns their own character, with a spawner of their own (Spawners/<id>, whose
## multiplayer authority is that player). So the spawn carries the character's synchronizer, and
## every peer, a late joiner too, has the character before its first state arrives: peers learn
## of a newcomer from the relay at the same moment, not through the host as with ENet, so state
## from a character the host had spawned could reach the newcomer before the host's spawn did.
## When a player leaves, Godot removes what their spawner spawned, on every peer.
##
## Scripted runs (main.gd passes `steps=` on): players:<n>[:<seconds>], walk:<x>:<z>,
## sees:<name>:<x>:<z>, gone:<name>, say:<words>, heard:<words>, grab, ball:<name>,
## ballnear:<x>:<z>, ended, wait:<seconds>, quit. A step fails after STEP_TIMEOUT, or players
## after its <seconds> when given (the other engines may still be starting).

const PLAYER := preload("res://demo/multiplayer/player.tscn")
const Player := preload("res://demo/multiplayer/player.gd")
const Ball := preload("res://demo/multiplayer/ball.gd")
const MODES := ["host", "join", "mesh"]
const MAX_CHAT := 200
const CHAT_LINES := 8
## How close to the ball a player must be to grab it.
const REACH := 2.0
## A scripted step fails after this long (engines start slowly on a busy machine).
const STEP_TIMEOUT := 90.0

## "host", "join" or "mesh".
var mode := ""
var peer: SoireeMultiplayerPeer
## This player's character, once spawned.
var me: Player
var _chat: Array[String] = []
var _spawned := false
var _over := false

@onready var players: Node3D = $Players
@onready var spawners: Node = $Spawners
@onready var spawn_points: Node3D = $Map/SpawnPoints
@onready var ball: Ball = $Ball
@onready var camera: Camera3D = $Camera
@onready var status: Label = $UI/Panel/Box/Status
@onready var chat_log: Label = $UI/Panel/Box/Chat
@onready var message: LineEdit = $UI/Panel/Box/Message
@onready var leave_button: Button = $UI/Panel/Box/Leave


func _ready() -> void:
	multiplayer.peer_connected.connect(_on_peer_connected)
	multiplayer.peer_disconnected.connect(_on_peer_disconnected)
	multiplayer.connected_to_server.connect(_on_connected_to_server)
	multiplayer.connection_failed.connect(_on_connection_failed)
	multiplayer.server_disconnected.connect(_on_server_disconnected)
	players.child_entered_tree.connect(_on_character_added)
	players.child_exiting_tree.connect(_on_character_removed)
	ball.holder_changed.connect(_on_ball_holder_changed)
	message.text_submitted.connect(_on_message_submitted)
	leave_button.pressed.connect(leave)


## Joins the game of `room` in the party of `link` (what the player pasted) as `player_name`.
func start(link: String, player_name: String, new_mode: String, room: String) -> void:
	mode = new_mode if new_mode in MODES else "mesh"
	# The world is drawn first: a 3D scene's first frames can be slow on a slow machine (shaders),
	# and the relay closes a connection that does not say hello within seconds of opening.
	for frame in 3:
		await get_tree().process_frame
	peer = SoireeMultiplayerPeer.new()
	peer.display_name = player_name
	var error := OK
	match mode:
		"host":
			error = peer.create_host(link, room)
		"join":
			error = peer.create_client(link, room)
		_:
			error = peer.create_mesh(link, room)
	if error != OK:
		_game_over(peer.last_error)
		return
	multiplayer.multiplayer_peer = peer
	_say("connecting to the game of the room %s (%s mode)" % [room, mode])


## The name the party knows a Godot peer by.
func name_of(godot_id: int) -> String:
	var known := peer.peer_name(godot_id) if peer != null else ""
	return known if not known.is_empty() else "player %d" % godot_id


func find_character(label: String) -> Player:
	for character: Player in players.get_children():
		if character.get_label() == label:
			return character
	return null


## Back to the start screen (the game is over for this player).
func leave() -> void:
	if peer != null:
		peer.close()
	multiplayer.multiplayer_peer = OfflineMultiplayerPeer.new()
	get_tree().change_scene_to_file("res://main.tscn")


func _process(_delta: float) -> void:
	var connected := (
		peer != null and peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED
	)
	if connected and not _spawned and not _over:
		_spawned = true
		_spawn_me()
	if me != null and is_instance_valid(me):
		camera.global_position = me.global_position + Vector3(0, 9, 11)
		camera.look_at(me.global_position + Vector3(0, 1, 0), Vector3.UP)


func _unhandled_key_input(event: InputEvent) -> void:
	if not event.is_pressed() or event.is_echo() or me == null:
		return
	match event.keycode:
		KEY_E:
			_grab_or_drop()
		KEY_ENTER:
			message.grab_focus()


# --- players ----------------------------------------------------------------------------------


func _add_spawner(godot_id: int) -> MultiplayerSpawner:
	var spawner: MultiplayerSpawner = spawners.get_node_or_null(str(godot_id))
	if spawner != null:
		return spawner
	spawner = MultiplayerSpawner.new()
	spawner.name = str(godot_id)
	spawner.spawn_path = ^"../../Players"
	# A spawner spawns only its own player's character, whatever the spawn data says.
	spawner.spawn_function = _make_character.bind(godot_id)
	spawner.set_multiplayer_authority(godot_id)
	spawners.add_child(spawner)
	return spawner


func _spawn_me() -> void:
	var godot_id := multiplayer.get_unique_id()
	var data := {"id": godot_id, "spot": _free_spot(godot_id)}
	me = _add_spawner(godot_id).spawn(data) as Player


# Runs on every peer for every spawn, with what the spawning peer sent: checked, as any input.
func _make_character(data: Variant, spawner_id: int) -> Node:
	var markers := spawn_points.get_children()
	if not data is Dictionary or data.get("id") != spawner_id or not data.get("spot") is int:
		return null
	var spot: int = data["spot"]
	if spot < 0 or spot >= markers.size():
		return null
	var character: Player = PLAYER.instantiate()
	character.name = str(spawner_id)
	character.transform = (markers[spot] as Node3D).global_transform
	character.set_label(name_of(spawner_id))
	return character


# The first spawn point nobody stands on, starting from one that depends on the player's id (a
# newcomer may not have seen the others' characters yet).
func _free_spot(godot_id: int) -> int:
	var markers := spawn_points.get_children()
	for step in markers.size():
		var spot := (godot_id - 1 + step) % markers.size()
		var at: Vector3 = markers[spot].global_position
		var taken := players.get_children().any(
			func(other: Node3D) -> bool: return other.position.distance_to(at) < 1.0
		)
		if not taken:
			return spot
	return (godot_id - 1) % markers.size()


func _spot_name(at: Vector3) -> String:
	for marker: Node3D in spawn_points.get_children():
		if marker.global_position.distance_to(at) < 0.01:
			return marker.name
	return ""


func _on_character_added(character: Node) -> void:
	character.ready.connect(_on_character_ready.bind(character), CONNECT_ONE_SHOT)


# Reported once the character is ready: by then a late joiner has its current state too.
func _on_character_ready(character: Player) -> void:
	var spot := _spot_name(character.position)
	var where := "at (%.1f, %.1f)" % [character.position.x, character.position.z]
	if not spot.is_empty():
		where = "at %s" % spot
	if character.get_multiplayer_authority() == multiplayer.get_unique_id():
		_say("you appeared %s" % where)
	else:
		_say("%s is here, %s" % [character.get_label(), where])


func _on_character_removed(character: Node) -> void:
	if character != me:
		_say("%s left" % (character as Player).get_label())


func _on_peer_connected(godot_id: int) -> void:
	# Before any packet of that peer is read: its spawner must exist when its spawns arrive.
	_add_spawner(godot_id)


func _on_peer_disconnected(godot_id: int) -> void:
	# Godot has already removed the characters this peer's spawner spawned.
	var spawner := spawners.get_node_or_null(str(godot_id))
	if spawner != null:
		spawner.queue_free()


func _on_connected_to_server() -> void:
	_say("joined the game hosted by %s" % name_of(1))


func _on_connection_failed() -> void:
	_game_over(peer.last_error if peer != null else "could not join the game")


func _on_server_disconnected() -> void:
	var why := peer.last_error if peer != null else ""
	_game_over(why if not why.is_empty() else "you left the game")


func _game_over(why: String) -> void:
	if _over:
		return
	_over = true
	message.editable = false
	leave_button.text = "Back to the start"
	_say("game over: %s" % why)


# --- the ball ---------------------------------------------------------------------------------


func _grab_or_drop() -> SoireeRequest:
	if ball.is_carried_by(me):
		_say("dropped the ball")
		return ball.drop()
	if me.position.distance_to(ball.position) > REACH:
		_say("too far from the ball")
		return null
	var request: SoireeRequest = ball.grab(me)
	request.completed.connect(
		func(answer: SoireeRequest) -> void: _say("ball: %s" % answer.status_name())
	)
	return request


func _on_ball_holder_changed(godot_id: int) -> void:
	var whose := "nobody's" if godot_id == 0 else name_of(godot_id) + "'s"
	ball.get_node("Label").text = "%s ball" % whose
	_say("the ball is %s" % whose)


# --- the chat ---------------------------------------------------------------------------------

## The chat: any player may call it; Godot tells who sent it, and the relay vouches for that.
@rpc("any_peer", "call_local", "reliable")
func post(text: String) -> void:
	var sender := multiplayer.get_remote_sender_id()
	var line := "%s: %s" % [name_of(sender), text.strip_edges().left(MAX_CHAT)]
	_chat.append(line)
	chat_log.text = "\n".join(_chat.slice(-CHAT_LINES))
	_say(line, false)


func _on_message_submitted(text: String) -> void:
	message.clear()
	message.release_focus()
	if not text.strip_edges().is_empty() and not _over and me != null:
		post.rpc(text)


func _say(text: String, as_status := true) -> void:
	if as_status:
		status.text = text
	print("demo: " + text)


# --- scripted runs ----------------------------------------------------------------------------


## Runs the steps of a scripted run, then quits (exit code 1 at the first step that fails).
func run_steps(steps: PackedStringArray) -> void:
	for step in steps:
		var ok: bool = await _step(step.split(":"))
		print("demo: step %s %s" % [step, "done" if ok else "FAILED"])
		if not ok:
			get_tree().quit(1)
			return


func _step(parts: PackedStringArray) -> bool:
	var rest := ":".join(parts.slice(1))  # what follows the step's name (chat lines have colons)
	if (
		parts[0] in ["walk", "say", "grab"]
		and not await _wait_for(func() -> bool: return me != null)
	):
		return false
	var condition := Callable()
	var seconds := STEP_TIMEOUT
	match parts[0]:
		"players":
			if parts.size() > 2:
				seconds = float(parts[2])
			condition = func() -> bool: return players.get_child_count() == int(parts[1])
		"walk":
			me.walk_target = Vector3(float(parts[1]), 0.0, float(parts[2]))
			condition = func() -> bool: return me.walk_target == null
		"sees":
			var at := Vector3(float(parts[2]), 0.0, float(parts[3]))
			condition = func() -> bool:
				var other := find_character(parts[1])
				return other != null and _flat(other.position).distance_to(at) < 0.1
		"gone":
			condition = func() -> bool: return find_character(rest) == null
		"say":
			post.rpc(rest)
			condition = func() -> bool: return true
		"heard":
			condition = func() -> bool: return _chat.has(rest)
		"grab":
			return await _grab()
		"ball":
			condition = func() -> bool:
				var holder := ball.get_multiplayer_authority()
				return holder > 0 and name_of(holder) == rest
		"ballnear":
			var spot := Vector3(float(parts[1]), 0.0, float(parts[2]))
			condition = func() -> bool: return _flat(ball.position).distance_to(spot) < 1.0
		"ended":
			condition = func() -> bool: return _over
		"wait":
			await get_tree().create_timer(float(rest)).timeout
			condition = func() -> bool: return true
		"quit":
			await get_tree().create_timer(0.3).timeout  # what was sent last goes out first
			if peer != null:
				peer.close()
			await get_tree().create_timer(0.5).timeout
			get_tree().quit(0)
			return true
		_:
			return false
	return await _wait_for(condition, seconds)


# Walks next to the ball, asks for it, and waits until this peer is its authority.
func _grab() -> bool:
	if not await _wait_for(func() -> bool: return me != null):
		return false
	me.walk_target = _flat(ball.position) + Vector3(1.0, 0.0, 0.0)
	if not await _wait_for(func() -> bool: return me.walk_target == null):
		return false
	var request := _grab_or_drop()
	if request == null:
		return false
	if not request.is_done():
		await request.completed
	return request.is_ok() and await _wait_for(func() -> bool: return ball.is_carried_by(me))


func _wait_for(condition: Callable, seconds := STEP_TIMEOUT) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await get_tree().process_frame
	return true


static func _flat(at: Vector3) -> Vector3:
	return Vector3(at.x, 0.0, at.z)
