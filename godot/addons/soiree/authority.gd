class_name SoireeAuthority
extends Node
## Ownership is Godot's authority: ties a networked node (the parent, by default) to one relay
## object, and keeps the node's multiplayer authority equal to the Godot peer id of the object's
## Owner, on every peer, as the relay's Owner changes:
##
##     var authority := SoireeAuthority.new()
##     authority.rule = SoireeProtocol.Rule.ALLOW   # anyone may take the ball
##     ball.add_child(authority)                   # multiplayer.multiplayer_peer: a Soirée peer
##     ...
##     var grab := await authority.request().completed   # GRANTED: this peer drives the ball
##
## Godot itself then drops MultiplayerSynchronizer state, spawns and `@rpc("authority")` calls
## that come from anyone but the authority (godotengine/godot modules/multiplayer/
## scene_replication_interface.cpp, scene_rpc_interface.cpp). Since every honest peer takes
## the authority from the relay, and the relay stamps every packet with its sender, the state of
## a peer that does not own the node reaches no honest peer. A change of owner takes effect
## between the very packets it came between in the relay's stream (SoireeMultiplayerPeer
## .run_in_order): no peer applies a previous owner's state after it has seen the change, and
## of two grabs under ALLOW, the one the relay processed first wins everywhere.
##
## The object is found by `key`, stored in its state (`soiree-authority:<key>`): once the peer
## is in the game, the node binds to the object with that key, or spawns it (this peer is then
## its Master and Owner) with `rule` and `lifetime`. When several peers spawn one at once, the
## lowest object id wins and the others despawn theirs. With lifetime WITH_MASTER the object
## goes when its Master leaves, and the remaining peers spawn it again (the lowest id wins
## again); a PERSISTENT object stays, without an owner (authority 0: nobody drives the node)
## until someone takes it. Works in host and mesh modes.

## Bound to `object` (its owner's authority is applied in order right after).
signal bound(object: SoireeObject)
## The node's multiplayer authority changed (Godot peer ids; 0: no owner).
signal authority_changed(previous: int, current: int)
## Rule ASK: someone asks for the node and this peer is the object's Master. Answer with
## answer(ask_id, grant) within the relay's ask timeout (2 s). `requester`: a Godot peer id.
signal ask_received(ask_id: int, requester: int)

const P := preload("res://addons/soiree/protocol.gd")
const Request := preload("res://addons/soiree/request.gd")
const STATE_PREFIX := "soiree-authority:"
# The session's signals this node follows, and its handlers.
const HOOKS := {
	"ownership_changed": "_on_ownership_changed",
	"object_spawned": "_on_object_spawned",
	"object_despawned": "_on_object_despawned",
	"ask_received": "_on_ask_received",
}

## The node whose authority follows the owner (and, with `recursive`, its children).
@export var target_path := NodePath("..")
## Names the object in the room: the same on every peer. "" uses the target's path below the
## multiplayer root (the same on every peer when the scenes are).
@export var key := ""
## SoireeProtocol.Rule for the object this node spawns: ASK, DENY or ALLOW.
@export var rule := P.Rule.ALLOW
## SoireeProtocol.Lifetime for the object this node spawns.
@export var lifetime := P.Lifetime.WITH_MASTER
## Spawn the object when the room has none with this key (off: wait for another peer to).
@export var spawn_if_missing := true
## Set the authority of the target's children too (MultiplayerSynchronizers, spawners...).
@export var recursive := true

## The relay object this node is bound to (null until bound).
var object: SoireeObject
## The peer it works through: the target's multiplayer peer, once it is a Soirée one in game.
var peer: SoireeMultiplayerPeer

var _session: SoireeSession
var _spawning: SoireeRequest
var _authority := -1  # the authority last applied (-1: none yet)


## The object's key as stored in its state.
func get_key() -> String:
	if not key.is_empty():
		return key
	var target := get_target()
	var root: Node = target.get_node_or_null(_multiplayer_root()) if target != null else null
	return str(root.get_path_to(target)) if root != null else str(target_path)


func get_target() -> Node:
	return get_node_or_null(target_path)


## The Godot peer id of the object's Owner (0: no owner, or not bound).
func get_owner_id() -> int:
	return peer.godot_id_of(object.owner) if object != null and peer != null else 0


## Whether this peer owns the object (its state and authority RPCs are the ones that count).
func is_owner() -> bool:
	return object != null and _session != null and object.owner == _session.member_id


## Asks the relay for ownership; the object's rule decides (SoireeRoom.request_ownership):
## GRANTED, DENIED, NOT_ALLOWED, COOLDOWN, IN_PROGRESS, TIMEOUT, MASTER_ABSENT...
func request() -> SoireeRequest:
	return _object_request("request")


## Master only: makes the peer with this Godot id the Owner.
func give(godot_id: int) -> SoireeRequest:
	return _object_request("give", godot_id)


## Owner only: ownership goes back to the Master.
func release() -> SoireeRequest:
	return _object_request("release")


## The Master's answer to ask_received.
func answer(ask_id: int, grant: bool) -> SoireeRequest:
	if object == null:
		return _not_sent("answer")
	return peer.room.answer(object.id, ask_id, grant)


## Master only: ASK, DENY or ALLOW.
func set_rule(new_rule: int) -> SoireeRequest:
	if object == null:
		return _not_sent("set_rule")
	return peer.room.set_rule(object.id, new_rule)


func _process(_delta: float) -> void:
	var current := multiplayer.multiplayer_peer as SoireeMultiplayerPeer
	if current != peer or (peer != null and peer.client != _session):
		_unbind()
		peer = current
	if peer == null or peer.room == null or _spawning != null or object != null:
		return
	if peer.get_connection_status() != MultiplayerPeer.CONNECTION_CONNECTED:
		return
	_bind_or_spawn()


func _exit_tree() -> void:
	_unbind()


func _bind_or_spawn(may_spawn := true) -> void:
	_hook(peer.client)
	var found := _lowest_with_key()
	if found != null:
		_bind(found)
	elif spawn_if_missing and may_spawn:
		var state := (STATE_PREFIX + get_key()).to_utf8_buffer()
		_spawning = peer.room.spawn(state, rule, lifetime)
		_spawning.completed.connect(_on_spawned, CONNECT_ONE_SHOT)


func _on_spawned(request: SoireeRequest) -> void:
	if request != _spawning:
		return
	_spawning = null
	if request.is_ok() and peer != null and peer.room != null:
		_bind_or_spawn(false)


func _lowest_with_key() -> SoireeObject:
	var wanted := (STATE_PREFIX + get_key()).to_utf8_buffer()
	var lowest: SoireeObject = null
	for candidate: SoireeObject in peer.room.objects.values():
		if candidate.state == wanted and (lowest == null or candidate.id < lowest.id):
			lowest = candidate
	return lowest


func _bind(found: SoireeObject) -> void:
	object = found
	# Ours and not the lowest: lost the race, so it goes.
	for other: SoireeObject in peer.room.objects.values():
		var mine := other.master == _session.member_id
		if other != found and other.state == found.state and mine:
			peer.room.despawn(other.id)
	bound.emit(found)
	_follow_owner()


func _unbind() -> void:
	if _session != null:
		for sig: String in HOOKS:
			if _session.is_connected(sig, Callable(self, HOOKS[sig])):
				_session.disconnect(sig, Callable(self, HOOKS[sig]))
	_session = null
	object = null
	_spawning = null


func _hook(session: SoireeSession) -> void:
	if _session == session:
		return
	_session = session
	for sig: String in HOOKS:
		session.connect(sig, Callable(self, HOOKS[sig]))


# The owner's Godot id, applied after every packet received before this point of the stream.
func _follow_owner() -> void:
	var godot_id := peer.godot_id_of(object.owner)
	peer.run_in_order(_apply_authority.bind(godot_id))


func _apply_authority(godot_id: int) -> void:
	var target := get_target()
	if target == null:
		return
	var previous := _authority
	_authority = godot_id
	target.set_multiplayer_authority(godot_id, recursive)
	if godot_id != previous:
		authority_changed.emit(maxi(previous, 0), godot_id)


func _on_ownership_changed(in_room: SoireeRoom, changed: SoireeObject, _previous: int) -> void:
	if changed == object and in_room == peer.room:
		_follow_owner()


func _on_object_spawned(in_room: SoireeRoom, spawned: SoireeObject) -> void:
	# A lower id with the same key (a race settled by the relay's order): that one wins.
	if object != null and in_room == peer.room and spawned.state == object.state:
		if spawned.id < object.id:
			_bind(spawned)


func _on_object_despawned(in_room: SoireeRoom, gone: SoireeObject, _reason: int) -> void:
	if gone == object and in_room == peer.room:
		object = null  # bound again (or spawned again) at the next frame


func _on_ask_received(
	in_room: SoireeRoom, asked: SoireeObject, ask_id: int, requester: int
) -> void:
	if asked == object and in_room == peer.room:
		ask_received.emit(ask_id, peer.godot_id_of(requester))


func _object_request(kind: String, godot_id := 0) -> SoireeRequest:
	if object == null or peer == null or peer.room == null:
		return _not_sent(kind)
	match kind:
		"give":
			var member := peer.member_of(godot_id)
			if member == 0:
				var refused := Request.new(kind, 0, peer.room.name, object.id)
				refused.finish(Request.NOT_SENT, 0, "no peer %d in the game" % godot_id, true)
				return refused
			return peer.room.give(object.id, member)
		"release":
			return peer.room.release(object.id)
	return peer.room.request_ownership(object.id)


func _not_sent(kind: String) -> SoireeRequest:
	var refused := Request.new(kind)
	refused.finish(Request.NOT_SENT, 0, "not bound to an object yet", true)
	return refused


func _multiplayer_root() -> NodePath:
	var api := multiplayer as SceneMultiplayer
	return api.root_path if api != null and not api.root_path.is_empty() else ^"/root"
