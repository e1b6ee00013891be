extends "res://scenario.gd"
## SoireeSync driven by hand: sessions fed with relay records, time advanced by calling
## _process with chosen steps (the node's own processing is turned off).

const P := preload("res://addons/soiree/protocol.gd")
const Double := preload("res://relay_double.gd")

var relay := Double.new()


func run() -> int:
	var party := _joined_session(5, 3)
	var avatar := Node3D.new()
	add_child(avatar)
	var sync := SoireeSync.new()
	sync.set_process(false)
	avatar.add_child(sync)
	_following(party, avatar, sync)
	_owning(party, avatar, sync)
	await _handoff(party, sync)
	_state_format()
	return finish()


func _joined_session(member: int, handle: int) -> SoireeSession:
	var session := SoireeSession.new()
	add_child(session)
	var join := session.join("lobby")
	session.start()
	relay.sent(session)
	session.receive(relay.welcome(member))
	session.receive(relay.result(join.id, P.Status.OK, handle))
	session.receive(relay.snapshot(handle, "lobby", [member, 7], []))
	return session


func _state_at(origin: Vector3, angle: float, custom := "") -> PackedByteArray:
	var holder := Node3D.new()
	add_child(holder)
	holder.global_transform = Transform3D(Basis(Vector3.UP, angle), origin)
	var encoder := SoireeSync.new()
	holder.add_child(encoder)
	encoder.custom_state = custom.to_utf8_buffer()
	var state := encoder.encode_state()
	holder.queue_free()
	return state


func _following(party: SoireeSession, avatar: Node3D, sync: SoireeSync) -> void:
	var start := _state_at(Vector3(0, 0, 0), 0.0, "Bo")
	party.receive(relay.object_record(3, 4, 7, 7, 1, start))
	var customs := []
	sync.custom_state_received.connect(func(c: PackedByteArray) -> void: customs.append(c))
	sync.follow(party, "lobby", 4)
	check(not sync.is_owner() and sync.get_object().id == 4, "following someone else's object")
	sync.interpolation_delay = 0.1
	sync._process(0.1)
	check(avatar.global_position.is_equal_approx(Vector3.ZERO), "at the first state")
	var state := _state_at(Vector3(10, 0, 0), PI / 2, "Bo")
	party.receive(relay.record(P.STATE, _state_fields(4, 1, state)))
	sync._process(0.05)  # shown 0.1 s behind: halfway between the two states
	check(
		avatar.global_position.is_equal_approx(Vector3(5, 0, 0)),
		"halfway: %s" % avatar.global_position
	)
	var yaw := avatar.global_transform.basis.get_euler().y
	check(is_equal_approx(yaw, PI / 4), "rotation interpolated too: %s" % yaw)
	sync._process(0.05)
	check(avatar.global_position.is_equal_approx(Vector3(10, 0, 0)), "arrived")
	sync._process(1.0)
	check(avatar.global_position.is_equal_approx(Vector3(10, 0, 0)), "stays at the latest")
	check_equal(customs, ["Bo".to_utf8_buffer()], "custom bytes reported once, when they change")
	check_equal(party.take_outgoing(), [], "a follower sends nothing")


func _state_fields(object: int, epoch: int, state: PackedByteArray) -> Dictionary:
	return {"room": 3, "object": object, "epoch": epoch, "position": null, "state": state}


func _owning(party: SoireeSession, avatar: Node3D, sync: SoireeSync) -> void:
	var changes := []
	sync.ownership_changed.connect(func(mine: bool) -> void: changes.append(mine))
	party.receive(relay.record(P.OWNER, {"room": 3, "object": 4, "owner": 5, "epoch": 2}))
	check(sync.is_owner() and changes == [true], "ownership came to this client")
	sync.send_rate = 10.0
	sync.custom_state = "Ada".to_utf8_buffer()
	avatar.global_position = Vector3(1, 2, 3)
	sync._process(0.01)
	var sent: Array = relay.sent(party)
	check(sent.size() == 1 and sent[0]["type"] == P.UPDATE, "the transform is sent at once")
	check(
		sent[0]["epoch"] == 2 and sent[0]["position"] == Vector3(1, 2, 3), "with epoch and position"
	)
	var decoded := SoireeSync.decode_state(sent[0]["state"])
	check(
		decoded["origin"] == Vector3(1, 2, 3) and decoded["custom"] == "Ada".to_utf8_buffer(),
		"state"
	)
	avatar.global_position = Vector3(2, 2, 3)
	sync._process(0.05)
	check_equal(relay.sent(party), [], "no more than send_rate updates a second")
	sync._process(0.06)
	check_equal(relay.sent(party).size(), 1, "the next one after 1/send_rate")
	sync._process(0.2)
	check_equal(relay.sent(party), [], "nothing when the transform did not change")
	party.receive(relay.record(P.STATE, _state_fields(4, 2, _state_at(Vector3(99, 0, 0), 0.0))))
	sync._process(0.2)
	check(avatar.global_position == Vector3(2, 2, 3), "an owner ignores its own echoes")
	party.receive(relay.record(P.OWNER, {"room": 3, "object": 4, "owner": 7, "epoch": 3}))
	check(not sync.is_owner() and changes == [true, false], "ownership went away")
	sync._process(0.5)
	check(avatar.global_position == Vector3(2, 2, 3), "a new follower starts where it is")


func _handoff(party: SoireeSession, sync: SoireeSync) -> void:
	party.receive(relay.record(P.OWNER, {"room": 3, "object": 4, "owner": 5, "epoch": 4}))
	relay.sent(party)
	var other := _joined_session(11, 1)
	sync.custom_state = "Ada".to_utf8_buffer()
	var outcome := []
	var moving := func() -> void: outcome.append(await sync.move_to(other, "lobby"))
	moving.call()
	var spawn: Array = relay.sent(other)
	check(spawn.size() == 1 and spawn[0]["type"] == P.SPAWN, "the new party gets a SPAWN first")
	check_equal(relay.sent(party), [], "the old object stays until the new one exists")
	check_equal(spawn[0]["state"], sync.encode_state(), "the state is carried over")
	check_equal(spawn[0]["rule"], P.Rule.ALLOW, "and the rule (the double's objects allow)")
	other.receive(relay.object_record(1, 8, 11, 11, 1, spawn[0]["state"]))
	other.receive(relay.result(spawn[0]["req"], P.Status.OK, 8))
	var despawn: Array = relay.sent(party)
	check(despawn.size() == 1 and despawn[0]["type"] == P.DESPAWN, "then the old one is despawned")
	check(despawn[0]["object"] == 4 and sync.session == other and sync.object_id == 8, "rebound")
	check(outcome.is_empty(), "the move ends when the despawn is confirmed")
	party.receive(relay.record(P.DESPAWNED, {"room": 3, "object": 4, "reason": 0}))
	party.receive(relay.result(despawn[0]["req"], P.Status.OK))
	await get_tree().process_frame
	check_equal(outcome, [P.Status.OK], "move_to's result")
	check(sync.is_owner(), "this client owns the object in the new party")


func _state_format() -> void:
	check_equal(SoireeSync.decode_state(PackedByteArray([1, 2, 3])), {}, "too short")
	var state := _state_at(Vector3(1, 2, 3), 0.5, "x")
	state[0] = 2
	check_equal(SoireeSync.decode_state(state), {}, "unknown format")
	var zero := PackedByteArray()
	zero.resize(29)
	zero[0] = 1
	check_equal(SoireeSync.decode_state(zero), {}, "a zero quaternion is not a rotation")
