extends "res://live.gd"
## A party with two relay processes: the room `porch` is on process 0, `attic` and `shed` on
## process 1 (PROTOCOL.md §4.1). Each engine opens one SoireeClient with its link (args["url"],
## to process args["process"]) and joins all three as if there were one relay: the rooms on the
## other process come over one more connection (room_elsewhere), reused for both of them, where
## the player is another member (room.me()). Objects and events travel in every room; with
## reconnect=1 both connections drop and resume (same member ids); then role=first closes and
## the other sees it leave every room. The test checks the relays' own view when both engines
## printed its member ids, then says "relays checked" in the porch. Arguments: url, process,
## name, peer, porch, attic, shed, role (first or second), reconnect (1: the player whose link
## leads to process 0), display_name (Sandstorm webkeys).

var elsewhere: Array = []  # [room name, connection] as room_elsewhere reported them
var left: Array = []  # [room name, member name] as member_left reported them
var rooms_left: Array = []
var despawned: Array = []  # labels of objects reported gone


func run() -> int:
	var client := SoireeClient.new()
	client.display_name = args.get("display_name", "")
	add_child(client)
	client.event_received.connect(_on_event)
	client.room_elsewhere.connect(
		func(room_name: String, there: SoireeClient) -> void: elsewhere.append([room_name, there])
	)
	client.member_left.connect(
		func(in_room: SoireeRoom, member: Dictionary, _why: int) -> void:
			left.append([in_room.name, member["name"]])
	)
	client.room_left.connect(
		func(in_room: SoireeRoom, _why: int) -> void: rooms_left.append(in_room.name)
	)
	client.object_despawned.connect(
		func(_in_room: SoireeRoom, object: SoireeObject, _why: int) -> void:
			var decoded := SoireeSync.decode_state(object.state)
			if not decoded.is_empty():
				despawned.append(decoded["custom"].get_string_from_utf8())
	)
	var problem := client.open(args["url"])
	if check(problem.is_empty(), "open: %s" % problem) and await _play(client):
		await finish_together(client, args["name"], [args["peer"]], args["porch"])
		await _part(client)
	client.close()
	await get_tree().create_timer(0.5).timeout
	return finish()


func _play(client: SoireeClient) -> bool:
	var rooms: Array = [args["porch"], args["attic"], args["shed"]]
	if not await _join_all(client, rooms) or not await _exchange(client, rooms):
		return false
	print("%s: objects and events in every room" % args["name"])
	if args.get("reconnect", "0") == "1":
		return await _resume(client, rooms)
	for room_name in rooms:
		if not await wait_event("resumed %s in %s" % [args["peer"], room_name]):
			return false
	check(despawned.is_empty(), "nothing of the resumed peer went: %s" % [despawned])
	return true


# Every room joined through the one client; where each is, as the client sees it.
func _join_all(client: SoireeClient, rooms: Array) -> bool:
	for room_name in rooms:
		var join := client.join(room_name)
		await join.completed
		if not check(join.is_ok(), "join %s: %s (%s)" % [room_name, join, client.last_error]):
			return false
	var on_link: Array = [args["porch"]] if args["process"] == "0" else rooms.slice(1)
	var away: Array = rooms.filter(func(r: String) -> bool: return r not in on_link)
	var there := client.session_of(away[0])
	check(there != null and there != client, "%s is on another connection" % away[0])
	for room_name in on_link:
		check(client.session_of(room_name) == client, "%s on the link's connection" % room_name)
		check_equal(client.room(room_name).me(), client.member_id, "me() in %s" % room_name)
	for room_name in away:
		check(client.session_of(room_name) == there, "%s on that connection" % room_name)
		check_equal(client.room(room_name).me(), there.member_id, "me() in %s" % room_name)
	var reported := elsewhere.map(func(e: Array) -> Array: return [e[0], e[1] == there])
	var expected := away.map(func(r: String) -> Array: return [r, true])
	check_equal(reported, expected, "room_elsewhere, once per join, one connection reused")
	var connections := client.get_children().filter(func(n: Node) -> bool: return n is SoireeClient)
	check_equal(connections.size(), 1, "one more connection for the other process")
	var names := client.joined_rooms().map(func(r: SoireeRoom) -> String: return r.name)
	names.sort()
	var sorted_rooms := rooms.duplicate()
	sorted_rooms.sort()
	check_equal(names, sorted_rooms, "joined_rooms() has every room")
	var ids := [args["name"], client.room(args["porch"]).me(), client.room(args["attic"]).me()]
	print("%s is member %d in the porch and %d in the attic" % ids)
	if not await wait_event("relays checked", 60):
		return false
	return true


# An object of each player and an event in every room.
func _exchange(client: SoireeClient, rooms: Array) -> bool:
	for room_name in rooms:
		var body := await spawn_named(
			client, _label(args["name"], room_name), P.Rule.DENY, Vector3.ZERO, room_name
		)
		if not check(body != null, "spawned in %s" % room_name):
			return false
	for room_name in rooms:
		var theirs := await wait_named(client, _label(args["peer"], room_name), room_name)
		if not check(theirs != null, "%s's object in %s" % [args["peer"], room_name]):
			return false
		var mine := named(client, _label(args["name"], room_name), room_name)
		check(client.room(room_name).owns(mine.id), "this client owns its object in %s" % room_name)
		check(not client.room(room_name).owns(theirs.id), "not the other's in %s" % room_name)
		send_text(client, "hello from %s in %s" % [args["name"], room_name], room_name)
	for room_name in rooms:
		if not await wait_event("hello from %s in %s" % [args["peer"], room_name]):
			return false
	return true


# Both connections drop and resume: the same members, the rooms synced again, nothing lost.
func _resume(client: SoireeClient, rooms: Array) -> bool:
	var there := client.session_of(args["attic"])
	var before := [client.member_id, there.member_id]
	var welcomes := []
	client.welcomed.connect(func(m: int, r: bool) -> void: welcomes.append(["link", m, r]))
	there.welcomed.connect(func(m: int, r: bool) -> void: welcomes.append(["other", m, r]))
	client.reconnect()
	var back := func() -> bool:
		var synced := rooms.all(func(r: String) -> bool: return client.room(r).synced)
		return welcomes.size() == 2 and synced
	if not await wait_until(back, 30, "both connections back"):
		return false
	check(["link", before[0], true] in welcomes, "the link's connection resumed: %s" % [welcomes])
	check(["other", before[1], true] in welcomes, "the other resumed: %s" % [welcomes])
	check(despawned.is_empty(), "nothing despawned by the resume: %s" % [despawned])
	for room_name in rooms:
		send_text(client, "resumed %s in %s" % [args["name"], room_name], room_name)
	print("%s resumed both connections" % args["name"])
	return true


# role=first closes; the other sees it leave every room, over both connections.
func _part(client: SoireeClient) -> void:
	var rooms: Array = [args["porch"], args["attic"], args["shed"]]
	if args["role"] == "first":
		client.close()
		rooms_left.sort()
		var sorted_rooms := rooms.duplicate()
		sorted_rooms.sort()
		check_equal(rooms_left, sorted_rooms, "close(): room_left for every room")
		return
	var gone := func() -> bool:
		return rooms.all(func(r: String) -> bool: return [r, args["peer"]] in left)
	if await wait_until(gone, 30, "%s to leave every room" % args["peer"]):
		print("%s left every room" % args["peer"])


static func _label(player: String, room_name: String) -> String:
	return "%s@%s" % [player, room_name]
