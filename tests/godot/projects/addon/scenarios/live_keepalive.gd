extends "res://live.gd"
## Staying connected: joins and idles for `seconds` (the test runs the relay with a short ping
## interval and idle timeout), answering the relay's PINGs; the connection must never drop.
## Arguments: url, seconds.


func run() -> int:
	var client := await join_party(args["url"])
	if client == null:
		return finish()
	var drops := []
	client.disconnected.connect(
		func(code: int, reason: String) -> void: drops.append([code, reason])
	)
	print(
		(
			"member %d, ping interval %d ms, idle timeout %d ms"
			% [
				client.member_id,
				client.limits["ping_interval_ms"],
				client.limits["idle_timeout_ms"]
			]
		)
	)
	await get_tree().create_timer(float(args["seconds"])).timeout
	check_equal(drops, [], "the connection never dropped")
	check(client.is_connected_to_party(), "still connected")
	print("stayed connected as member %d" % client.member_id)
	await leave(client)
	return finish()
