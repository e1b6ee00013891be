"""The relay's tunable limits and timings. The defaults are the ones PROTOCOL.md documents."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from relay.protocol import MAX_MESSAGE


@dataclass(frozen=True)
class Settings:
    tick_hz: int = 30
    max_message: int = MAX_MESSAGE
    max_state: int = 16384
    max_event: int = 16384
    max_rooms: int = 64
    max_rooms_per_connection: int = 8
    max_members: int = 256
    max_objects: int = 4096
    max_objects_per_member: int = 128
    # Shares (PROTOCOL.md §12.4): per account, every object it spawned while it exists, and the
    # persistent ones among them; for the whole party, what is saved. Hosts: the party's caps only.
    max_objects_per_account: int = 256
    max_saved_per_account: int = 64
    max_saved_objects: int = 4096
    max_saved_bytes: int = 32 << 20
    player_rooms: int = 2  # rooms each player may have created at once; the host changes it (policy)
    rate: int = 300  # units per second: one per record plus one per full KiB of body
    burst: int = 600
    strike_limit: int = 1500  # dropped units (forgiven at rate/2 per second) before closing
    ask_timeout: float = 2.0
    cooldown: float = 0.5
    grace: float = 30.0
    ping_interval: float = 15.0
    idle_timeout: float = 60.0
    hello_timeout: float = 10.0
    lag_high: int = 1 << 20  # queued bytes at which a connection stops getting room traffic
    lag_low: int = 256 << 10  # queued bytes under which it gets a fresh snapshot and resumes
    lag_timeout: float = 10.0
    held_limit: int = 256 << 10  # answers and events kept for a lagging connection
    unreliable_backlog: int = 64 << 10  # queued bytes past which a receiver skips unreliable packets
    default_rooms: tuple[str, ...] = ("lobby",)
    interest_cell: float = 16.0
    # (largest Chebyshev distance in cells, send every Nth tick); the last tier has no bound
    interest_tiers: tuple[tuple[int, int], ...] = ((1, 1), (4, 3), (1 << 30, 10))
    persist_interval: float = 1.0
    gc_threshold: int = 20000  # allocations between young-generation collections (CPython: 700)

    def __post_init__(self) -> None:
        if not 1 <= self.tick_hz <= 1000:
            raise ValueError("tick_hz must be between 1 and 1000")
        # An OBJECT record (36 bytes of header and fields, then the state) must fit one message.
        if not 0 <= self.max_state <= self.max_message - 64:
            raise ValueError("max_state must leave room for a record header within max_message")
        if not 0 <= self.max_event <= self.max_message - 64:
            raise ValueError("max_event must leave room for a record header within max_message")
        if self.lag_low >= self.lag_high:
            raise ValueError("lag_low must be below lag_high")
        if self.unreliable_backlog < 0:
            raise ValueError("unreliable_backlog must not be negative")
        shares = ("max_objects_per_account", "max_saved_per_account", "max_saved_objects", "max_saved_bytes")
        for name in (*shares, "player_rooms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    @property
    def tick_interval(self) -> float:
        return 1.0 / self.tick_hz

    def with_overrides(self, **overrides: Any) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)
