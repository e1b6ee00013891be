class_name SoireeSession
extends Node
## A member's session with one relay: the protocol state and the rooms, free of I/O.
##
## Feed it every message the relay sends (`receive`) and send every message it produces
## (`take_outgoing`): SoireeClient does both over a WebSocket, tests do it by hand. It answers
## every PING, keeps each room's table from the records (PROTOCOL.md §14), matches answers to
## requests, rejoins its rooms when a resume fails, and reports everything as signals.

## The relay accepted the session. `resumed`: the previous session (same member id, rooms,
## objects) goes on; otherwise this is a new member and the rooms are being joined again.
signal welcomed(member_id: int, resumed: bool)
## A room's snapshot arrived (after a join, a resume or a catch-up): its tables are complete.
signal room_synced(room: SoireeRoom)
## This client is no longer in the room (SoireeProtocol.LeaveReason).
signal room_left(room: SoireeRoom, reason: int)
signal member_joined(room: SoireeRoom, member: Dictionary)
signal member_left(room: SoireeRoom, member: Dictionary, reason: int)
## A member's connection dropped (`connected` false: it is in its grace window, and an Ask to it
## is answered MASTER_ABSENT) or it came back (protocol version 2). Its dictionary's "connected"
## says the same; a snapshot's members are reported at its end.
signal member_presence_changed(room: SoireeRoom, member: Dictionary, connected: bool)
signal object_spawned(room: SoireeRoom, object: SoireeObject)
## `reason`: SoireeProtocol.DespawnReason, or DESPAWN_GONE when a snapshot no longer lists it.
signal object_despawned(room: SoireeRoom, object: SoireeObject, reason: int)
## A new state from the object's owner. Never emitted for objects this client owns.
signal state_changed(room: SoireeRoom, object: SoireeObject)
signal ownership_changed(room: SoireeRoom, object: SoireeObject, previous_owner: int)
signal master_changed(room: SoireeRoom, object: SoireeObject, previous_master: int)
signal rule_changed(room: SoireeRoom, object: SoireeObject)
## The relay refused an update this client sent (NOT_OWNER, STALE_EPOCH, TOO_LARGE, ...).
signal update_refused(room: SoireeRoom, object_id: int, status: int)
## Someone asks for an object this client is Master of (rule ASK): answer with room.answer().
signal ask_received(room: SoireeRoom, object: SoireeObject, ask_id: int, requester: int)
signal ask_cancelled(room: SoireeRoom, object_id: int, ask_id: int, status: int)
## Any request got its answer (also reported by the request's own `completed` signal).
signal request_answered(request: SoireeRequest)
signal event_received(room: SoireeRoom, sender: int, payload: PackedByteArray)
## Something this client sent was dropped (an event over the limits, a rate limit...).
signal notice_received(status: int, record_type: int, room: SoireeRoom)
## The relay is about to close the connection (PROTOCOL.md §11).
signal goodbye_received(code: int, reason: String)
## A member's game role changed (protocol version 2; SoireeProtocol.GameRole). A snapshot's roles
## are reported at its end, like its members; a member leaving the room has role NONE first.
signal game_role_changed(room: SoireeRoom, member: int, role: int)
## A packet from a game peer (protocol version 2): `flags` carries the transfer mode and MORE.
signal packet_received(
	room: SoireeRoom, sender: int, flags: int, channel: int, payload: PackedByteArray
)

const P := preload("res://addons/soiree/protocol.gd")
const Request := preload("res://addons/soiree/request.gd")
const Room := preload("res://addons/soiree/room.gd")
const RemoteObject := preload("res://addons/soiree/object.gd")
## object_despawned's reason when a fresh snapshot no longer lists the object.
const DESPAWN_GONE := -1

## This client's member id in the relay (0 until welcomed).
var member_id := 0
## The resume token from WELCOME: a reconnection within the grace window keeps the session.
var resume_token := PackedByteArray()
## The limits in force from the relay's WELCOME, by name (SoireeProtocol.LIMIT_NAMES: tick_hz,
## ping_interval_ms, max_state, ...): timings in milliseconds.
var limits := {}
## The best round trip measured with PING, in milliseconds (-1 until measured).
var rtt_ms := -1.0
## What the relay said last when it closed the connection: {"code", "reason"} or empty.
var last_goodbye := {}
## The protocol versions HELLO offers. SoireeMultiplayerPeer asks for GAME_VERSION only.
var min_version := P.VERSION
var max_version := P.VERSION
## The version the relay chose (WELCOME), 0 until welcomed.
var version := 0

var _rooms := {}  # handle -> SoireeRoom, for the current connection
var _by_name := {}  # name -> SoireeRoom: every room joined, kept across reconnections
var _staging := {}  # handle -> {"members", "objects", "roles"} between SNAPSHOT and SYNCED
var _pending := {}  # request id -> SoireeRequest
var _joins := {}  # handle -> SoireeRequest: a join completes when its snapshot is complete
var _outgoing: Array[PackedByteArray] = []
var _next_request := 1
var _next_nonce := 1
var _pings := {}  # nonce -> Time.get_ticks_msec() when sent
var _started := false
var _welcomed := false
var _clock_offset_ms := 0.0


## Joins (or creates) a room by name: 1-64 of a-z 0-9 . _ - (PROTOCOL.md §4.1). The request
## completes once the room's snapshot is complete; then `room(name)` has every member and object.
func join(room_name: String) -> SoireeRequest:
	return send_request("join", {"type": P.JOIN, "name": room_name}, null)


## A room this client is in, by name; null if it is not.
func room(room_name: String) -> SoireeRoom:
	return _by_name.get(room_name)


## The rooms this client is in.
func joined_rooms() -> Array[SoireeRoom]:
	var rooms: Array[SoireeRoom] = []
	rooms.assign(_by_name.values())
	return rooms


func is_welcomed() -> bool:
	return _welcomed


## The relay's clock (unix time in ms), estimated from WELCOME, PING and PONG.
func server_time_ms() -> int:
	return int(Time.get_unix_time_from_system() * 1000.0 + _clock_offset_ms)


## Measures the round trip (`rtt_ms`) and the clock offset; the relay answers PONG.
func send_ping() -> void:
	var nonce := _next_nonce
	_next_nonce = (_next_nonce % 0xFFFFFFFF) + 1
	if send_record({"type": P.PING, "nonce": nonce}):
		_pings[nonce] = Time.get_ticks_msec()


# --- the edge's side: bytes in, bytes out ---------------------------------------------------


## A new connection is open: HELLO goes first (with the resume token, if any), then whatever
## was queued before (joins made while not connected).
func start() -> void:
	_started = true
	var hello := {
		"type": P.HELLO,
		"min_version": min_version,
		"max_version": max_version,
		"token": resume_token
	}
	_outgoing.push_front(P.encode_record(hello))


## Applies one message from the relay. Returns "" or what was malformed in it (the connection
## should then be closed: the records after the fault are lost).
func receive(message: PackedByteArray) -> String:
	var decoded := P.decode_message(message, true)
	for record: Dictionary in decoded["records"]:
		_apply(record)
	return decoded["error"]


## The messages to send now, each at most the relay's message size.
func take_outgoing() -> Array[PackedByteArray]:
	var messages: Array[PackedByteArray] = []
	if not _started or _outgoing.is_empty():
		return messages
	var limit: int = limits.get("max_message", P.MAX_MESSAGE)
	var message := PackedByteArray()
	for record in _outgoing:
		if not message.is_empty() and message.size() + record.size() > limit:
			messages.append(message)
			message = PackedByteArray()
		message.append_array(record)
	messages.append(message)
	_outgoing.clear()
	return messages


## The connection is gone. Requests in flight get NO_ANSWER (the relay forgets them); the rooms
## stay, waiting for a resume (or a rejoin when the resume fails).
func connection_lost() -> void:
	if not _started:
		return
	_started = false
	_welcomed = false
	version = 0
	_outgoing.clear()
	_staging.clear()
	_pings.clear()
	for joined: SoireeRoom in _by_name.values():
		joined.synced = false
	var lost: Array = _pending.values() + _joins.values()
	_pending.clear()
	_joins.clear()
	for request: SoireeRequest in lost:
		_answer(request, Request.NO_ANSWER, 0, "the connection dropped before the answer came")


## Forgets the session: rooms (each reported by room_left), token, member id. Requests not yet
## answered, even those never sent, get NO_ANSWER.
func forget() -> void:
	connection_lost()
	var unsent := _pending.values()
	_pending.clear()
	_outgoing.clear()
	for request: SoireeRequest in unsent:
		_answer(request, Request.NO_ANSWER, 0, "the connection to the party ended")
	var rooms := _by_name.values()
	_rooms.clear()
	_by_name.clear()
	for left: SoireeRoom in rooms:
		left.handle = 0
		left.synced = false
		room_left.emit(left, P.LeaveReason.LEFT)
	member_id = 0
	resume_token = PackedByteArray()
	limits = {}


# --- sending --------------------------------------------------------------------------------


## Sends a request record (the `req` field is filled in here). Used by SoireeRoom.
func send_request(kind: String, record: Dictionary, in_room: SoireeRoom) -> SoireeRequest:
	var room_name: String = in_room.name if in_room != null else record.get("name", "")
	var request := Request.new(kind, _next_request, room_name, record.get("object", 0))
	_next_request = (_next_request % 0xFFFFFFFF) + 1
	record["req"] = request.id
	var problems := []
	var bytes := P.encode_record(record, problems)
	if in_room != null and (not _welcomed or in_room.handle == 0):
		request.finish(Request.NOT_SENT, 0, "not connected to the room %s" % in_room.name, true)
	elif bytes.is_empty():
		request.finish(Request.NOT_SENT, 0, problems[0], true)
	else:
		_pending[request.id] = request
		_outgoing.append(bytes)
	return request


## Sends a record that gets no answer (UPDATE, EVENT, PING). False when not connected.
func send_record(record: Dictionary) -> bool:
	if not _welcomed:
		return false
	var bytes := P.encode_record(record)
	if bytes.is_empty():
		return false
	_outgoing.append(bytes)
	return true


# --- receiving ------------------------------------------------------------------------------


func _apply(record: Dictionary) -> void:
	var type: int = record["type"]
	if type < P.SNAPSHOT:
		_apply_session_record(type, record)
		return
	var in_room: SoireeRoom = _rooms.get(record["room"])
	if type == P.SNAPSHOT:
		_on_snapshot(record)
	elif in_room == null:
		return
	elif type == P.PACKET_FROM:
		var payload: PackedByteArray = record["payload"]
		packet_received.emit(in_room, record["sender"], record["flags"], record["channel"], payload)
	elif type in [P.SYNCED, P.LEFT, P.MEMBER_JOINED, P.MEMBER_LEFT, P.GAME_PEER, P.MEMBER_PRESENCE]:
		_apply_room_record(type, record, in_room)
	elif type in [P.OBJECT, P.STATE, P.DESPAWNED, P.OWNER, P.MASTER, P.RULE]:
		_apply_object_record(type, record, in_room)
	else:
		_apply_exchange_record(type, record, in_room)


func _apply_session_record(type: int, record: Dictionary) -> void:
	match type:
		P.WELCOME, P.WELCOME_V1:
			_on_welcome(record)
		P.GOODBYE:
			last_goodbye = {"code": record["code"], "reason": record["reason"]}
			goodbye_received.emit(record["code"], record["reason"])
		P.SERVER_PING:
			# Answer at once: this is also what keeps a Sandstorm grain awake (PROTOCOL.md §3, item 3).
			_outgoing.append(P.encode_record({"type": P.PONG, "nonce": record["nonce"]}))
			if rtt_ms < 0:
				_set_clock(record["server_time_ms"], 0.0)
		P.SERVER_PONG:
			_on_pong(record)
		P.RESULT:
			_on_result(record)
		P.NOTICE:
			var in_room: SoireeRoom = _rooms.get(record["room"])
			notice_received.emit(record["status"], record["record_type"], in_room)


func _on_welcome(record: Dictionary) -> void:
	var resumed: bool = record["resumed"] == 1
	member_id = record["member"]
	version = record["version"]
	resume_token = record["token"]
	limits = P.welcome_limits(record)
	_welcomed = true
	_set_clock(record["server_time_ms"], 0.0)
	if not resumed:
		# A new member: the relay has forgotten our rooms. Join them again; their snapshots
		# will replace what we knew (our objects that ended with the old session disappear).
		_rooms.clear()
		for joined: SoireeRoom in _by_name.values():
			joined.handle = 0
			send_request("join", {"type": P.JOIN, "name": joined.name}, null)
	welcomed.emit(member_id, resumed)


func _on_pong(record: Dictionary) -> void:
	var sent: int = _pings.get(record["nonce"], -1)
	_pings.erase(record["nonce"])
	if sent < 0:
		return
	var rtt := float(Time.get_ticks_msec() - sent)
	if rtt_ms < 0 or rtt <= rtt_ms * 1.5:
		_set_clock(record["server_time_ms"], rtt / 2.0)
	rtt_ms = rtt if rtt_ms < 0 else minf(rtt_ms, rtt)


func _set_clock(server_ms: int, one_way_ms: float) -> void:
	_clock_offset_ms = server_ms + one_way_ms - Time.get_unix_time_from_system() * 1000.0


func _on_result(record: Dictionary) -> void:
	var request: SoireeRequest = _pending.get(record["req"])
	if request == null:
		return
	_pending.erase(request.id)
	var status: int = record["status"]
	if request.kind == "join" and status == P.Status.ELSEWHERE:
		if _join_elsewhere(request, record["value"]):
			return
	if request.kind == "join" and status == P.Status.OK:
		# The room's snapshot follows; the join is complete at its SYNCED.
		request.value = record["value"]
		_joins[record["value"]] = request
		return
	if request.kind == "join":
		_forget_room_named(request.room_name, P.LeaveReason.LEFT)
	if request.kind == "spawn" and status == P.Status.OK:
		request.object_id = record["value"]
	_answer(request, status, record["value"])


# A join answered ELSEWHERE: another relay process of the party holds the room (PROTOCOL.md
# §4.1). True when the join went on there (SoireeClient opens a connection to it); a bare
# session has no other connection and answers the request as it came.
func _join_elsewhere(_request: SoireeRequest, _process: int) -> bool:
	return false


func _answer(request: SoireeRequest, status: int, value: int, why := "") -> void:
	request.finish(status, value, why)
	request_answered.emit(request)


# A rejoin that failed: the room is gone for this client.
func _forget_room_named(room_name: String, reason: int) -> void:
	var gone: SoireeRoom = _by_name.get(room_name)
	if gone == null or gone.handle != 0:
		return
	_by_name.erase(room_name)
	room_left.emit(gone, reason)


func _on_snapshot(record: Dictionary) -> void:
	var handle: int = record["room"]
	var snap_room: SoireeRoom = _rooms.get(handle)
	if snap_room == null:
		snap_room = _by_name.get(record["name"])
	if snap_room == null:
		snap_room = Room.new(self, record["name"])
	snap_room.handle = handle
	snap_room.synced = false
	_rooms[handle] = snap_room
	_by_name[snap_room.name] = snap_room
	_staging[handle] = {"members": {}, "objects": {}, "roles": {}}


func _apply_room_record(type: int, record: Dictionary, in_room: SoireeRoom) -> void:
	var staged: Dictionary = _staging.get(in_room.handle, {})
	match type:
		P.SYNCED:
			_on_synced(in_room)
		P.LEFT:
			_rooms.erase(in_room.handle)
			_by_name.erase(in_room.name)
			_staging.erase(in_room.handle)
			in_room.handle = 0
			in_room.synced = false
			in_room.game_roles.clear()
			room_left.emit(in_room, record["reason"])
		P.MEMBER_JOINED:
			var member := {
				"id": record["member"],
				"user_id": record["user_id"],
				"name": record["name"],
				"permissions": record["permissions"],
				"connected": true,
			}
			if not staged.is_empty():
				staged["members"][member["id"]] = member
				return
			in_room.members[member["id"]] = member
			member_joined.emit(in_room, member)
		P.MEMBER_LEFT:
			var member: Dictionary = in_room.members.get(record["member"], {})
			_set_role(in_room, record["member"], P.GameRole.NONE)
			if in_room.members.erase(record["member"]):
				member_left.emit(in_room, member, record["reason"])
		P.GAME_PEER:
			if not staged.is_empty():
				staged["roles"][record["member"]] = record["role"]
				return
			_set_role(in_room, record["member"], record["role"])
		P.MEMBER_PRESENCE:
			var connected: bool = record["connected"] == 1
			if not staged.is_empty():
				if staged["members"].has(record["member"]):
					staged["members"][record["member"]]["connected"] = connected
				return
			var member: Dictionary = in_room.members.get(record["member"], {})
			if not member.is_empty() and member["connected"] != connected:
				member["connected"] = connected
				member_presence_changed.emit(in_room, member, connected)


func _set_role(in_room: SoireeRoom, member: int, role: int) -> void:
	if in_room.game_roles.get(member, P.GameRole.NONE) == role:
		return
	if role == P.GameRole.NONE:
		in_room.game_roles.erase(member)
	else:
		in_room.game_roles[member] = role
	game_role_changed.emit(in_room, member, role)


func _apply_object_record(type: int, record: Dictionary, in_room: SoireeRoom) -> void:
	var staged: Dictionary = _staging.get(in_room.handle, {})
	if type == P.OBJECT and not staged.is_empty():
		staged["objects"][record["object"]] = record
		return
	if type == P.OBJECT:
		_add_object(in_room, record)
		return
	var object: SoireeObject = in_room.objects.get(record["object"])
	if object == null:
		return
	match type:
		P.STATE:
			# Our own updates come back too: the owner's copy is the one that counts.
			if record["epoch"] == object.epoch and object.owner != member_id:
				object.state = record["state"]
				object.set_position(record["position"])
				state_changed.emit(in_room, object)
		P.OWNER:
			var previous := object.owner
			object.owner = record["owner"]
			object.epoch = record["epoch"]
			ownership_changed.emit(in_room, object, previous)
		P.MASTER:
			var previous := object.master
			object.master = record["master"]
			master_changed.emit(in_room, object, previous)
		P.RULE:
			object.rule = record["rule"]
			rule_changed.emit(in_room, object)
		P.DESPAWNED:
			in_room.objects.erase(object.id)
			object_despawned.emit(in_room, object, record["reason"])


func _add_object(in_room: SoireeRoom, record: Dictionary) -> SoireeObject:
	var object: SoireeObject = RemoteObject.new()
	object.room_handle = in_room.handle
	object.room_name = in_room.name
	object.apply_record(record)
	in_room.objects[object.id] = object
	object_spawned.emit(in_room, object)
	return object


func _apply_exchange_record(type: int, record: Dictionary, in_room: SoireeRoom) -> void:
	match type:
		P.REFUSED:
			update_refused.emit(in_room, record["object"], record["status"])
		P.ASK:
			var object: SoireeObject = in_room.objects.get(record["object"])
			ask_received.emit(in_room, object, record["ask"], record["requester"])
		P.ASK_CANCELLED:
			ask_cancelled.emit(in_room, record["object"], record["ask"], record["status"])
		P.EVENT_FROM:
			event_received.emit(in_room, record["sender"], record["payload"])


# A snapshot replaces the room's view. The difference from what was known is reported as the
# signals live records would have caused, so objects kept across a resume keep their identity.
func _on_synced(in_room: SoireeRoom) -> void:
	var staged: Dictionary = _staging.get(
		in_room.handle, {"members": {}, "objects": {}, "roles": {}}
	)
	_staging.erase(in_room.handle)
	for member: int in in_room.game_roles.keys():
		if not staged["roles"].has(member):
			_set_role(in_room, member, P.GameRole.NONE)
	_sync_members(in_room, staged["members"])
	for member: int in staged["roles"]:
		_set_role(in_room, member, staged["roles"][member])
	for object_id: int in in_room.objects.keys():
		if not staged["objects"].has(object_id):
			var gone: SoireeObject = in_room.objects[object_id]
			in_room.objects.erase(object_id)
			object_despawned.emit(in_room, gone, DESPAWN_GONE)
	for record: Dictionary in staged["objects"].values():
		var known: SoireeObject = in_room.objects.get(record["object"])
		if known == null:
			_add_object(in_room, record)
		else:
			_refresh_object(in_room, known, record)
	in_room.synced = true
	room_synced.emit(in_room)
	var join: SoireeRequest = _joins.get(in_room.handle)
	if join != null:
		_joins.erase(in_room.handle)
		_answer(join, P.Status.OK, in_room.handle)


func _sync_members(in_room: SoireeRoom, staged: Dictionary) -> void:
	for id: int in in_room.members.keys():
		if not staged.has(id):
			var member: Dictionary = in_room.members[id]
			in_room.members.erase(id)
			member_left.emit(in_room, member, P.LeaveReason.DISCONNECTED)
	for member: Dictionary in staged.values():
		var known: Dictionary = in_room.members.get(member["id"], {})
		in_room.members[member["id"]] = member
		if known.is_empty():
			member_joined.emit(in_room, member)
		if known.get("connected", true) != member["connected"]:
			member_presence_changed.emit(in_room, member, member["connected"])


func _refresh_object(in_room: SoireeRoom, object: SoireeObject, record: Dictionary) -> void:
	var before := [object.owner, object.epoch, object.master, object.rule, object.state]
	object.room_handle = in_room.handle
	object.apply_record(record)
	if object.owner != before[0] or object.epoch != before[1]:
		ownership_changed.emit(in_room, object, before[0])
	if object.master != before[2]:
		master_changed.emit(in_room, object, before[2])
	if object.rule != before[3]:
		rule_changed.emit(in_room, object)
	if object.state != before[4] and object.owner != member_id:
		state_changed.emit(in_room, object)
