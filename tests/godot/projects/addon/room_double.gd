extends RefCounted
## One relay room, by hand, for the I/O-free tests of SoireeMultiplayerPeer and SoireeAuthority:
## it reads what each SoireeSession sends and answers as relay/PROTOCOL.md (version 2) says,
## delivering every record at once, so the order of the room's one stream is the order of
## processing. Enough of the relay for these tests; the live tests run the real one.

const P := preload("res://addons/soiree/protocol.gd")
const HANDLE := 3
const NAME := "arena"

var sessions := {}  # member -> SoireeSession, in the room (or about to join it)
var roles := {}  # member -> game role
var objects := {}  # object id -> {"master", "owner", "epoch", "rule", "lifetime", "state"}
## Every [member, record] a session sent, in order.
var sent: Array = []
## Answer REQUEST under ASK with ASK to the Master (true) or leave it pending.
var next_object := 1
var asks := {}  # ask id -> [object, requester, req]
var next_ask := 1
var _token := PackedByteArray()


func _init() -> void:
	_token.resize(16)


## A session joining as `member`: start() it, then serve().
func add(member: int, session: SoireeSession) -> void:
	sessions[member] = session


## Handles everything the sessions sent (only those of the `only` members, if given), until
## none sends anything more.
func serve(only: Array = []) -> void:
	var busy := true
	while busy:
		busy = false
		for member: int in sessions.keys():
			if not only.is_empty() and not member in only:
				continue
			var session: SoireeSession = sessions.get(member)
			if session == null:
				continue
			for message in session.take_outgoing():
				busy = true
				var decoded := P.decode_message(message, false)
				if decoded["error"] != "":
					print(
						"FAIL: member %d sent a malformed message: %s" % [member, decoded["error"]]
					)
				for record: Dictionary in decoded["records"]:
					sent.append([member, record])
					_handle(member, record)


## The PACKET records sent since the last call: [member, record].
func take_packets() -> Array:
	var packets := sent.filter(func(item: Array) -> bool: return item[1]["type"] == P.PACKET)
	sent.clear()
	return packets


## The member leaves the room (its session ends): GAME_PEER(member, 0) then MEMBER_LEFT.
func leave(member: int, reason := P.LeaveReason.LEFT) -> void:
	sessions.erase(member)
	if roles.erase(member):
		_all(_rec(P.GAME_PEER, {"room": HANDLE, "member": member, "role": 0}))
	_all(_rec(P.MEMBER_LEFT, {"room": HANDLE, "member": member, "reason": reason}))
	for id: int in objects.keys():
		var object: Dictionary = objects[id]
		if object["master"] == member:
			objects.erase(id)
			_all(_rec(P.DESPAWNED, {"room": HANDLE, "object": id, "reason": 1}))


## Makes `member` the object's owner, as a grant does (OWNER to everyone).
func set_owner(id: int, member: int) -> void:
	var object: Dictionary = objects[id]
	object["owner"] = member
	object["epoch"] += 1
	var fields := {"room": HANDLE, "object": id, "owner": member, "epoch": object["epoch"]}
	_all(_rec(P.OWNER, fields))


## A record to one member (a PACKET_FROM forged by hand, a GOODBYE...).
func to(member: int, record: PackedByteArray) -> void:
	sessions[member].receive(record)


func _handle(member: int, record: Dictionary) -> void:
	match record["type"]:
		P.HELLO:
			to(member, _welcome(member))
		P.JOIN:
			_join(member, record)
		P.GAME:
			_game(member, record)
		P.PACKET:
			_packet(member, record)
		P.EVENT:
			_event(member, record)
		P.SPAWN:
			_spawn(member, record)
		P.REQUEST:
			_request(member, record)
		P.RELEASE:
			var object: Dictionary = objects[record["object"]]
			_result(member, record["req"], P.Status.OK, object["epoch"] + 1)
			set_owner(record["object"], object["master"])
		P.GIVE:
			var object: Dictionary = objects[record["object"]]
			_result(member, record["req"], P.Status.OK, object["epoch"] + 1)
			set_owner(record["object"], record["member"])
		P.ANSWER:
			var ask: Array = asks.get(record["ask"], [])
			asks.erase(record["ask"])
			_result(member, record["req"], P.Status.OK)
			if ask.is_empty():
				return
			if record["grant"] == 1:
				_result(ask[1], ask[2], P.Status.GRANTED, objects[ask[0]]["epoch"] + 1)
				set_owner(ask[0], ask[1])
			else:
				_result(ask[1], ask[2], P.Status.DENIED)
		P.SET_RULE:
			objects[record["object"]]["rule"] = record["rule"]
			_result(member, record["req"], P.Status.OK)
			var fields := {"room": HANDLE, "object": record["object"], "rule": record["rule"]}
			_all(_rec(P.RULE, fields))
		P.DESPAWN:
			objects.erase(record["object"])
			_result(member, record["req"], P.Status.OK)
			_all(_rec(P.DESPAWNED, {"room": HANDLE, "object": record["object"], "reason": 0}))


func _join(member: int, record: Dictionary) -> void:
	_result(member, record["req"], P.Status.OK, HANDLE)
	var others := sessions.keys().filter(func(m: int) -> bool: return m != member)
	var snapshot := _rec(
		P.SNAPSHOT,
		{"room": HANDLE, "members": sessions.size(), "objects": objects.size(), "name": NAME}
	)
	for m: int in sessions:
		snapshot.append_array(_member_joined(m))
	for m: int in roles:
		snapshot.append_array(_rec(P.GAME_PEER, {"room": HANDLE, "member": m, "role": roles[m]}))
	for id: int in objects:
		snapshot.append_array(_object(id))
	snapshot.append_array(_rec(P.SYNCED, {"room": HANDLE}))
	to(member, snapshot)
	for m: int in others:
		to(m, _member_joined(member))


func _game(member: int, record: Dictionary) -> void:
	var role: int = record["role"]
	for m: int in roles:
		if role == P.GameRole.HOST and roles[m] == P.GameRole.HOST and m != member:
			_result(member, record["req"], P.Status.HOST_TAKEN)
			return
	_result(member, record["req"], P.Status.OK)
	if roles.get(member, 0) == role:
		return
	if role == 0:
		roles.erase(member)
	else:
		roles[member] = role
	_all(_rec(P.GAME_PEER, {"room": HANDLE, "member": member, "role": role}))


func _packet(member: int, record: Dictionary) -> void:
	if not roles.has(member):
		to(
			member,
			_rec(
				P.NOTICE, {"status": P.Status.NOT_IN_GAME, "record_type": P.PACKET, "room": HANDLE}
			)
		)
		return
	var targets: Array = record["targets"]
	var except: bool = record["flags"] & P.PACKET_EXCEPT != 0
	var receivers := []
	for m: int in roles:
		var listed := m in targets
		var wanted := listed if not targets.is_empty() and not except else not listed
		if m != member and wanted:
			receivers.append(m)
	var fields := {
		"room": HANDLE,
		"sender": member,
		"flags": record["flags"] & ~P.PACKET_EXCEPT,
		"channel": record["channel"],
		"payload": record["payload"],
	}
	var bytes := _rec(P.PACKET_FROM, fields)
	for m: int in receivers:
		if sessions.has(m):
			to(m, bytes)


func _event(member: int, record: Dictionary) -> void:
	var fields := {"room": HANDLE, "sender": member, "payload": record["payload"]}
	var bytes := _rec(P.EVENT_FROM, fields)
	var targets: Array = record["targets"]
	for m: int in sessions.keys():
		if m != member and (targets.is_empty() or m in targets):
			to(m, bytes)


func _spawn(member: int, record: Dictionary) -> void:
	var id := next_object
	next_object += 1
	objects[id] = {
		"master": member,
		"owner": member,
		"epoch": 1,
		"rule": record["rule"],
		"lifetime": record["lifetime"],
		"state": record["state"],
	}
	_all(_object(id))  # OBJECT first, then the answer (as the relay does)
	_result(member, record["req"], P.Status.OK, id)


func _request(member: int, record: Dictionary) -> void:
	var object: Dictionary = objects.get(record["object"], {})
	if object.is_empty():
		_result(member, record["req"], P.Status.UNKNOWN_OBJECT)
	elif object["owner"] == member:
		_result(member, record["req"], P.Status.GRANTED, object["epoch"])
	elif object["master"] == member or object["rule"] == P.Rule.ALLOW:
		_result(member, record["req"], P.Status.GRANTED, object["epoch"] + 1)
		set_owner(record["object"], member)
	elif object["rule"] == P.Rule.DENY:
		_result(member, record["req"], P.Status.NOT_ALLOWED)
	else:
		var ask := next_ask
		next_ask += 1
		asks[ask] = [record["object"], member, record["req"]]
		var fields := {"room": HANDLE, "object": record["object"], "ask": ask, "requester": member}
		to(object["master"], _rec(P.ASK, fields))


func _all(bytes: PackedByteArray) -> void:
	for m: int in sessions.keys():
		if sessions.has(m):
			to(m, bytes)


func _result(member: int, req: int, status: int, value := 0) -> void:
	to(member, _rec(P.RESULT, {"req": req, "status": status, "value": value}))


func _object(id: int) -> PackedByteArray:
	var object: Dictionary = objects[id]
	var fields := {"room": HANDLE, "object": id, "position": null}
	fields.merge(object)
	return _rec(P.OBJECT, fields)


func _member_joined(member: int) -> PackedByteArray:
	var fields := {
		"room": HANDLE,
		"member": member,
		"permissions": P.PERM_PLAY,
		"user_id": "user-%d" % member,
		"name": "Player %d" % member,
	}
	return _rec(P.MEMBER_JOINED, fields)


func _welcome(member: int) -> PackedByteArray:
	# Version 2's WELCOME: limits as [id, value] pairs, timings in milliseconds.
	var fields := {
		"version": P.GAME_VERSION,
		"member": member,
		"resumed": 0,
		"token": _token,
		"server_time_ms": 1_700_000_000_000,
		"limits":
		[[1, 30], [2, 15000], [3, 60000], [5, 30000], [8, 65535], [9, 16384], [10, 16384]],
	}
	return _rec(P.WELCOME, fields)


func _rec(type: int, fields: Dictionary) -> PackedByteArray:
	var full := {"type": type}
	full.merge(fields)
	var problems := []
	var bytes := P.encode_record(full, problems)
	if bytes.is_empty():
		print("FAIL: room double record %s: %s" % [P.name_of(type), problems])
	return bytes
