extends RefCounted
## Builds the party's default map: a 40 m square floor with low walls, a sun, a sky, and eight
## spawn points in a circle facing the centre. Everything is built in code so that the committed
## uro-shim/default_map.scn is exactly what this file says; `main.gd` packs and saves it.
##
## V-Sekai's stock client decides what a map may hold (see uro-shim/COMPATIBILITY.md, "The default
## map"): the root must carry its map definition script, spawn points are Marker3D nodes with its
## spawn script (it refuses scenes with saved node groups), and only listed node and resource
## classes pass its validator. Everything below is on those lists.

const MAP_SCRIPT := "res://addons/vsk_map/vsk_map_definition_runtime.gd"
const SPAWN_SCRIPT := "res://addons/network_manager/network_spawn.gd"

const FLOOR_SIZE := 40.0  # metres, square, top face at y = 0
const FLOOR_DEPTH := 1.0  # a thick slab: fast bodies do not tunnel through it
const WALL_HEIGHT := 1.0
const WALL_THICKNESS := 0.5
const SPAWN_COUNT := 8
const SPAWN_RADIUS := 4.0
const CENTRE_RADIUS := 6.0


static func build() -> Node3D:
	var root := Node3D.new()
	root.name = "DefaultMap"
	root.set_script(load(MAP_SCRIPT))
	_build_floor(root)
	_build_walls(root)
	_build_light(root)
	_build_environment(root)
	_build_spawn_points(root)
	return root


static func _build_floor(root: Node3D) -> void:
	var body := _add(root, StaticBody3D.new(), "Floor")
	var slab := _named(BoxShape3D.new(), "FloorShape") as BoxShape3D
	slab.size = Vector3(FLOOR_SIZE, FLOOR_DEPTH, FLOOR_SIZE)
	var shape := _add(body, CollisionShape3D.new(), "Shape") as CollisionShape3D
	shape.position.y = -FLOOR_DEPTH / 2
	shape.shape = slab
	var mesh := _add(shape, MeshInstance3D.new(), "Mesh") as MeshInstance3D
	var box := _named(BoxMesh.new(), "FloorMesh") as BoxMesh
	box.size = slab.size
	box.material = _material("FloorMaterial", Color(0.46, 0.45, 0.42), 0.95)
	mesh.mesh = box
	# A slate disc under the spawn circle, so players see where everyone arrives.
	var centre := _add(body, MeshInstance3D.new(), "Centre") as MeshInstance3D
	var disc := _named(CylinderMesh.new(), "CentreMesh") as CylinderMesh
	disc.top_radius = CENTRE_RADIUS
	disc.bottom_radius = CENTRE_RADIUS
	disc.height = 0.02
	disc.radial_segments = 48
	disc.rings = 1
	disc.material = _material("CentreMaterial", Color(0.4, 0.44, 0.48), 0.9)
	centre.mesh = disc
	centre.position.y = 0.01


static func _build_walls(root: Node3D) -> void:
	var body := _add(root, StaticBody3D.new(), "Walls")
	var box := _named(BoxShape3D.new(), "WallShape") as BoxShape3D
	box.size = Vector3(FLOOR_SIZE, WALL_HEIGHT, WALL_THICKNESS)
	var wall_mesh := _named(BoxMesh.new(), "WallMesh") as BoxMesh
	wall_mesh.size = box.size
	wall_mesh.material = _material("WallMaterial", Color(0.42, 0.47, 0.52), 0.8)
	var inset := FLOOR_SIZE / 2 - WALL_THICKNESS / 2
	var sides := {
		"North": Vector3(0, 0, -inset),
		"South": Vector3(0, 0, inset),
		"East": Vector3(inset, 0, 0),
		"West": Vector3(-inset, 0, 0),
	}
	for side in sides:
		var shape := _add(body, CollisionShape3D.new(), side) as CollisionShape3D
		shape.shape = box
		shape.position = sides[side] + Vector3(0, WALL_HEIGHT / 2, 0)
		if side in ["East", "West"]:
			shape.rotation.y = PI / 2
		var mesh := _add(shape, MeshInstance3D.new(), "Mesh") as MeshInstance3D
		mesh.mesh = wall_mesh


static func _build_light(root: Node3D) -> void:
	var sun := _add(root, DirectionalLight3D.new(), "Sun") as DirectionalLight3D
	sun.rotation_degrees = Vector3(-50, -30, 0)
	sun.light_color = Color(1.0, 0.96, 0.9)
	sun.light_energy = 1.0
	sun.shadow_enabled = true
	sun.directional_shadow_max_distance = 60.0


static func _build_environment(root: Node3D) -> void:
	var world := _add(root, WorldEnvironment.new(), "Environment") as WorldEnvironment
	var sky_material := _named(ProceduralSkyMaterial.new(), "SkyMaterial") as ProceduralSkyMaterial
	sky_material.sky_top_color = Color(0.36, 0.52, 0.75)
	sky_material.sky_horizon_color = Color(0.72, 0.78, 0.85)
	sky_material.ground_bottom_color = Color(0.42, 0.43, 0.45)
	sky_material.ground_horizon_color = Color(0.72, 0.78, 0.85)
	var sky := _named(Sky.new(), "Sky") as Sky
	sky.sky_material = sky_material
	var env := _named(Environment.new(), "Environment") as Environment
	env.background_mode = Environment.BG_SKY
	env.sky = sky
	env.ambient_light_source = Environment.AMBIENT_SOURCE_COLOR
	env.ambient_light_color = Color(0.62, 0.66, 0.72)
	env.ambient_light_energy = 0.5
	env.tonemap_mode = Environment.TONE_MAPPER_FILMIC
	world.environment = env


static func _build_spawn_points(root: Node3D) -> void:
	var spawns := _add(root, Node3D.new(), "SpawnPoints")
	var script := load(SPAWN_SCRIPT)
	for i in SPAWN_COUNT:
		var marker := _add(spawns, Marker3D.new(), "SpawnPoint%d" % (i + 1)) as Marker3D
		marker.set_script(script)
		# On a circle, each facing the centre (a node looks along its -Z).
		var angle := TAU * i / SPAWN_COUNT
		marker.position = Vector3(sin(angle), 0, cos(angle)) * SPAWN_RADIUS
		marker.rotation.y = angle


static func _add(parent: Node, child: Node, child_name: String) -> Node:
	child.name = child_name
	parent.add_child(child)
	# PackedScene.pack() keeps only the nodes the root owns.
	child.owner = parent if parent.owner == null else parent.owner
	return child


static func _named(resource: Resource, id: String) -> Resource:
	# A fixed id instead of a random one: built-in resources keep their names from one generation
	# to the next (Godot 4.6 still saves a random id per node, so the bytes differ anyway).
	resource.resource_scene_unique_id = id
	return resource


static func _material(id: String, color: Color, roughness: float) -> StandardMaterial3D:
	var material := _named(StandardMaterial3D.new(), id) as StandardMaterial3D
	material.albedo_color = color
	material.roughness = roughness
	return material
