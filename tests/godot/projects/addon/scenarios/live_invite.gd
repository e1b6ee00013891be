extends "res://live.gd"
## A standalone invite link, as a player pastes it: expect=join redeems it (with a display
## name), fetches a ticket, joins, and reconnects (with a fresh ticket, resuming the session);
## expect=refused opens a revoked or unknown invite and must give up at once with the API's
## words. Arguments: link, name, expect.


func run() -> int:
	var client := SoireeClient.new()
	client.display_name = args.get("name", "")
	add_child(client)
	var failures := []
	client.connection_failed.connect(func(message: String) -> void: failures.append(message))
	var started := Time.get_ticks_msec()
	check_equal(client.open(args["link"]), "", "the invite link is understood")
	if args["expect"] == "refused":
		await wait_until(func() -> bool: return not failures.is_empty(), 30, "the refusal")
		check_equal(client.connection_state, SoireeClient.ConnectionState.CLOSED, "closed")
		check(Time.get_ticks_msec() - started < 15000, "gave up at once, without retrying")
		print("refused: %s" % ", ".join(failures))
		return finish()
	var join := client.join("lobby")
	await join.completed
	if not check(join.is_ok(), "joining with an invite: %s (%s)" % [join, client.last_error]):
		return finish()
	var me: Dictionary = client.room("lobby").members.get(client.member_id, {})
	print("joined as %s, member %d, relay %s" % [me.get("name"), client.member_id, client.link])
	var avatar := await spawn_named(client, args.get("name", ""), P.Rule.DENY)
	var member := client.member_id
	var resumed := []
	client.welcomed.connect(func(id: int, again: bool) -> void: resumed.append([id, again]))
	client.reconnect()
	var back := func() -> bool: return not resumed.is_empty() and client.room("lobby").synced
	if await wait_until(back, 30, "the session to resume"):
		check_equal(resumed, [[member, true]], "resumed with a new ticket")
		check(client.room("lobby").owns(avatar.get_child(0).object_id), "still owning the avatar")
		print("resumed as member %d" % client.member_id)
	await leave(client)
	return finish()
