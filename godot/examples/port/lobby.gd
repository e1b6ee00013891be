extends Node
## The lobby: host a game, or join one at the host's address. The game itself is arena.tscn.

const PORT := 4433
const MAX_PLAYERS := 8
const ARENA := preload("res://arena.tscn")

@onready var menu: Control = $Menu
@onready var address: LineEdit = $Menu/Box/Address
@onready var status: Label = $Menu/Box/Status


func _ready() -> void:
	multiplayer.connected_to_server.connect(_on_connected_to_server)
	multiplayer.connection_failed.connect(_on_connection_failed)
	multiplayer.server_disconnected.connect(_on_server_disconnected)
	$Menu/Box/Buttons/Host.pressed.connect(_on_host_pressed)
	$Menu/Box/Buttons/Join.pressed.connect(_on_join_pressed)


func _on_host_pressed() -> void:
	var peer := ENetMultiplayerPeer.new()
	var error := peer.create_server(PORT, MAX_PLAYERS)
	if error != OK:
		status.text = "Could not host: %s" % error_string(error)
		return
	multiplayer.multiplayer_peer = peer
	_start_game()


func _on_join_pressed() -> void:
	var peer := ENetMultiplayerPeer.new()
	var error := peer.create_client(address.text, PORT)
	if error != OK:
		status.text = "Could not join: %s" % error_string(error)
		return
	multiplayer.multiplayer_peer = peer
	status.text = "Connecting..."


func _on_connected_to_server() -> void:
	_start_game()


func _on_connection_failed() -> void:
	_end_game("Could not connect.")


func _on_server_disconnected() -> void:
	_end_game("The host left.")


func _start_game() -> void:
	menu.hide()
	add_child(ARENA.instantiate())


func _end_game(why: String) -> void:
	multiplayer.multiplayer_peer = null
	var arena := get_node_or_null("Arena")
	if arena != null:
		arena.queue_free()
	status.text = why
	menu.show()
