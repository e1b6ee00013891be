class_name SoireeProtocol
extends RefCounted
## The relay's wire format, versions 1 and 2 (relay/PROTOCOL.md): record types, layouts, a strict
## codec. Version 2 adds Godot's multiplayer: game roles (GAME, GAME_PEER) and packets (PACKET,
## PACKET_FROM), WELCOME with every limit in force, and MEMBER_PRESENCE.
##
## A record is a Dictionary: {"type": <record type>, <field>: <value>, ...}. Field names are those
## of PROTOCOL.md §9 as the Python codec (relay/protocol.py) spells them. Values are int, String
## (str8), PackedByteArray (tokens, state, payload), Vector3 or null (an optional position),
## Array of int (event targets) and Array of [id, value] pairs (WELCOME's limits). Every record is
## `type u8, length u16, body`, little-endian, and one WebSocket message carries one or more
## records. Free of I/O, so tests drive it directly.

enum Status {
	OK,
	GRANTED,
	DENIED,
	TIMEOUT,
	IN_PROGRESS,
	NOT_ALLOWED,
	UNKNOWN_OBJECT,
	UNKNOWN_ROOM,
	UNKNOWN_MEMBER,
	COOLDOWN,
	MASTER_ABSENT,
	NOT_MASTER,
	NOT_OWNER,
	STALE_EPOCH,
	ROOM_FULL,
	TOO_MANY_ROOMS,
	TOO_MANY_OBJECTS,
	TOO_LARGE,
	RATE_LIMITED,
	INVALID_NAME,
	ALREADY_JOINED,
	NOT_PENDING,
	CANCELLED,
	HOST_TAKEN,
	NOT_IN_GAME,
	QUOTA,
	ELSEWHERE,  # JOIN: another relay process holds the room (PROTOCOL.md section 4.1)
}
enum Rule { ASK, DENY, ALLOW }
enum Lifetime { WITH_MASTER, PERSISTENT }
enum LeaveReason { LEFT, DISCONNECTED, KICKED }
enum DespawnReason { BY_MASTER, MASTER_LEFT, RESET }
## A member's part in the room's Godot game: NONE (not in it), PEER, or HOST (Godot peer 1).
enum GameRole { NONE, PEER, HOST }

const VERSION := 1
## The version that adds game roles and packets (SoireeMultiplayerPeer speaks it).
const GAME_VERSION := 2
const MAX_MESSAGE := 65535
const HEADER_SIZE := 3
const TOKEN_SIZE := 16
const PERM_PLAY := 1
const PERM_HOST := 2
# PACKET / PACKET_FROM flags: bits 0-1 the transfer mode, then EXCEPT and MORE.
const PACKET_RELIABLE := 0
const PACKET_UNRELIABLE := 1
const PACKET_UNRELIABLE_ORDERED := 2
const PACKET_MODE_MASK := 0x03
## The targets are left out of a room-wide send.
const PACKET_EXCEPT := 0x04
## A fragment: the sender's next packet continues it.
const PACKET_MORE := 0x08
## PACKET's fixed part: room u16, flags u8, channel u8, lane u16, target count u8.
const PACKET_HEAD_SIZE := 7

# Client -> relay
const HELLO := 0x01
const PING := 0x02
const PONG := 0x03
const JOIN := 0x10
const LEAVE := 0x11
const FOCUS := 0x12
const GAME := 0x13
const SPAWN := 0x20
const UPDATE := 0x21
const DESPAWN := 0x22
const REQUEST := 0x23
const RELEASE := 0x24
const GIVE := 0x25
const SET_MASTER := 0x26
const SET_RULE := 0x27
const ANSWER := 0x28
const EVENT := 0x30
const PACKET := 0x31
# Relay -> client
## HELLO's answer on a version-1 session (whole seconds, u16 fields).
const WELCOME_V1 := 0x81
const GOODBYE := 0x82
const SERVER_PING := 0x83
const SERVER_PONG := 0x84
const RESULT := 0x85
const NOTICE := 0x86
## HELLO's answer from version 2 on: every limit in force as (id, value) pairs (PROTOCOL.md §9.3).
const WELCOME := 0x87
const SNAPSHOT := 0x90
const SYNCED := 0x91
const LEFT := 0x92
const MEMBER_JOINED := 0x93
const MEMBER_LEFT := 0x94
const GAME_PEER := 0x95
const MEMBER_PRESENCE := 0x96
const OBJECT := 0xA0
const STATE := 0xA1
const DESPAWNED := 0xA2
const OWNER := 0xA3
const MASTER := 0xA4
const RULE := 0xA5
const REFUSED := 0xA6
const ASK := 0xA7
const ASK_CANCELLED := 0xA8
const EVENT_FROM := 0xB0
const PACKET_FROM := 0xB1

# Field kinds: how one field is laid out on the wire.
const K_U8 := 0
const K_U16 := 1
const K_U32 := 2
const K_U64 := 3
const K_BOOL := 4
const K_RULE := 5
const K_LIFETIME := 6
const K_STATUS := 7
const K_LEAVE_REASON := 8
const K_DESPAWN_REASON := 9
const K_PERMS := 10
const K_STR8 := 11
const K_TOKEN8 := 12  # u8 length (0 or 16), then the resume token
const K_TOKEN16 := 13  # exactly 16 bytes
const K_POS := 14  # flags u8 (bit 0: a position follows), then three f32 when set
const K_MEMBERS8 := 15  # count u8, then count u32 member ids
const K_REST := 16  # every byte up to the end of the body
const K_ROLE := 17
const K_PACKET_FLAGS := 18  # a transfer mode (0-2), EXCEPT, MORE
const K_PACKET_FROM_FLAGS := 19  # a transfer mode (0-2), MORE
const K_LIMITS := 20  # count u8, then count pairs of id u8, value u32 (each id at most once)

## WELCOME's limits by id (PROTOCOL.md §9.3), as `limits` names them: timings in milliseconds.
## Ids from LIMIT_TIER_CELLS and LIMIT_TIER_TICKS on are per distance tier (id + tier).
const LIMIT_NAMES := {
	1: "tick_hz",
	2: "ping_interval_ms",
	3: "idle_timeout_ms",
	4: "hello_timeout_ms",
	5: "grace_ms",
	6: "ask_timeout_ms",
	7: "cooldown_ms",
	8: "max_message",
	9: "max_state",
	10: "max_event",
	11: "max_packet",
	12: "max_rooms",
	13: "max_rooms_per_connection",
	14: "max_members",
	15: "max_objects",
	16: "max_objects_per_member",
	17: "rate",
	18: "burst",
	19: "strike_limit",
	20: "lag_high",
	21: "lag_low",
	22: "lag_timeout_ms",
	23: "held_limit",
	24: "unreliable_backlog",
	25: "persist_interval_ms",
	26: "interest_cell_mm",
	27: "max_objects_per_account",
	28: "max_saved_per_account",
	29: "max_saved_objects",
	30: "max_saved_bytes",
	31: "player_rooms",
}
const LIMIT_TIER_CELLS := 0x20
const LIMIT_TIER_TICKS := 0x30
const MAX_TIERS := 16

# Integer kinds: [size in bytes, largest value] (u64: no upper bound a GDScript int can show).
const INT_KINDS := {
	K_U8: [1, 255],
	K_U16: [2, 65535],
	K_U32: [4, 4294967295],
	K_U64: [8, -1],
	K_BOOL: [1, 1],
	K_RULE: [1, 2],
	K_LIFETIME: [1, 1],
	K_STATUS: [1, Status.ELSEWHERE],  # the last status
	K_LEAVE_REASON: [1, 2],
	K_DESPAWN_REASON: [1, 2],
	K_PERMS: [1, 3],
	K_ROLE: [1, 2],
}
# Flag kinds: the flag bits allowed besides the transfer mode.
const FLAG_KINDS := {
	K_PACKET_FLAGS: PACKET_EXCEPT | PACKET_MORE,
	K_PACKET_FROM_FLAGS: PACKET_MORE,
}

const LAYOUTS := {
	HELLO: [["min_version", K_U16], ["max_version", K_U16], ["token", K_TOKEN8]],
	PING: [["nonce", K_U32]],
	PONG: [["nonce", K_U32]],
	JOIN: [["req", K_U32], ["name", K_STR8]],
	LEAVE: [["req", K_U32], ["room", K_U16]],
	FOCUS: [["req", K_U32], ["room", K_U16], ["position", K_POS]],
	GAME: [["req", K_U32], ["room", K_U16], ["role", K_ROLE]],
	SPAWN:
	[
		["req", K_U32],
		["room", K_U16],
		["rule", K_RULE],
		["lifetime", K_LIFETIME],
		["position", K_POS],
		["state", K_REST],
	],
	UPDATE:
	[["room", K_U16], ["object", K_U32], ["epoch", K_U32], ["position", K_POS], ["state", K_REST]],
	DESPAWN: [["req", K_U32], ["room", K_U16], ["object", K_U32]],
	REQUEST: [["req", K_U32], ["room", K_U16], ["object", K_U32]],
	RELEASE: [["req", K_U32], ["room", K_U16], ["object", K_U32]],
	GIVE: [["req", K_U32], ["room", K_U16], ["object", K_U32], ["member", K_U32]],
	SET_MASTER: [["req", K_U32], ["room", K_U16], ["object", K_U32], ["member", K_U32]],
	SET_RULE: [["req", K_U32], ["room", K_U16], ["object", K_U32], ["rule", K_RULE]],
	ANSWER: [["req", K_U32], ["room", K_U16], ["object", K_U32], ["ask", K_U32], ["grant", K_BOOL]],
	EVENT: [["room", K_U16], ["targets", K_MEMBERS8], ["payload", K_REST]],
	PACKET:
	[
		["room", K_U16],
		["flags", K_PACKET_FLAGS],
		["channel", K_U8],
		["lane", K_U16],
		["targets", K_MEMBERS8],
		["payload", K_REST],
	],
	WELCOME_V1:
	[
		["version", K_U16],
		["member", K_U32],
		["resumed", K_BOOL],
		["token", K_TOKEN16],
		["server_time_ms", K_U64],
		["tick_hz", K_U16],
		["ping_interval_s", K_U16],
		["idle_timeout_s", K_U16],
		["grace_s", K_U16],
		["ask_timeout_ms", K_U16],
		["cooldown_ms", K_U16],
		["max_message", K_U32],
		["max_state", K_U32],
		["max_event", K_U32],
		["rate", K_U16],
		["burst", K_U16],
	],
	WELCOME:
	[
		["version", K_U16],
		["member", K_U32],
		["resumed", K_BOOL],
		["token", K_TOKEN16],
		["server_time_ms", K_U64],
		["limits", K_LIMITS],
	],
	GOODBYE: [["code", K_U16], ["reason", K_STR8]],
	SERVER_PING: [["nonce", K_U32], ["server_time_ms", K_U64]],
	SERVER_PONG: [["nonce", K_U32], ["server_time_ms", K_U64]],
	RESULT: [["req", K_U32], ["status", K_STATUS], ["value", K_U32]],
	NOTICE: [["status", K_STATUS], ["record_type", K_U8], ["room", K_U16]],
	SNAPSHOT: [["room", K_U16], ["members", K_U16], ["objects", K_U32], ["name", K_STR8]],
	SYNCED: [["room", K_U16]],
	LEFT: [["room", K_U16], ["reason", K_LEAVE_REASON]],
	MEMBER_JOINED:
	[
		["room", K_U16],
		["member", K_U32],
		["permissions", K_PERMS],
		["user_id", K_STR8],
		["name", K_STR8],
	],
	MEMBER_LEFT: [["room", K_U16], ["member", K_U32], ["reason", K_LEAVE_REASON]],
	GAME_PEER: [["room", K_U16], ["member", K_U32], ["role", K_ROLE]],
	MEMBER_PRESENCE: [["room", K_U16], ["member", K_U32], ["connected", K_BOOL]],
	OBJECT:
	[
		["room", K_U16],
		["object", K_U32],
		["master", K_U32],
		["owner", K_U32],
		["epoch", K_U32],
		["rule", K_RULE],
		["lifetime", K_LIFETIME],
		["position", K_POS],
		["state", K_REST],
	],
	STATE:
	[["room", K_U16], ["object", K_U32], ["epoch", K_U32], ["position", K_POS], ["state", K_REST]],
	DESPAWNED: [["room", K_U16], ["object", K_U32], ["reason", K_DESPAWN_REASON]],
	OWNER: [["room", K_U16], ["object", K_U32], ["owner", K_U32], ["epoch", K_U32]],
	MASTER: [["room", K_U16], ["object", K_U32], ["master", K_U32]],
	RULE: [["room", K_U16], ["object", K_U32], ["rule", K_RULE]],
	REFUSED: [["room", K_U16], ["object", K_U32], ["epoch", K_U32], ["status", K_STATUS]],
	ASK: [["room", K_U16], ["object", K_U32], ["ask", K_U32], ["requester", K_U32]],
	ASK_CANCELLED: [["room", K_U16], ["object", K_U32], ["ask", K_U32], ["status", K_STATUS]],
	EVENT_FROM: [["room", K_U16], ["sender", K_U32], ["payload", K_REST]],
	PACKET_FROM:
	[
		["room", K_U16],
		["sender", K_U32],
		["flags", K_PACKET_FROM_FLAGS],
		["channel", K_U8],
		["payload", K_REST],
	],
}

const NAMES := {
	HELLO: "HELLO",
	PING: "PING",
	PONG: "PONG",
	JOIN: "JOIN",
	LEAVE: "LEAVE",
	FOCUS: "FOCUS",
	GAME: "GAME",
	SPAWN: "SPAWN",
	UPDATE: "UPDATE",
	DESPAWN: "DESPAWN",
	REQUEST: "REQUEST",
	RELEASE: "RELEASE",
	GIVE: "GIVE",
	SET_MASTER: "SET_MASTER",
	SET_RULE: "SET_RULE",
	ANSWER: "ANSWER",
	EVENT: "EVENT",
	PACKET: "PACKET",
	WELCOME_V1: "WELCOME_V1",
	WELCOME: "WELCOME",
	GOODBYE: "GOODBYE",
	SERVER_PING: "PING",
	SERVER_PONG: "PONG",
	RESULT: "RESULT",
	NOTICE: "NOTICE",
	SNAPSHOT: "SNAPSHOT",
	SYNCED: "SYNCED",
	LEFT: "LEFT",
	MEMBER_JOINED: "MEMBER_JOINED",
	MEMBER_LEFT: "MEMBER_LEFT",
	GAME_PEER: "GAME_PEER",
	MEMBER_PRESENCE: "MEMBER_PRESENCE",
	OBJECT: "OBJECT",
	STATE: "STATE",
	DESPAWNED: "DESPAWNED",
	OWNER: "OWNER",
	MASTER: "MASTER",
	RULE: "RULE",
	REFUSED: "REFUSED",
	ASK: "ASK",
	ASK_CANCELLED: "ASK_CANCELLED",
	EVENT_FROM: "EVENT",
	PACKET_FROM: "PACKET",
}


## The name of a record type ("STATE"), or its number in hex when unknown.
static func name_of(type: int) -> String:
	return NAMES.get(type, "0x%02x" % type)


## The name of a status code ("GRANTED"), as PROTOCOL.md §10 lists them.
static func status_name(status: int) -> String:
	var keys := Status.keys()
	if status >= 0 and status < keys.size():
		return keys[status]
	return "status %d" % status


## The limits in force from a WELCOME or WELCOME_V1 record, by name (LIMIT_NAMES; tiers as
## "tier_<i>_cells" and "tier_<i>_ticks"), timings in milliseconds. Unknown ids are skipped.
static func welcome_limits(record: Dictionary) -> Dictionary:
	var limits := {}
	if record.get("type") == WELCOME_V1:
		for field: String in ["tick_hz", "ask_timeout_ms", "cooldown_ms", "rate", "burst"]:
			limits[field] = record[field]
		for field: String in ["max_message", "max_state", "max_event"]:
			limits[field] = record[field]
		for field: String in ["ping_interval", "idle_timeout", "grace"]:
			limits[field + "_ms"] = record[field + "_s"] * 1000
		return limits
	for pair: Array in record.get("limits", []):
		var id: int = pair[0]
		if LIMIT_NAMES.has(id):
			limits[LIMIT_NAMES[id]] = pair[1]
		elif id >= LIMIT_TIER_CELLS and id < LIMIT_TIER_CELLS + MAX_TIERS:
			limits["tier_%d_cells" % (id - LIMIT_TIER_CELLS)] = pair[1]
		elif id >= LIMIT_TIER_TICKS and id < LIMIT_TIER_TICKS + MAX_TIERS:
			limits["tier_%d_ticks" % (id - LIMIT_TIER_TICKS)] = pair[1]
	return limits


static func is_from_relay(type: int) -> bool:
	return type >= 0x80


## PROTOCOL.md §4.1: 1-64 characters of a-z 0-9 . _ -, starting with a letter or a digit.
static func valid_room_name(room_name: String) -> bool:
	if room_name.is_empty() or room_name.length() > 64:
		return false
	for i in room_name.length():
		var c := room_name.unicode_at(i)
		var alnum := (c >= 0x61 and c <= 0x7A) or (c >= 0x30 and c <= 0x39)
		if not alnum and (i == 0 or not c in [0x2E, 0x5F, 0x2D]):
			return false
	return true


# --- decoding --------------------------------------------------------------------------------


## Splits one WebSocket message into decoded records, in order.
##
## Returns {"records": Array of record Dictionaries, "error": String}; on a malformed message the
## error says what is wrong and the records are those decoded before the fault. With `from_relay`
## (what a client reads) record types the client does not know are skipped, as PROTOCOL.md §2
## asks; otherwise (what the relay accepts) an unknown type is an error.
static func decode_message(data: PackedByteArray, from_relay := true) -> Dictionary:
	var records: Array[Dictionary] = []
	var error := ""
	if data.is_empty():
		error = "empty message"
	elif data.size() > MAX_MESSAGE:
		error = "message of %d bytes is over the %d-byte limit" % [data.size(), MAX_MESSAGE]
	var off := 0
	while error.is_empty() and off < data.size():
		if off + HEADER_SIZE > data.size():
			error = "truncated record header"
			break
		var type := data.decode_u8(off)
		var length := data.decode_u16(off + 1)
		off += HEADER_SIZE
		if off + length > data.size():
			error = "record length runs past the end of the message"
			break
		var known := LAYOUTS.has(type) and is_from_relay(type) == from_relay
		if known or not from_relay:
			var record := decode_record(type, data.slice(off, off + length), from_relay)
			if record.has("error"):
				error = record["error"]
				break
			records.append(record)
		off += length
	return {"records": records, "error": error}


## One record from its type and body. On a malformed body: {"type": type, "error": "..."}.
static func decode_record(type: int, body: PackedByteArray, from_relay := true) -> Dictionary:
	if not LAYOUTS.has(type) or is_from_relay(type) != from_relay:
		return {"type": type, "error": "unknown record type 0x%02x" % type}
	var record := {"type": type}
	var off := 0
	for field: Array in LAYOUTS[type]:
		var step := _decode_field(field[1], body, off)
		if step.size() != 2:
			return {"type": type, "error": "%s %s: %s" % [name_of(type), field[0], step[0]]}
		record[field[0]] = step[0]
		off = step[1]
	if off != body.size():
		var message := "%s record has %d unexpected trailing bytes"
		return {"type": type, "error": message % [name_of(type), body.size() - off]}
	var problem := _check_record(record)
	if not problem.is_empty():
		return {"type": type, "error": problem}
	return record


# Rules between fields, on top of each field's own: "" or what is wrong.
static func _check_record(record: Dictionary) -> String:
	if record["type"] != PACKET:
		return ""
	if record["lane"] != 0 and record["flags"] & PACKET_MODE_MASK == PACKET_RELIABLE:
		return "a reliable packet has lane 0"
	return ""


# [value, next offset] on success, [error message] on failure.
static func _decode_field(kind: int, body: PackedByteArray, off: int) -> Array:
	if INT_KINDS.has(kind):
		return _decode_int(kind, body, off)
	if FLAG_KINDS.has(kind):
		if off + 1 > body.size():
			return ["record body is too short"]
		var problem := _flags_problem(kind, body[off])
		return [body[off], off + 1] if problem.is_empty() else [problem]
	var step: Array = ["unknown field kind %d" % kind]
	match kind:
		K_STR8:
			step = _decode_str8(body, off)
		K_TOKEN8, K_TOKEN16:
			step = _decode_token(kind, body, off)
		K_POS:
			step = _decode_pos(body, off)
		K_MEMBERS8:
			step = _decode_members(body, off)
		K_LIMITS:
			step = _decode_limits(body, off)
		K_REST:
			step = [body.slice(off), body.size()]
	return step


static func _flags_problem(kind: int, flags: int) -> String:
	if flags & PACKET_MODE_MASK == PACKET_MODE_MASK:
		return "transfer mode 3 is not valid"
	if flags & ~(FLAG_KINDS[kind] | PACKET_MODE_MASK):
		return "unknown flag bits 0x%02x" % flags
	return ""


static func _decode_int(kind: int, body: PackedByteArray, off: int) -> Array:
	var size: int = INT_KINDS[kind][0]
	var largest: int = INT_KINDS[kind][1]
	if off + size > body.size():
		return ["record body is too short"]
	var value := 0
	match size:
		1:
			value = body.decode_u8(off)
		2:
			value = body.decode_u16(off)
		4:
			value = body.decode_u32(off)
		8:
			value = body.decode_u64(off)
	if largest >= 0 and value > largest:
		return ["%d is out of range 0..%d" % [value, largest]]
	return [value, off + size]


static func _decode_str8(body: PackedByteArray, off: int) -> Array:
	if off + 1 > body.size() or off + 1 + body[off] > body.size():
		return ["record body is too short"]
	var end := off + 1 + body[off]
	if not is_valid_utf8(body, off + 1, end):
		return ["string is not valid UTF-8"]
	return [body.slice(off + 1, end).get_string_from_utf8(), end]


static func _decode_token(kind: int, body: PackedByteArray, off: int) -> Array:
	var start := off
	var size := TOKEN_SIZE
	if kind == K_TOKEN8:
		if off + 1 > body.size():
			return ["record body is too short"]
		size = body[off]
		start = off + 1
		if size != 0 and size != TOKEN_SIZE:
			return ["a resume token is 0 or 16 bytes"]
	if start + size > body.size():
		return ["record body is too short"]
	return [body.slice(start, start + size), start + size]


static func _decode_pos(body: PackedByteArray, off: int) -> Array:
	if off + 1 > body.size():
		return ["record body is too short"]
	var flags := body[off]
	if flags & ~1:
		return ["unknown flag bits 0x%02x" % flags]
	if flags == 0:
		return [null, off + 1]
	if off + 13 > body.size():
		return ["record body is too short"]
	var pos := Vector3(
		body.decode_float(off + 1), body.decode_float(off + 5), body.decode_float(off + 9)
	)
	if not pos.is_finite():
		return ["position must be finite"]
	return [pos, off + 13]


static func _decode_members(body: PackedByteArray, off: int) -> Array:
	if off + 1 > body.size() or off + 1 + 4 * body[off] > body.size():
		return ["record body is too short"]
	var members: Array[int] = []
	for i in body[off]:
		members.append(body.decode_u32(off + 1 + 4 * i))
	return [members, off + 1 + 4 * members.size()]


static func _decode_limits(body: PackedByteArray, off: int) -> Array:
	if off + 1 > body.size() or off + 1 + 5 * body[off] > body.size():
		return ["record body is too short"]
	var pairs: Array = []
	var seen := {}
	for i in body[off]:
		var at := off + 1 + 5 * i
		var id := body.decode_u8(at)
		if seen.has(id):
			return ["a limit appears twice"]
		seen[id] = true
		pairs.append([id, body.decode_u32(at + 1)])
	return [pairs, off + 1 + 5 * pairs.size()]


## Whether bytes [from, to) are well-formed UTF-8 (no overlong forms, surrogates or code points
## above U+10FFFF), judged as Python's codec judges them.
static func is_valid_utf8(data: PackedByteArray, from: int, to: int) -> bool:
	var i := from
	while i < to:
		var lead := data[i]
		var extra := 0
		var lowest := 0
		if lead < 0x80:
			i += 1
			continue
		if lead >= 0xC2 and lead <= 0xDF:
			extra = 1
			lowest = 0x80
		elif lead >= 0xE0 and lead <= 0xEF:
			extra = 2
			lowest = 0x800
		elif lead >= 0xF0 and lead <= 0xF4:
			extra = 3
			lowest = 0x10000
		else:
			return false
		if i + extra >= to:
			return false
		var code := lead & (0x3F >> extra)
		for k in range(1, extra + 1):
			var byte := data[i + k]
			if byte & 0xC0 != 0x80:
				return false
			code = (code << 6) | (byte & 0x3F)
		if code < lowest or code > 0x10FFFF or (code >= 0xD800 and code <= 0xDFFF):
			return false
		i += extra + 1
	return true


# --- encoding --------------------------------------------------------------------------------


## The bytes of one record. A value that does not fit its layout gives an empty array, and the
## reason is appended to `problems` (a valid record is never empty: its header is 3 bytes).
static func encode_record(record: Dictionary, problems: Array = []) -> PackedByteArray:
	var type: int = record.get("type", -1)
	if not LAYOUTS.has(type):
		problems.append("unknown record type %s" % record.get("type"))
		return PackedByteArray()
	if type == PACKET and record.get("flags") is int and record.get("lane") is int:
		var problem := _check_record(record)
		if not problem.is_empty():
			problems.append("PACKET: " + problem)
			return PackedByteArray()
	var out := PackedByteArray([type, 0, 0])
	for field: Array in LAYOUTS[type]:
		if not record.has(field[0]):
			problems.append("%s has no %s" % [name_of(type), field[0]])
			return PackedByteArray()
		var problem := _encode_field(field[1], record[field[0]], out)
		if not problem.is_empty():
			problems.append("%s %s: %s" % [name_of(type), field[0], problem])
			return PackedByteArray()
	if out.size() - HEADER_SIZE > 0xFFFF:
		problems.append("%s record body longer than 65535 bytes" % name_of(type))
		return PackedByteArray()
	out.encode_u16(1, out.size() - HEADER_SIZE)
	return out


## Several records back to back, as one message (the caller keeps it under MAX_MESSAGE).
static func encode_message(records: Array, problems: Array = []) -> PackedByteArray:
	var out := PackedByteArray()
	for record: Dictionary in records:
		var bytes := encode_record(record, problems)
		if bytes.is_empty():
			return PackedByteArray()
		out.append_array(bytes)
	return out


# Appends one field to `out`; returns "" or what is wrong with the value.
static func _encode_field(kind: int, value: Variant, out: PackedByteArray) -> String:
	if INT_KINDS.has(kind):
		return _encode_int(kind, value, out)
	if FLAG_KINDS.has(kind):
		var problem := _encode_int(K_U8, value, out)
		return problem if not problem.is_empty() else _flags_problem(kind, int(value))
	var problem := ""
	match kind:
		K_STR8:
			problem = _encode_str8(value, out)
		K_TOKEN8, K_TOKEN16:
			problem = _encode_token(kind, value, out)
		K_POS:
			problem = _encode_pos(value, out)
		K_MEMBERS8:
			problem = _encode_members(value, out)
		K_LIMITS:
			problem = _encode_limits(value, out)
		K_REST:
			if value is PackedByteArray:
				out.append_array(value)
			else:
				problem = "expected bytes (PackedByteArray)"
	return problem


static func _encode_int(kind: int, value: Variant, out: PackedByteArray) -> String:
	if typeof(value) != TYPE_INT and typeof(value) != TYPE_BOOL:
		return "expected an integer, got %s" % type_string(typeof(value))
	var number := int(value)
	var size: int = INT_KINDS[kind][0]
	var largest: int = INT_KINDS[kind][1]
	if number < 0 or (largest >= 0 and number > largest):
		return "%d is out of range 0..%d" % [number, largest]
	var at := out.size()
	out.resize(at + size)
	match size:
		1:
			out.encode_u8(at, number)
		2:
			out.encode_u16(at, number)
		4:
			out.encode_u32(at, number)
		8:
			out.encode_u64(at, number)
	return ""


static func _encode_str8(value: Variant, out: PackedByteArray) -> String:
	if typeof(value) != TYPE_STRING and typeof(value) != TYPE_STRING_NAME:
		return "expected a String"
	var raw := String(value).to_utf8_buffer()
	if raw.size() > 255:
		return "string longer than 255 bytes"
	out.append(raw.size())
	out.append_array(raw)
	return ""


static func _encode_token(kind: int, value: Variant, out: PackedByteArray) -> String:
	if not value is PackedByteArray:
		return "expected bytes (PackedByteArray)"
	var token: PackedByteArray = value
	if kind == K_TOKEN16 and token.size() != TOKEN_SIZE:
		return "expected exactly 16 bytes"
	if kind == K_TOKEN8:
		if token.size() != 0 and token.size() != TOKEN_SIZE:
			return "a resume token is 0 or 16 bytes"
		out.append(token.size())
	out.append_array(token)
	return ""


static func _encode_pos(value: Variant, out: PackedByteArray) -> String:
	if value == null:
		out.append(0)
		return ""
	if not value is Vector3:
		return "expected a Vector3 or null"
	var pos: Vector3 = value
	if not pos.is_finite():
		return "position must be finite"
	var at := out.size()
	out.resize(at + 13)
	out.encode_u8(at, 1)
	out.encode_float(at + 1, pos.x)
	out.encode_float(at + 5, pos.y)
	out.encode_float(at + 9, pos.z)
	return ""


static func _encode_members(value: Variant, out: PackedByteArray) -> String:
	if not (value is Array or value is PackedInt32Array or value is PackedInt64Array):
		return "expected an Array of member ids"
	if value.size() > 255:
		return "at most 255 targets"
	var at := out.size()
	out.resize(at + 1 + 4 * value.size())
	out.encode_u8(at, value.size())
	for i in value.size():
		var member: Variant = value[i]
		if typeof(member) != TYPE_INT or member < 0 or member > 4294967295:
			return "member ids are integers 0..4294967295"
		out.encode_u32(at + 1 + 4 * i, member)
	return ""


static func _encode_limits(value: Variant, out: PackedByteArray) -> String:
	if not value is Array:
		return "expected an Array of [id, value] pairs"
	if value.size() > 255:
		return "at most 255 limits"
	var at := out.size()
	out.resize(at + 1 + 5 * value.size())
	out.encode_u8(at, value.size())
	var seen := {}
	for i in value.size():
		var pair: Variant = value[i]
		if not pair is Array or pair.size() != 2:
			return "a limit is an [id, value] pair"
		var id: Variant = pair[0]
		var number: Variant = pair[1]
		if typeof(id) != TYPE_INT or id < 0 or id > 255:
			return "limit ids are integers 0..255"
		if typeof(number) != TYPE_INT or number < 0 or number > 4294967295:
			return "limit values are integers 0..4294967295"
		if seen.has(id):
			return "a limit appears twice"
		seen[id] = true
		out.encode_u8(at + 1 + 5 * i, id)
		out.encode_u32(at + 2 + 5 * i, number)
	return ""
