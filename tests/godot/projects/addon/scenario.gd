extends Node
## What every scenario shares: its arguments, checks that count failures, waiting with a timeout.
## A release build ignores assert(), so checks print "FAIL: ..." and the exit code tells.

var args := {}
var checks := 0
var failures := 0


## Overridden by each scenario; returns the exit code (see finish()).
func run() -> int:
	return finish()


func check(ok: bool, what: String) -> bool:
	checks += 1
	if not ok:
		failures += 1
		print("FAIL: %s" % what)
	return ok


func check_equal(actual: Variant, expected: Variant, what: String) -> bool:
	var same: bool = typeof(actual) == typeof(expected) and actual == expected
	return check(same, "%s: got %s, expected %s" % [what, var_to_str(actual), var_to_str(expected)])


## Waits (frame by frame) until `condition` holds; false and a failed check after `seconds`.
func wait_until(condition: Callable, seconds: float, what: String) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			return check(false, "timed out waiting for %s" % what)
		await get_tree().process_frame
	return true


func finish() -> int:
	print("checks: %d, failures: %d" % [checks, failures])
	return 0 if failures == 0 and checks > 0 else 1
