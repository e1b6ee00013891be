extends "res://live.gd"
## What the multiplayer scenarios against a live relay share: a game is a subtree of this
## scenario (its "world") with its own SceneMultiplayer (SceneTree.set_multiplayer), so that the
## scene below it has the same paths in every engine, and a SoireeMultiplayerPeer made with
## create_host / create_client / create_mesh, as a game makes it. Engines coordinate through a
## control client in the relay's lobby (live.gd: events and the "done" handshake), which
## outlives the games.

const GameNode := preload("res://game_node.gd")
const Player := preload("res://player.gd")
const HOST := SoireeMultiplayerPeer.Mode.HOST
const CLIENT := SoireeMultiplayerPeer.Mode.CLIENT
const MESH := SoireeMultiplayerPeer.Mode.MESH


class Game:
	extends RefCounted
	var root: Node
	var api: SceneMultiplayer
	var peer: SoireeMultiplayerPeer
	## SceneMultiplayer's signals in order: "connected_to_server", "connection_failed",
	## "server_disconnected", "+<id>" (peer_connected), "-<id>" (peer_disconnected).
	var events: Array[String] = []

	## The Godot peer id of the player whose relay name is `player_name` (0: none in the game).
	func id_of(player_name: String) -> int:
		if peer.room == null:
			return 0
		for id in api.get_peers():
			if peer.room.member_name(peer.member_of(id)) == player_name:
				return id
		return 0

	func node(path: String) -> Node:
		return root.get_node_or_null(path)


## A world named `world_name` under this scenario with a "Game" node (game_node.gd), its own
## SceneMultiplayer, and a peer that joins `room_name` of the party at `url` in `mode`.
func open_game(world_name: String, mode: int, url: String, room_name := "arena") -> Game:
	var game := Game.new()
	game.root = Node.new()
	game.root.name = world_name
	add_child(game.root)
	var node := GameNode.new()
	node.name = "Game"
	game.root.add_child(node)
	game.api = SceneMultiplayer.new()
	get_tree().set_multiplayer(game.api, game.root.get_path())
	var events := game.events
	for sig in ["connected_to_server", "connection_failed", "server_disconnected"]:
		game.api.connect(sig, func() -> void: events.append(sig))
	game.api.peer_connected.connect(func(id: int) -> void: events.append("+%d" % id))
	game.api.peer_disconnected.connect(func(id: int) -> void: events.append("-%d" % id))
	game.peer = SoireeMultiplayerPeer.new()
	var error := OK
	match mode:
		HOST:
			error = game.peer.create_host(url, room_name)
		CLIENT:
			error = game.peer.create_client(url, room_name)
		MESH:
			error = game.peer.create_mesh(url, room_name)
	check_equal(error, OK, "create (mode %d) in %s" % [mode, room_name])
	game.api.multiplayer_peer = game.peer
	return game


## Waits until the game's peer is in the game (CONNECTED); false (and a failed check) if not.
func wait_in_game(game: Game, seconds := 30.0) -> bool:
	var connected := func() -> bool:
		return game.peer.get_connection_status() == MultiplayerPeer.CONNECTION_CONNECTED
	if not await wait_until(connected, seconds, "in the game (%s)" % game.root.name):
		print("peer: %s" % game.peer.last_error)
		return false
	return true


## Waits until the player named `player_name` is a peer of the game; its id, or 0.
func wait_peer_named(game: Game, player_name: String, seconds := 30.0) -> int:
	var found := func() -> bool: return game.id_of(player_name) != 0
	if not await wait_until(found, seconds, "%s in %s" % [player_name, game.root.name]):
		return 0
	return game.id_of(player_name)


## A MultiplayerSpawner under the world's "Players" node that makes players (player.gd) from
## their peer id, as a host spawns them.
func add_player_spawner(game: Game) -> MultiplayerSpawner:
	var players := Node.new()
	players.name = "Players"
	game.root.add_child(players)
	var spawner := MultiplayerSpawner.new()
	spawner.name = "Spawner"
	spawner.spawn_path = NodePath("../Players")
	spawner.spawn_function = Player.make
	game.root.add_child(spawner)
	return spawner


## A MultiplayerSynchronizer of the `value` of the world's Game node, sent every frame
## (unreliable), with `authority`.
func add_value_sync(game: Game, authority := 1) -> MultiplayerSynchronizer:
	var sync := MultiplayerSynchronizer.new()
	sync.name = "Sync"
	var config := SceneReplicationConfig.new()
	config.add_property(NodePath(".:value"))
	config.property_set_spawn(NodePath(".:value"), false)
	config.property_set_replication_mode(
		NodePath(".:value"), SceneReplicationConfig.REPLICATION_MODE_ALWAYS
	)
	sync.replication_config = config
	sync.root_path = NodePath("..")
	var node: Node = game.node("Game")
	node.add_child(sync)
	node.set_multiplayer_authority(authority, true)
	return sync
