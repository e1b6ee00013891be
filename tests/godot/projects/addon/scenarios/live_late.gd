extends "res://live.gd"
## A late joiner sees everything: role=writer spawns `count` objects with large states (together
## over 64 KiB, so the relay's snapshot spans several messages), updates one of them several
## times, then moves an avatar until the reader is done. role=reader joins afterwards and checks
## every object and state in the snapshot, then sees the avatar's live updates.
## Arguments: url, role, count.

const SIZE := 600


func run() -> int:
	return await play_role({"writer": _write, "reader": _read})


static func pattern(index: int) -> PackedByteArray:
	var state := PackedByteArray()
	state.resize(SIZE)
	for i in SIZE:
		state[i] = (index * 31 + i) % 251
	return state


func _write(client: SoireeClient) -> void:
	var lobby := client.room("lobby")
	var requests := []
	for index in int(args["count"]):
		requests.append(lobby.spawn(pattern(index), P.Rule.ALLOW, P.Lifetime.WITH_MASTER))
	await wait_until(
		func() -> bool: return requests.all(func(r: SoireeRequest) -> bool: return r.is_done()),
		30,
		"spawns"
	)
	check(requests.all(func(r: SoireeRequest) -> bool: return r.is_ok()), "every spawn succeeded")
	var first: int = requests[0].value
	for version in 5:
		lobby.update(first, ("version %d" % version).to_utf8_buffer())
		await get_tree().process_frame
	var avatar := await spawn_named(client, "writer", P.Rule.DENY)
	print("ready")
	var step := 0
	while not "done reader" in events_seen and step < 1000:
		step += 1
		avatar.position = Vector3(step * 0.1, 0, 0)
		await get_tree().create_timer(0.05).timeout
	check("done reader" in events_seen, "the reader finished")
	await finish_together(client, "writer", ["reader"])


func _read(client: SoireeClient) -> void:
	var lobby := client.room("lobby")
	var count := int(args["count"])
	var objects := lobby.objects.values()
	objects.sort_custom(func(a: SoireeObject, b: SoireeObject) -> bool: return a.id < b.id)
	check_equal(objects.size(), count + 1, "objects in the snapshot")
	var matching := 0
	var total := 0
	for index in count:
		total += objects[index].state.size()
		if index == 0:
			check_equal(
				objects[0].state, "version 4".to_utf8_buffer(), "the latest of five updates"
			)
		elif objects[index].state == pattern(index):
			matching += 1
	check_equal(matching, count - 1, "states as spawned")
	print("late join: %d objects, %d bytes of state" % [objects.size(), total])
	var avatar := named(client, "writer")
	if not check(avatar != null, "the writer's avatar is there"):
		return
	var seen := [0]
	var count_live := func(_r: SoireeRoom, object: SoireeObject) -> void:
		if object.id == avatar.id:
			seen[0] += 1
	client.state_changed.connect(count_live)
	await wait_until(func() -> bool: return seen[0] >= 5, 20, "live updates after the snapshot")
	print("live updates after joining: %d" % seen[0])
	await finish_together(client, "reader", ["writer"])
