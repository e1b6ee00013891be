class_name PrimeSum
extends RefCounted
## Sums primes; a named class, so the project also proves `class_name` resolves in the packed game.


static func below(limit: int) -> int:
	var total := 0
	for candidate in range(2, limit):
		if is_prime(candidate):
			total += candidate
	return total


static func is_prime(value: int) -> bool:
	var divisor := 2
	while divisor * divisor <= value:
		if value % divisor == 0:
			return false
		divisor += 1
	return true
