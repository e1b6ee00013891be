class_name SoireeObject
extends RefCounted
## A networked object as the relay last described it (PROTOCOL.md §5.1). The session updates it
## in place, so holding on to one is fine; after `object_despawned` it is no longer updated.

var id := 0
## The handle and name of its room.
var room_handle := 0
var room_name := ""
## Who may change the owner, the rule and the master, and despawn it (0: nobody, an orphan).
var master := 0
## The only member whose updates the relay accepts (0: nobody).
var owner := 0
## +1 at every change of owner; updates carry it, so stale ones are refused.
var epoch := 0
## SoireeProtocol.Rule: ASK, DENY or ALLOW.
var rule := 0
## SoireeProtocol.Lifetime: WITH_MASTER or PERSISTENT.
var lifetime := 0
var has_position := false
var position := Vector3.ZERO
## The latest state: opaque bytes, as its owner last sent them.
var state := PackedByteArray()


func is_orphan() -> bool:
	return master == 0


func _to_string() -> String:
	return "object %d in %s (master %d, owner %d, epoch %d)" % [id, room_name, master, owner, epoch]


## Copies what a relay OBJECT record (a Dictionary from SoireeProtocol) says.
func apply_record(record: Dictionary) -> void:
	id = record["object"]
	master = record["master"]
	owner = record["owner"]
	epoch = record["epoch"]
	rule = record["rule"]
	lifetime = record["lifetime"]
	state = record["state"]
	has_position = false
	set_position(record["position"])


func set_position(value: Variant) -> void:
	if value != null:
		has_position = true
		position = value
