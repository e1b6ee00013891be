"""The Soirée relay: an ownership-locking state relay over WebSocket."""
