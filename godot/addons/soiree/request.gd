class_name SoireeRequest
extends RefCounted
## One request to the relay (join, spawn, an ownership request, ...) and, once it came, its answer.
##
##     var request := room.request_ownership(ball.id)
##     await request.completed
##     if request.is_ok(): ...   # GRANTED: this client owns the ball now
##
## `status` is a relay status (SoireeProtocol.Status) once answered, or one of the local
## values below. `completed` is emitted exactly once, never before the call that made the
## request has returned, so awaiting it right away is always safe.

signal completed(request: SoireeRequest)

## No answer yet.
const PENDING := -1
## The connection dropped before the answer came; the relay forgets such requests
## (PROTOCOL.md §3, item 5).
const NO_ANSWER := -2
## Not sent: this client knew it could not succeed (not connected, not in the room, ...).
const NOT_SENT := -3

var kind := ""
var id := 0
var room_name := ""
var object_id := 0
var status := PENDING
## What the relay answered with the status: a room handle, an object id or an epoch.
var value := 0
## For NOT_SENT and NO_ANSWER: why, in words.
var error := ""


func _init(request_kind := "", request_id := 0, room := "", object := 0) -> void:
	kind = request_kind
	id = request_id
	room_name = room
	object_id = object


func is_done() -> bool:
	return status != PENDING


## OK or GRANTED.
func is_ok() -> bool:
	return status == SoireeProtocol.Status.OK or status == SoireeProtocol.Status.GRANTED


func status_name() -> String:
	match status:
		PENDING:
			return "PENDING"
		NO_ANSWER:
			return "NO_ANSWER"
		NOT_SENT:
			return "NOT_SENT"
	return SoireeProtocol.status_name(status)


func _to_string() -> String:
	return "%s #%d: %s" % [kind, id, status_name()]


## Called by the session when the answer is known. Emitted on the next frame when the answer is
## known before the caller could await it (a request refused on the spot).
func finish(final_status: int, final_value := 0, why := "", deferred := false) -> void:
	if is_done():
		return
	status = final_status
	value = final_value
	error = why
	if deferred:
		completed.emit.call_deferred(self)
	else:
		completed.emit(self)
