extends Node
## The default map in the real engine, by `mode=`:
##
## - `generate`: builds the map (map_builder.gd), saves it with ResourceSaver and FLAG_COMPRESS
##   (the compressed binary `.scn` V-Sekai's client uploads and downloads), prints the file as
##   `scn <base64>` lines, then loads the saved file back and describes it like `check`.
## - `check path=<file>`: loads a saved map as a PackedScene, describes what it holds, instances it
##   and probes it with rays (the floor under every spawn point, the walls around).
## - `download url=<party> id=<map id>`: fetches the map the way V-Sekai's client does
##   (`GET /api/v1/maps/<id>`, then the file at `user_content_data`), then as `check`.
##
## Lines: `node` and its properties (the packed scene as describe.gd writes it), `root`, `spawn`,
## `wall`, `outside`, `FAIL: ...`; the exit code is 0 when nothing failed.

const MapBuilder := preload("res://map_builder.gd")
const Describe := preload("res://describe.gd")

const SAVE_PATH := "user://default_map.scn"
const DOWNLOAD_PATH := "user://downloads/default_map.scn"
const CHUNK := 2000

var failures := 0
var args := {}


func _ready() -> void:
	for arg in OS.get_cmdline_user_args():
		var split := arg.find("=")
		if split > 0:
			args[arg.substr(0, split)] = arg.substr(split + 1)
	match args.get("mode", ""):
		"generate":
			if _generate():
				await _check(SAVE_PATH)
		"check":
			await _check(str(args.get("path", "")))
		"download":
			if await _download(str(args.get("url", "")), str(args.get("id", ""))):
				await _check(DOWNLOAD_PATH)
		var other:
			_fail("unknown mode %s" % other)
	print("failures: %d" % failures)
	get_tree().quit(1 if failures else 0)


func _generate() -> bool:
	var root := MapBuilder.build()
	var packed := PackedScene.new()
	var packed_error := packed.pack(root)
	root.free()
	if packed_error != OK:
		return _fail("pack: %s" % error_string(packed_error))
	var saved := ResourceSaver.save(packed, SAVE_PATH, ResourceSaver.FLAG_COMPRESS)
	if saved != OK:
		return _fail("save: %s" % error_string(saved))
	var data := FileAccess.get_file_as_bytes(SAVE_PATH)
	print("saved %d bytes" % data.size())
	var text := Marshalls.raw_to_base64(data)
	for start in range(0, text.length(), CHUNK):
		print("scn %s" % text.substr(start, CHUNK))
	return true


func _download(base_url: String, map_id: String) -> bool:
	# As V-Sekai's client: the item with an empty token, then base URL + the root-relative path.
	var item := await _get(base_url + "/api/v1/maps/" + map_id, ["Authorization: "])
	if item.is_empty():
		return false
	var json: Variant = JSON.parse_string(item.get_string_from_utf8())
	if not json is Dictionary or not json.get("data", {}).has("map"):
		return _fail("unexpected answer: %s" % item.get_string_from_utf8())
	var data_path := str(json["data"]["map"]["user_content_data"])
	print("user_content_data %s" % data_path)
	var data := await _get(base_url + data_path, [])
	if data.is_empty():
		return false
	DirAccess.make_dir_recursive_absolute(DOWNLOAD_PATH.get_base_dir())
	var file := FileAccess.open(DOWNLOAD_PATH, FileAccess.WRITE)
	file.store_buffer(data)
	file.close()
	print("downloaded %d bytes" % data.size())
	return true


func _get(url: String, headers: PackedStringArray) -> PackedByteArray:
	var request := HTTPRequest.new()
	add_child(request)
	var error := request.request(url, headers)
	if error != OK:
		_fail("GET %s: %s" % [url, error_string(error)])
		return PackedByteArray()
	var reply: Array = await request.request_completed
	request.queue_free()
	if reply[0] != HTTPRequest.RESULT_SUCCESS or reply[1] != 200:
		_fail("GET %s: result %d, status %d" % [url, reply[0], reply[1]])
		return PackedByteArray()
	return reply[3]


func _check(path: String) -> void:
	print("sha256 %s" % FileAccess.get_sha256(path))
	var head := FileAccess.get_file_as_bytes(path).slice(0, 4).get_string_from_ascii()
	print("magic %s" % head)
	var packed := ResourceLoader.load(path, "PackedScene", ResourceLoader.CACHE_MODE_IGNORE)
	if not packed is PackedScene:
		_fail("%s did not load as a PackedScene" % path)
		return
	for line in Describe.scene_state(packed.get_state()):
		print(line)
	var map: Node = packed.instantiate()
	if not map is Node3D:
		_fail("the map's root is not a Node3D")
		return
	var script: Script = map.get_script()
	print("root %s script=%s" % [map.name, script.resource_path if script else "none"])
	add_child(map)
	# Bodies join the physics space on the next physics frame.
	await get_tree().physics_frame
	await get_tree().physics_frame
	_probe(map)
	map.queue_free()


func _probe(map: Node3D) -> void:
	var space := map.get_world_3d().direct_space_state
	var spawns := map.get_node_or_null("SpawnPoints")
	if spawns == null:
		_fail("no SpawnPoints")
		return
	for marker: Node3D in spawns.get_children():
		var at := marker.global_position
		var facing := -marker.global_basis.z
		var ground := _ray(space, at + Vector3.UP * 2, at + Vector3.DOWN * 2)
		print(
			(
				"spawn %s %s at %s facing %s ground %s"
				% [marker.name, marker.get_class(), _xyz(at), _xyz(facing), ground]
			)
		)
	for direction in [Vector3.FORWARD, Vector3.BACK, Vector3.LEFT, Vector3.RIGHT]:
		var from := Vector3.UP * 0.5
		print("wall %s %s" % [direction, _ray(space, from, from + direction * 30)])
	var beyond := _ray(space, Vector3(25, 5, 0), Vector3(25, -5, 0))
	print("outside %s" % beyond)


func _ray(space: PhysicsDirectSpaceState3D, from: Vector3, to: Vector3) -> String:
	var hit := space.intersect_ray(PhysicsRayQueryParameters3D.create(from, to))
	if hit.is_empty():
		return "none"
	var point: Vector3 = hit["position"]
	return "%s at %.3f %s" % [hit["collider"].name, from.distance_to(point), _xyz(point)]


func _xyz(v: Vector3) -> String:
	return "(%.3f, %.3f, %.3f)" % [v.x, v.y, v.z]


func _fail(message: String) -> bool:
	failures += 1
	print("FAIL: %s" % message)
	return false
