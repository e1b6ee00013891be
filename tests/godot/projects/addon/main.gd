extends Node
## Runs scenarios of the addon's tests: `scenario=<name>[,<name>...]` runs
## res://scenarios/<name>.gd one after the other (each prints "== <name>" first). Every other
## `key=value` argument reaches the scenarios in `args`. The exit code is 0 when every check of
## every scenario passed.


func _ready() -> void:
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var split := arg.find("=")
		if split > 0:
			args[arg.substr(0, split)] = arg.substr(split + 1)
	var code := 0
	for name in str(args.get("scenario", "")).split(","):
		code = maxi(code, await _run(name, args))
	get_tree().quit(code)


func _run(name: String, args: Dictionary) -> int:
	print("== %s" % name)
	var path := "res://scenarios/%s.gd" % name
	if not ResourceLoader.exists(path):
		print("FAIL: no scenario at %s" % path)
		return 2
	var scenario: Node = load(path).new()
	scenario.args = args
	add_child(scenario)
	var code: int = await scenario.run()
	scenario.queue_free()
	return code
