extends "res://live_game.gd"
## Host mode, three engines in the room "arena", written the way Godot 4 games are. role=host
## hosts (create_host) and spawns a player (player.gd) for every peer with a MultiplayerSpawner,
## frees it when the peer leaves. role=early joins at once (create_client), moves its own player
## through its MultiplayerSynchronizer, calls RPCs both ways (an authority-only one it may not
## call is refused), and sees a second create_host on the room fail. role=late joins once early
## has settled: it gets the spawned players with their state, moves its own, then leaves and its
## player disappears everywhere. Last the host leaves: early gets server_disconnected and the
## nodes the host spawned are freed. Arguments: url, role.

const HOST_AT := Vector2(11, 12)
const EARLY_AT := Vector2(60, 7)
const LATE_AT := Vector2(-3, 40)


func run() -> int:
	return await play_role({"host": _host, "early": _early, "late": _late})


func _host(control: SoireeClient) -> void:
	var game := open_game("World", HOST, args["url"])
	check(game.api.is_server(), "create_host: the server at once, as with ENet")
	var spawner := add_player_spawner(game)
	var players: Node = game.node("Players")
	game.api.peer_connected.connect(func(id: int) -> void: spawner.spawn(id))
	game.api.peer_disconnected.connect(
		func(id: int) -> void:
			if players.has_node(str(id)):
				players.get_node(str(id)).queue_free()
	)
	if await wait_in_game(game):
		check_equal(game.api.get_unique_id(), 1, "the host is peer 1")
		var mine: Node2D = spawner.spawn(1)
		mine.position = HOST_AT
		if await _host_meets_early(game) and await _host_sees_late(game, control):
			print("host players: %s" % [_names(players)])
			if await wait_event("host may leave"):
				game.peer.close()  # the host leaves: the game is over for the others
				print("host left")
	await finish_together(control, "host", ["early", "late"])


func _host_meets_early(game: Game) -> bool:
	var early := await wait_peer_named(game, "early")
	if early == 0:
		return false
	print("early is peer %d" % early)
	var node: Node = game.node("Game")
	var heard := func() -> bool: return ["hello", early, "after the forged call"] in node.calls
	if not await wait_until(heard, 30, "early's RPCs"):
		return false
	var expected := [
		["hello", early, "early to the host"], ["hello", early, "after the forged call"]
	]
	check_equal(
		node.calls, expected, "early's RPCs, with its id; the forged authority call refused"
	)
	var players: Node = game.node("Players")
	if not await _wait_at(players, early, EARLY_AT, "early's player moved by early"):
		return false
	node.from_authority.rpc("the host to all")
	node.hello.rpc_id(early, "the host to early")
	players.get_node(str(early)).hello.rpc_id(early, "to your player")
	return true


func _host_sees_late(game: Game, control: SoireeClient) -> bool:
	if not await wait_event("late may join"):
		return false
	var late := await wait_peer_named(game, "late")
	var players: Node = game.node("Players")
	if late == 0 or not await _wait_at(players, late, LATE_AT, "late's player moved by late"):
		return false
	send_text(control, "host saw late move")
	var late_gone := func() -> bool:
		return ("-%d" % late) in game.events and not players.has_node(str(late))
	if not await wait_until(late_gone, 30, "late to leave and its player to go"):
		return false
	print("host: late left, its player went")
	return true


func _early(control: SoireeClient) -> void:
	var game := open_game("World", CLIENT, args["url"])
	add_player_spawner(game)
	if not await wait_in_game(game):
		return
	var me := game.api.get_unique_id()
	check(me > 1 and not game.api.is_server(), "a client, peer %d" % me)
	var connected := func() -> bool: return game.events.size() >= 2
	await wait_until(connected, 10, "connected_to_server and the host")
	check_equal(game.events.slice(0, 2), ["connected_to_server", "+1"], "connected to the host")
	var players: Node = game.node("Players")
	var has_mine := func() -> bool: return players.has_node(str(me)) and players.has_node("1")
	if not await wait_until(has_mine, 30, "the host to spawn my player"):
		return
	var mine: Node2D = players.get_node(str(me))
	check_equal(mine.get_multiplayer_authority(), me, "my player is mine to drive")
	# The host may have spawned its player before it moved it, and after early joined: then the
	# spawn carried the first position and the synchronizer brings the new one a little later.
	if not await _wait_at(players, 1, HOST_AT, "the host's player, where it is"):
		return
	mine.position = EARLY_AT
	var node: Node = game.node("Game")
	node.hello.rpc_id(1, "early to the host")
	node.from_authority.rpc("forged by early")  # not the authority: the host refuses it
	node.hello.rpc_id(1, "after the forged call")
	var told := func() -> bool: return node.calls.size() >= 2 and mine.calls.size() >= 1
	if not await wait_until(told, 30, "the host's RPCs"):
		return
	var expected := [["from_authority", 1, "the host to all"], ["hello", 1, "the host to early"]]
	check_equal(node.calls, expected, "the host's RPCs, from peer 1")
	check_equal(mine.calls, [["hello", 1, "to your player"]], "an RPC on my spawned player")
	await _second_host()
	if await _early_sees_late(game, control) and await _early_sees_the_host_leave(game, control):
		var freed := func() -> bool: return players.get_child_count() == 0
		if await wait_until(freed, 10, "the host's nodes to be freed"):
			print("early: the host left; game over; its nodes freed")
	await finish_together(control, "early", ["host", "late"])


func _early_sees_late(game: Game, control: SoireeClient) -> bool:
	# Said until late is in the game: its engine may join the lobby after the first time.
	var late := 0
	var deadline := Time.get_ticks_msec() + 60000
	while late == 0 and Time.get_ticks_msec() < deadline:
		send_text(control, "late may join")
		await get_tree().create_timer(0.3).timeout
		late = game.id_of("late")
	var players: Node = game.node("Players")
	if not check(late != 0, "late in the game"):
		return false
	if not await _wait_at(players, late, LATE_AT, "late's player moved by late"):
		return false
	check(game.events.has("+%d" % late), "peer_connected for late")
	send_text(control, "early saw late move")
	var late_gone := func() -> bool:
		return ("-%d" % late) in game.events and not players.has_node(str(late))
	if not await wait_until(late_gone, 30, "late to leave and its player to go"):
		return false
	print("early: late left, its player went")
	return true


func _early_sees_the_host_leave(game: Game, control: SoireeClient) -> bool:
	send_text(control, "host may leave")
	var over := func() -> bool: return "server_disconnected" in game.events
	if not await wait_until(over, 30, "server_disconnected"):
		return false
	check_equal(
		game.events.slice(-2), ["-1", "server_disconnected"], "the host went, then the game"
	)
	check_equal(game.peer.last_error, "The host left the game.", "why")
	check_equal(game.peer.get_connection_status(), MultiplayerPeer.CONNECTION_DISCONNECTED, "over")
	return true


func _late(control: SoireeClient) -> void:
	if not await wait_event("late may join", 60):
		return
	var game := open_game("World", CLIENT, args["url"])
	add_player_spawner(game)
	if not await wait_in_game(game):
		return
	var me := game.api.get_unique_id()
	var early := await wait_peer_named(game, "early")
	var players: Node = game.node("Players")
	var spawned := func() -> bool:
		return players.has_node("1") and players.has_node(str(early)) and players.has_node(str(me))
	if early == 0 or not await wait_until(spawned, 30, "the spawned players"):
		return
	check_equal(players.get_node("1").position, HOST_AT, "the host's player came with its state")
	if not await _wait_at(players, early, EARLY_AT, "early's player, from early's synchronizer"):
		return
	print("late got players %s" % [_names(players)])
	var mine: Node2D = players.get_node(str(me))
	mine.position = LATE_AT
	if await wait_event("host saw late move") and await wait_event("early saw late move"):
		game.peer.close()  # this client leaves
		print("late left")
	await finish_together(control, "late", ["host", "early"])


func _second_host() -> void:
	var intruder := open_game("Intruder", HOST, args["url"])
	var failed := func() -> bool: return "connection_failed" in intruder.events
	if await wait_until(failed, 30, "a second create_host to fail"):
		check(not intruder.api.is_server(), "the second host is no server")
		var why := intruder.peer.last_error
		check(why.contains("(host) already hosts the game in the room arena"), why)
		print("second host: %s" % why)
	intruder.api.multiplayer_peer = null
	var path := intruder.root.get_path()
	intruder.root.free()
	get_tree().set_multiplayer(null, path)


func _wait_at(players: Node, id: int, where: Vector2, what: String) -> bool:
	var there := func() -> bool:
		return players.has_node(str(id)) and players.get_node(str(id)).position == where
	return await wait_until(there, 30, what)


func _names(players: Node) -> Array:
	var names := players.get_children().map(func(n: Node) -> String: return str(n.name))
	names.sort()
	return names
