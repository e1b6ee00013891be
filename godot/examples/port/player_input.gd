extends Node
## A player's keys, read on that player's machine (this node's multiplayer authority) and sent to
## the host only (InputSync is visible to peer 1 alone), which moves the disc.

## Where the arrow keys point.
var direction := Vector2.ZERO
var _pulsing := false


func _ready() -> void:
	$InputSync.set_visibility_for(1, true)


func _process(_delta: float) -> void:
	if not is_multiplayer_authority():
		return
	direction = Input.get_vector("ui_left", "ui_right", "ui_up", "ui_down")
	var pulsing := Input.is_action_pressed("ui_accept")
	if pulsing and not _pulsing:
		get_parent().request_pulse.rpc_id(1)
	_pulsing = pulsing
