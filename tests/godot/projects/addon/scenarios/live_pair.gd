extends "res://live.gd"
## Two players (run twice at once: name=alice peer=bob, name=bob peer=alice) in one relay:
## each spawns an avatar (DENY), sees the other's move smoothly to where it stopped, cannot take
## it, exchanges events, measures the clock; with reconnect=1 one of them drops its connection
## and resumes its session, and the other must never see it leave.
## Arguments: url, name, peer, z (where this avatar stops), now_ms (the test's clock), reconnect.

var left_peers := []
var gone: Array[String] = []


func run() -> int:
	var me: String = args["name"]
	var peer: String = args["peer"]
	var client := await join_party(args["url"])
	if client == null:
		return finish()
	print("member %d" % client.member_id)
	# Once the peer said it is done it may leave; before that, nobody may.
	var note_leaver := func(_r: SoireeRoom, member: Dictionary, _why: int) -> void:
		gone.append(member["name"])
		if not ("done " + peer) in events_seen:
			left_peers.append(member)
	client.member_left.connect(note_leaver)
	var avatar := await spawn_named(client, me, P.Rule.DENY)
	var theirs := await wait_named(client, peer)
	if avatar == null or theirs == null:
		return finish()
	print("saw %s as object %d of member %d" % [peer, theirs.id, theirs.master])
	var shadow := follower(client, theirs.id)
	var stop := Vector3(10, 0, float(args["z"]))
	for i in range(1, 11):
		avatar.position = Vector3(i, 0, stop.z)
		await get_tree().create_timer(0.05).timeout
	var their_stop := Vector3(10, 0, float(args["peer_z"]))
	var arrived := func() -> bool: return shadow.position.is_equal_approx(their_stop)
	if await wait_until(arrived, 20, "%s's avatar at %s" % [peer, their_stop]):
		print("%s's avatar arrived at %s" % [peer, their_stop])
	var lobby := client.room("lobby")
	var grab := lobby.request_ownership(theirs.id)
	await grab.completed
	check_equal(grab.status, P.Status.NOT_ALLOWED, "taking %s's avatar" % peer)
	check_equal(lobby.update(theirs.id, PackedByteArray([1])), P.Status.NOT_OWNER, "updating it")
	print("taking %s's avatar: %s" % [peer, grab.status_name()])
	send_text(client, "hello from " + me)
	if await wait_event("hello from " + peer):
		print("heard hello from %s" % peer)
	await _clock(client)
	var focus := lobby.focus(Vector3(1, 2, 3))
	await focus.completed
	check_equal(focus.status, P.Status.OK, "setting a focus")
	if args.get("reconnect", "0") == "1":
		await _resume(client, avatar)
	await finish_together(client, me, [peer])
	check_equal(left_peers, [], "nobody left while the party went on")
	if args.get("reconnect", "0") != "1":
		# The other one leaves first, with a normal close: that ends its session at once, where
		# a lost connection would keep it for the grace window (30 s).
		var left := func() -> bool: return peer in gone
		if await wait_until(left, 10, "%s to leave" % peer):
			print("saw %s leave" % peer)
	await leave(client)
	return finish()


func _clock(client: SoireeClient) -> void:
	await wait_until(func() -> bool: return client.rtt_ms >= 0, 10, "a ping's answer")
	var skew: int = absi(client.server_time_ms() - int(args["now_ms"]))
	check(skew < 120000, "the relay's clock, as estimated, is near the test's: %d ms apart" % skew)
	print("rtt %.0f ms" % client.rtt_ms)


func _resume(client: SoireeClient, avatar: Node3D) -> void:
	var member := client.member_id
	var sync: SoireeSync = avatar.get_child(0)
	var object_id := sync.object_id
	var welcomes := []
	client.welcomed.connect(func(id: int, resumed: bool) -> void: welcomes.append([id, resumed]))
	client.reconnect()
	var back := func() -> bool: return not welcomes.is_empty() and client.room("lobby").synced
	if not await wait_until(back, 20, "the session to resume"):
		return
	check_equal(welcomes, [[member, true]], "resumed with the same member id")
	check(client.room("lobby").owns(object_id) and sync.object_id == object_id, "still the owner")
	avatar.position = Vector3(10, 0, float(args["z"]))
	print("resumed as member %d" % client.member_id)
