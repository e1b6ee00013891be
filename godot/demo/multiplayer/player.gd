extends Node3D
## A player's character. The peer whose Godot id is its name is its multiplayer authority: that
## peer moves it, and its MultiplayerSynchronizer carries the position and rotation to the others.

const SPEED := 4.0
## How far from the centre a character may go: the map's floor is 40 m wide, with low walls.
const BOUNDS := 19.0

## Where a scripted run walks the character to (null: the keys move it).
var walk_target: Variant = null


func _enter_tree() -> void:
	set_multiplayer_authority(str(name).to_int())


## The name above the character; the colour comes from it.
func set_label(text: String) -> void:
	$Label.text = text
	var paint := StandardMaterial3D.new()
	paint.albedo_color = Color.from_hsv(float(absi(text.hash()) % 360) / 360.0, 0.6, 0.9)
	$Body.material_override = paint


func get_label() -> String:
	return $Label.text


func _physics_process(delta: float) -> void:
	if not is_multiplayer_authority():
		return
	var move := _keys()
	if walk_target != null:
		var to: Vector3 = walk_target - position
		to.y = 0.0
		if to.length() <= SPEED * delta:
			position = Vector3(walk_target.x, position.y, walk_target.z)
			walk_target = null
			return
		move = to
	if move == Vector3.ZERO:
		return
	move = move.normalized()
	position += move * SPEED * delta
	position.x = clampf(position.x, -BOUNDS, BOUNDS)
	position.z = clampf(position.z, -BOUNDS, BOUNDS)
	look_at(position + move, Vector3.UP)


func _keys() -> Vector3:
	if get_viewport().gui_get_focus_owner() != null:
		return Vector3.ZERO  # typing in the chat
	var move := Vector3.ZERO
	move.x = _pressed(KEY_D, KEY_RIGHT) - _pressed(KEY_A, KEY_LEFT)
	move.z = _pressed(KEY_S, KEY_DOWN) - _pressed(KEY_W, KEY_UP)
	return move


func _pressed(key: Key, other: Key) -> float:
	var down := Input.is_physical_key_pressed(key) or Input.is_physical_key_pressed(other)
	return 1.0 if down else 0.0
