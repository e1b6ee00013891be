class_name SoireeMultiplayerPeer
extends MultiplayerPeerExtension
## Godot 4's own multiplayer through a Soirée party: a MultiplayerPeer that carries
## SceneMultiplayer's packets (`@rpc`, MultiplayerSpawner, MultiplayerSynchronizer) through the
## party's relay, over one WebSocket, on desktop and in web exports. A game written for
## ENetMultiplayerPeer changes only the lines that create the peer:
##
##     var peer := SoireeMultiplayerPeer.new()
##     peer.display_name = "Ada"                    # optional: the name the others see
##     var error := peer.create_host(link, "arena")  # ENet: create_server(port)
##     # or peer.create_client(link, "arena")        # ENet: create_client(address, port)
##     # or peer.create_mesh(link, "arena")          # no host: authority from ownership
##     multiplayer.multiplayer_peer = peer
##
## `link` is what the player pasted (a Sandstorm webkey, an invite link or a ws(s):// relay URL,
## as SoireeClient takes it); `room` names the relay room the game plays in ("" takes the link's
## `?room=`). Each create_* returns an Error at once; progress comes as SceneMultiplayer's usual
## signals (connected_to_server, connection_failed, peer_connected, peer_disconnected,
## server_disconnected), and `last_error` says in words why it failed or ended (`failed`,
## `ended`). One peer is one connection to one party: a game in two parties at once (a portal)
## uses two peers, each on its own MultiplayerAPI (`SceneTree.set_multiplayer(api, root_path)`).
##
## Modes (the relay protocol's game roles, relay/PROTOCOL.md, version 2):
## - **Host** ("listen server"): this player is Godot peer 1 (`is_server()` is true at once, as
##   with ENet). A room has one host: a second create_host on it fails with HOST_TAKEN
##   (connection_failed; `last_error` says who to ask). The host's own status becomes
##   CONNECTED once the relay made it the host.
## - **Client**: connected_to_server comes once the room is joined and its host is present
##   (`host_timeout` seconds at most, 0: no limit). The other clients are reported as the host
##   introduces them, as an ENet server does: the host's peer says so (an EVENT to the clients,
##   see below) right after its game handled their peer_connected, so a client hears of a
##   newcomer only after the host's spawns and RPCs for it; what a newcomer sends meanwhile is
##   held, not lost. Otherwise a client could reach a newcomer first with state for a node the
##   newcomer has not been sent yet, which Godot drops for good (a MultiplayerSynchronizer's
##   path is confirmed once: godotengine/godot modules/multiplayer/scene_cache_interface.cpp,
##   process_simplify_path). When the host leaves, every client gets
##   peer_disconnected for each peer and then server_disconnected: the game is over (there is
##   no host migration). The game can then go back to its menu, or a player may
##   create_host the same room with a new peer and the others create_client again: a new game
##   (nodes spawned by the old host were freed by SceneMultiplayer).
## - **Mesh**: nobody is peer 1 (V-Sekai's model). Every peer is a member of the room with the
##   same rights; who drives a node is its multiplayer authority, which a SoireeAuthority keeps
##   equal to the relay object's Owner. There is no peer 1 to address: SceneMultiplayer
##   refuses `rpc_id(1, ...)` and `send_bytes(..., 1)` ("unknown peer ID") and this peer refuses
##   a packet put for target 1 with ERR_INVALID_PARAMETER, as ENet does for any unknown peer.
##   Nodes default to authority 1, so in mesh mode give every networked node its authority
##   (SoireeAuthority, or the usual `set_multiplayer_authority(name.to_int())` per player).
##   Mesh peers report each other as the relay announces them, with nobody to order a spawn
##   against the others' packets about the spawned node: a MultiplayerSpawner in mesh mode may
##   lose a newcomer's first state of a node spawned at the same moment, so spawn in host mode
##   or keep mesh-mode nodes in the scene on every peer (as SoireeAuthority's are).
##
## Godot peer ids are the same on every peer: the room's host is 1, any other member is its
## relay member id + 1 (member ids start at 1, so ids are >= 2). The relay stamps every packet
## with its sender, so `get_remote_sender_id()` cannot be forged by another member;
## `peer_name(id)` is the party's name for a peer, until its peer_disconnected.
##
## How it differs from ENet, and why:
## - It runs over TCP (a WebSocket), so nothing is lost on the way; "unreliable" means
##   "latest": the relay drops an unreliable packet that a newer one from the same sender for
##   the same MultiplayerSynchronizers replaces within a tick, and sends none to a receiver that
##   is behind, so a slow receiver gets the latest state, never a backlog. Reliable packets
##   (RPCs, spawns, despawns) arrive in order per sender; the relay closes a receiver that
##   falls more than 1 MiB behind rather than lose them.
## - Packets and every other record of the room travel in one ordered stream: a change of
##   owner (SoireeAuthority) is applied between the very packets it came between.
## - A frame's packets go up in one WebSocket message. A payload sent to several peers in one
##   frame (SceneMultiplayer sends each synchronizer's state once per peer) goes up once with a
##   target list; the relay fans it out. So that such copies are identical, the 16-bit sync
##   time of an unreliable SYNC packet is replaced by this peer's own frame counter: a receiver
##   only compares the times of successive states of one synchronizer from its authority
##   (`update_inbound_sync_time`, godotengine/godot modules/multiplayer/
##   multiplayer_synchronizer.cpp), which this counter keeps increasing.
## - Packets bigger than a relay message (64 KiB) are split into reliable fragments and joined
##   again by the receiver; get_max_packet_size() is 16 MiB, as for ENet.
## - A dropped connection is not resumed (packets lost with it could not be recovered): the
##   game ends for this peer. Its last packets are delivered first, then peer_disconnected for
##   every peer, then server_disconnected (in every mode). The others see it leave at once.
## - `disconnect_peer(id)` forgets that peer here (its packets are dropped, nothing is sent to
##   it) but cannot remove it from the room: removing a player is the party host's (dashboard).
##   A client's `disconnect_peer(1)` leaves the game. `refuse_new_connections` makes this peer
##   ignore game peers that arrive from then on.
## - Server relay (SceneMultiplayer.server_relay) is not used: every peer reaches every other
##   through the relay directly; only the introductions of clients come from the host.
##
## The host's introductions are EVENTs from the host's member to clients, the payload
## INTRODUCTION_TAG then one u32 member id (little-endian) per client introduced; a client
## takes them from the room's host only (the relay stamps the sender).

## create_* could not get into the game (relay unreachable, no host, HOST_TAKEN, the relay is
## too old...); emitted before SceneMultiplayer's connection_failed.
signal failed(message: String)
## The game is over for this peer (the host left, the connection dropped, removed from the
## room); emitted before the peer_disconnected and server_disconnected it causes.
signal ended(message: String)

enum Mode { NONE, HOST, CLIENT, MESH }

const P := preload("res://addons/soiree/protocol.gd")
const Link := preload("res://addons/soiree/link.gd")
const Request := preload("res://addons/soiree/request.gd")
## The largest packet this peer sends or joins (as ENetMultiplayerPeer).
const MAX_PACKET_SIZE := 1 << 24
const MAX_TARGETS := 255
## SceneMultiplayer's SYNC command (byte 0 & 7), without flags: an unreliable state packet
## `[0x06][u16 sync time]([u32 net id][u32 size][size bytes])...` (godotengine/godot
## modules/multiplayer/scene_replication_interface.cpp, _send_sync).
const SCENE_SYNC := 0x06
const SYNC_HEADER := 3
## The start of the host's introductions of clients to each other (an EVENT; see above).
const INTRODUCTION_TAG := "soiree-game:introduce"
## What a client holds from a newcomer the host has not introduced yet, at most (bytes).
const HOLD_LIMIT := 1 << 22
# Godot's TransferMode (UNRELIABLE, UNRELIABLE_ORDERED, RELIABLE) <-> the wire's mode bits.
const WIRE_MODES := [P.PACKET_UNRELIABLE, P.PACKET_UNRELIABLE_ORDERED, P.PACKET_RELIABLE]
const GODOT_MODES := [
	MultiplayerPeer.TRANSFER_MODE_RELIABLE,
	MultiplayerPeer.TRANSFER_MODE_UNRELIABLE,
	MultiplayerPeer.TRANSFER_MODE_UNRELIABLE_ORDERED,
]

## The name the other players see (SoireeClient.display_name); set before create_*.
var display_name := ""
## Client mode: seconds to wait for the room's host once joined (0: wait as long as it takes).
var host_timeout := 30.0
var mode := Mode.NONE
## The relay room the game plays in.
var room_name := ""
## Why the peer failed or the game ended, for the player ("" otherwise).
var last_error := ""
## This peer's connection to the party (a SoireeClient, added under the scene tree's root).
var client: SoireeSession
## The relay room once joined: its members, objects (SoireeAuthority) and game roles.
var room: SoireeRoom

var _status := MultiplayerPeer.CONNECTION_DISCONNECTED
var _unique_id := 0
var _target := 0
var _transfer_mode := MultiplayerPeer.TRANSFER_MODE_RELIABLE
var _transfer_channel := 0
var _refusing := false
var _failure := ""  # a failure to report at the next poll
var _role_set := false
var _rejoin := false  # the join is to be sent again with the next welcome
var _ending := false
var _host_deadline_ms := 0
var _generation := 0  # bumped by _teardown: answers to an older game's requests are ignored
var _hooks: Array = []  # [signal name, Callable] connected on the client
var _released: SoireeSession  # the client let go of by _end (the game is ending)
var _home: SoireeSession  # the client create_* opened, when the room is on another connection

# Members of the game as the relay says: member -> role (this member not included).
var _roles := {}
var _host_member := 0  # Godot peer 1 (0: no host)
var _known := {}  # godot id -> member: peers reported to Godot, or about to be (in the queue)
var _reported := {}  # godot id -> true: the peers Godot has been told of (at the drain)
var _names := {}  # godot id -> the party's name for it, until its peer_disconnected
var _ignored := {}  # member -> true: disconnect_peer() or refused; their packets are dropped
var _introduced := {}  # member -> true: client mode, the host introduced this client
var _held := {}  # member -> [flags, channel, payload]...: client mode, not introduced yet
var _held_bytes := {}  # member -> bytes held

# What Godot reads, in the relay's order: packets [godot id, TransferMode, channel, payload]
# and Callables to run between them (peers arriving and leaving, changes of authority).
var _incoming: Array = []
var _head := 0
var _packet_count := 0
var _fragments := {}  # member -> the fragments so far of its packet

# One frame's packets, sent at the next poll: entries {"mode", "channel", "lane", "payload",
# "targets" (members), "broadcast", "except"}.
var _batch: Array[Dictionary] = []
var _batch_index := {}  # [mode, channel, payload] -> index of the entry that carries it
var _last_for := {}  # member -> index of the last entry that goes to it
var _last_broadcast := -1
var _lanes := {}  # sorted synchronizer net ids -> lane
var _next_lane := 1
var _sync_time := 0


## Hosts the room's game: this player is Godot peer 1. See the class description.
func create_host(link: String, room := "") -> Error:
	return _create(Mode.HOST, link, room)


## Joins the room's game as a client of its host.
func create_client(link: String, room := "") -> Error:
	return _create(Mode.CLIENT, link, room)


## Joins the room's game with no host: authority over each node comes from ownership.
func create_mesh(link: String, room := "") -> Error:
	return _create(Mode.MESH, link, room)


## The Godot peer id of a relay member (1 for the room's host), 0 for no member.
func godot_id_of(member: int) -> int:
	if member == 0:
		return 0
	return 1 if member == _host_member else member + 1


## The relay member behind a Godot peer id, 0 if none.
func member_of(godot_id: int) -> int:
	if godot_id == 1:
		return _host_member
	if godot_id == _unique_id and client != null:
		return client.member_id
	return _known.get(godot_id, 0)


## The name the party knows a Godot peer by ("" if none). A peer's name stays known until its
## peer_disconnected has been emitted: the relay forgets a member that leaves at once, but the
## packets it sent before leaving still reach Godot first, and their handlers can name it.
func peer_name(godot_id: int) -> String:
	if godot_id == _unique_id and godot_id != 0 and room != null and client != null:
		return room.member_name(client.member_id)
	return _names.get(godot_id, "")


## Runs `action` once Godot has read every packet received before now: how SoireeAuthority
## applies a change of owner between the packets it came between.
func run_in_order(action: Callable) -> void:
	if _head >= _incoming.size():
		action.call()
	else:
		_incoming.append(action)


# --- MultiplayerPeer ------------------------------------------------------------------------


func _poll() -> void:
	if not _failure.is_empty():
		var message := _failure
		_failure = ""
		_fail(message)
		return
	if _status == MultiplayerPeer.CONNECTION_DISCONNECTED:
		return
	_flush()
	if client != null and client.has_method("poll"):
		client.poll()
	var waiting := _status == MultiplayerPeer.CONNECTION_CONNECTING and _host_deadline_ms > 0
	if waiting and Time.get_ticks_msec() > _host_deadline_ms:
		_fail("Nobody hosts the game in the room %s." % room_name)


func _close() -> void:
	_teardown()
	_status = MultiplayerPeer.CONNECTION_DISCONNECTED
	_unique_id = 0


func _get_connection_status() -> MultiplayerPeer.ConnectionStatus:
	return _status


func _get_unique_id() -> int:
	return _unique_id


func _is_server() -> bool:
	return _unique_id == 1


func _is_server_relay_supported() -> bool:
	return false


func _set_refuse_new_connections(p_enable: bool) -> void:
	_refusing = p_enable


func _is_refusing_new_connections() -> bool:
	return _refusing


func _set_target_peer(p_peer: int) -> void:
	_target = p_peer


func _set_transfer_channel(p_channel: int) -> void:
	_transfer_channel = p_channel


func _get_transfer_channel() -> int:
	return _transfer_channel


func _set_transfer_mode(p_mode: MultiplayerPeer.TransferMode) -> void:
	_transfer_mode = p_mode


func _get_transfer_mode() -> MultiplayerPeer.TransferMode:
	return _transfer_mode


func _get_max_packet_size() -> int:
	return MAX_PACKET_SIZE


func _disconnect_peer(p_peer: int, p_force: bool) -> void:
	var member: int = _known.get(p_peer, 0)
	if member == 0:
		return
	if p_peer == 1 and mode == Mode.CLIENT:
		_end("This player left the game.")
		return
	_ignored[member] = true
	_known.erase(p_peer)
	if p_force:
		# No signal (as ENet): Godot forgets the peer itself, so its queued packets go too.
		_reported.erase(p_peer)
		_names.erase(p_peer)
		_drop_queued_from(p_peer)
	else:
		_incoming.append(_report_gone.bind(p_peer))


# SceneMultiplayer asks for the front packet's sender, mode and channel before taking it; the
# Callables in front of it run first.
func _get_available_packet_count() -> int:
	_run_front()
	return _packet_count


func _get_packet_peer() -> int:
	_run_front()
	return _incoming[_head][0] if _packet_count > 0 else 0


func _get_packet_mode() -> MultiplayerPeer.TransferMode:
	_run_front()
	var front_mode := MultiplayerPeer.TRANSFER_MODE_RELIABLE
	if _packet_count > 0:
		front_mode = _incoming[_head][1]
	return front_mode


func _get_packet_channel() -> int:
	_run_front()
	return _incoming[_head][2] if _packet_count > 0 else 0


func _get_packet_script() -> PackedByteArray:
	_run_front()
	if _packet_count == 0:
		return PackedByteArray()
	var packet: Array = _incoming[_head]
	_incoming[_head] = null
	_head += 1
	_packet_count -= 1
	_compact()
	return packet[3]


func _put_packet_script(p_buffer: PackedByteArray) -> Error:
	var refused := _refusal(p_buffer)
	if refused != OK or _ending:
		return refused  # OK while ending: Godot is told once it has read what came before
	var wire_mode: int = WIRE_MODES[_transfer_mode]
	var payload := p_buffer
	var lane := 0
	if wire_mode != P.PACKET_RELIABLE and payload[0] == SCENE_SYNC and payload.size() >= 3:
		payload.encode_u16(1, _sync_time)
		lane = _lane_of(payload)
	if _target > 0:
		var member: int = _known.get(_target, 0)
		if member != 0:
			_add_to_batch(wire_mode, lane, payload, member)
		# else: gone, and Godot is told once it has read the packets that came before that
	else:
		var entry := _entry(wire_mode, lane, payload)
		entry["broadcast"] = true
		entry["except"] = _known.get(-_target, 0)
		_batch.append(entry)
		_last_broadcast = _batch.size() - 1
	return OK


# Why a packet cannot be sent now (an error, with a message), else OK.
func _refusal(p_buffer: PackedByteArray) -> Error:
	var problem := ""
	if _status != MultiplayerPeer.CONNECTION_CONNECTED:
		return ERR_UNCONFIGURED
	if p_buffer.is_empty() or p_buffer.size() > MAX_PACKET_SIZE:
		problem = "a packet is 1 to %d bytes" % MAX_PACKET_SIZE
	elif _transfer_channel < 0 or _transfer_channel > 255:
		problem = "channels are 0 to 255"
	elif _target > 0 and not _known.has(_target) and not _reported.has(_target):
		var why := " (mesh mode has no peer 1)" if _target == 1 and mode == Mode.MESH else ""
		problem = "invalid target peer: %d%s" % [_target, why]
	if problem.is_empty():
		return OK
	push_error("SoireeMultiplayerPeer: %s." % problem)
	return ERR_INVALID_PARAMETER


# --- outgoing -----------------------------------------------------------------------------


func _entry(wire_mode: int, lane: int, payload: PackedByteArray) -> Dictionary:
	return {
		"mode": wire_mode,
		"channel": _transfer_channel,
		"lane": lane,
		"payload": payload,
		"targets": [],
		"broadcast": false,
		"except": 0,
	}


# The same payload (mode and channel) to another member joins the entry already queued for it,
# unless something queued after that entry goes to the member: that would overtake it.
func _add_to_batch(wire_mode: int, lane: int, payload: PackedByteArray, member: int) -> void:
	var key := [wire_mode, _transfer_channel, payload]
	var at: int = _batch_index.get(key, -1)
	if at >= 0 and _last_for.get(member, -1) < at and _last_broadcast < at:
		_batch[at]["targets"].append(member)
		_last_for[member] = at
		return
	var entry := _entry(wire_mode, lane, payload)
	entry["targets"].append(member)
	_batch.append(entry)
	_batch_index[key] = _batch.size() - 1
	_last_for[member] = _batch.size() - 1


# Unreliable SYNC packets carrying the same synchronizers share a lane, so that the relay keeps
# only the latest of them; each set of synchronizers has its own.
func _lane_of(payload: PackedByteArray) -> int:
	var ids: Array[int] = []
	var at := SYNC_HEADER
	while at + 8 < payload.size():
		ids.append(payload.decode_u32(at))
		at += 8 + payload.decode_u32(at + 4)
	ids.sort()
	var lane: int = _lanes.get(ids, 0)
	if lane == 0 and _next_lane <= 0xFFFF:
		lane = _next_lane
		_next_lane += 1
		_lanes[ids] = lane
	return lane


func _flush() -> void:
	var batch := _batch
	_batch = []
	_batch_index.clear()
	_last_for.clear()
	_last_broadcast = -1
	_sync_time = (_sync_time + 1) & 0xFFFF
	if room == null or _status != MultiplayerPeer.CONNECTION_CONNECTED or _ending:
		return
	for entry in batch:
		if entry.get("introduction", false):
			var to: Array = entry["targets"]
			for first in range(0, to.size(), MAX_TARGETS):
				room.send_event(entry["payload"], to.slice(first, first + MAX_TARGETS))
			continue
		if entry["broadcast"]:
			var except: int = entry["except"]
			_send(entry, [except] if except != 0 else [], P.PACKET_EXCEPT if except != 0 else 0)
			continue
		var targets: Array = entry["targets"]
		for first in range(0, targets.size(), MAX_TARGETS):
			_send(entry, targets.slice(first, first + MAX_TARGETS), 0)


func _send(entry: Dictionary, targets: Array, except_flag: int) -> void:
	var payload: PackedByteArray = entry["payload"]
	var limit: int = client.limits.get("max_message", P.MAX_MESSAGE)
	var room_left := limit - P.HEADER_SIZE - P.PACKET_HEAD_SIZE - 4 * targets.size()
	if payload.size() <= room_left:
		var flags: int = entry["mode"] | except_flag
		room.send_packet(payload, targets, flags, entry["channel"], entry["lane"])
		return
	# Too big for one message: reliable fragments, MORE on all but the last.
	for start in range(0, payload.size(), room_left):
		var more := P.PACKET_MORE if start + room_left < payload.size() else 0
		var part := payload.slice(start, start + room_left)
		room.send_packet(part, targets, P.PACKET_RELIABLE | more | except_flag, entry["channel"])


# --- incoming -----------------------------------------------------------------------------


func _run_front() -> void:
	while _head < _incoming.size() and _incoming[_head] is Callable:
		var action: Callable = _incoming[_head]
		_incoming[_head] = null
		_head += 1
		action.call()
	_compact()


func _compact() -> void:
	if _head >= _incoming.size():
		_incoming.clear()
		_head = 0
	elif _head > 256 and _head * 2 > _incoming.size():
		_incoming = _incoming.slice(_head)
		_head = 0


func _queue_packet(godot_id: int, flags: int, channel: int, payload: PackedByteArray) -> void:
	_incoming.append([godot_id, GODOT_MODES[flags & P.PACKET_MODE_MASK], channel, payload])
	_packet_count += 1


func _drop_queued_from(godot_id: int) -> void:
	var kept := []
	for i in range(_head, _incoming.size()):
		var item: Variant = _incoming[i]
		if item is Array and item[0] == godot_id:
			_packet_count -= 1
		else:
			kept.append(item)
	_incoming = kept
	_head = 0


func _report_joined(godot_id: int) -> void:
	_reported[godot_id] = true
	peer_connected.emit(godot_id)
	if mode == Mode.HOST:
		_introduce(godot_id)


# The host introduces a client it has just reported to the others, and them to it: after the
# packets its game sent in peer_connected (the batch keeps their order).
func _introduce(godot_id: int) -> void:
	var member: int = _known.get(godot_id, 0)
	var others := []
	for id: int in _reported:
		if id != godot_id and _known.has(id):
			others.append(_known[id])
	if member == 0 or others.is_empty():
		return
	others.sort()
	_batch_introduction([member], others)
	_batch_introduction(others, [member])


func _batch_introduction(members: Array, targets: Array) -> void:
	var payload := INTRODUCTION_TAG.to_utf8_buffer()
	var at := payload.size()
	payload.resize(at + 4 * members.size())
	for member: int in members:
		payload.encode_u32(at, member)
		at += 4
	var entry := _entry(P.PACKET_RELIABLE, 0, payload)
	entry["introduction"] = true
	entry["targets"] = targets
	_batch.append(entry)
	for target: int in targets:
		_last_for[target] = _batch.size() - 1


func _report_gone(godot_id: int) -> void:
	if _reported.erase(godot_id):
		peer_disconnected.emit(godot_id)
	_names.erase(godot_id)


func _report_end() -> void:
	_status = MultiplayerPeer.CONNECTION_DISCONNECTED
	_unique_id = 0
	_incoming.clear()
	_head = 0
	_packet_count = 0


# --- the relay's side -----------------------------------------------------------------------


func _create(new_mode: Mode, link_text: String, new_room: String) -> Error:
	if _status != MultiplayerPeer.CONNECTION_DISCONNECTED and _failure.is_empty():
		push_error("SoireeMultiplayerPeer: already in use; close() it first.")
		return ERR_ALREADY_IN_USE
	_teardown()
	var link := Link.parse(link_text)
	if new_room.is_empty():
		new_room = link.room
	var tree := Engine.get_main_loop() as SceneTree
	var problem := link.error if not link.is_valid() else ""
	if problem.is_empty() and not P.valid_room_name(new_room):
		problem = (
			"%s is not a room name (1-64 of a-z 0-9 . _ -)." % (new_room if new_room else '""')
		)
	if problem.is_empty() and tree == null:
		problem = "SoireeMultiplayerPeer needs a SceneTree."
	if not problem.is_empty():
		# Failing at the first poll, not here, so that a game assigning the peer anyway gets
		# connection_failed instead of keeping the offline peer (which is peer 1, a "server").
		_status = MultiplayerPeer.CONNECTION_CONNECTING
		_unique_id = 0
		_failure = problem
		last_error = problem
		push_error("SoireeMultiplayerPeer: " + problem)
		return ERR_INVALID_PARAMETER
	var party := SoireeClient.new()
	party.name = "SoireeMultiplayerPeer"
	party.display_name = display_name
	party.reconnect_when_dropped = false
	party.max_attempts = 3
	party.min_version = P.GAME_VERSION
	party.max_version = P.GAME_VERSION
	tree.root.add_child.call_deferred(party, true)
	party.open.call_deferred(link_text)
	start_with(party, new_mode, new_room)
	return OK


## Starts the game on a session that is already made (SoireeClient.open() is the caller's);
## create_* make their own. Tests drive a bare SoireeSession this way.
func start_with(session: SoireeSession, new_mode: Mode, new_room: String) -> void:
	_teardown()
	client = session
	mode = new_mode
	room_name = new_room
	_status = MultiplayerPeer.CONNECTION_CONNECTING
	_unique_id = 1 if mode == Mode.HOST else 0
	_hook("welcomed", _on_welcomed)
	_hook("game_role_changed", _on_game_role_changed)
	_hook("packet_received", _on_packet_received)
	_hook("room_left", _on_room_left)
	_hook("event_received", _on_event_received)
	if client.has_signal("connection_failed"):
		_hook("connection_failed", _on_connection_failed)
	if client.has_signal("room_elsewhere"):
		client.connect("room_elsewhere", _on_room_elsewhere)
	client.join(room_name).completed.connect(_on_joined.bind(_generation))


func _hook(sig: String, callable: Callable) -> void:
	client.connect(sig, callable)
	_hooks.append([sig, callable])


# Another relay process of the party holds the room: the game follows the connection to it
# (SoireeClient opened it; its member id, its signals and its failures are the game's), before
# the room's snapshot comes. The client stays, to be closed with the game.
func _on_room_elsewhere(in_room: String, connection: SoireeSession) -> void:
	if in_room != room_name or _home != null or client == null:
		return
	_home = client
	_home.disconnect("room_elsewhere", _on_room_elsewhere)
	var hooks := _hooks.duplicate()
	_unhook(_home)
	client = connection
	for hook: Array in hooks:
		_hook(hook[0], hook[1])
	if mode != Mode.HOST and client.is_welcomed():
		_unique_id = client.member_id + 1


func _unhook(session: SoireeSession) -> void:
	for hook: Array in _hooks:
		if session.is_connected(hook[0], hook[1]):
			session.disconnect(hook[0], hook[1])
	_hooks.clear()


# Lets go of the client: its signals, then its connection (a normal close: the relay ends the
# session at once, and everyone sees this member leave).
func _release_client() -> void:
	var old := client
	if old == null or old == _released:
		return
	_released = old
	_unhook(old)
	if old.has_signal("room_elsewhere") and old.is_connected("room_elsewhere", _on_room_elsewhere):
		old.disconnect("room_elsewhere", _on_room_elsewhere)
	_generation += 1
	if _home != null:
		old = _home  # closing it closes its connections to other relay processes
		_home = null
	if old.has_method("close"):
		old.close()
		# The client polls its close handshake itself for a moment, then goes.
		if old.is_inside_tree():
			old.get_tree().create_timer(3.5).timeout.connect(old.queue_free)
		else:
			old.queue_free()


func _teardown() -> void:
	_release_client()
	client = null
	mode = Mode.NONE
	room = null
	_failure = ""
	_role_set = false
	_rejoin = false
	_ending = false
	_host_deadline_ms = 0
	_roles.clear()
	_host_member = 0
	_known.clear()
	_reported.clear()
	_names.clear()
	_ignored.clear()
	_introduced.clear()
	_held.clear()
	_held_bytes.clear()
	_incoming.clear()
	_head = 0
	_packet_count = 0
	_fragments.clear()
	_batch.clear()
	_batch_index.clear()
	_last_for.clear()
	_last_broadcast = -1


func _notification(what: int) -> void:
	if what == NOTIFICATION_PREDELETE and client != null:
		_teardown()


func _on_welcomed(member: int, _resumed: bool) -> void:
	if mode != Mode.HOST:
		_unique_id = member + 1
	if _rejoin:
		_rejoin = false
		client.join(room_name).completed.connect(_on_joined.bind(_generation))


func _on_joined(request: SoireeRequest, generation: int) -> void:
	if generation != _generation or _status != MultiplayerPeer.CONNECTION_CONNECTING:
		return
	if request.status == Request.NO_ANSWER:
		# The connection failed before the welcome: the client tries again (or gives up, and
		# says why with connection_failed); the join goes with the next welcome.
		_rejoin = true
		return
	if not request.is_ok():
		_fail("Could not join the room %s: %s." % [room_name, _why(request)])
		return
	room = client.room(room_name)
	var role := P.GameRole.HOST if mode == Mode.HOST else P.GameRole.PEER
	room.set_game_role(role).completed.connect(_on_role_answered.bind(_generation))


func _on_role_answered(request: SoireeRequest, generation: int) -> void:
	var dropped := request.status == Request.NO_ANSWER  # connection_failed says why
	if generation != _generation or _status != MultiplayerPeer.CONNECTION_CONNECTING or dropped:
		return
	if request.status == P.Status.HOST_TAKEN:
		var host := room.member_name(_host_member) if room != null else ""
		var who := " (%s)" % host if not host.is_empty() else ""
		_fail(
			(
				"Another player%s already hosts the game in the room %s: join it with create_client."
				% [who, room_name]
			)
		)
	elif not request.is_ok():
		_fail("Could not take part in the game of the room %s: %s." % [room_name, _why(request)])
	else:
		_role_set = true
		if mode == Mode.HOST:
			_host_member = client.member_id  # before its GAME_PEER, which may come second
		_check_ready()


func _check_ready() -> void:
	if _status != MultiplayerPeer.CONNECTION_CONNECTING or not _role_set:
		return
	if mode == Mode.CLIENT and _host_member == 0:
		if host_timeout > 0 and _host_deadline_ms == 0:
			_host_deadline_ms = Time.get_ticks_msec() + int(host_timeout * 1000)
		return
	# CONNECTED before any peer_connected (the game's handlers send RPCs at once). The peers
	# already there are reported first, ahead of anything they sent meanwhile.
	_status = MultiplayerPeer.CONNECTION_CONNECTED
	_host_deadline_ms = 0
	var reports := []
	var members := _roles.keys()
	members.sort()
	if _roles.has(_host_member):
		members.erase(_host_member)
		members.push_front(_host_member)
	for member: int in members:
		if not _awaits_host(member):
			_admit(member, reports)
	_incoming = reports + _incoming.slice(_head)
	_head = 0
	for member: int in _held.keys():
		if not _awaits_host(member):
			_release_held(member)


# Client mode: another client is reported once the host has introduced it.
func _awaits_host(member: int) -> bool:
	return mode == Mode.CLIENT and member != _host_member and not _introduced.has(member)


func _admit(member: int, reports: Array) -> void:
	if _ignored.has(member):
		return
	if _refusing:
		_ignored[member] = true
		return
	var godot_id := godot_id_of(member)
	_known[godot_id] = member
	if room != null:
		_names[godot_id] = room.member_name(member)
	reports.append(_report_joined.bind(godot_id))


func _on_game_role_changed(in_room: SoireeRoom, member: int, role: int) -> void:
	if client == null or in_room.name != room_name or _ending:
		return
	if member == client.member_id:
		if role == P.GameRole.HOST:
			_host_member = member
		if role != P.GameRole.NONE and _status == MultiplayerPeer.CONNECTION_CONNECTING:
			room = in_room
			_role_set = true
			_check_ready()
		elif role == P.GameRole.NONE and _role_set:
			_lost("This player is no longer in the game of the room %s." % room_name)
		return
	var old_id := 0
	for godot_id: int in _known:
		if _known[godot_id] == member:
			old_id = godot_id
	if role == P.GameRole.NONE:
		_roles.erase(member)
		_introduced.erase(member)
		_held.erase(member)
		_held_bytes.erase(member)
	else:
		_roles[member] = role
	if role == P.GameRole.HOST:
		_host_member = member
	elif _host_member == member:
		_host_member = 0
	if _status == MultiplayerPeer.CONNECTION_CONNECTING:
		_check_ready()
		return
	if _status != MultiplayerPeer.CONNECTION_CONNECTED:
		return
	var new_id := 0 if role == P.GameRole.NONE else godot_id_of(member)
	if old_id == new_id:
		return
	if old_id == 1 and mode == Mode.CLIENT:
		_end("The host left the game.")
		return
	if old_id != 0:
		_known.erase(old_id)
		_incoming.append(_report_gone.bind(old_id))
	if new_id != 0 and not _awaits_host(member):
		_admit(member, _incoming)


func _on_packet_received(
	in_room: SoireeRoom, sender: int, flags: int, channel: int, payload: PackedByteArray
) -> void:
	if client == null or in_room.name != room_name or _ending or _ignored.has(sender):
		return
	if not _roles.has(sender):
		return
	var godot_id := godot_id_of(sender)
	var connected := _status == MultiplayerPeer.CONNECTION_CONNECTED
	var held: bool = _known.get(godot_id, 0) != sender and _awaits_host(sender)
	if connected and _known.get(godot_id, 0) != sender and not held:
		return
	if flags & P.PACKET_MORE:
		var part: PackedByteArray = _fragments.get(sender, PackedByteArray())
		if part.size() + payload.size() > MAX_PACKET_SIZE:
			push_warning(
				"SoireeMultiplayerPeer: a packet over %d bytes was dropped." % MAX_PACKET_SIZE
			)
			_fragments.erase(sender)
			return
		part.append_array(payload)
		_fragments[sender] = part
		return
	if _fragments.has(sender):
		var whole: PackedByteArray = _fragments[sender]
		_fragments.erase(sender)
		whole.append_array(payload)
		payload = whole
	if held:
		_hold(sender, flags, channel, payload)
	else:
		_queue_packet(godot_id, flags, channel, payload)


func _hold(member: int, flags: int, channel: int, payload: PackedByteArray) -> void:
	var size: int = _held_bytes.get(member, 0) + payload.size()
	if size > HOLD_LIMIT:
		var what := "a packet from member %d, not introduced by the host yet, was dropped" % member
		push_warning("SoireeMultiplayerPeer: %s." % what)
		return
	_held_bytes[member] = size
	if not _held.has(member):
		_held[member] = []
	_held[member].append([flags, channel, payload])


# The host's introductions of clients (see INTRODUCTION_TAG): each is reported, then what it
# sent meanwhile.
func _on_event_received(in_room: SoireeRoom, sender: int, payload: PackedByteArray) -> void:
	if client == null or in_room.name != room_name or mode != Mode.CLIENT or _ending:
		return
	var tag := INTRODUCTION_TAG.to_utf8_buffer()
	if sender == 0 or sender != _host_member or payload.slice(0, tag.size()) != tag:
		return
	for at in range(tag.size(), payload.size() - 3, 4):
		var member := payload.decode_u32(at)
		_introduced[member] = true
		var godot_id := godot_id_of(member)
		var waiting := _status == MultiplayerPeer.CONNECTION_CONNECTED and _roles.has(member)
		if waiting and not _known.has(godot_id):
			_admit(member, _incoming)
			_release_held(member)


# What a newly introduced client sent before, after its report (dropped if it was refused).
func _release_held(member: int) -> void:
	var held: Array = _held.get(member, [])
	_held.erase(member)
	_held_bytes.erase(member)
	var godot_id := godot_id_of(member)
	if _known.get(godot_id, 0) == member:
		for packet: Array in held:
			_queue_packet(godot_id, packet[0], packet[1], packet[2])


func _on_room_left(in_room: SoireeRoom, reason: int) -> void:
	if client == null or in_room.name != room_name:
		return
	var message := "This player is no longer in the room %s." % room_name
	if reason == P.LeaveReason.KICKED:
		message = "The party's host removed this player from the room %s." % room_name
	var closed: bool = client is SoireeClient and not client.is_connected_to_party()
	if closed and not client.last_error.is_empty():
		message = client.last_error  # the connection is what ended (SoireeClient says why)
	_lost(message)


func _on_connection_failed(message: String) -> void:
	var goodbye: Dictionary = client.last_goodbye
	if goodbye.get("code", 0) == 4001:
		message = (
			(
				"This party's relay cannot carry Godot multiplayer (it speaks protocol %s; "
				+ "SoireeMultiplayerPeer needs version %d): the party needs an update."
			)
			% [str(goodbye.get("reason", "")).get_slice("versions ", 1), P.GAME_VERSION]
		)
	_lost(message)


# The connection or the room is gone: a failure while connecting, the end of a game after.
func _lost(message: String) -> void:
	if _status == MultiplayerPeer.CONNECTION_CONNECTING:
		_fail(message)
	elif _status == MultiplayerPeer.CONNECTION_CONNECTED:
		_end(message)


func _fail(message: String) -> void:
	last_error = message
	push_warning("SoireeMultiplayerPeer: " + message)
	_teardown()
	_status = MultiplayerPeer.CONNECTION_DISCONNECTED
	_unique_id = 0
	failed.emit(message)


# The game is over: Godot reads what arrived before, then every peer leaves, then the status
# becomes DISCONNECTED (server_disconnected).
func _end(message: String) -> void:
	if _ending:
		return
	_ending = true
	last_error = message
	push_warning("SoireeMultiplayerPeer: " + message)
	var ids := _known.keys()
	ids.sort()
	ids.reverse()  # peer 1, if any, last
	for godot_id: int in ids:
		_incoming.append(_report_gone.bind(godot_id))
	_known.clear()
	_incoming.append(_report_end)
	_release_client()
	ended.emit(message)


static func _why(request: SoireeRequest) -> String:
	return request.error if not request.error.is_empty() else request.status_name()
