extends "res://scenario.gd"
## A party that never answers (the test's server accepts connections and says nothing): each
## attempt ends at `connect_timeout`, and after `max_attempts` the client gives up with words for
## the player. Arguments: url.


func run() -> int:
	var client := SoireeClient.new()
	client.connect_timeout = 1.0
	client.max_attempts = 2
	client.retry_delays = [0.1]
	add_child(client)
	var failures := []
	var closes := []
	client.connection_failed.connect(func(message: String) -> void: failures.append(message))
	client.disconnected.connect(func(code: int, _why: String) -> void: closes.append(code))
	var join := client.join("lobby")
	client.open(args["url"])
	await wait_until(func() -> bool: return not failures.is_empty(), 20, "the client to give up")
	check_equal(closes, [SoireeClient.CLOSE_DROP, SoireeClient.CLOSE_DROP], "two attempts dropped")
	check_equal(join.status, SoireeRequest.NO_ANSWER, "the join waiting for a connection")
	check_equal(client.connection_state, SoireeClient.ConnectionState.CLOSED, "closed")
	print("gave up: %s" % failures[0])
	return finish()
