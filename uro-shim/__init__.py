"""A Uro-compatible HTTP API for the V-Sekai client."""
