extends "res://live_game.gd"
## Godot's multiplayer in a room on relay process 1 of a party of two, the links leading to
## process 0: SoireeMultiplayerPeer follows the room there (ELSEWHERE) and plays over that
## connection. role=host hosts (create_host) the room args["room"], role=client joins it
## (create_client); its peer id is its member id on process 1 plus one. They call RPCs both ways,
## then the host leaves and the client's game ends (server_disconnected). The engines coordinate
## through control clients in the porch (process 0). Arguments: url, room, porch, role.


func run() -> int:
	var control := await join_party(args["url"], args["porch"])
	if control != null:
		if args["role"] == "host":
			await _host(control)
		else:
			await _client(control)
		await finish_together(control, args["role"], [_other()], args["porch"])
		await leave(control)
	return finish()


func _other() -> String:
	return "client" if args["role"] == "host" else "host"


# The game's connection is the one to process 1: a SoireeClient under the one the peer opened.
func _check_followed(game: Game) -> void:
	var there: SoireeSession = game.peer.client
	check(there is SoireeClient and there.get_parent() is SoireeClient, "the game's connection")
	check_equal(there.link.process, 1, "the game plays on process 1")
	check_equal(game.peer.room.me(), there.member_id, "the room's member is that connection's")
	check(game.peer.room.members.has(there.member_id), "this player is in the room there")


func _host(_control: SoireeClient) -> void:
	var game := open_game("World", HOST, args["url"], args["room"])
	check(game.api.is_server(), "create_host: the server at once")
	if not await wait_in_game(game):
		return
	_check_followed(game)
	var client := await wait_peer_named(game, "client")
	if client == 0:
		return
	check_equal(game.peer.member_of(client) + 1, client, "the client's id: its member id + 1")
	print("host: the client is peer %d" % client)
	var node: Node = game.node("Game")
	var heard := func() -> bool: return ["hello", client, "from the client"] in node.calls
	if not await wait_until(heard, 30, "the client's RPC"):
		return
	node.hello.rpc_id(client, "from the host")
	if await wait_event("client heard the host"):
		game.peer.close()
		print("host left the game")


func _client(control: SoireeClient) -> void:
	var game := open_game("World", CLIENT, args["url"], args["room"])
	if not await wait_in_game(game):
		return
	_check_followed(game)
	var me := game.api.get_unique_id()
	check_equal(me, game.peer.room.me() + 1, "this peer's id: its member id on process 1 + 1")
	print("client: this is peer %d" % me)
	var node: Node = game.node("Game")
	node.hello.rpc_id(1, "from the client")
	var heard := func() -> bool: return ["hello", 1, "from the host"] in node.calls
	if not await wait_until(heard, 30, "the host's RPC"):
		return
	send_text(control, "client heard the host", args["porch"])
	var over := func() -> bool: return "server_disconnected" in game.events
	if await wait_until(over, 30, "the game to end when the host leaves"):
		print("client: server_disconnected")
