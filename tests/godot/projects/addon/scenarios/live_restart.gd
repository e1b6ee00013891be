extends "res://live.gd"
## The relay restarts (the test stops it and starts a new one): the client reconnects with
## backoff, its resume token is unknown there, so it is a new member; it joins its room again,
## and its SoireeSync spawns the avatar again. Arguments: url.


func run() -> int:
	var client := await join_party(args["url"])
	if client == null:
		return finish()
	var avatar := await spawn_named(client, "phoenix", P.Rule.DENY, Vector3(2, 0, 3))
	if avatar == null:
		return finish()
	var sync: SoireeSync = avatar.get_child(0)
	var before := [client.member_id, sync.object_id]
	var welcomes := []
	var closes := []
	client.welcomed.connect(func(id: int, resumed: bool) -> void: welcomes.append([id, resumed]))
	client.disconnected.connect(func(code: int, _why: String) -> void: closes.append(code))
	print("ready")
	var respawned := func() -> bool:
		return not welcomes.is_empty() and sync.object_id != 0 and sync.is_owner()
	if await wait_until(respawned, 60, "the avatar to be spawned again"):
		check_equal(closes[0], 4008, "the relay said it was shutting down")
		check_equal(welcomes[0][1], false, "a new session (the new relay knows no token)")
		var object := sync.get_object()
		check(SoireeSync.decode_state(object.state)["origin"] == Vector3(2, 0, 3), "where it was")
		print(
			"respawned after the restart: %s -> %s" % [before, [client.member_id, sync.object_id]]
		)
	await leave(client)
	return finish()
