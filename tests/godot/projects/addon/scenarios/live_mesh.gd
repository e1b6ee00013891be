extends "res://live_game.gd"
## Mesh mode, three engines (names a, b, c) in the room "arena": nobody is peer 1, and the
## authority over a Ball (a value sent by a MultiplayerSynchronizer every frame) follows the
## relay object its SoireeAuthority binds to (rule ALLOW). a spawns the object (its Master and
## first Owner) and drives the ball; b grabs it (ALLOW) and drives it; every engine applies the
## change between the very states it came between (no state of a after it). c then tampers:
## makes itself the synchronizer's authority locally and sends its own state, which a and b
## ignore. Last c asks for the ball under ASK: a, the Master, denies, then grants it.
## Arguments: url, role (a, b or c).

const NAMES := ["a", "b", "c"]
const FORGED := 666

var me := ""
var ids := {}  # name -> Godot peer id, as this engine sees them
## [authority, value] at every state this engine's ball received, in order.
var received: Array = []
var saw_forged := false


func run() -> int:
	me = args["role"]
	var roles := {}
	for name: String in NAMES:
		roles[name] = _play
	return await play_role(roles)


func _play(control: SoireeClient) -> void:
	var game := open_game("World", MESH, args["url"])
	var authority := _ball(game, me == "a")
	if await wait_in_game(game) and await _meet(game, authority):
		var ball: Node = game.node("Ball")
		var stages := [_a_drives, _b_grabs, _c_tampers, _c_asks]
		for stage: Callable in stages:
			if not await stage.call(control, ball, authority):
				break
		check(not saw_forged, "%s never applied the forged state" % me)
		print("%s saw forged state: %s" % [me, saw_forged])
	await finish_together(control, me, NAMES.filter(func(n: String) -> bool: return n != me))


## The ball: a GameNode whose value a synchronizer sends every frame, and its SoireeAuthority.
func _ball(game: Game, spawns: bool) -> SoireeAuthority:
	var ball := GameNode.new()
	ball.name = "Ball"
	game.root.add_child(ball)
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
	ball.add_child(sync)
	sync.synchronized.connect(
		func() -> void:
			received.append([sync.get_multiplayer_authority(), ball.value])
			saw_forged = saw_forged or ball.value == FORGED
	)
	var authority := SoireeAuthority.new()
	authority.name = "SoireeAuthority"
	authority.rule = P.Rule.ALLOW
	authority.spawn_if_missing = spawns  # only a spawns: it is the object's Master
	ball.add_child(authority)
	return authority


## Every engine knows the others by the same ids, and the ball's authority is a's.
func _meet(game: Game, authority: SoireeAuthority) -> bool:
	ids[me] = game.api.get_unique_id()
	for name: String in NAMES:
		if name != me:
			ids[name] = await wait_peer_named(game, name)
	if ids.values().has(0):
		return false
	check(not game.api.is_server() and not (1 in ids.values()), "mesh mode: nobody is peer 1")
	print("%s ids: a=%d b=%d c=%d" % [me, ids["a"], ids["b"], ids["c"]])
	var ball: Node = game.node("Ball")
	var bound := func() -> bool:
		return authority.object != null and ball.get_multiplayer_authority() == ids["a"]
	if not await wait_until(bound, 30, "the ball bound, a its authority"):
		return false
	check_equal(authority.is_owner(), me == "a", "is_owner()")
	check_equal(authority.get_owner_id(), ids["a"], "get_owner_id()")
	return true


func _a_drives(control: SoireeClient, ball: Node, _authority: SoireeAuthority) -> bool:
	if me == "a":
		ball.value = 100
		while not (events_seen.has("b saw a drive") and events_seen.has("c saw a drive")):
			ball.value += 1
			await get_tree().process_frame
		return true
	var driven := func() -> bool: return ball.value >= 100
	if not await wait_until(driven, 30, "a to drive the ball"):
		return false
	send_text(control, "%s saw a drive" % me)
	return true


func _b_grabs(control: SoireeClient, ball: Node, authority: SoireeAuthority) -> bool:
	if me == "b":
		var grab := authority.request()
		await grab.completed
		print("b grab: %s" % grab.status_name())
		if not check_equal(grab.status, P.Status.GRANTED, "ALLOW: the grab is granted"):
			return false
	var flipped := func() -> bool: return ball.get_multiplayer_authority() == ids["b"]
	if not await wait_until(flipped, 30, "the grab to make b the authority"):
		return false
	if me == "a":
		ball.value = 99  # no longer the authority: this goes nowhere
	if me == "b":
		ball.value = 200
		_keep_driving(ball)
	else:
		var driven := func() -> bool: return ball.value >= 200
		if not await wait_until(driven, 30, "b to drive the ball"):
			return false
		send_text(control, "%s saw b drive" % me)
		# Every state applied under b's authority is b's: none of a's came after the change.
		var after := received.filter(func(r: Array) -> bool: return r[0] == ids["b"])
		var stale := after.filter(func(r: Array) -> bool: return r[1] < 200)
		check(not after.is_empty() and stale.is_empty(), "%s: states after the change" % me)
		print("%s: %d states under b's authority, none stale" % [me, after.size()])
	return true


func _keep_driving(ball: Node) -> void:
	while not events_seen.has("asked"):
		if ball.get_multiplayer_authority() == ids["b"]:
			ball.value += 1
		await get_tree().process_frame


func _c_tampers(control: SoireeClient, ball: Node, _authority: SoireeAuthority) -> bool:
	if me == "c":
		if not (await wait_event("a saw b drive") and await wait_event("b saw b drive")):
			return false
		var sync: MultiplayerSynchronizer = ball.get_node("Sync")
		sync.set_multiplayer_authority(ids["c"])  # what a tampered client does
		var until := Time.get_ticks_msec() + 2000
		while Time.get_ticks_msec() < until:
			ball.value = FORGED
			await get_tree().process_frame
		sync.set_multiplayer_authority(ids["b"])
		ball.value = 0
		send_text(control, "tampered")
		var honest := func() -> bool: return ball.value >= 200
		return await wait_until(honest, 30, "b's state again")
	if me == "b":
		send_text(control, "b saw b drive")
	if not await wait_event("tampered"):
		return false
	var since: int = ball.value
	var moving := func() -> bool: return ball.value > since
	if me == "a" and not await wait_until(moving, 30, "b's state to keep coming"):
		return false
	return true


func _c_asks(control: SoireeClient, ball: Node, authority: SoireeAuthority) -> bool:
	if me == "a":
		var asks := []
		authority.ask_received.connect(
			func(ask_id: int, requester: int) -> void:
				asks.append(requester)
				authority.answer(ask_id, asks.size() > 1)  # no, then yes
		)
		var ruled := authority.set_rule(P.Rule.ASK)
		await ruled.completed
		check_equal(ruled.status, P.Status.OK, "the Master sets the rule to ASK")
		send_text(control, "ask now")
		var two := func() -> bool: return asks.size() == 2
		if await wait_until(two, 30, "two asks"):
			check_equal(asks, [ids["c"], ids["c"]], "the asks reach the Master, from c")
			print("a answered asks from %s" % [asks])
	if me == "c":
		if not await wait_event("ask now"):
			return false
		var statuses := []
		for i in 2:
			var ask := authority.request()
			await ask.completed
			statuses.append(ask.status_name())
		print("c asked: %s" % ", ".join(statuses))
		send_text(control, "asked")
	if me != "c" and not await wait_event("asked"):
		return false
	var flipped := func() -> bool: return ball.get_multiplayer_authority() == ids["c"]
	if await wait_until(flipped, 30, "the granted Ask to make c the authority"):
		print("%s: authority now c" % me)
	return true
