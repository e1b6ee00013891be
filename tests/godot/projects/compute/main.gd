extends Node
## Prints the sum of the primes below n (user argument "n=<int>") and quits with that sum mod 256.


func _ready() -> void:
	var n := 100
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("n="):
			n = int(arg.substr(2))
	var total := PrimeSum.below(n)
	print("sum_of_primes_below_%d=%d" % [n, total])
	get_tree().quit(total % 256)
