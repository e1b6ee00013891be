extends "res://scenarios/peer.gd"
## SoireeAuthority with no socket: three mesh peers (and a host and a client) joined to the room
## double, a ball bound to one relay object in each world; its authority follows the Owner, in
## the order of the relay's stream.


func run() -> int:
	get_tree().multiplayer_poll = false
	_mesh_ball()
	_host_ball()
	get_tree().multiplayer_poll = true
	return finish()


## A Ball (a GameNode with a synchronizer of `value`) and its SoireeAuthority, in a world.
func _ball(world: World, rule := P.Rule.ALLOW) -> SoireeAuthority:
	var ball := GameNode.new()
	ball.name = "Ball"
	world.root.add_child(ball)
	var sync := MultiplayerSynchronizer.new()
	sync.name = "Sync"
	var config := SceneReplicationConfig.new()
	config.add_property(NodePath(".:value"))
	config.property_set_spawn(NodePath(".:value"), false)
	config.property_set_replication_mode(
		NodePath(".:value"), SceneReplicationConfig.REPLICATION_MODE_ALWAYS
	)
	sync.replication_config = config
	sync.root_path = NodePath("..")
	ball.add_child(sync)
	var authority := SoireeAuthority.new()
	authority.name = "SoireeAuthority"
	authority.rule = rule
	authority.set_process(false)  # driven by _tick
	ball.add_child(authority)
	return authority


func _ball_of(world: World) -> Node:
	return world.root.get_node("Ball")


func _authority_of(world: World) -> SoireeAuthority:
	return _ball_of(world).get_node("SoireeAuthority")


## One frame of every authority node, then a pump.
func _tick(rounds := 3) -> void:
	for i in rounds:
		for world: World in worlds.values():
			_authority_of(world)._process(0.0)
		_pump(1)


func _authorities() -> Array:
	var ids := []
	for world: World in worlds.values():
		ids.append(_ball_of(world).get_multiplayer_authority())
	return ids


func _values() -> Array:
	var values := []
	for world: World in worlds.values():
		values.append(_ball_of(world).value)
	return values


func _mesh_ball() -> void:
	room = RoomDouble.new()
	var a := _world(3, MESH)
	var b := _world(4, MESH)
	var c := _world(8, MESH)
	_pump()
	var balls: Array[SoireeAuthority] = [_ball(a), _ball(b), _ball(c)]
	# All three spawn at once: the lowest object id wins, the others are despawned.
	for authority: SoireeAuthority in balls:
		authority._process(0.0)
	_tick()
	check_equal(room.objects.keys(), [1], "one object is left of the three spawned")
	var state := "soiree-authority:Ball".to_utf8_buffer()
	check_equal(room.objects[1]["state"], state, "the key, in the object's state")
	check(balls.all(func(x: SoireeAuthority) -> bool: return x.object.id == 1), "all bound to 1")
	check_equal(_authorities(), [4, 4, 4], "authority: a, its Owner, everywhere")
	check(balls[0].is_owner() and not balls[1].is_owner(), "is_owner()")
	check_equal(balls[2].get_owner_id(), 4, "get_owner_id()")
	_ball_of(a).value = 7
	check(_pump_until(func() -> bool: return _values() == [7, 7, 7]), "the owner drives the ball")
	# A grab under ALLOW, while the old owner's state is on its way: everyone applies what the
	# old owner sent before the change, then nothing more from it.
	var seen_at_change := []
	balls[2].authority_changed.connect(
		func(_from: int, _to: int) -> void: seen_at_change.append(_ball_of(c).value)
	)
	_ball_of(a).value = 8
	a.api.poll()
	a.api.poll()  # the state with 8 goes
	room.serve()
	_ball_of(a).value = 9
	a.api.poll()  # the state with 9 is made, not yet sent
	var grab := balls[1].request()
	room.serve([4])  # the relay processes b's request first
	check_equal(grab.status, P.Status.GRANTED, "ALLOW: granted")
	a.api.poll()  # ...then a's state with 9, sent after the change
	room.serve()
	c.api.poll()
	check_equal(seen_at_change, [8], "the state sent before the change was applied before it")
	check_equal(_ball_of(c).value, 8, "the state sent after the change was ignored")
	_pump(1)
	check_equal(_authorities(), [5, 5, 5], "the grab flipped the authority everywhere")
	_pump(1)
	_ball_of(b).value = 10
	check(_pump_until(func() -> bool: return _values() == [10, 10, 10]), "the new owner drives")
	# A tampered client makes itself the authority of a node it does not own: nobody listens.
	_ball_of(c).get_node("Sync").set_multiplayer_authority(9)
	_ball_of(c).value = 666
	_pump(6)
	check_equal([_ball_of(a).value, _ball_of(b).value], [10, 10], "the forged state is ignored")
	_ball_of(c).get_node("Sync").set_multiplayer_authority(5)
	# Give, release, and an Ask reaching the Master (a spawned it).
	var give := balls[0].give(9)
	_tick(1)
	check_equal(give.status, P.Status.OK, "the Master gives the ball to peer 9")
	check_equal(_authorities(), [9, 9, 9], "authority: the new owner")
	var release := balls[2].release()
	_tick(1)
	check_equal(release.status, P.Status.OK, "the owner releases it")
	check_equal(_authorities(), [4, 4, 4], "back to the Master")
	var asked := []
	balls[0].ask_received.connect(
		func(ask: int, requester: int) -> void:
			asked.append(requester)
			balls[0].answer(ask, true)
	)
	balls[0].set_rule(P.Rule.ASK)
	_tick(1)
	var ask := balls[1].request()
	_tick(1)
	check_equal(asked, [5], "the Ask reached the Master, with the requester's Godot id")
	check_equal(ask.status, P.Status.GRANTED, "the Master granted it")
	check_equal(_authorities(), [5, 5, 5], "authority: the requester")
	# The Master leaving: its object goes (WITH_MASTER), the others spawn it again.
	room.leave(3)
	_drop_world(a)
	_tick(4)
	check_equal(room.objects.size(), 1, "spawned again: %s" % [room.objects])
	var again: int = room.objects.keys()[0]
	check(again > 1, "a new object")
	check_equal(_authorities()[0], _authorities()[1], "one authority on both")
	check(_authorities()[0] in [5, 9], "one of the two left: %s" % [_authorities()])
	_forget_worlds()


func _host_ball() -> void:
	room = RoomDouble.new()
	var host := _world(2, HOST)
	_pump()
	var client := _world(5, CLIENT)
	_pump()
	var balls: Array[SoireeAuthority] = [_ball(host), _ball(client)]
	_tick()
	check_equal(_authorities(), [1, 1], "host mode: the host spawned it, authority 1")
	var grab := balls[1].request()
	_tick()
	check_equal(grab.status, P.Status.GRANTED, "a client takes it")
	check_equal(_authorities(), [6, 6], "authority: the client's id on the host too")
	_ball_of(client).value = 3
	check(_pump_until(func() -> bool: return _values() == [3, 3]), "the client drives the ball")
	_forget_worlds()
