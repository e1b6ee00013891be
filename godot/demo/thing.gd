extends Node3D
## Something in the demo's world that the party shares: an avatar, the ball or the lamp. Its
## SoireeSync child keeps its transform in sync; its custom state is a little JSON object,
## {"kind": "avatar", "name": "Ada"}, so any program can tell what it is.

const COLORS := [
	Color(0.9, 0.35, 0.3),
	Color(0.3, 0.7, 0.4),
	Color(0.3, 0.5, 0.9),
	Color(0.9, 0.7, 0.2),
	Color(0.7, 0.4, 0.9),
	Color(0.2, 0.8, 0.8),
]

var kind := ""
var label := ""
var sync: SoireeSync
var _mesh: MeshInstance3D
var _label: Label3D


static func describe(kind_name: String, text: String) -> PackedByteArray:
	return JSON.stringify({"kind": kind_name, "name": text}).to_utf8_buffer()


## {"kind", "name"} from an object's state, or {} when it is not one of the demo's things.
static func read(state: PackedByteArray) -> Dictionary:
	var decoded := SoireeSync.decode_state(state)
	if decoded.is_empty():
		return {}
	var info: Variant = JSON.parse_string(decoded["custom"].get_string_from_utf8())
	if not info is Dictionary or not info.get("kind") is String:
		return {}
	return {"kind": info["kind"], "name": str(info.get("name", ""))}


func _init(kind_name := "avatar", text := "") -> void:
	kind = kind_name
	_mesh = MeshInstance3D.new()
	add_child(_mesh)
	_label = Label3D.new()
	_label.billboard = BaseMaterial3D.BILLBOARD_ENABLED
	_label.font_size = 48
	add_child(_label)
	sync = SoireeSync.new()
	sync.custom_state_received.connect(_on_custom_state)
	add_child(sync)
	_build()
	set_label(text)


func set_label(text: String) -> void:
	label = text
	_label.text = text
	sync.custom_state = describe(kind, text)
	if kind == "avatar":
		_paint(COLORS[hash(text) % COLORS.size()])


func _build() -> void:
	match kind:
		"avatar":
			var capsule := CapsuleMesh.new()
			capsule.radius = 0.35
			capsule.height = 1.6
			_mesh.mesh = capsule
			_mesh.position.y = 0.8
			_label.position.y = 2.0
		"ball":
			var sphere := SphereMesh.new()
			sphere.radius = 0.3
			sphere.height = 0.6
			_mesh.mesh = sphere
			_mesh.position.y = 0.3
			_label.position.y = 0.9
			_paint(Color(1.0, 0.5, 0.1))
		_:
			var lamp := CylinderMesh.new()
			lamp.top_radius = 0.15
			lamp.bottom_radius = 0.25
			lamp.height = 0.7
			_mesh.mesh = lamp
			_mesh.position.y = 0.35
			_label.position.y = 1.0
			_paint(Color(1.0, 0.95, 0.5), true)


func _paint(color: Color, glowing := false) -> void:
	var material := StandardMaterial3D.new()
	material.albedo_color = color
	if glowing:
		material.emission_enabled = true
		material.emission = color
	_mesh.material_override = material


func _on_custom_state(custom: PackedByteArray) -> void:
	var info: Variant = JSON.parse_string(custom.get_string_from_utf8())
	if info is Dictionary and info.get("name") is String and info["name"] != label:
		label = info["name"]
		_label.text = label
		if kind == "avatar":
			_paint(COLORS[hash(label) % COLORS.size()])
