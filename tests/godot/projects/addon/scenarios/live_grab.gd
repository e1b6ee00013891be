extends "res://live.gd"
## A ball anyone may take (ALLOW) and two players grabbing it at the same moment: exactly one
## wins (the relay's cooldown answers the other). Run three times at once:
## role=host (spawns the ball, says "go" once both grabbers are in, reports the owner) and
## role=grabber name=<name> (twice). Arguments: url, role, name, grabbers (for the host: 2).


func run() -> int:
	return await play_role({"host": _host, "grabber": _grab_as_named})


func _host(client: SoireeClient) -> void:
	var ball := await spawn_named(client, "ball", P.Rule.ALLOW)
	if ball == null:
		return
	var sync: SoireeSync = ball.get_child(0)
	var changes := []
	var note := func(_r: SoireeRoom, object: SoireeObject, _previous: int) -> void:
		if object.id == sync.object_id:
			changes.append([object.owner, object.epoch])
	client.ownership_changed.connect(note)
	var lobby := client.room("lobby")
	var everyone := int(args.get("grabbers", "2")) + 1
	await wait_until(func() -> bool: return lobby.members.size() == everyone, 30, "the grabbers")
	await wait_until(func() -> bool: return events_seen.count("ready") == everyone - 1, 30, "ready")
	send_text(client, "go")
	await wait_until(func() -> bool: return not changes.is_empty(), 10, "someone to take the ball")
	var held := func() -> bool: return sync.received_custom_state.get_string_from_utf8() != "ball"
	await wait_until(held, 10, "the winner's update")
	await get_tree().create_timer(1.0).timeout  # time for a second, wrong, change to show
	print("ball owner changes: %s" % [changes])
	print("ball state: %s" % sync.received_custom_state.get_string_from_utf8())
	await finish_together(client, "host", Array(args.get("names", "a,b").split(",")))


func _grab_as_named(client: SoireeClient) -> void:
	await _grab(client, args["name"])


func _grab(client: SoireeClient, me: String) -> void:
	var ball := await wait_named(client, "ball")
	if ball == null:
		return
	send_text(client, "ready")
	if not await wait_event("go"):
		return
	var lobby := client.room("lobby")
	var grab := lobby.request_ownership(ball.id)
	await grab.completed
	print("grab %s epoch %d as member %d" % [grab.status_name(), grab.value, client.member_id])
	if grab.is_ok():
		check(lift(client, ball, "held by " + me).is_owner(), "the winner owns the ball")
	await finish_together(client, me, ["host"])
