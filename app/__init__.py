"""Soirée's host-facing front (dashboard, player and invite pages) and the process wiring."""
