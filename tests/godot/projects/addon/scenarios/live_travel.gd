extends "res://live.gd"
## Travel between two relays (a portal): role=traveller has an avatar in party A, connects to
## party B too, and hands the avatar over (spawned in B with the same state, then despawned in
## A). role=watcher is in both parties and sees it leave A and arrive in B where it was, then
## follows it moving in B. Arguments: url_a, url_b, role.

const START := Vector3(3, 0, 4)
const LATER := Vector3(5, 0, 5)


func run() -> int:
	var party_a := await join_party(args["url_a"])
	var party_b := await join_party(args["url_b"])
	if party_a == null or party_b == null:
		return finish()
	print("member %d in A, %d in B" % [party_a.member_id, party_b.member_id])
	if args["role"] == "traveller":
		await _travel(party_a, party_b)
	else:
		await _watch(party_a, party_b)
	await leave(party_a)
	await leave(party_b)
	return finish()


func _travel(party_a: SoireeClient, party_b: SoireeClient) -> void:
	var avatar := await spawn_named(party_a, "traveller", P.Rule.DENY, START)
	if avatar == null or not await wait_event("watching"):
		return
	var sync: SoireeSync = avatar.get_child(0)
	var old_id := sync.object_id
	var before := sync.encode_state()
	var status: int = await sync.move_to(party_b, "lobby")
	check_equal(status, P.Status.OK, "moving the avatar")
	check(sync.session == party_b and sync.is_owner(), "the avatar now lives in B")
	check(party_a.room("lobby").get_object(old_id) == null, "and no longer in A")
	var moved := party_b.room("lobby").get_object(sync.object_id)
	check(moved != null and moved.state == before, "with the same state")
	check_equal(moved.rule, P.Rule.DENY, "and the same rule")
	print("moved: %s, object %d in B" % [P.status_name(status), sync.object_id])
	# The watcher compares the state it sees in B with A's: move on once it has looked.
	if await wait_event("seen in B"):
		avatar.position = LATER
	await finish_together(party_b, "traveller", ["watcher"])


func _watch(party_a: SoireeClient, party_b: SoireeClient) -> void:
	var in_a := await wait_named(party_a, "traveller")
	if in_a == null:
		return
	var state_in_a := in_a.state
	var gone := []
	party_a.object_despawned.connect(
		func(_r: SoireeRoom, o: SoireeObject, why: int) -> void: gone.append([o.id, why])
	)
	send_text(party_a, "watching")
	var in_b := await wait_named(party_b, "traveller")
	var left_a := func() -> bool: return not gone.is_empty()
	if in_b == null or not await wait_until(left_a, 20, "the avatar to leave A"):
		return
	check_equal(gone, [[in_a.id, P.DespawnReason.BY_MASTER]], "despawned in A by its Master")
	check_equal(in_b.state, state_in_a, "arrived in B with the state it had in A")
	var shadow := follower(party_b, in_b.id)
	await get_tree().process_frame
	check(shadow.position.is_equal_approx(START), "where it was: %s" % shadow.position)
	send_text(party_b, "seen in B")
	var arrived := func() -> bool: return shadow.position.is_equal_approx(LATER)
	if await wait_until(arrived, 20, "the avatar to move in B"):
		print("saw the traveller leave A and move in B")
	await finish_together(party_b, "watcher", ["traveller"])
