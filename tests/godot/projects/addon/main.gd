extends Node
## Runs one scenario of the addon's tests: `scenario=<name>` picks res://scenarios/<name>.gd.
## Every other `key=value` argument reaches the scenario in `args`. The exit code is the
## scenario's: 0 when every check passed.


func _ready() -> void:
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var split := arg.find("=")
		if split > 0:
			args[arg.substr(0, split)] = arg.substr(split + 1)
	var path := "res://scenarios/%s.gd" % args.get("scenario", "")
	if not ResourceLoader.exists(path):
		print("no scenario at %s" % path)
		get_tree().quit(2)
		return
	var scenario: Node = load(path).new()
	scenario.args = args
	add_child(scenario)
	var code: int = await scenario.run()
	get_tree().quit(code)
