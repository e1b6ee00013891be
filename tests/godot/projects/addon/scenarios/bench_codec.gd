extends "res://scenario.gd"
## Not a test: how fast the addon's codec and session are in the engine (bench/godot_addon.py).
## Prints "bench <what>: <count> in <ms> ms = <per second>/s" lines.

const P := preload("res://addons/soiree/protocol.gd")
const Double := preload("res://relay_double.gd")

var relay := Double.new()


func run() -> int:
	var rounds := int(args.get("rounds", "20"))
	var objects := 400
	var state := PackedByteArray()
	state.resize(45)  # an avatar: a SoireeSync transform (29 bytes) and 16 custom bytes
	var message := PackedByteArray()
	for id in range(1, objects + 1):
		var fields := {
			"room": 1, "object": id, "epoch": 1, "position": Vector3(id, 0, 1), "state": state
		}
		message.append_array(relay.record(P.STATE, fields))
	check(message.size() < P.MAX_MESSAGE, "one message")
	_measure(
		"decode STATE records",
		objects * rounds,
		func() -> void:
			for i in rounds:
				P.decode_message(message)
	)
	var update := {
		"type": P.UPDATE,
		"room": 1,
		"object": 1,
		"epoch": 1,
		"position": Vector3.ONE,
		"state": state
	}
	_measure(
		"encode UPDATE records",
		objects * rounds,
		func() -> void:
			for i in objects * rounds:
				P.encode_record(update)
	)
	var session := SoireeSession.new()
	add_child(session)
	var join := session.join("lobby")
	session.start()
	session.take_outgoing()
	session.receive(relay.welcome(1000))
	session.receive(relay.result(join.id, P.Status.OK, 1))
	var snapshot := []
	for id in range(1, objects + 1):
		snapshot.append([id, 2, 2, 1, state])
	session.receive(relay.snapshot(1, "lobby", [1000, 2], snapshot))
	var seen := [0]
	session.state_changed.connect(func(_r: SoireeRoom, _o: SoireeObject) -> void: seen[0] += 1)
	_measure(
		"session: STATE records applied, with signals",
		objects * rounds,
		func() -> void:
			for i in rounds:
				session.receive(message)
	)
	check_equal(seen[0], objects * rounds, "every state reached the signal")
	return finish()


func _measure(what: String, count: int, work: Callable) -> void:
	var start := Time.get_ticks_usec()
	work.call()
	var elapsed := (Time.get_ticks_usec() - start) / 1000.0
	print(
		(
			"bench %s: %d in %.1f ms = %d/s"
			% [what, count, elapsed, count / maxf(elapsed, 0.001) * 1000]
		)
	)
