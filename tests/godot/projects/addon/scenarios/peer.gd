extends "res://scenario.gd"
## SoireeMultiplayerPeer with no socket: bare SoireeSessions joined to a room double
## (room_double.gd, the relay by hand), each peer under its own SceneMultiplayer on its own
## subtree (SceneTree.set_multiplayer), polled by hand. Real RPCs, synchronizers and signals go
## through the peers; the packets they send are read back as PACKET records.

const P := preload("res://addons/soiree/protocol.gd")
const RoomDouble := preload("res://room_double.gd")
const GameNode := preload("res://game_node.gd")
const HOST := SoireeMultiplayerPeer.Mode.HOST
const CLIENT := SoireeMultiplayerPeer.Mode.CLIENT
const MESH := SoireeMultiplayerPeer.Mode.MESH

var room: RoomDouble
var worlds := {}  # member -> World


class World:
	extends RefCounted
	var member := 0
	var session: SoireeSession
	var peer: SoireeMultiplayerPeer
	var api: SceneMultiplayer
	var root: Node
	var game: Node
	## SceneMultiplayer's signals and the peer's own, in order: "connected_to_server", "+6",
	## "-6", "failed", "ended", "packet 6 [1, 2]"...
	var events: Array = []

	func take() -> Array:
		var out := events.duplicate()
		events.clear()
		return out


func run() -> int:
	get_tree().multiplayer_poll = false
	_direct_queue()
	_host_mode()
	_mesh_mode()
	await _failures()
	get_tree().multiplayer_poll = true
	return finish()


func _world(member: int, mode: int) -> World:
	var world := World.new()
	world.member = member
	world.root = Node.new()
	world.root.name = "World%d" % member
	add_child(world.root)
	world.game = GameNode.new()
	world.game.name = "Game"
	world.root.add_child(world.game)
	world.session = SoireeSession.new()
	world.session.min_version = P.GAME_VERSION
	world.session.max_version = P.GAME_VERSION
	add_child(world.session)
	world.peer = SoireeMultiplayerPeer.new()
	world.peer.start_with(world.session, mode, RoomDouble.NAME)
	world.api = SceneMultiplayer.new()
	get_tree().set_multiplayer(world.api, world.root.get_path())
	world.api.multiplayer_peer = world.peer
	var events := world.events
	for sig in ["connected_to_server", "connection_failed", "server_disconnected"]:
		world.api.connect(sig, func() -> void: events.append(sig))
	world.api.peer_connected.connect(func(id: int) -> void: events.append("+%d" % id))
	world.api.peer_disconnected.connect(func(id: int) -> void: events.append("-%d" % id))
	world.api.peer_packet.connect(
		func(id: int, bytes: PackedByteArray) -> void: events.append("packet %d %s" % [id, bytes])
	)
	world.peer.failed.connect(func(_m: String) -> void: events.append("failed"))
	world.peer.ended.connect(func(_m: String) -> void: events.append("ended"))
	room.add(member, world.session)
	world.session.start()
	worlds[member] = world
	return world


## Every world polls its SceneMultiplayer (sending what it has, reading what came), then the
## room double handles what was sent; `rounds` times.
func _pump(rounds := 3) -> void:
	for i in rounds:
		room.serve()
		for world: World in worlds.values():
			if world.api.multiplayer_peer == world.peer:
				world.api.poll()
	room.serve()


## Pumps until `condition` holds (true), or gives up after `rounds` (false).
func _pump_until(condition: Callable, rounds := 20) -> bool:
	for i in rounds:
		_pump(1)
		if condition.call():
			return true
	return false


func _forget_worlds() -> void:
	for world: World in worlds.values():
		_drop_world(world)


func _drop_world(world: World) -> void:
	world.api.multiplayer_peer = null
	var path := world.root.get_path()
	world.root.free()  # while its multiplayer is still the world's
	get_tree().set_multiplayer(null, path)
	world.session.queue_free()
	worlds.erase(world.member)


# --- the queue SceneMultiplayer reads, without SceneMultiplayer -----------------------------


func _direct_queue() -> void:
	room = RoomDouble.new()
	var session := SoireeSession.new()
	add_child(session)
	var peer := SoireeMultiplayerPeer.new()
	peer.start_with(session, MESH, RoomDouble.NAME)
	room.add(4, session)
	room.roles[9] = P.GameRole.PEER
	room.roles[12] = P.GameRole.HOST
	session.start()
	room.serve()
	check_equal(peer.get_connection_status(), MultiplayerPeer.CONNECTION_CONNECTED, "mesh: joined")
	check_equal(peer.get_unique_id(), 5, "member 4 is Godot peer 5")
	check(not peer.is_server(), "a mesh peer is no server")
	var joined := []
	peer.peer_connected.connect(func(id: int) -> void: joined.append(id))
	check_equal(joined, [], "peers are reported when Godot reads the queue, not before")
	var packet := func(from: int, flags: int, channel: int, bytes: Array) -> PackedByteArray:
		var fields := {
			"room": RoomDouble.HANDLE,
			"sender": from,
			"flags": flags,
			"channel": channel,
			"payload": PackedByteArray(bytes),
		}
		return P.encode_record(fields.merged({"type": P.PACKET_FROM}))
	room.to(4, packet.call(9, P.PACKET_UNRELIABLE, 3, [1, 2]))
	room.to(4, packet.call(12, P.PACKET_UNRELIABLE_ORDERED, 0, [3]))
	room.to(4, packet.call(9, P.PACKET_RELIABLE | P.PACKET_MORE, 1, [4, 5]))
	room.to(4, packet.call(12, P.PACKET_RELIABLE, 0, [6]))
	room.to(4, packet.call(9, P.PACKET_RELIABLE, 1, [7]))
	check_equal(peer.get_available_packet_count(), 4, "four packets (one in two fragments)")
	check_equal(joined, [1, 10], "the host (peer 1) first, then member 9 as peer 10")
	var read := []
	while peer.get_available_packet_count() > 0:
		var front := [peer.get_packet_peer(), peer.get_packet_mode(), peer.get_packet_channel()]
		front.append(Array(peer.get_packet()))
		read.append(front)
	var expected := [
		[10, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE, 3, [1, 2]],
		[1, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED, 0, [3]],
		[1, MultiplayerPeer.TRANSFER_MODE_RELIABLE, 0, [6]],
		[10, MultiplayerPeer.TRANSFER_MODE_RELIABLE, 1, [4, 5, 7]],
	]
	check_equal(read, expected, "sender, mode and channel describe the packet at the front")
	check_equal(peer.get_packet(), PackedByteArray(), "nothing more")
	check_equal(peer.get_packet_peer(), 0, "no sender without a packet")
	# A change of authority waits behind the packets received before it.
	room.to(4, packet.call(9, P.PACKET_RELIABLE, 0, [8]))
	var order := []
	peer.run_in_order(func() -> void: order.append("authority"))
	check_equal(order, [], "run_in_order waits for the packet before it")
	peer.get_available_packet_count()
	check_equal(order, [], "...until Godot has taken it")
	peer.get_packet()
	peer.get_available_packet_count()
	check_equal(order, ["authority"], "then it runs")
	peer.run_in_order(func() -> void: order.append("at once"))
	check_equal(order, ["authority", "at once"], "with nothing queued, at once")
	# A member leaving: its last packets first, then peer_disconnected.
	var gone := []
	peer.peer_disconnected.connect(func(id: int) -> void: gone.append(id))
	check_equal(peer.peer_name(peer.get_unique_id()), "Player 4", "this peer's own name")
	check_equal(peer.peer_name(77), "", "no name for a peer not in the game")
	room.to(4, packet.call(9, P.PACKET_RELIABLE, 0, [9]))
	room.leave(9)
	check_equal(peer.get_available_packet_count(), 1, "the leaver's last packet is still there")
	check_equal(gone, [], "...and it is not gone before that packet is read")
	check_equal(peer.get_packet_peer(), 10, "from member 9")
	peer.get_packet()
	peer.get_available_packet_count()
	check_equal(gone, [10], "gone after its last packet")
	room.to(4, packet.call(9, P.PACKET_RELIABLE, 0, [10]))
	check_equal(peer.get_available_packet_count(), 0, "a packet from a member not in the game")
	peer.close()
	check_equal(peer.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "closed")
	check_equal(peer.get_unique_id(), 0, "no id once closed")
	session.queue_free()


# --- host mode ------------------------------------------------------------------------------


func _host_mode() -> void:
	room = RoomDouble.new()
	var host := _world(2, HOST)
	check(host.api.is_server(), "create_host: the server at once, as with ENet")
	check_equal(host.peer.get_unique_id(), 1, "the host is peer 1")
	check_equal(
		host.peer.get_connection_status(),
		MultiplayerPeer.CONNECTION_CONNECTING,
		"connecting until the relay makes it the host"
	)
	_pump()
	check_equal(host.peer.get_connection_status(), MultiplayerPeer.CONNECTION_CONNECTED, "hosting")
	check_equal(room.roles, {2: P.GameRole.HOST}, "the relay knows the host")
	var one := _world(5, CLIENT)
	check_equal(one.peer.get_unique_id(), 0, "a client has no id before the relay's welcome")
	_pump()
	check_equal(one.peer.get_unique_id(), 6, "member 5 is Godot peer 6")
	check_equal(one.take(), ["connected_to_server", "+1"], "a client: connected to the host")
	check_equal(host.take(), ["+6"], "the host sees the client")
	var two := _world(7, CLIENT)
	_pump()
	check_equal(two.take(), ["connected_to_server", "+1", "+6"], "the host first, then the others")
	check_equal(host.take(), ["+8"], "the host sees the second client")
	check_equal(one.take(), ["+8"], "clients see each other")
	check_equal(two.api.get_peers(), PackedInt32Array([1, 6]), "get_peers()")
	_rpcs(host, one, two)
	_targets(host, one, two)
	_introductions(host, one, two)
	_sync(host, one, two)
	_fragments(host, one)
	_second_host()
	_leaving(host, one, two)
	_forget_worlds()


func _rpcs(host: World, one: World, two: World) -> void:
	room.take_packets()
	one.game.rpc_id(1, "hello", "to the host")
	_pump()
	check_equal(host.game.calls, [["hello", 6, "to the host"]], "rpc_id(1): sender 6")
	check_equal(two.game.calls, [], "rpc_id(1) reaches the host only")
	room.take_packets()
	host.game.rpc("from_authority", 42)
	_pump()
	check_equal(one.game.calls, [["from_authority", 1, 42]], "the host's RPC (authority)")
	check_equal(two.game.calls, [["from_authority", 1, 42]], "...to both clients")
	var packets := room.take_packets().filter(func(p: Array) -> bool: return p[0] == 2)
	check(not packets.is_empty(), "the host sent packets")
	for sent: Array in packets:
		var record: Dictionary = sent[1]
		check_equal(record["targets"], [5, 7], "the same payload to both clients goes up once")
		check_equal(record["flags"], P.PACKET_RELIABLE, "reliable")
	two.game.rpc("hello", "everyone")
	two.game.rpc_id(6, "shout", "unreliable")
	_pump()
	check_equal(host.game.calls.back(), ["hello", 8, "everyone"], "a client's RPC to all")
	check_equal(
		one.game.calls.slice(-2),
		[["hello", 8, "everyone"], ["shout", 8, "unreliable"]],
		"client to client, in order, with the sender's id"
	)
	# A client calling an authority-only RPC is refused by Godot, since the relay says who sent.
	one.game.rpc("from_authority", "forged")
	_pump()
	check_equal(two.game.calls.back(), ["from_authority", 1, 42], "@rpc(authority) from a client")
	check_equal(host.game.calls.back(), ["hello", 8, "everyone"], "...refused by the host too")


func _targets(host: World, one: World, two: World) -> void:
	room.take_packets()
	two.peer.set_target_peer(0)
	two.peer.put_packet(PackedByteArray([3, 1, 2]))
	two.peer.set_target_peer(-6)
	two.peer.put_packet(PackedByteArray([3, 4]))
	_pump()
	var sent: Array = room.take_packets().map(func(p: Array) -> Dictionary: return p[1])
	check_equal(sent.size(), 2, "two packets")
	check_equal([sent[0]["targets"], sent[0]["flags"]], [[], 0], "target 0: every game peer")
	var excepting := [[6 - 1], P.PACKET_EXCEPT]
	check_equal([sent[1]["targets"], sent[1]["flags"]], excepting, "target -6: all but member 5")
	check_equal(host.take(), ["packet 8 [1, 2]", "packet 8 [4]"], "the host gets both")
	check_equal(one.take(), ["packet 8 [1, 2]"], "peer 6 only the broadcast")
	two.take()
	two.peer.set_target_peer(99)
	var refused := two.peer.put_packet(PackedByteArray([3, 5]))
	check_equal(refused, ERR_INVALID_PARAMETER, "an unknown target")
	_pump()
	room.take_packets()


## A newcomer is reported to the clients only once the host introduces it, behind the packets
## the host sent for it; what it sent them before that is held, then delivered.
func _introductions(host: World, one: World, two: World) -> void:
	for world: World in [host, one, two]:
		world.take()
	room.sent.clear()
	var greet := func(id: int) -> void: host.game.hello.rpc_id(id, "welcome")
	host.api.peer_connected.connect(greet)
	var three := _world(9, CLIENT)
	room.serve()  # the relay: member 9 is a game peer, everyone is told
	for i in 2:
		for world: World in [one, two, three]:
			world.api.poll()
		room.serve()
	check_equal(
		three.take(), ["connected_to_server", "+1"], "a newcomer: the host, nobody else yet"
	)
	check_equal(one.take(), [], "a client does not report a newcomer the host has not introduced")
	var early := {
		"type": P.PACKET_FROM,
		"room": RoomDouble.HANDLE,
		"sender": 9,
		"flags": P.PACKET_RELIABLE,
		"channel": 0,
		"payload": PackedByteArray([3, 7, 7]),
	}
	room.to(5, P.encode_record(early))
	one.api.poll()
	check_equal(one.take(), [], "...and holds what the newcomer sent it")
	host.api.poll()  # reads the newcomer: its peer_connected (an RPC), then the introductions
	host.api.poll()  # sends them
	room.serve()
	for world: World in [one, two, three]:
		world.api.poll()
	check_equal(host.take(), ["+10"], "the host reports the newcomer at once")
	check_equal(one.take(), ["+10", "packet 10 [7, 7]"], "introduced: reported, then what it sent")
	check_equal(two.take(), ["+10"], "every client is told")
	check_equal(three.take(), ["+6", "+8"], "and the newcomer is told of the clients")
	check_equal(three.game.calls, [["hello", 1, "welcome"]], "the host's RPC from peer_connected")
	var from_host := room.sent.filter(func(item: Array) -> bool: return item[0] == 2)
	var kinds := from_host.map(func(item: Array) -> int: return item[1]["type"])
	var rpc_at := kinds.find(P.PACKET)
	check(rpc_at >= 0 and rpc_at < kinds.find(P.EVENT), "the introductions go after the RPC")
	var tag := SoireeMultiplayerPeer.INTRODUCTION_TAG.to_utf8_buffer()
	var introductions := []
	for item: Array in from_host:
		var record: Dictionary = item[1]
		if record["type"] == P.EVENT:
			var payload: PackedByteArray = record["payload"]
			var members := []
			for at in range(tag.size(), payload.size(), 4):
				members.append(payload.decode_u32(at))
			introductions.append([record["targets"], payload.slice(0, tag.size()) == tag, members])
	var expected := [[[5, 7], true, [9]], [[9], true, [5, 7]]]
	check_equal(introductions, expected, "9 to the clients, the clients to 9")
	host.api.peer_connected.disconnect(greet)
	room.leave(9)
	_drop_world(three)
	_pump()
	for world: World in [host, one, two]:
		world.take()


func _sync(host: World, one: World, two: World) -> void:
	for world: World in [host, one, two]:
		var sync := MultiplayerSynchronizer.new()
		sync.name = "Sync"
		var config := SceneReplicationConfig.new()
		config.add_property(NodePath(".:value"))
		config.property_set_spawn(NodePath(".:value"), false)
		config.property_set_replication_mode(
			NodePath(".:value"), SceneReplicationConfig.REPLICATION_MODE_ALWAYS
		)
		sync.replication_config = config
		sync.root_path = NodePath("..")
		world.game.add_child(sync)
	host.game.value = 5
	var both := func(value: int) -> bool: return one.game.value == value and two.game.value == value
	check(_pump_until(both.bind(5)), "the host's synchronizer reached both")
	room.take_packets()
	host.game.value = 6
	check(_pump_until(both.bind(6)), "and keeps them up to date")
	_pump(2)
	var syncs := room.take_packets().filter(
		func(p: Array) -> bool: return p[0] == 2 and p[1]["payload"][0] == 6
	)
	check(syncs.size() >= 2, "sync packets every frame: %d" % syncs.size())
	var lanes := {}
	for sent: Array in syncs:
		var record: Dictionary = sent[1]
		check_equal(record["flags"], P.PACKET_UNRELIABLE, "state goes unreliable")
		check_equal(record["targets"], [5, 7], "one state, one packet, two targets")
		lanes[record["lane"]] = true
	check(lanes.size() == 1 and not lanes.has(0), "one lane for one synchronizer: %s" % [lanes])
	# Another synchronizer: packets now carry both, on a lane of their own.
	for world: World in [host, one, two]:
		var second := world.game.get_node("Sync").duplicate() as MultiplayerSynchronizer
		second.name = "Sync2"
		world.game.add_child(second)
	_pump(6)
	room.take_packets()
	_pump(2)
	var later := room.take_packets().filter(
		func(p: Array) -> bool: return p[0] == 2 and p[1]["payload"][0] == 6
	)
	check(not later.is_empty(), "syncs of two synchronizers")
	for sent: Array in later:
		check(not lanes.has(sent[1]["lane"]), "another set of synchronizers, another lane")
	# A client may not drive the host's node: Godot ignores state from a non-authority.
	one.game.value = 99
	one.game.get_node("Sync").set_multiplayer_authority(6)
	_pump(6)
	check_equal(host.game.value, 6, "the host ignores a client's state for its node")
	check_equal(two.game.value, 6, "and so does the other client")
	one.game.get_node("Sync").set_multiplayer_authority(1)
	_pump(4)
	for world: World in [host, one, two]:
		world.game.get_node("Sync").free()
		world.game.get_node("Sync2").free()
	one.game.value = 6


func _fragments(host: World, one: World) -> void:
	room.take_packets()
	var big := PackedByteArray()
	big.resize(150_000)
	for i in big.size():
		big[i] = i % 251
	one.game.rpc_id(1, "hello", big)
	_pump()
	var sent: Array = room.take_packets().filter(func(p: Array) -> bool: return p[0] == 5)
	var flags: Array = sent.map(func(p: Array) -> int: return p[1]["flags"])
	var first := flags.find(P.PACKET_RELIABLE | P.PACKET_MORE)
	var last := flags.rfind(P.PACKET_RELIABLE | P.PACKET_MORE)
	check(first >= 0 and last - first >= 1, "a 150 kB RPC goes in fragments: %s" % [flags])
	check_equal(flags.slice(first, last + 2).size(), last - first + 2, "MORE on all but the last")
	check_equal(flags[last + 1], P.PACKET_RELIABLE, "the last one without MORE, reliable")
	sent = sent.slice(first, last + 2)
	var total: int = sent.reduce(
		func(n: int, p: Array) -> int: return n + p[1]["payload"].size(), 0
	)
	check(total > 150_000, "every byte goes: %d" % total)
	var largest: int = sent.map(func(p: Array) -> int: return p[1]["payload"].size()).max()
	check(largest + 3 + 7 + 4 <= 65535, "each fragment fits a message: %d" % largest)
	var call: Array = host.game.calls.back()
	check(call[0] == "hello" and call[1] == 6 and call[2] == big, "joined again at the host")


func _second_host() -> void:
	var other := _world(11, HOST)
	check(other.api.is_server(), "a second host thinks it hosts until the relay answers")
	_pump()
	check_equal(other.take(), ["failed", "connection_failed"], "HOST_TAKEN: connection_failed")
	check(other.peer.last_error.contains("already hosts"), other.peer.last_error)
	check(not other.api.is_server(), "...and it is not the server any more")
	check_equal(other.peer.get_unique_id(), 0, "no id")
	check_equal(room.roles.get(11, 0), 0, "no role at the relay")
	room.sessions.erase(11)
	_drop_world(other)


func _leaving(host: World, one: World, two: World) -> void:
	for world: World in [host, one, two]:
		world.take()
	# A client's last RPC is read before it is reported gone.
	var calls_at_departure := []
	var named_at_departure := []
	host.api.peer_disconnected.connect(
		func(id: int) -> void:
			calls_at_departure.append(host.game.calls.back())
			named_at_departure.append(host.peer.peer_name(id))
	)
	check_equal(host.peer.peer_name(8), "Player 7", "a peer's name")
	two.game.rpc_id(1, "hello", "last words")
	two.api.poll()  # sends
	room.serve()
	room.leave(7)
	_drop_world(two)
	_pump()
	check_equal(host.take(), ["-8"], "the host sees the client leave")
	check_equal(calls_at_departure, [["hello", 8, "last words"]], "after its last packet")
	# The room forgot the leaver at once; its last RPC and its peer_disconnected still name it.
	check_equal(host.game.callers.back(), "Player 7", "the last RPC's sender is named")
	check_equal(named_at_departure, ["Player 7"], "named in its peer_disconnected too")
	check_equal(host.peer.peer_name(8), "", "then forgotten")
	check_equal(one.take(), ["-8"], "so does the other client")
	# The host leaving ends the game for the clients.
	room.leave(2)
	_pump()
	check_equal(one.take(), ["ended", "-1", "server_disconnected"], "the host left: game over")
	check_equal(one.peer.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "over")
	check_equal(one.peer.last_error, "The host left the game.", "why")
	check_equal(one.peer.get_unique_id(), 0, "no id once over")


# --- mesh mode ------------------------------------------------------------------------------


func _mesh_mode() -> void:
	room = RoomDouble.new()
	var a := _world(3, MESH)
	var b := _world(4, MESH)
	var c := _world(8, MESH)
	_pump()
	check_equal(
		[a.peer.get_unique_id(), b.peer.get_unique_id(), c.peer.get_unique_id()],
		[4, 5, 9],
		"mesh ids: member + 1"
	)
	check_equal(a.take(), ["+5", "+9"], "no connected_to_server without a server")
	check_equal(c.take(), ["+4", "+5"], "the last one sees both")
	check_equal(b.take(), ["+4", "+9"], "and the middle one")
	check(not a.api.is_server() and not b.api.is_server(), "nobody is the server")
	check_equal(a.api.get_peers(), PackedInt32Array([5, 9]), "no peer 1")
	a.peer.set_target_peer(1)
	var refused := a.peer.put_packet(PackedByteArray([3, 1]))
	check_equal(refused, ERR_INVALID_PARAMETER, "mesh mode: a packet for peer 1 is refused")
	room.take_packets()
	b.game.rpc("hello", "mesh")
	_pump()
	check_equal(a.game.calls, [["hello", 5, "mesh"]], "mesh RPC")
	check_equal(c.game.calls, [["hello", 5, "mesh"]], "...to everyone")
	# disconnect_peer: this peer forgets that one (SceneMultiplayer says nothing, as for ENet).
	room.take_packets()
	a.api.disconnect_peer(9)
	_pump()
	check_equal(a.take(), [], "no signal for a peer the game disconnected itself")
	check_equal(a.api.get_peers(), PackedInt32Array([5]), "peer 9 is gone here")
	c.game.rpc("hello", "ignored?")
	_pump()
	check_equal(b.game.calls.back(), ["hello", 9, "ignored?"], "the others still hear it")
	check_equal(a.game.calls.back(), ["hello", 5, "mesh"], "this one does not")
	b.game.rpc("hello", "to the rest")
	_pump()
	var sent: Array = room.take_packets().filter(func(p: Array) -> bool: return p[0] == 4)
	var rpc: Dictionary = sent.back()[1] if not sent.is_empty() else {}
	check_equal(rpc.get("targets"), [3, 8], "b's RPC still goes to both: %s" % [sent])
	# refuse_new_connections: game peers arriving from now on are ignored here.
	a.peer.refuse_new_connections = true
	var d := _world(11, MESH)
	_pump()
	check_equal(a.take(), [], "a newcomer refused")
	check_equal(b.take(), ["+12"], "...by this peer only")
	check_equal(d.take(), ["+4", "+5", "+9"], "the newcomer sees everyone")
	room.leave(11)
	_drop_world(d)
	_pump()
	b.take()
	c.take()
	# A dropped connection ends the game: the last packets first, then every peer leaves.
	b.game.calls.clear()
	b.take()
	c.game.rpc_id(5, "hello", "just before")
	c.api.poll()
	room.serve()
	b.session.forget()  # what the client does when its connection is gone for good
	b.api.poll()
	check_equal(b.game.calls, [["hello", 9, "just before"]], "the last packet was read")
	check_equal(b.take(), ["ended", "-9", "-4", "server_disconnected"], "then the game ends")
	_forget_worlds()


# --- failures -------------------------------------------------------------------------------


func _failures() -> void:
	var api := SceneMultiplayer.new()
	var peer := SoireeMultiplayerPeer.new()
	var error := peer.create_client("not a link", "arena")
	check_equal(error, ERR_INVALID_PARAMETER, "a bad link: an error at once")
	var events := []
	api.connection_failed.connect(func() -> void: events.append("connection_failed"))
	api.multiplayer_peer = peer
	check(api.multiplayer_peer == peer, "the game may assign the failed peer anyway")
	check(not api.is_server(), "...and is not a server then")
	api.poll()
	check_equal(events, ["connection_failed"], "it fails at the first poll")
	check(not peer.last_error.is_empty(), "why: %s" % peer.last_error)
	var bad_room := SoireeMultiplayerPeer.new()
	error = bad_room.create_mesh("ws://127.0.0.1:9/relay", "No Such Room!")
	check_equal(error, ERR_INVALID_PARAMETER, "a bad room name")
	check(bad_room.last_error.contains("room name"), bad_room.last_error)
	# Waiting for a host that never comes.
	room = RoomDouble.new()
	var lonely := _world(6, CLIENT)
	lonely.peer.host_timeout = 0.05
	_pump()
	check_equal(lonely.take(), [], "waiting for a host")
	var deadline: int = lonely.peer._host_deadline_ms
	check(deadline > 0, "a deadline for the host")
	await wait_until(func() -> bool: return Time.get_ticks_msec() > deadline, 5, "the deadline")
	_pump()
	check_equal(lonely.take(), ["failed", "connection_failed"], "no host came")
	check(lonely.peer.last_error.contains("Nobody hosts"), lonely.peer.last_error)
	_forget_worlds()
	# create_* for real: its own SoireeClient under the root, to a party that is not there.
	var nowhere := SoireeMultiplayerPeer.new()
	check_equal(nowhere.create_client("ws://127.0.0.1:9/relay", "arena"), OK, "create_client")
	var lost := SceneMultiplayer.new()
	lost.multiplayer_peer = nowhere
	var outcome := []
	lost.connection_failed.connect(func() -> void: outcome.append("connection_failed"))
	var failed_yet := func() -> bool:
		lost.poll()
		return not outcome.is_empty()
	await wait_until(failed_yet, 30, "connection_failed from a party that is not there")
	check(nowhere.last_error.contains("Could not connect"), nowhere.last_error)
	check(get_tree().root.has_node("SoireeMultiplayerPeer"), "the peer's client, under the root")
	# A relay that speaks only version 1 refuses HELLO(2, 2) with GOODBYE 4001.
	var party := SoireeClient.new()
	party.set_process(false)
	add_child(party)
	var old := SoireeMultiplayerPeer.new()
	var failed := []
	old.failed.connect(func(m: String) -> void: failed.append(m))
	old.start_with(party, MESH, "arena")
	party.start()
	var goodbye := {
		"type": P.GOODBYE, "code": 4001, "reason": "relay speaks protocol versions 1..1"
	}
	party.receive(P.encode_record(goodbye))
	party._on_socket_closed(4001, "relay speaks protocol versions 1..1")
	check_equal(old.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "v1: failed")
	check(failed.size() == 1 and failed[0].contains("version 2"), "why: %s" % [failed])
	check(failed[0].contains("1..1"), "names what the relay speaks: %s" % [failed])
