"""Soirée: the shared pieces and the host-facing front (dashboard, player page, wiring)."""
