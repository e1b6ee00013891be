extends Node
## Plays the Arena example (godot/examples/port, as written for ENet or ported by its
## party.patch) in a scripted run, as a player would: an autoload that types `link=` into the
## lobby's address field, presses Host or Join (`role=host|join`), then follows `steps=`
## (comma-separated):
##
## players:<n> (n discs in the arena), walk:<action> (holds an input action until this
## player's own disc has moved: keys reach the host as the latest state, like any synchronizer's),
## moved:<n> (n discs seen moving), pulse (presses ui_accept), pulses:<n> (n pulses seen),
## status:<text> (the lobby says it), wait:<seconds>, quit.
##
## It prints "port: ..." lines: "in the game", "this is peer <id>", "peer <id> appeared at spawn
## point <k>" (or "at (x, y)"), "peer <id> moved", "pulse from <id>", "step <step> done|FAILED".
## The exit code is 1 at the first step that fails.

## A scripted step fails after this long (engines start slowly on a busy machine).
const STEP_TIMEOUT := 90.0
## How far a disc must go from where it was first seen to count as moved (pixels).
const MOVED := 20.0

var args := {}
var _first := {}  # peer id -> where its disc was first seen
var _moved := {}  # peer id -> true
var _pulses := {}  # peer id -> pulses seen
var _in_game := false


func _ready() -> void:
	for arg in OS.get_cmdline_user_args():
		var split := arg.find("=")
		if split > 0:
			args[arg.substr(0, split)] = arg.substr(split + 1)
	await get_tree().process_frame
	var lobby := get_tree().current_scene
	lobby.get_node("Menu/Box/Address").text = str(args.get("link", ""))
	var button := "Host" if args.get("role", "") == "host" else "Join"
	lobby.get_node("Menu/Box/Buttons/" + button).pressed.emit()
	for step in str(args.get("steps", "")).split(",", false):
		var ok: bool = await _step(step.split(":"))
		print("port: step %s %s" % [step, "done" if ok else "FAILED"])
		if not ok:
			print("port: the lobby says: %s" % lobby.get_node("Menu/Box/Status").text)
			get_tree().quit(1)
			return


func _process(_delta: float) -> void:
	var arena := get_tree().current_scene.get_node_or_null("Arena")
	if arena == null:
		return
	if not _in_game:
		_in_game = true
		print("port: in the game")
		print("port: this is peer %d" % multiplayer.get_unique_id())
	for disc: Node2D in arena.get_node("Players").get_children():
		var id := str(disc.name).to_int()
		if not _first.has(id):
			_first[id] = disc.position
			print("port: peer %d appeared %s" % [id, _where(arena, disc.position)])
		elif not _moved.has(id) and disc.position.distance_to(_first[id]) > MOVED:
			_moved[id] = true
			print("port: peer %d moved" % id)
		if disc.pulses > _pulses.get(id, 0):
			_pulses[id] = disc.pulses
			print("port: pulse from %d" % id)


func _where(arena: Node, at: Vector2) -> String:
	for point: Marker2D in arena.get_node("SpawnPoints").get_children():
		if point.position.distance_to(at) < 1.0:
			return "at spawn point %s" % point.name
	return "at (%.0f, %.0f)" % [at.x, at.y]


func _step(parts: PackedStringArray) -> bool:
	var condition := func() -> bool: return true
	match parts[0]:
		"players":
			condition = func() -> bool: return _discs() == int(parts[1])
		"walk":
			Input.action_press(parts[1])
			var mine := multiplayer.get_unique_id()
			var walked := await _wait_for(func() -> bool: return _moved.has(mine))
			Input.action_release(parts[1])
			return walked
		"moved":
			condition = func() -> bool: return _moved.size() >= int(parts[1])
		"pulse":
			Input.action_press("ui_accept")
			await get_tree().create_timer(0.2).timeout
			Input.action_release("ui_accept")
		"pulses":
			condition = func() -> bool: return _pulses.size() >= int(parts[1])
		"status":
			var said := ":".join(parts.slice(1))
			var status: Label = get_tree().current_scene.get_node("Menu/Box/Status")
			condition = func() -> bool: return status.text == said
		"wait":
			await get_tree().create_timer(float(parts[1])).timeout
		"quit":
			await get_tree().create_timer(0.3).timeout  # what was sent last goes out first
			if multiplayer.multiplayer_peer != null:  # null once the lobby gave up
				multiplayer.multiplayer_peer.close()
			await get_tree().create_timer(0.5).timeout
			get_tree().quit(0)
		_:
			return false
	return await _wait_for(condition)


func _discs() -> int:
	var arena := get_tree().current_scene.get_node_or_null("Arena")
	return arena.get_node("Players").get_child_count() if arena != null else 0


func _wait_for(condition: Callable) -> bool:
	var deadline := Time.get_ticks_msec() + int(STEP_TIMEOUT * 1000)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return false
		await get_tree().process_frame
	return true
