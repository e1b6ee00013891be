extends "res://live_game.gd"
## Transfer modes, three engines in host mode. role=sender (the host) sends a 200 kB RPC (over
## the relay's 64 KiB message limit: fragments, joined again), then streams a state (a value and
## `blob_kib` KiB) through a MultiplayerSynchronizer `states_per_frame` times a frame
## (unreliable), and a numbered reliable RPC every 100 ms. role=steady reads as usual;
## role=slow plays through `game_url`, a link the test stalls for a while once it prints "slow:
## ready to be stalled" (the relay's queue for it grows), then stops its own engine's main loop
## for `pause_ms` (nothing read meanwhile); after each it counts what it applies. Unreliable
## means latest: the relay keeps the newest state of each tick and skips them for a receiver
## that is behind, so neither receiver gets the sender's rate and the slow one no backlog; every
## reliable RPC arrives, in order. Arguments: url, game_url, role, blob_kib, states_per_frame,
## pause_ms.

const BIG := 200_000

var received := 0  # states this engine's synchronizer applied
var applied_at: Array[int] = []  # when each was applied (ms)


func run() -> int:
	return await play_role({"sender": _send, "steady": _receive, "slow": _receive})


func _stream_sync(game: Game) -> MultiplayerSynchronizer:
	var sync := MultiplayerSynchronizer.new()
	sync.name = "Sync"
	sync.replication_interval = 0.0
	var config := SceneReplicationConfig.new()
	for property in [NodePath(".:value"), NodePath(".:blob")]:
		config.add_property(property)
		config.property_set_spawn(property, false)
		config.property_set_replication_mode(
			property, SceneReplicationConfig.REPLICATION_MODE_ALWAYS
		)
	sync.replication_config = config
	sync.root_path = NodePath("..")
	game.node("Game").add_child(sync)
	game.api.max_sync_packet_size = 60000  # big states go as one (Godot's default is 1350)
	sync.synchronized.connect(
		func() -> void:
			received += 1
			applied_at.append(Time.get_ticks_msec())
	)
	return sync


static func pattern(size: int) -> PackedByteArray:
	var bytes := PackedByteArray()
	bytes.resize(size)
	for i in size:
		bytes[i] = (i * 7 + 3) % 251
	return bytes


func _send(control: SoireeClient) -> void:
	var game := open_game("World", HOST, args["url"])
	_stream_sync(game)
	var node: Node = game.node("Game")
	node.blob = pattern(int(args.get("blob_kib", "16")) * 1024)
	if not await wait_in_game(game):
		return
	for name in ["steady", "slow"]:
		if await wait_peer_named(game, name) == 0:
			return
	node.hello.rpc(pattern(BIG))
	if not (await wait_event("steady ready") and await wait_event("slow ready")):
		return
	send_text(control, "streaming")
	var per_frame := int(args.get("states_per_frame", "2"))
	var started := Time.get_ticks_msec()
	var next_tick := started
	var states := 0
	var sent_ticks := 0
	while not events_seen.has("slow done"):
		if Time.get_ticks_msec() - started > 60000:
			check(false, "the slow receiver to finish")
			break
		for i in per_frame:
			node.value += 1
			states += 1
			game.api.poll()  # a state goes out at every poll
		if Time.get_ticks_msec() >= next_tick:
			sent_ticks += 1
			node.hello.rpc(["tick", sent_ticks])
			next_tick += 100
		await get_tree().process_frame
	var seconds := (Time.get_ticks_msec() - started) / 1000.0
	print(
		(
			"sender: %d states in %.1f s = %d/s, %d ticks"
			% [states, seconds, states / seconds, sent_ticks]
		)
	)
	send_text(control, "ticks %d" % sent_ticks)
	await finish_together(control, "sender", ["steady", "slow"])


func _receive(control: SoireeClient) -> void:
	var me: String = args["role"]
	var game := open_game("World", CLIENT, args.get("game_url", args["url"]))
	_stream_sync(game)
	var node: Node = game.node("Game")
	if not await wait_in_game(game):
		return
	var big := func() -> bool: return not node.calls.is_empty()
	if not await wait_until(big, 30, "the 200 kB RPC"):
		return
	var first: Array = node.calls[0]
	check(first[1] == 1 and first[2] == pattern(BIG), "the 200 kB RPC arrived whole, from the host")
	print("%s: the big RPC arrived whole (%d bytes)" % [me, first[2].size()])
	send_text(control, "%s ready" % me)
	var streaming := func() -> bool: return received > 10 and events_seen.has("streaming")
	if not await wait_until(streaming, 30, "the stream"):
		return
	if me == "slow":
		await _stalled_then_count()
		await _pause_then_count(control, node)
	else:
		var since := received
		var started := Time.get_ticks_msec()
		await get_tree().create_timer(2.0).timeout
		var seconds := (Time.get_ticks_msec() - started) / 1000.0
		print("steady: %d states applied in %.1f s" % [received - since, seconds])
	await _check_ticks(node, me)
	await finish_together(control, me, ["sender", "steady" if me == "slow" else "slow"])


# The test stalls this player's link: the stream stops for a while, then what it gets after.
func _stalled_then_count() -> void:
	print("slow: ready to be stalled")
	var gap := [0, 0]  # the longest pause between two states applied: [start, end] (ms)
	var over := func() -> bool:
		for i in range(1, applied_at.size()):
			if applied_at[i] - applied_at[i - 1] > gap[1] - gap[0]:
				gap[0] = applied_at[i - 1]
				gap[1] = applied_at[i]
		return gap[1] - gap[0] > 1500 and Time.get_ticks_msec() - gap[1] > 1000
	if not await wait_until(over, 60, "the link to stall and come back"):
		return
	var burst := applied_at.filter(func(t: int) -> bool: return t >= gap[1] and t < gap[1] + 200)
	print(
		"slow: stalled %d ms, then %d states applied within 0.2 s" % [gap[1] - gap[0], burst.size()]
	)


func _pause_then_count(control: SoireeClient, node: Node) -> void:
	var pause_ms := int(args.get("pause_ms", "3000"))
	var before := received
	var until := Time.get_ticks_msec() + pause_ms
	while Time.get_ticks_msec() < until:
		pass  # the engine does nothing else: no frame, no socket read
	var resumed := Time.get_ticks_msec()
	var counts := []  # states applied by 0.2 s and 1 s after resuming
	for seconds in [0.2, 1.0]:
		while Time.get_ticks_msec() - resumed < seconds * 1000:
			await get_tree().process_frame
		counts.append(received - before)
	print(
		(
			"slow: paused %d ms, then %d states applied within 0.2 s, %d within 1 s"
			% [pause_ms, counts[0], counts[1]]
		)
	)
	var value: int = node.value
	await get_tree().create_timer(0.5).timeout
	check(node.value > value, "the stream goes on after the pause")
	send_text(control, "slow done")


# Every reliable RPC the sender made, in order, none missing.
func _check_ticks(node: Node, me: String) -> void:
	var told := func() -> bool:
		return events_seen.any(func(e: String) -> bool: return e.begins_with("ticks "))
	if not await wait_until(told, 60, "the sender's tick count"):
		return
	var count := 0
	for event: String in events_seen:
		if event.begins_with("ticks "):
			count = int(event.get_slice(" ", 1))
	var all_there := func() -> bool: return _ticks(node).size() >= count
	await wait_until(all_there, 30, "every reliable tick")
	var expected := range(1, count + 1)
	check_equal(_ticks(node), expected, "%s: every reliable RPC, in order" % me)
	print("%s: %d reliable RPCs, in order" % [me, _ticks(node).size()])


func _ticks(node: Node) -> Array:
	var out := []
	for call: Array in node.calls:
		if call[0] == "hello" and call[2] is Array and call[2][0] == "tick":
			out.append(call[2][1])
	return out
