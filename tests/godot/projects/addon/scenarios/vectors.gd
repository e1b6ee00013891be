extends "res://scenario.gd"
## The golden vectors (res://vectors/protocol.json, made from the Python codec): the addon's codec
## must decode every vector to the same fields, encode those fields to the same bytes, give the
## same verdict on every damaged message, and refuse what Python refuses to encode.

const P := preload("res://addons/soiree/protocol.gd")


func run() -> int:
	var text := FileAccess.get_file_as_string("res://vectors/protocol.json")
	var vectors: Dictionary = JSON.parse_string(text)
	for entry: Dictionary in vectors["records"]:
		_check_record(entry)
	for entry: Dictionary in vectors["messages"]:
		_check_message(entry)
	for entry: Dictionary in vectors["unencodable"]:
		var problems := []
		var bytes := P.encode_record(_record_from_json(entry), problems)
		check(
			bytes.is_empty() and problems.size() == 1, "encoding %s was not refused" % entry["why"]
		)
	print(
		(
			"vectors: %d records, %d messages, %d unencodable"
			% [vectors["records"].size(), vectors["messages"].size(), vectors["unencodable"].size()]
		)
	)
	return finish()


func _check_record(entry: Dictionary) -> void:
	var type: int = entry["type"]
	var data: PackedByteArray = entry["hex"].hex_decode()
	var what := "%s %s" % [P.name_of(type), entry["hex"].left(40)]
	var decoded := P.decode_message(data, P.is_from_relay(type))
	if check(decoded["error"] == "" and decoded["records"].size() == 1, "%s: %s" % [what, decoded]):
		_check_fields(decoded["records"][0], entry, what)
	var problems := []
	var encoded := P.encode_record(_record_from_json(entry), problems)
	check_equal(encoded.hex_encode(), entry["hex"], "encoding %s (%s)" % [what, problems])


func _check_message(entry: Dictionary) -> void:
	var data: PackedByteArray = entry["hex"].hex_decode()
	var what := "message %s" % entry["hex"].left(40)
	var decoded := P.decode_message(data, entry["from_relay"])
	if not entry["valid"]:
		check(decoded["error"] != "", "%s was accepted: %s" % [what, decoded["records"]])
		return
	if not check(decoded["error"] == "", "%s was refused: %s" % [what, decoded["error"]]):
		return
	var expected: Array = entry["records"]
	if check_equal(decoded["records"].size(), expected.size(), "%s record count" % what):
		for i in expected.size():
			_check_fields(decoded["records"][i], expected[i], "%s record %d" % [what, i])
		var encoded := P.encode_message(decoded["records"])
		# Types a client skips are not re-encoded; everything else must come back byte for byte.
		var skipped := _skipped_bytes(data, entry["from_relay"])
		check_equal(encoded.size() + skipped, data.size(), "%s re-encoded size" % what)


func _skipped_bytes(data: PackedByteArray, from_relay: bool) -> int:
	var skipped := 0
	var off := 0
	while off + 3 <= data.size():
		var length := data.decode_u16(off + 1)
		var type := data[off]
		if not P.LAYOUTS.has(type) or P.is_from_relay(type) != from_relay:
			skipped += 3 + length
		off += 3 + length
	return skipped


func _check_fields(record: Dictionary, entry: Dictionary, what: String) -> void:
	if not check_equal(record["type"], int(entry["type"]), "%s type" % what):
		return
	var expected: Dictionary = entry["fields"]
	for field: Array in P.LAYOUTS[record["type"]]:
		var name: String = field[0]
		var want: Variant = _value_from_json(field[1], expected[name])
		check_equal(record.get(name), want, "%s %s" % [what, name])


func _record_from_json(entry: Dictionary) -> Dictionary:
	var record := {"type": int(entry["type"])}
	for field: Array in P.LAYOUTS[record["type"]]:
		record[field[0]] = _value_from_json(field[1], entry["fields"][field[0]])
	return record


func _value_from_json(kind: int, value: Variant) -> Variant:
	var converted: Variant = value
	match kind:
		P.K_STR8:
			converted = String(value)
		P.K_TOKEN8, P.K_TOKEN16, P.K_REST:
			converted = String(value).hex_decode()
		P.K_POS:
			converted = null if value == null else Vector3(value[0], value[1], value[2])
		P.K_MEMBERS8:
			var members: Array[int] = []
			for member: Variant in value:
				members.append(int(member))
			converted = members
		P.K_LIMITS:
			var pairs: Array = []
			for pair: Variant in value:
				pairs.append([int(pair[0]), int(pair[1])])
			converted = pairs
		_:
			converted = int(value)
	return converted
