extends Node3D
## The demo's world for the party the player is in: the player's avatar (rule DENY: nobody can
## take it), other players' avatars, a ball anyone can grab (ALLOW) and a lamp that asks its
## Master first (ASK), both persistent, and a portal to a second party.

## The player walked into the portal.
signal portal_entered
## Something happened worth telling the player (and the demo's tests).
signal said(text: String)

const P := preload("res://addons/soiree/protocol.gd")
const Thing := preload("res://demo/thing.gd")
const SPEED := 4.0
const REACH := 2.0
const BALL_SPOT := Vector3(3, 0, 0)
const LAMP_SPOT := Vector3(-3, 0, 0)
const PORTAL_SPOT := Vector3(0, 0, -8)
const FOCUS_STEP := 4.0

## "grant" or "deny" answers every ask at once; "" shows a prompt (Y / N).
var ask_policy := ""
var party: SoireeSession
var room_name := ""
var me: Node3D
## object id -> Thing, for the party's objects other than the player's avatar
var things := {}
## The ask waiting for the player's answer: {"object", "ask", "requester"} or empty.
var pending_ask := {}
var _carried: Node3D
var _placing := {}  # kind -> the prop this client is spawning, until the relay answers
var _camera: Camera3D
var _portal_armed := true
var _focus: Variant = null  # where the relay was last told the player looks from


func _ready() -> void:
	var floor_mesh := MeshInstance3D.new()
	var plane := PlaneMesh.new()
	plane.size = Vector2(40, 40)
	floor_mesh.mesh = plane
	add_child(floor_mesh)
	var sun := DirectionalLight3D.new()
	sun.rotation_degrees = Vector3(-50, 30, 0)
	add_child(sun)
	var portal := MeshInstance3D.new()
	var ring := TorusMesh.new()
	ring.inner_radius = 1.0
	ring.outer_radius = 1.3
	portal.mesh = ring
	portal.rotation_degrees.x = 90
	portal.position = PORTAL_SPOT + Vector3(0, 1.3, 0)
	add_child(portal)
	_camera = Camera3D.new()
	add_child(_camera)


## Enters a party's room: spawns the player's avatar and shows what is there.
func enter(session: SoireeSession, in_room: String, player_name: String) -> void:
	me = Thing.new("avatar", player_name)
	add_child(me)
	show_party(session, in_room)
	me.sync.spawn_in(session, in_room, P.Rule.DENY, P.Lifetime.WITH_MASTER)


## Shows another party (after the avatar went through the portal): its objects replace these.
func show_party(session: SoireeSession, in_room: String) -> void:
	if party != null:
		party.object_spawned.disconnect(_on_object_spawned)
		party.object_despawned.disconnect(_on_object_despawned)
		party.ask_received.disconnect(_on_ask_received)
		party.room_synced.disconnect(_on_room_synced)
	for thing: Node3D in things.values():
		thing.queue_free()
	things.clear()
	_carried = null
	_placing.clear()
	_focus = null
	pending_ask = {}
	party = session
	room_name = in_room
	party.object_spawned.connect(_on_object_spawned)
	party.object_despawned.connect(_on_object_despawned)
	party.ask_received.connect(_on_ask_received)
	party.room_synced.connect(_on_room_synced)
	for object: SoireeObject in party.room(in_room).objects.values():
		_on_object_spawned(party.room(in_room), object)
	_portal_armed = false
	_place_props()


func find_thing(kind: String, label := "") -> Node3D:
	for thing: Node3D in things.values():
		if thing.kind == kind and (label.is_empty() or thing.label == label):
			return thing
	return null


## E: grab the ball when near it, drop it when carrying it. F: the same for the lamp.
func toggle_carry(kind: String) -> SoireeRequest:
	var thing := find_thing(kind)
	if thing == null or thing.sync.object_id == 0:
		return null
	if _carried == thing:
		_carried = null
		say("dropped the %s" % kind)
		return thing.sync.release()
	if me.global_position.distance_to(thing.global_position) > REACH:
		say("too far from the %s" % kind)
		return null
	var request: SoireeRequest = thing.sync.request_ownership()
	request.completed.connect(_on_carry_answer.bind(thing))
	return request


## The Master's answer to the pending ask (Y / N).
func answer_ask(grant: bool) -> void:
	if pending_ask.is_empty():
		return
	party.room(room_name).answer(pending_ask["object"], pending_ask["ask"], grant)
	say("%s the lamp" % ("lent" if grant else "kept"))
	pending_ask = {}


func say(text: String) -> void:
	said.emit(text)


func _process(delta: float) -> void:
	if me == null:
		return
	var move := Vector3.ZERO
	if get_viewport().gui_get_focus_owner() == null:
		move.x = _axis(KEY_D, KEY_RIGHT) - _axis(KEY_A, KEY_LEFT)
		move.z = _axis(KEY_S, KEY_DOWN) - _axis(KEY_W, KEY_UP)
	if move != Vector3.ZERO:
		me.global_position += move.normalized() * SPEED * delta
		me.look_at(me.global_position - move, Vector3.UP)
	if _carried != null:
		if _carried.sync.is_owner():
			_carried.global_position = me.global_position - me.global_basis.z * 0.8
		else:
			_carried = null
	_update_focus()
	_camera.global_position = me.global_position + Vector3(0, 6, 8)
	_camera.look_at(me.global_position + Vector3(0, 1, 0), Vector3.UP)
	var near_portal := me.global_position.distance_to(PORTAL_SPOT) < 1.2
	if near_portal and _portal_armed:
		_portal_armed = false
		portal_entered.emit()
	elif not near_portal:
		_portal_armed = true


func _unhandled_key_input(event: InputEvent) -> void:
	if not event.is_pressed() or event.is_echo() or me == null:
		return
	match event.keycode:
		KEY_E:
			toggle_carry("ball")
		KEY_F:
			toggle_carry("lamp")
		KEY_Y:
			answer_ask(true)
		KEY_N:
			answer_ask(false)


# Interest (PROTOCOL.md §7): the relay sends far objects' states less often. A new focus only
# matters when the avatar has moved a few metres.
func _update_focus() -> void:
	var joined := party.room(room_name) if party != null else null
	if joined == null or not joined.synced:
		return
	if _focus == null or me.global_position.distance_to(_focus) > FOCUS_STEP:
		_focus = me.global_position
		joined.focus(_focus)


func _axis(key: Key, other: Key) -> float:
	return (
		1.0 if Input.is_physical_key_pressed(key) or Input.is_physical_key_pressed(other) else 0.0
	)


# The ball and the lamp persist in the room; the first player to arrive places them.
func _place_props() -> void:
	var joined := party.room(room_name) if party != null else null
	if joined == null or not joined.synced:
		return
	for prop in [["ball", P.Rule.ALLOW, BALL_SPOT], ["lamp", P.Rule.ASK, LAMP_SPOT]]:
		if find_thing(prop[0]) == null and not _placing.has(prop[0]):
			var thing := Thing.new(prop[0], prop[0])
			add_child(thing)
			thing.global_position = prop[2]
			_placing[prop[0]] = thing
			var request := thing.sync.spawn_in(party, room_name, prop[1], P.Lifetime.PERSISTENT)
			request.completed.connect(_on_prop_spawned.bind(thing))


func _on_room_synced(_room: SoireeRoom) -> void:
	_place_props()


func _on_prop_spawned(request: SoireeRequest, thing: Node3D) -> void:
	_placing.erase(thing.kind)
	if request.is_ok() and is_instance_valid(thing):
		things[request.value] = thing
		say("placed the %s" % thing.kind)
	elif is_instance_valid(thing):
		thing.queue_free()


func _on_object_spawned(in_room: SoireeRoom, object: SoireeObject) -> void:
	var info: Dictionary = Thing.read(object.state)
	if in_room.name != room_name or info.is_empty() or things.has(object.id):
		return
	var mine := object.master == in_room.me()
	if mine and (info["kind"] == "avatar" or _placing.has(info["kind"])):
		return  # the player's own avatar, or a prop this client is placing
	if info["kind"] != "avatar" and find_thing(info["kind"]) != null:
		_settle_duplicate(in_room, info["kind"], object)
		return
	var thing := Thing.new(info["kind"], info["name"])
	add_child(thing)
	things[object.id] = thing
	thing.sync.follow(party, room_name, object.id)
	var decoded := SoireeSync.decode_state(object.state)
	thing.global_position = decoded["origin"]
	if info["kind"] == "avatar":
		say("%s is here" % info["name"])


# Two players placed the same prop at once: the one with the larger id goes.
func _settle_duplicate(in_room: SoireeRoom, kind: String, object: SoireeObject) -> void:
	var kept: Node3D = find_thing(kind)
	var extra_id := maxi(object.id, kept.sync.object_id)
	var extra := in_room.get_object(extra_id)
	if extra != null and extra.master == in_room.me():
		in_room.despawn(extra_id)


func _on_object_despawned(in_room: SoireeRoom, object: SoireeObject, _reason: int) -> void:
	var thing: Node3D = things.get(object.id)
	if in_room.name != room_name or thing == null:
		return
	things.erase(object.id)
	if thing.kind == "avatar":
		say("%s left" % thing.label)
	thing.queue_free()


func _on_ask_received(
	in_room: SoireeRoom, object: SoireeObject, ask_id: int, requester: int
) -> void:
	var who := in_room.member_name(requester)
	if ask_policy in ["grant", "deny"]:
		in_room.answer(object.id, ask_id, ask_policy == "grant")
		say("%s asked for the lamp: %s" % [who, "granted" if ask_policy == "grant" else "denied"])
		return
	pending_ask = {"object": object.id, "ask": ask_id, "requester": requester}
	say("%s asks for the lamp: Y to lend it, N to keep it" % who)


func _on_carry_answer(request: SoireeRequest, thing: Node3D) -> void:
	if request.is_ok() and is_instance_valid(thing):
		_carried = thing
	say("%s: %s" % [thing.kind if is_instance_valid(thing) else "?", request.status_name()])
