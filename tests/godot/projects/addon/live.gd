extends "res://scenario.gd"
## What the scenarios against a live relay share: connecting, finding objects by the name in
## their SoireeSync state, waiting for events, and a "done" handshake so that no engine leaves
## before its peers have seen everything they wait for.

const P := preload("res://addons/soiree/protocol.gd")

var events_seen: Array[String] = []


## A connected client that joined `room_name`, or null (with a failed check). It asks the party
## to show the player as args["display_name"] when given.
func join_party(url: String, room_name := "lobby") -> SoireeClient:
	var client := SoireeClient.new()
	client.display_name = args.get("display_name", "")
	add_child(client)
	client.event_received.connect(_on_event)
	var problem := client.open(url)
	if not check(problem.is_empty(), "open(%s): %s" % [url, problem]):
		return null
	var join := client.join(room_name)
	await join.completed
	if not check(join.is_ok(), "join %s: %s (%s)" % [room_name, join, client.last_error]):
		return null
	return client


## A Node3D in this scene, synced through a new object named `label`, or null.
func spawn_named(
	client: SoireeClient,
	label: String,
	rule: int,
	where := Vector3.ZERO,
	room_name := "lobby",
) -> Node3D:
	var body := Node3D.new()
	add_child(body)
	body.position = where
	var sync := SoireeSync.new()
	sync.custom_state = label.to_utf8_buffer()
	body.add_child(sync)
	var spawning := sync.spawn_in(client, room_name, rule, P.Lifetime.WITH_MASTER)
	await spawning.completed
	if not check(spawning.is_ok(), "spawning %s: %s" % [label, spawning]):
		return null
	return body


## The object whose SoireeSync state carries `label`, or null.
func named(client: SoireeClient, label: String, room_name := "lobby") -> SoireeObject:
	var joined := client.room(room_name)
	if joined == null:
		return null
	for object: SoireeObject in joined.objects.values():
		var decoded := SoireeSync.decode_state(object.state)
		if not decoded.is_empty() and decoded["custom"] == label.to_utf8_buffer():
			return object
	return null


func wait_named(client: SoireeClient, label: String, room_name := "lobby") -> SoireeObject:
	var found := func() -> bool: return named(client, label, room_name) != null
	if not await wait_until(found, 30, "%s in %s" % [label, room_name]):
		return null
	return named(client, label, room_name)


## A Node3D that follows another client's object.
func follower(client: SoireeClient, object_id: int, room_name := "lobby") -> Node3D:
	var body := Node3D.new()
	add_child(body)
	var sync := SoireeSync.new()
	body.add_child(sync)
	sync.follow(client, room_name, object_id)
	return body


## Drives an object this client now owns: lifts it by a metre and makes `custom` its custom
## state, both sent by a SoireeSync.
func lift(client: SoireeClient, object: SoireeObject, custom: String) -> SoireeSync:
	var where: Vector3 = SoireeSync.decode_state(object.state).get("origin", Vector3.ZERO)
	var body := follower(client, object.id)
	var sync: SoireeSync = body.get_child(0)
	body.position = where + Vector3(0, 1, 0)
	sync.custom_state = custom.to_utf8_buffer()
	return sync


func send_text(client: SoireeClient, text: String, room_name := "lobby") -> void:
	client.room(room_name).send_event(text.to_utf8_buffer())


func wait_event(text: String, seconds := 30.0) -> bool:
	return await wait_until(func() -> bool: return text in events_seen, seconds, "event " + text)


## Says "done <me>" until every peer said theirs (events sent while a peer reconnects are lost).
func finish_together(client: SoireeClient, me: String, peers: Array, room_name := "lobby") -> void:
	var deadline := Time.get_ticks_msec() + 30000
	var all_done := func() -> bool:
		return peers.all(func(p: String) -> bool: return ("done " + p) in events_seen)
	while Time.get_ticks_msec() < deadline:
		if client.is_welcomed():
			send_text(client, "done " + me, room_name)
		if all_done.call():
			break
		await get_tree().create_timer(0.3).timeout
	check(all_done.call(), "every peer finished: %s" % [events_seen])
	# A last few rounds so the peers see ours too.
	for i in 3:
		send_text(client, "done " + me, room_name)
		await get_tree().create_timer(0.3).timeout


## The usual shape of a live scenario: join the lobby of args["url"], print the member id, play
## the part args["role"] names in `roles` (role -> Callable taking the client), leave.
func play_role(roles: Dictionary) -> int:
	var client := await join_party(args["url"])
	if client != null:
		print("member %d" % client.member_id)
		await roles[args["role"]].call(client)
		await leave(client)
	return finish()


func leave(client: SoireeClient) -> void:
	client.close()
	await get_tree().create_timer(0.3).timeout


func _on_event(_room: SoireeRoom, _sender: int, payload: PackedByteArray) -> void:
	events_seen.append(payload.get_string_from_utf8())
