class_name SoireeSync
extends Node
## Keeps a Node3D's transform in sync through one relay object. While this client owns the
## object it sends the target's transform (at most `send_rate` times a second, only when it
## changed); while someone else owns it, it moves the target smoothly along the states that
## arrive, `interpolation_delay` seconds behind them.
##
##     var sync := SoireeSync.new()
##     avatar.add_child(sync)                         # the target is the parent by default
##     sync.custom_state = "Ada".to_utf8_buffer()     # anything else to carry along
##     await sync.spawn_in(party, "lobby").completed  # Master and Owner; DENY: nobody takes it
##
## The state is `u8 format (1), f32 x3 origin, f32 x4 rotation (a quaternion), custom bytes`, so
## other programs (the Python SDK) can read it too.

## The object this node keeps in sync is known (after spawn_in, follow or move_to).
signal bound(object: SoireeObject)
## This client became (true) or stopped being (false) the object's owner.
signal ownership_changed(is_mine: bool)
## The custom bytes from the owner changed.
signal custom_state_received(custom: PackedByteArray)
## The object is gone (SoireeProtocol.DespawnReason, or SoireeSession.DESPAWN_GONE).
signal despawned(reason: int)

const P := preload("res://addons/soiree/protocol.gd")
const Request := preload("res://addons/soiree/request.gd")
const Session := preload("res://addons/soiree/session.gd")
const FORMAT := 1
const TRANSFORM_SIZE := 29
const MAX_SAMPLES := 32

## The Node3D to keep in sync; the parent when empty.
@export var target_path := NodePath("..")
## Updates per second at most while this client owns the object.
@export var send_rate := 20.0
## How far behind the latest state a followed target is shown, in seconds: enough to always
## have two states to move between, at the cost of that much delay.
@export var interpolation_delay := 0.1
## When the object disappears because this client's session was lost and not resumed, spawn it
## again once the room is synced (objects this node spawned only).
@export var respawn := true

var session: SoireeSession
var room_name := ""
var object_id := 0
## Extra bytes sent with the transform (a name, a colour...).
var custom_state := PackedByteArray()
## The custom bytes in the latest state received.
var received_custom_state := PackedByteArray()

var _samples: Array = []  # [time, origin, rotation], oldest first
var _clock := 0.0  # seconds, advanced by _process, so tests can drive time
var _send_wait := 0.0
var _last_sent := PackedByteArray()
var _spawn_options := {}  # rule and lifetime when this node spawned the object
var _was_owner := false


## The Node3D this node moves or reads.
func get_target() -> Node3D:
	return get_node_or_null(target_path) as Node3D


## Spawns the object from the target's current transform, this client as Master and Owner.
func spawn_in(
	in_session: SoireeSession,
	in_room: String,
	rule := P.Rule.DENY,
	lifetime := P.Lifetime.WITH_MASTER
) -> SoireeRequest:
	_spawn_options = {"rule": rule, "lifetime": lifetime}
	var joined := in_session.room(in_room)
	var state := encode_state()
	var where := _target_position()
	if joined == null:
		var refused := Request.new("spawn", 0, in_room)
		refused.finish(Request.NOT_SENT, 0, "not in the room %s" % in_room, true)
		return refused
	var request := joined.spawn(state, rule, lifetime, where)
	request.completed.connect(_on_spawned.bind(in_session, in_room), CONNECT_ONE_SHOT)
	return request


## Follows (or, once owned, drives) an object that already exists.
func follow(in_session: SoireeSession, in_room: String, id: int) -> void:
	unbind()
	session = in_session
	room_name = in_room
	object_id = id
	_samples.clear()
	_last_sent = PackedByteArray()
	var object := get_object()
	_was_owner = is_owner()
	if object != null and not _was_owner:
		_add_sample(object.state)
	session.state_changed.connect(_on_state_changed)
	session.ownership_changed.connect(_on_ownership_changed)
	session.object_despawned.connect(_on_despawned)
	bound.emit(object)


## Stops following; the object itself is left as it is.
func unbind() -> void:
	if session != null and session.state_changed.is_connected(_on_state_changed):
		session.state_changed.disconnect(_on_state_changed)
		session.ownership_changed.disconnect(_on_ownership_changed)
		session.object_despawned.disconnect(_on_despawned)
	object_id = 0


func get_object() -> SoireeObject:
	var joined := session.room(room_name) if session != null else null
	return joined.get_object(object_id) if joined != null else null


func is_owner() -> bool:
	var joined := session.room(room_name) if session != null else null
	return joined != null and joined.owns(object_id)


## Asks for ownership (the object's rule decides).
func request_ownership() -> SoireeRequest:
	return session.room(room_name).request_ownership(object_id)


## Gives ownership back to the Master.
func release() -> SoireeRequest:
	return session.room(room_name).release(object_id)


## Hands the object over to another party (a portal): spawns it there with the same state, rule
## and lifetime, follows the new one, then despawns the old one once the new one exists. Both
## sessions must be connected and in their rooms. Returns the spawn's status if it failed, else
## the despawn's (OK).
func move_to(to_session: SoireeSession, to_room: String) -> int:
	var old_room := session.room(room_name) if session != null else null
	var new_room := to_session.room(to_room)
	var object := get_object()
	if old_room == null or new_room == null or object == null or not new_room.synced:
		return Request.NOT_SENT
	var spawning := new_room.spawn(encode_state(), object.rule, object.lifetime, _target_position())
	await spawning.completed
	if not spawning.is_ok():
		return spawning.status
	var old_id := object_id
	_spawn_options = {"rule": object.rule, "lifetime": object.lifetime}
	follow(to_session, to_room, spawning.value)
	var despawning := old_room.despawn(old_id)
	await despawning.completed
	return despawning.status


## The target's transform (and custom_state) as state bytes.
func encode_state() -> PackedByteArray:
	var target := get_target()
	var where := Transform3D()
	if target != null and target.is_inside_tree():
		where = target.global_transform
	var rotation := where.basis.get_rotation_quaternion()
	var state := PackedByteArray()
	state.resize(TRANSFORM_SIZE)
	state.encode_u8(0, FORMAT)
	var values := [where.origin.x, where.origin.y, where.origin.z]
	values += [rotation.x, rotation.y, rotation.z, rotation.w]
	for i in values.size():
		state.encode_float(1 + 4 * i, values[i])
	state.append_array(custom_state)
	return state


## {"origin": Vector3, "rotation": Quaternion, "custom": PackedByteArray}, or {} when the bytes
## are not a transform state.
static func decode_state(state: PackedByteArray) -> Dictionary:
	if state.size() < TRANSFORM_SIZE or state[0] != FORMAT:
		return {}
	var f := func(i: int) -> float: return state.decode_float(1 + 4 * i)
	var origin := Vector3(f.call(0), f.call(1), f.call(2))
	var rotation := Quaternion(f.call(3), f.call(4), f.call(5), f.call(6))
	if not origin.is_finite() or not rotation.is_finite() or rotation.length_squared() < 0.5:
		return {}
	return {"origin": origin, "rotation": rotation.normalized(), "custom": state.slice(29)}


func _process(delta: float) -> void:
	_clock += delta
	var target := get_target()
	if session == null or object_id == 0 or target == null:
		return
	if is_owner():
		_send_wait -= delta
		if _send_wait <= 0.0:
			_send_wait = 1.0 / send_rate
			_send_if_changed()
	else:
		_follow_samples(target)


func _send_if_changed() -> void:
	var state := encode_state()
	if state == _last_sent:
		return
	var joined := session.room(room_name)
	if joined.update(object_id, state, _target_position()) == P.Status.OK:
		_last_sent = state


func _follow_samples(target: Node3D) -> void:
	if _samples.is_empty() or not target.is_inside_tree():
		return
	var show_at := _clock - interpolation_delay
	var origin: Vector3 = _samples[-1][1]
	var rotation: Quaternion = _samples[-1][2]
	if show_at <= _samples[0][0]:
		origin = _samples[0][1]
		rotation = _samples[0][2]
	else:
		for i in range(_samples.size() - 1, 0, -1):
			var before: Array = _samples[i - 1]
			var after: Array = _samples[i]
			var from: float = before[0]
			var to: float = after[0]
			if from <= show_at and show_at <= to:
				var weight := (show_at - from) / maxf(to - from, 0.0001)
				origin = before[1].lerp(after[1], weight)
				rotation = before[2].slerp(after[2], weight)
				break
	var scale := target.global_transform.basis.get_scale()
	target.global_transform = Transform3D(Basis(rotation) * Basis.from_scale(scale), origin)


func _add_sample(state: PackedByteArray, from_owner := true) -> void:
	var decoded := decode_state(state)
	if decoded.is_empty():
		return
	_samples.append([_clock, decoded["origin"], decoded["rotation"]])
	if _samples.size() > MAX_SAMPLES:
		_samples.pop_front()
	if from_owner and decoded["custom"] != received_custom_state:
		received_custom_state = decoded["custom"]
		custom_state_received.emit(received_custom_state)


func _target_position() -> Variant:
	var target := get_target()
	return target.global_position if target != null and target.is_inside_tree() else null


func _is_mine(in_room: SoireeRoom, object: Variant) -> bool:
	var id: int = object.id if object is SoireeObject else object
	return in_room.name == room_name and id == object_id and object_id != 0


func _on_spawned(request: SoireeRequest, in_session: SoireeSession, in_room: String) -> void:
	if request.is_ok():
		follow(in_session, in_room, request.value)


func _on_state_changed(in_room: SoireeRoom, object: SoireeObject) -> void:
	if _is_mine(in_room, object):
		_add_sample(object.state)


func _on_ownership_changed(in_room: SoireeRoom, object: SoireeObject, _previous: int) -> void:
	if not _is_mine(in_room, object):
		return
	var mine := is_owner()
	if mine == _was_owner:
		return
	_was_owner = mine
	_samples.clear()
	_last_sent = PackedByteArray()
	_send_wait = 0.0
	if not mine:
		# Start following from where the target is now, not from an old state.
		_add_sample(encode_state(), false)
	ownership_changed.emit(mine)


func _on_despawned(in_room: SoireeRoom, object: SoireeObject, reason: int) -> void:
	if not _is_mine(in_room, object):
		return
	unbind()
	var lost := reason == Session.DESPAWN_GONE and not _spawn_options.is_empty()
	if respawn and lost and not session.room_synced.is_connected(_respawn):
		# Our session ended and a new one began: the snapshot's end (room_synced) follows.
		session.room_synced.connect(_respawn, CONNECT_ONE_SHOT)
	despawned.emit(reason)


func _respawn(in_room: SoireeRoom) -> void:
	if in_room.name != room_name:
		session.room_synced.connect(_respawn, CONNECT_ONE_SHOT)
		return
	spawn_in(session, room_name, _spawn_options["rule"], _spawn_options["lifetime"])
