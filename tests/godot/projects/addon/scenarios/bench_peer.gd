extends "res://live_game.gd"
## Not a test: how much SoireeMultiplayerPeer carries, in the engine, against a live relay
## (bench/godot_multiplayer.py). Arguments: url, bench (rate or bytes), and
## - rate, two engines (role=sender hosts, role=receiver joins): steps of `per_frame` reliable
##   32-byte packets (send_bytes) a frame for `seconds` each. Prints "rate <k>: sent ..." and
##   "rate <k>: received ..." lines, with the GDScript time spent per packet on each side.
## - bytes, one engine: a host and `clients` clients (each its own peer on its own subtree),
##   `nodes` Node3Ds whose position and rotation the host's synchronizers send every frame;
##   the host's uplink bytes with the same payload to several peers sent once (dedupe) and
##   once per peer. Prints "bytes ..." lines.


## A SoireeClient that counts what it sends: the relay messages and their WebSocket frames (a
## client frame has a 2, 4 or 10-byte header and a 4-byte mask).
class CountingClient:
	extends SoireeClient
	var bytes_up := 0
	var messages_up := 0

	func take_outgoing() -> Array[PackedByteArray]:
		var messages := super()
		for message in messages:
			var size := message.size()
			var header := 2 if size < 126 else (4 if size < 65536 else 10)
			bytes_up += size + header + 4
			messages_up += 1
		return messages


## The peer, counting what SceneMultiplayer puts.
class CountingPeer:
	extends SoireeMultiplayerPeer
	var put_bytes := 0
	var put_packets := 0

	func _put_packet_script(p_buffer: PackedByteArray) -> Error:
		put_bytes += p_buffer.size()
		put_packets += 1
		return super(p_buffer)


## The same, but every packet goes up once per target (no shared payloads).
class OnePerTarget:
	extends CountingPeer

	func _add_to_batch(wire_mode: int, lane: int, payload: PackedByteArray, member: int) -> void:
		var entry := _entry(wire_mode, lane, payload)
		entry["targets"].append(member)
		_batch.append(entry)
		_last_for[member] = _batch.size() - 1


func run() -> int:
	if args.get("bench", "") == "bytes":
		await _bytes()
		return finish()
	return await play_role({"sender": _send, "receiver": _receive})


# --- packets per second ---------------------------------------------------------------------


func _steps() -> Array:
	return Array(str(args.get("per_frame", "10,50,100,200,400")).split(",")).map(
		func(k: String) -> int: return int(k)
	)


func _send(control: SoireeClient) -> void:
	var game := open_game("World", HOST, args["url"])
	if not await wait_in_game(game):
		return
	var receiver := await wait_peer_named(game, "receiver", 60)
	get_tree().multiplayer_poll = false  # polled below, timed
	var seconds := float(args.get("seconds", "3"))
	var payload := PackedByteArray()
	payload.resize(32)
	for k: int in _steps():
		payload[0] = _steps().find(k)
		var sent := 0
		var frames := 0
		var spent := 0
		var started := Time.get_ticks_usec()
		while Time.get_ticks_usec() - started < seconds * 1e6:
			var t0 := Time.get_ticks_usec()
			for i in k:
				game.api.send_bytes(payload, receiver, MultiplayerPeer.TRANSFER_MODE_RELIABLE)
			game.api.poll()  # the peer sends the frame's packets
			spent += Time.get_ticks_usec() - t0
			sent += k
			frames += 1
			await get_tree().process_frame
		var wall := (Time.get_ticks_usec() - started) / 1e6
		print(
			(
				"rate %d: sent %d/s at %.0f frames/s, %.2f us of GDScript per packet sent"
				% [k, sent / wall, frames / wall, float(spent) / sent]
			)
		)
		send_text(control, "step %d sent %d" % [k, sent])
		while not events_seen.has("step %d received" % k):
			game.api.poll()
			await get_tree().process_frame
	await finish_together(control, "sender", ["receiver"])


func _receive(control: SoireeClient) -> void:
	var game := open_game("World", CLIENT, args["url"])
	var steps := _steps()
	var counts := []
	var first_at := []
	var last_at := []
	var spent_at_first := []
	var spent_at_last := []
	var spent := [0]
	for k: int in steps:
		counts.append(0)
		first_at.append(0)
		last_at.append(0)
		spent_at_first.append(0)
		spent_at_last.append(0)
	game.api.peer_packet.connect(
		func(_id: int, bytes: PackedByteArray) -> void:
			var step: int = bytes[0]
			var now := Time.get_ticks_usec()
			if counts[step] == 0:
				first_at[step] = now
				spent_at_first[step] = spent[0]
			counts[step] += 1
			last_at[step] = now
	)
	if not await wait_peer_named(game, "sender", 60):
		return
	get_tree().multiplayer_poll = false  # polled below, timed
	for step in steps.size():
		var k: int = steps[step]
		var told := ""
		while told.is_empty() or counts[step] < int(told.get_slice(" ", 3)):
			var t0 := Time.get_ticks_usec()
			game.api.poll()
			spent[0] += Time.get_ticks_usec() - t0
			spent_at_last[step] = spent[0]
			for event: String in events_seen:
				if event.begins_with("step %d sent " % k):
					told = event
			await get_tree().process_frame
		var wall := maxf((last_at[step] - first_at[step]) / 1e6, 1e-3)
		var cost: float = float(spent_at_last[step] - spent_at_first[step]) / counts[step]
		print(
			(
				"rate %d: received %d in %.2f s = %d/s, %.2f us of GDScript per packet received"
				% [k, counts[step], wall, counts[step] / wall, cost]
			)
		)
		send_text(control, "step %d received" % k)
	await finish_together(control, "receiver", ["sender"])


# --- uplink bytes per synchronized node -----------------------------------------------------


func _bytes() -> void:
	var clients := int(args.get("clients", "3"))
	var nodes := int(args.get("nodes", "10"))
	var seconds := float(args.get("seconds", "3"))
	var run := 0
	for shared: bool in [true, false]:
		run += 1
		await _measure_bytes(shared, clients, nodes, seconds, "bytes-%d" % run)


func _world(world_name: String, nodes: int) -> Game:
	var game := Game.new()
	game.root = Node.new()
	game.root.name = world_name
	add_child(game.root)
	game.api = SceneMultiplayer.new()
	get_tree().set_multiplayer(game.api, game.root.get_path())  # before the synchronizers enter
	for i in nodes:
		var body := Node3D.new()
		body.name = "Node%d" % i
		game.root.add_child(body)
		var sync := MultiplayerSynchronizer.new()
		sync.name = "Sync"
		var config := SceneReplicationConfig.new()
		for property in [NodePath(".:position"), NodePath(".:quaternion")]:
			config.add_property(property)
			config.property_set_spawn(property, false)
			config.property_set_replication_mode(
				property, SceneReplicationConfig.REPLICATION_MODE_ALWAYS
			)
		sync.replication_config = config
		sync.root_path = NodePath("..")
		body.add_child(sync)
	return game


func _measure_bytes(shared: bool, clients: int, nodes: int, seconds: float, room: String) -> void:
	var host := _world("Host", nodes)
	var counting := CountingClient.new()
	counting.reconnect_when_dropped = false
	counting.min_version = P.GAME_VERSION
	counting.max_version = P.GAME_VERSION
	add_child(counting)
	counting.open(args["url"])
	var peer: CountingPeer = CountingPeer.new() if shared else OnePerTarget.new()
	peer.start_with(counting, HOST, room)
	host.peer = peer
	host.api.multiplayer_peer = peer
	var others: Array[Game] = []
	for i in clients:
		var game := _world("Client%d" % i, nodes)
		game.peer = SoireeMultiplayerPeer.new()
		check_equal(game.peer.create_client(args["url"], room), OK, "create_client")
		game.api.multiplayer_peer = game.peer
		others.append(game)
	var step := [0]
	var moving := func() -> void:
		step[0] += 1
		for i in nodes:
			var body: Node3D = host.root.get_node("Node%d" % i)
			body.position = Vector3(step[0], i, 0.5)
			body.quaternion = Quaternion(Vector3.UP, step[0] * 0.01)
	get_tree().process_frame.connect(moving)
	var everyone_sees := func() -> bool:
		return others.all(
			func(g: Game) -> bool:
				var last: Node3D = g.root.get_node("Node%d" % (nodes - 1))
				return last.position.x > 0
		)
	if await wait_until(everyone_sees, 60, "every client to get the state"):
		await get_tree().create_timer(0.5).timeout
		var bytes_before := counting.bytes_up
		var messages_before := counting.messages_up
		var put_before := peer.put_bytes
		var frames := 0
		var started := Time.get_ticks_usec()
		while Time.get_ticks_usec() - started < seconds * 1e6:
			frames += 1
			await get_tree().process_frame
		var wall := (Time.get_ticks_usec() - started) / 1e6
		var up := float(counting.bytes_up - bytes_before) / frames
		print(
			(
				(
					"bytes %s, %d clients, %d nodes: %.1f frames/s, uplink %.0f B a frame in %.2f"
					+ " messages = %.1f B per node a frame, %.1f kB/s; SceneMultiplayer put %.0f B"
					+ " a frame"
				)
				% [
					"shared" if shared else "one per peer",
					clients,
					nodes,
					frames / wall,
					up,
					float(counting.messages_up - messages_before) / frames,
					up / nodes,
					up * frames / wall / 1000.0,
					float(peer.put_bytes - put_before) / frames,
				]
			)
		)
	get_tree().process_frame.disconnect(moving)
	for game: Game in others + [host]:
		game.api.multiplayer_peer = null
		game.peer.close()
		var path := game.root.get_path()
		game.root.free()
		get_tree().set_multiplayer(null, path)
	await get_tree().create_timer(0.5).timeout
