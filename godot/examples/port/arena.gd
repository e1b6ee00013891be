extends Node2D
## The arena. The host adds a player for everyone in the game, itself included, at a free spawn
## point, and removes it when they leave; the MultiplayerSpawner copies this to the others.

const PLAYER := preload("res://player.tscn")


func _ready() -> void:
	if not multiplayer.is_server():
		return
	multiplayer.peer_connected.connect(add_player)
	multiplayer.peer_disconnected.connect(remove_player)
	add_player(multiplayer.get_unique_id())
	for id in multiplayer.get_peers():
		add_player(id)


func add_player(id: int) -> void:
	var player := PLAYER.instantiate()
	player.name = str(id)
	player.position = _free_spawn_point()
	$Players.add_child(player, true)


func remove_player(id: int) -> void:
	var player := $Players.get_node_or_null(str(id))
	if player != null:
		player.queue_free()


func _free_spawn_point() -> Vector2:
	var points := $SpawnPoints.get_children()
	for point: Marker2D in points:
		var taken := false
		for player: Node2D in $Players.get_children():
			taken = taken or player.position.distance_to(point.position) < 40.0
		if not taken:
			return point.position
	return points[0].position
