extends "res://live_game.gd"
## Two parties at once (a portal): role=portal runs two games in one engine, each a subtree with
## its own SceneMultiplayer and its own SoireeMultiplayerPeer: it hosts the game of party A
## (WorldA) and is a client in party B's (WorldB), which role=y hosts; role=x is a client in A
## only. State and RPCs stay in their party, with each party's ids. Then the portal's player
## walks through: it leaves A (despawned there) and y spawns it in B, where the portal drives
## it from where it was. Arguments: url_a (portal, x), url_b (portal, y), role.

const AT := Vector2(5, 5)
const LATER := Vector2(6, 6)


func run() -> int:
	var role: String = args["role"]
	var control_a: SoireeClient = null
	var control_b: SoireeClient = null
	if role in ["portal", "x"]:
		control_a = await join_party(args["url_a"])
	if role in ["portal", "y"]:
		control_b = await join_party(args["url_b"])
	match role:
		"portal":
			if control_a != null and control_b != null:
				await _portal()
				await finish_together(control_a, "portal", ["x"])
				await finish_together(control_b, "portal", ["y"])
		"x":
			if control_a != null:
				await _x(control_a)
				await finish_together(control_a, "x", ["portal"])
		"y":
			if control_b != null:
				await _y(control_b)
				await finish_together(control_b, "y", ["portal"])
	for control: SoireeClient in [control_a, control_b]:
		if control != null:
			await leave(control)
	return finish()


func _portal() -> void:
	var world_a := open_game("WorldA", HOST, args["url_a"])
	var world_b := open_game("WorldB", CLIENT, args["url_b"])
	var spawner_a := add_player_spawner(world_a)
	add_player_spawner(world_b)
	add_value_sync(world_a)
	add_value_sync(world_b)
	if not (await wait_in_game(world_a) and await wait_in_game(world_b)):
		return
	var id_b := world_b.api.get_unique_id()
	check(world_a.api.is_server() and not world_b.api.is_server(), "host in A, client in B")
	print("portal ids: 1 in A, %d in B" % id_b)
	var x := await wait_peer_named(world_a, "x")
	if x == 0:
		return
	var game_a: Node = world_a.node("Game")
	var game_b: Node = world_b.node("Game")
	game_a.value = 111
	game_a.from_authority.rpc("portal to A")
	game_b.hello.rpc_id(1, "portal to B")
	var got := func() -> bool:
		return game_b.value == 222 and game_a.calls.size() == 1 and game_b.calls.size() == 1
	if not await wait_until(got, 30, "x's RPC in A, y's state and RPC in B"):
		return
	check_equal(game_a.calls, [["hello", x, "x to A"]], "A: x's RPC, with x's id in A")
	check_equal(game_b.calls, [["from_authority", 1, "y to B"]], "B: y's RPC, from B's host")
	check_equal(game_a.value, 111, "A keeps A's state")
	# Through the portal: the player leaves A, and B's host spawns it there.
	var mine: Node2D = spawner_a.spawn(1)
	mine.position = AT
	if not await wait_event("x saw the player"):
		return
	mine.queue_free()
	game_b.hello.rpc_id(1, ["arrive", id_b])
	var players_b: Node = world_b.node("Players")
	var arrived := func() -> bool: return players_b.has_node(str(id_b))
	if not await wait_until(arrived, 30, "the player spawned in B"):
		return
	var there: Node2D = players_b.get_node(str(id_b))
	check_equal(there.get_multiplayer_authority(), id_b, "the portal drives its player in B")
	there.position = AT
	if await wait_event("y saw the player at %s" % AT):
		there.position = LATER
		print("portal: the player went through")
		await wait_event("y saw the player at %s" % LATER)


func _x(control: SoireeClient) -> void:
	var world := open_game("WorldA", CLIENT, args["url_a"])
	add_player_spawner(world)
	add_value_sync(world)
	if not await wait_in_game(world):
		return
	var game: Node = world.node("Game")
	game.hello.rpc_id(1, "x to A")
	var got := func() -> bool: return game.value == 111 and not game.calls.is_empty()
	if not await wait_until(got, 30, "the portal's state and RPC in A"):
		return
	check_equal(game.calls, [["from_authority", 1, "portal to A"]], "only A's RPC")
	var players: Node = world.node("Players")
	var seen := func() -> bool:
		return players.has_node("1") and players.get_node("1").position == AT
	if not await wait_until(seen, 30, "the portal's player in A"):
		return
	send_text(control, "x saw the player")
	var gone := func() -> bool: return not players.has_node("1")
	if await wait_until(gone, 30, "the player to leave A"):
		print("x: the player left A")
	check_equal(world.api.get_peers(), PackedInt32Array([1]), "x is in A only, with its host")


func _y(control: SoireeClient) -> void:
	var world := open_game("WorldB", HOST, args["url_b"])
	var spawner := add_player_spawner(world)
	add_value_sync(world)
	if not await wait_in_game(world):
		return
	var portal := await wait_peer_named(world, "portal")
	if portal == 0:
		return
	var game: Node = world.node("Game")
	game.value = 222
	game.from_authority.rpc("y to B")
	var asked := func() -> bool: return game.calls.size() >= 2
	if not await wait_until(asked, 30, "the portal's RPCs in B"):
		return
	var expected := [["hello", portal, "portal to B"], ["hello", portal, ["arrive", portal]]]
	check_equal(game.calls, expected, "B: the portal's RPCs, with its id in B")
	spawner.spawn(portal)  # B's host spawns the arriving player; the portal drives it
	var players: Node = world.node("Players")
	for where: Vector2 in [AT, LATER]:
		var moved := func() -> bool:
			return players.has_node(str(portal)) and players.get_node(str(portal)).position == where
		if not await wait_until(moved, 30, "the player at %s in B" % where):
			return
		send_text(control, "y saw the player at %s" % where)
	print("y: the player arrived in B and moved on")
