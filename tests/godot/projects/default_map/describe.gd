extends RefCounted
## A packed scene as stable text: what a loader sees before instancing (the SceneState, as V-Sekai's
## map validator reads it). Two saves of the same scene describe alike even when their bytes differ.
##
##     node <path> type=<class> groups=[...]
##       <property> = <value>
##
## Numbers are rounded to 4 decimals; a built-in resource is `Class#id(non-default properties)`,
## a resource from another file `ExtResource(<path>)`.


static func scene_state(state: SceneState) -> PackedStringArray:
	var lines := PackedStringArray()
	for i in state.get_node_count():
		lines.append(
			(
				"node %s type=%s groups=%s"
				% [state.get_node_path(i), state.get_node_type(i), Array(state.get_node_groups(i))]
			)
		)
		for j in state.get_node_property_count(i):
			var value := value_text(state.get_node_property_value(i, j))
			lines.append("  %s = %s" % [state.get_node_property_name(i, j), value])
	return lines


static func value_text(value: Variant) -> String:
	match typeof(value):
		TYPE_FLOAT:
			var text := "%.4f" % value
			return "0.0000" if text == "-0.0000" else text
		TYPE_VECTOR2, TYPE_VECTOR3, TYPE_VECTOR4, TYPE_QUATERNION, TYPE_COLOR:
			var parts := PackedStringArray()
			for k in _components(value):
				parts.append(value_text(float(k)))
			return "(%s)" % ", ".join(parts)
		TYPE_BASIS:
			return (
				"Basis(%s, %s, %s)"
				% [value_text(value.x), value_text(value.y), value_text(value.z)]
			)
		TYPE_TRANSFORM3D:
			return "Transform3D(%s, %s)" % [value_text(value.basis), value_text(value.origin)]
		TYPE_ARRAY:
			var items := PackedStringArray()
			for item: Variant in value:
				items.append(value_text(item))
			return "[%s]" % ", ".join(items)
		TYPE_OBJECT:
			if value is Resource:
				return _resource_text(value)
			return "Object(%s)" % value.get_class()
	return var_to_str(value)


static func _components(value: Variant) -> Array:
	match typeof(value):
		TYPE_VECTOR2:
			return [value.x, value.y]
		TYPE_VECTOR3:
			return [value.x, value.y, value.z]
		TYPE_COLOR:
			return [value.r, value.g, value.b, value.a]
	return [value.x, value.y, value.z, value.w]


static func _resource_text(resource: Resource) -> String:
	var path := resource.resource_path
	if not path.is_empty() and not path.contains("::"):
		return "ExtResource(%s)" % path
	var fresh: Object = ClassDB.instantiate(resource.get_class())
	var parts := PackedStringArray()
	for property in resource.get_property_list():
		var name: String = property["name"]
		if not property["usage"] & PROPERTY_USAGE_STORAGE or name.begins_with("resource_"):
			continue
		var own: Variant = resource.get(name)
		if fresh != null and _same(own, fresh.get(name)):
			continue
		parts.append("%s=%s" % [name, value_text(own)])
	return "%s#%s(%s)" % [resource.get_class(), path.get_slice("::", 1), ", ".join(parts)]


static func _same(a: Variant, b: Variant) -> bool:
	if typeof(a) == TYPE_OBJECT or typeof(b) == TYPE_OBJECT:
		return a == null and b == null
	return typeof(a) == typeof(b) and a == b
