"""Benchmarks; ``./soiree bench NAME`` runs one (see bench/README.md)."""
