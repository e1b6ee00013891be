extends RefCounted
## Builds relay messages by hand for the I/O-free tests, and reads what a session sends.

const P := preload("res://addons/soiree/protocol.gd")

var token := PackedByteArray()


func _init() -> void:
	for i in 16:
		token.append(i * 7)


func welcome(member: int, resumed := false) -> PackedByteArray:
	var record := {
		"type": P.WELCOME_V1,
		"version": 1,
		"member": member,
		"resumed": 1 if resumed else 0,
		"token": token,
		"server_time_ms": 1_700_000_000_000,
		"tick_hz": 30,
		"ping_interval_s": 15,
		"idle_timeout_s": 60,
		"grace_s": 30,
		"ask_timeout_ms": 2000,
		"cooldown_ms": 500,
		"max_message": 65535,
		"max_state": 16384,
		"max_event": 16384,
		"rate": 300,
		"burst": 600,
	}
	return P.encode_record(record)


func result(req: int, status: int, value := 0) -> PackedByteArray:
	return P.encode_record({"type": P.RESULT, "req": req, "status": status, "value": value})


func snapshot(room: int, room_name: String, members: Array, objects: Array) -> PackedByteArray:
	var out := (
		P
		. encode_record(
			{
				"type": P.SNAPSHOT,
				"room": room,
				"members": members.size(),
				"objects": objects.size(),
				"name": room_name,
			}
		)
	)
	for member: int in members:
		out.append_array(member_joined(room, member))
	for object: Array in objects:
		out.append_array(object_record(room, object[0], object[1], object[2], object[3], object[4]))
	out.append_array(P.encode_record({"type": P.SYNCED, "room": room}))
	return out


func member_joined(room: int, member: int) -> PackedByteArray:
	var record := {
		"type": P.MEMBER_JOINED,
		"room": room,
		"member": member,
		"permissions": P.PERM_PLAY,
		"user_id": "user-%d" % member,
		"name": "Player %d" % member,
	}
	return P.encode_record(record)


func object_record(
	room: int, id: int, master: int, owner: int, epoch: int, state: PackedByteArray, rule := 2
) -> PackedByteArray:
	var record := {
		"type": P.OBJECT,
		"room": room,
		"object": id,
		"master": master,
		"owner": owner,
		"epoch": epoch,
		"rule": rule,
		"lifetime": 0,
		"position": null,
		"state": state,
	}
	return P.encode_record(record)


func record(type: int, fields: Dictionary) -> PackedByteArray:
	var full := {"type": type}
	full.merge(fields)
	var problems := []
	var bytes := P.encode_record(full, problems)
	if bytes.is_empty():
		print("FAIL: test record %s: %s" % [P.name_of(type), problems])
	return bytes


## Every record the session would send now, decoded (as the relay decodes them).
func sent(session: SoireeSession) -> Array:
	var records := []
	for message in session.take_outgoing():
		var decoded := P.decode_message(message, false)
		if decoded["error"] != "":
			print("FAIL: the session sent a malformed message: %s" % decoded["error"])
		records.append_array(decoded["records"])
	return records


func types(records: Array) -> Array:
	return records.map(func(r: Dictionary) -> String: return P.name_of(r["type"]))
