extends Node3D
## The ball: anyone may take it (the relay object's rule is Allow). Its SoireeAuthority keeps its
## multiplayer authority equal to the object's Owner on every peer, so the player who grabbed it
## last is the one whose MultiplayerSynchronizer moves it, everywhere.

## The ball changed hands (a Godot peer id; 0: nobody's).
signal holder_changed(godot_id: int)

## How far in front of its carrier the ball rolls along.
const AHEAD := 0.8

## The character this peer carries the ball with (while this peer is its authority).
var carrier: Node3D

@onready var authority: SoireeAuthority = $Authority


func _ready() -> void:
	authority.authority_changed.connect(_on_authority_changed)


## Asks the relay for the ball; once granted, it follows `character`.
func grab(character: Node3D) -> SoireeRequest:
	var request := authority.request()
	request.completed.connect(
		func(answer: SoireeRequest) -> void:
			if answer.is_ok():
				carrier = character
	)
	return request


## Lets go: the relay gives the ball back to its Master, where it stays.
func drop() -> SoireeRequest:
	carrier = null
	return authority.release()


func is_carried_by(character: Node3D) -> bool:
	return carrier == character and is_multiplayer_authority()


func _physics_process(_delta: float) -> void:
	if carrier == null or not is_multiplayer_authority():
		return
	if not is_instance_valid(carrier):
		carrier = null
		return
	var ahead := -carrier.global_basis.z
	position = Vector3(carrier.position.x, 0.0, carrier.position.z) + ahead * AHEAD


func _on_authority_changed(_previous: int, current: int) -> void:
	if current != multiplayer.get_unique_id():
		carrier = null
	holder_changed.emit(current)
