extends "res://live.gd"
## An item that asks its Master (ASK): role=master spawns a lamp (ASK) and a statue (DENY) and
## answers the asks it gets: the first no, the second yes, the third never (the relay's timeout
## answers). role=asker asks three times, updates the lamp while it holds it, releases it, and
## tries the statue. Then the Master's own operations: it gives the lamp to the asker, sets its
## rule to ALLOW and hands Mastership over; the asker, now Master, despawns it.
## Arguments: url, role.


func run() -> int:
	return await play_role({"master": _master, "asker": _asker})


func _master(client: SoireeClient) -> void:
	var lamp := await spawn_named(client, "lamp", P.Rule.ASK)
	var statue := await spawn_named(client, "statue", P.Rule.DENY)
	if lamp == null or statue == null:
		return
	var asks := []
	var on_ask := func(room: SoireeRoom, object: SoireeObject, ask_id: int, requester: int) -> void:
		asks.append(requester)
		print("ask %d for the %s from member %d" % [asks.size(), _label(object), requester])
		if asks.size() <= 2:
			room.answer(object.id, ask_id, asks.size() == 2)
	client.ask_received.connect(on_ask)
	var sync: SoireeSync = lamp.get_child(0)
	var lit := func() -> bool: return sync.received_custom_state.get_string_from_utf8() == "lit"
	if await wait_until(lit, 30, "the asker's update of the lamp"):
		print("the lamp says: lit")
	if not await wait_event("asked"):
		return
	check(sync.is_owner(), "the lamp came back to its Master")
	check_equal(asks.size(), 3, "asks received")
	var lamp_id := sync.object_id
	var gone := []
	client.object_despawned.connect(
		func(_r: SoireeRoom, o: SoireeObject, why: int) -> void: gone.append([o.id, why])
	)
	var lobby := client.room("lobby")
	var asker: int = asks[0]
	var steps := [lobby.give(lamp_id, asker), lobby.set_rule(lamp_id, P.Rule.ALLOW)]
	steps.append(lobby.set_master(lamp_id, asker))
	for step: SoireeRequest in steps:
		await wait_until(step.is_done, 10, step.kind)
	print(
		(
			"give, set_rule, set_master: %s"
			% ", ".join(steps.map(func(r: SoireeRequest) -> String: return r.status_name()))
		)
	)
	var despawned := func() -> bool: return not gone.is_empty()
	if await wait_until(despawned, 20, "the new Master to despawn the lamp"):
		check_equal(gone, [[lamp_id, P.DespawnReason.BY_MASTER]], "despawned by its (new) Master")
		print("the lamp was despawned by its new Master")
	await finish_together(client, "master", ["asker"])


func _asker(client: SoireeClient) -> void:
	var lamp := await wait_named(client, "lamp")
	var statue := await wait_named(client, "statue")
	if lamp == null or statue == null:
		return
	var lobby := client.room("lobby")
	var statuses := []
	for i in 2:
		var ask := lobby.request_ownership(lamp.id)
		await ask.completed
		statuses.append(ask.status_name())
	check(lobby.owns(lamp.id), "holding the lamp after the second ask")
	lift(client, lamp, "lit")
	await get_tree().create_timer(0.5).timeout  # a few updates go out
	var deny := lobby.request_ownership(statue.id)
	await deny.completed
	statuses.append(deny.status_name())
	var release := lobby.release(lamp.id)
	await release.completed
	statuses.append(release.status_name())
	await get_tree().create_timer(0.6).timeout  # past the cooldown of the release
	var unanswered := lobby.request_ownership(lamp.id)
	await unanswered.completed
	statuses.append(unanswered.status_name())
	print("asker statuses: %s" % ", ".join(statuses))
	send_text(client, "asked")
	var mine := func() -> bool:
		return (
			lamp.master == client.member_id
			and lamp.owner == client.member_id
			and lamp.rule == P.Rule.ALLOW
		)
	if await wait_until(mine, 20, "the lamp given, allowed and handed over"):
		var despawn := lobby.despawn(lamp.id)
		await despawn.completed
		print("despawning the lamp as its new Master: %s" % despawn.status_name())
	await finish_together(client, "asker", ["master"])


func _label(object: SoireeObject) -> String:
	var decoded := SoireeSync.decode_state(object.state)
	return decoded.get("custom", PackedByteArray()).get_string_from_utf8()
