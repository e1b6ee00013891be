"""The relay's tunable limits and timings. The defaults are the ones PROTOCOL.md documents.

Every limit reaches clients in WELCOME (``limits``), so a setting whose value does not fit its
WELCOME field, in either layout (``Welcome``, ``WelcomeV1``), is refused when the settings are
made, never when the first client says HELLO.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields, replace
from typing import Any

from relay.protocol import (
    MAX_MESSAGE,
    MAX_TIERS,
    PACKET_FROM_OVERHEAD,
    TOKEN_SIZE,
    Limit,
    Limits,
    ProtocolError,
    Welcome,
    WelcomeV1,
)


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
        if not 1 <= len(self.interest_tiers) <= MAX_TIERS:
            raise ValueError(f"between 1 and {MAX_TIERS} interest tiers")
        limits = self.limits()
        for name, value in self._wire_fields(limits):
            if not 0 <= value <= 0xFFFFFFFF:
                raise ValueError(f"{name} is {value}, which does not fit WELCOME's u32")
        v1 = WelcomeV1.of(1, 1, 0, bytes(TOKEN_SIZE), 0, limits)
        for name, kind in WelcomeV1._layout:  # version-1 clients are still served
            try:
                kind.encode(getattr(v1, name))
            except (ProtocolError, struct.error):
                raise ValueError(
                    f"{name} would be {getattr(v1, name)}, which does not fit its field in WELCOME_V1"
                ) from None
        Welcome(2, 1, 0, bytes(TOKEN_SIZE), 0, tuple(limits.items())).encode()

    def limits(self) -> Limits:
        """What WELCOME says of these settings (section 9.3): timings in milliseconds."""

        def ms(seconds: float) -> int:
            return round(seconds * 1000)

        limits: Limits = {
            Limit.TICK_HZ: self.tick_hz,
            Limit.PING_INTERVAL_MS: ms(self.ping_interval),
            Limit.IDLE_TIMEOUT_MS: ms(self.idle_timeout),
            Limit.HELLO_TIMEOUT_MS: ms(self.hello_timeout),
            Limit.GRACE_MS: ms(self.grace),
            Limit.ASK_TIMEOUT_MS: ms(self.ask_timeout),
            Limit.COOLDOWN_MS: ms(self.cooldown),
            Limit.MAX_MESSAGE: self.max_message,
            Limit.MAX_STATE: self.max_state,
            Limit.MAX_EVENT: self.max_event,
            Limit.MAX_PACKET: self.max_message - PACKET_FROM_OVERHEAD,
            Limit.MAX_ROOMS: self.max_rooms,
            Limit.MAX_ROOMS_PER_CONNECTION: self.max_rooms_per_connection,
            Limit.MAX_MEMBERS: self.max_members,
            Limit.MAX_OBJECTS: self.max_objects,
            Limit.MAX_OBJECTS_PER_MEMBER: self.max_objects_per_member,
            Limit.RATE: self.rate,
            Limit.BURST: self.burst,
            Limit.STRIKE_LIMIT: self.strike_limit,
            Limit.LAG_HIGH: self.lag_high,
            Limit.LAG_LOW: self.lag_low,
            Limit.LAG_TIMEOUT_MS: ms(self.lag_timeout),
            Limit.HELD_LIMIT: self.held_limit,
            Limit.UNRELIABLE_BACKLOG: self.unreliable_backlog,
            Limit.PERSIST_INTERVAL_MS: ms(self.persist_interval),
            Limit.INTEREST_CELL_MM: ms(self.interest_cell),
            Limit.MAX_OBJECTS_PER_ACCOUNT: self.max_objects_per_account,
            Limit.MAX_SAVED_PER_ACCOUNT: self.max_saved_per_account,
            Limit.MAX_SAVED_OBJECTS: self.max_saved_objects,
            Limit.MAX_SAVED_BYTES: self.max_saved_bytes,
            Limit.PLAYER_ROOMS: self.player_rooms,
        }
        for i, (cells, ticks) in enumerate(self.interest_tiers):
            limits[Limit.TIER_CELLS + i] = cells
            limits[Limit.TIER_TICKS + i] = ticks
        return limits

    @staticmethod
    def _wire_fields(limits: Limits) -> list[tuple[str, int]]:
        def name(i: int) -> str:
            if i >= Limit.TIER_TICKS:
                return f"interest_tiers[{i - Limit.TIER_TICKS}] ticks"
            if i >= Limit.TIER_CELLS:
                return f"interest_tiers[{i - Limit.TIER_CELLS}] cells"
            return Limit(i).name.lower()

        return [(name(i), v) for i, v in limits.items()]

    @property
    def tick_interval(self) -> float:
        return 1.0 / self.tick_hz

    def with_overrides(self, **overrides: Any) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)
