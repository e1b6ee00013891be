extends Node2D
## A player's disc. The host moves it, from the keys its player sends (Input); ServerSync carries
## its position to everyone. Space sends a pulse: the player asks the host, the host tells all.

const SPEED := 200.0
const RADIUS := 20.0
const ARENA_SIZE := Vector2(800, 600)

## How many pulses this player has sent.
var pulses := 0
var _ring := 0.0

@onready var input: Node = $Input


func _enter_tree() -> void:
	# The keys come from the player whose id is this node's name.
	$Input.set_multiplayer_authority(str(name).to_int())


func _ready() -> void:
	$Label.text = "Player %s" % name


func _physics_process(delta: float) -> void:
	if multiplayer.is_server():
		position += input.direction * SPEED * delta
		position = position.clamp(Vector2.ONE * RADIUS, ARENA_SIZE - Vector2.ONE * RADIUS)
	if _ring > 0.0:
		_ring = maxf(_ring - delta * 2.0, 0.0)
		queue_redraw()


func _draw() -> void:
	var color := Color.from_hsv(float(str(name).to_int() % 7) / 7.0, 0.6, 0.95)
	draw_circle(Vector2.ZERO, RADIUS, color)
	if _ring > 0.0:
		draw_arc(Vector2.ZERO, RADIUS + (1.0 - _ring) * 80.0, 0.0, TAU, 48, color, 3.0)


## A player asks the host for a pulse of their own disc.
@rpc("any_peer", "call_local", "reliable")
func request_pulse() -> void:
	if multiplayer.is_server() and multiplayer.get_remote_sender_id() == str(name).to_int():
		pulse.rpc()


## The host tells everyone that this player pulsed.
@rpc("authority", "call_local", "reliable")
func pulse() -> void:
	pulses += 1
	_ring = 1.0
	queue_redraw()
