class_name SoireeRoom
extends RefCounted
## One room this client is in: its members, its objects, and what can be done there.
##
## Rooms come from SoireeSession.join(). The session keeps `members` and `objects` up to date
## from what the relay sends; the methods send requests (each returns a SoireeRequest whose
## `completed` signal gives the answer). Objects are named by id: `room.request_ownership(obj.id)`.

const P := preload("res://addons/soiree/protocol.gd")
const Request := preload("res://addons/soiree/request.gd")

var name := ""
## The relay's handle for this room on the current connection (0 while not joined).
var handle := 0
## True once the relay's snapshot of the room has arrived (see SoireeSession.room_synced).
var synced := false
## member id -> {"id": int, "user_id": String, "name": String, "permissions": int}
var members := {}
## object id -> SoireeObject
var objects := {}
## member id -> SoireeProtocol.GameRole (PEER or HOST) of the members in the room's Godot game
## (protocol version 2); members not in the game are not listed.
var game_roles := {}

# The session is a Node, so this reference makes no reference cycle.
var _session: Node


func _init(session: Node, room_name: String) -> void:
	_session = session
	name = room_name


func _to_string() -> String:
	var counts := [name, handle, members.size(), objects.size()]
	return "room %s (handle %d, %d members, %d objects)" % counts


func get_object(object_id: int) -> SoireeObject:
	return objects.get(object_id)


## Whether this client owns the object (its updates are the ones the relay accepts).
func owns(object_id: int) -> bool:
	var object: SoireeObject = objects.get(object_id)
	return object != null and object.owner != 0 and object.owner == _session.member_id


## This client's member id in this room. A room on another relay process of the party is
## reached over another connection (SoireeClient follows ELSEWHERE), where this client is
## another member than SoireeSession.member_id says.
func me() -> int:
	return _session.member_id


func member_name(member_id: int) -> String:
	return members.get(member_id, {}).get("name", "")


## Leaves the room; `SoireeSession.room_left` follows.
func leave() -> SoireeRequest:
	return _session.send_request("leave", {"type": P.LEAVE, "room": handle}, self)


## Sets the point this client looks from (PROTOCOL.md §7): states of far objects then come less
## often. `null` removes the focus.
func focus(position: Variant) -> SoireeRequest:
	var record := {"type": P.FOCUS, "room": handle, "position": position}
	return _session.send_request("focus", record, self)


## Spawns an object of which this client is Master and Owner. The answer's `value` is its id;
## `object_spawned` comes first.
func spawn(
	state: PackedByteArray,
	rule := P.Rule.DENY,
	lifetime := P.Lifetime.WITH_MASTER,
	position: Variant = null
) -> SoireeRequest:
	var record := {
		"type": P.SPAWN,
		"room": handle,
		"rule": rule,
		"lifetime": lifetime,
		"position": position,
		"state": state,
	}
	return _session.send_request("spawn", record, self)


## Sends the new state of an object this client owns, with the epoch it knows. Returns OK, or
## why nothing was sent (NOT_OWNER, UNKNOWN_OBJECT, TOO_LARGE, or SoireeRequest.NOT_SENT when
## not connected). The relay's refusals come as `update_refused`.
func update(object_id: int, state: PackedByteArray, position: Variant = null) -> int:
	var object: SoireeObject = objects.get(object_id)
	var status := P.Status.OK
	if object == null:
		status = P.Status.UNKNOWN_OBJECT
	elif object.owner != _session.member_id:
		status = P.Status.NOT_OWNER
	elif state.size() > _session.limits.get("max_state", 16384):
		status = P.Status.TOO_LARGE
	if status != P.Status.OK:
		return status
	var record := {
		"type": P.UPDATE,
		"room": handle,
		"object": object_id,
		"epoch": object.epoch,
		"position": position,
		"state": state,
	}
	if not _session.send_record(record):
		return Request.NOT_SENT
	object.state = state
	object.set_position(position)
	return status


## Master only: removes the object for everyone.
func despawn(object_id: int) -> SoireeRequest:
	return _object_request("despawn", P.DESPAWN, object_id)


## Asks to become the object's Owner. The answer follows its Rule (PROTOCOL.md §5.4): GRANTED
## (value: the new epoch), DENIED, NOT_ALLOWED, COOLDOWN, IN_PROGRESS, TIMEOUT, MASTER_ABSENT...
func request_ownership(object_id: int) -> SoireeRequest:
	return _object_request("request", P.REQUEST, object_id)


## Owner only: ownership goes back to the Master.
func release(object_id: int) -> SoireeRequest:
	return _object_request("release", P.RELEASE, object_id)


## Master only: makes `member` the Owner.
func give(object_id: int, member: int) -> SoireeRequest:
	return _object_request("give", P.GIVE, object_id, {"member": member})


## Master only: hands Mastership to `member`.
func set_master(object_id: int, member: int) -> SoireeRequest:
	return _object_request("set_master", P.SET_MASTER, object_id, {"member": member})


## Master only: ASK, DENY or ALLOW (SoireeProtocol.Rule).
func set_rule(object_id: int, rule: int) -> SoireeRequest:
	return _object_request("set_rule", P.SET_RULE, object_id, {"rule": rule})


## The Master's answer to `SoireeSession.ask_received`.
func answer(object_id: int, ask_id: int, grant: bool) -> SoireeRequest:
	var fields := {"ask": ask_id, "grant": 1 if grant else 0}
	return _object_request("answer", P.ANSWER, object_id, fields)


## Sends opaque bytes to some members (`targets`: member ids) or, with no targets, to everyone
## else in the room. Returns OK, TOO_LARGE or SoireeRequest.NOT_SENT; the relay reports
## undeliverable events as `notice_received`.
func send_event(payload: PackedByteArray, targets: Array = []) -> int:
	if payload.size() > _session.limits.get("max_event", 16384) or targets.size() > 255:
		return P.Status.TOO_LARGE
	var record := {"type": P.EVENT, "room": handle, "targets": targets, "payload": payload}
	return P.Status.OK if _session.send_record(record) else Request.NOT_SENT


## Protocol version 2: takes part in the room's Godot game (SoireeProtocol.GameRole). HOST
## makes this member Godot peer 1; the answer is HOST_TAKEN when another member hosts.
## SoireeMultiplayerPeer does this for a game.
func set_game_role(role: int) -> SoireeRequest:
	return _session.send_request("game", {"type": P.GAME, "room": handle, "role": role}, self)


## Protocol version 2: sends a packet to game peers (`targets`: member ids; none: every game
## peer but this one; `flags`: a transfer mode, PACKET_EXCEPT, PACKET_MORE). Returns OK,
## TOO_LARGE (over one message) or SoireeRequest.NOT_SENT. SoireeMultiplayerPeer sends
## SceneMultiplayer's packets this way.
func send_packet(
	payload: PackedByteArray,
	targets: Array = [],
	flags := P.PACKET_RELIABLE,
	channel := 0,
	lane := 0
) -> int:
	var limit: int = _session.limits.get("max_message", P.MAX_MESSAGE)
	var size := P.HEADER_SIZE + P.PACKET_HEAD_SIZE + 4 * targets.size() + payload.size()
	if size > limit or targets.size() > 255:
		return P.Status.TOO_LARGE
	var record := {
		"type": P.PACKET,
		"room": handle,
		"flags": flags,
		"channel": channel,
		"lane": lane,
		"targets": targets,
		"payload": payload,
	}
	return P.Status.OK if _session.send_record(record) else Request.NOT_SENT


func _object_request(kind: String, type: int, object_id: int, fields := {}) -> SoireeRequest:
	var record := {"type": type, "room": handle, "object": object_id}
	record.merge(fields)
	return _session.send_request(kind, record, self)
