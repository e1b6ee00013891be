"""A member's session and the connection that currently carries it. Plain objects, no I/O.

A session outlives its connections: when a connection drops, the session waits out its grace
window with ``conn = None`` and a new connection may take it over with the resume token. A
connection's ``outbox`` holds wire-ready WebSocket frames; the server drains it and lowers
``outbox_bytes`` as the socket accepts them, which is how the core tells a slow client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from common.identity import Identity
from relay.protocol import PERM_HOST, PERM_PLAY, pack_messages

if TYPE_CHECKING:
    from relay.room import Room


def identity_bits(identity: Identity) -> int:
    bits = 0
    if identity.can_play:
        bits |= PERM_PLAY
    if identity.is_host:
        bits |= PERM_HOST
    return bits


def _cut_utf8(text: str, limit: int = 255) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits a ``str8``."""
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", errors="ignore")


class Session:
    __slots__ = (
        "conn",
        "connected_since",
        "ended",
        "grace_deadline",
        "id",
        "identity",
        "latency_ms",
        "name",
        "permissions",
        "rooms",
        "token",
        "user_id",
    )

    def __init__(self, member_id: int, identity: Identity, token: bytes, now_wall: float) -> None:
        self.id = member_id
        self.identity = identity
        self.user_id = _cut_utf8(identity.user_id)
        self.name = _cut_utf8(identity.name)
        self.permissions = identity_bits(identity)
        self.token = token
        self.conn: Conn | None = None
        self.rooms: dict[int, Room] = {}
        self.grace_deadline = 0.0
        self.connected_since = now_wall
        self.latency_ms: float | None = None
        self.ended = False

    @property
    def connected(self) -> bool:
        return self.conn is not None


class Conn:
    """One WebSocket connection, from upgrade to close."""

    __slots__ = (
        "bytes_in",
        "close",
        "held",
        "held_bytes",
        "held_overflow",
        "identity",
        "lagging_since",
        "last_recv",
        "opened_at",
        "outbox",
        "outbox_bytes",
        "ping_nonce",
        "ping_sent_at",
        "pinged_at",
        "resync",
        "session",
        "strikes",
        "tokens",
        "tokens_at",
        "wrap",
    )

    def __init__(self, identity: Identity, now: float, burst: int, wrap: Callable[[bytes], bytes]) -> None:
        self.identity = identity
        self.session: Session | None = None
        self.wrap = wrap
        self.outbox: list[bytes] = []
        self.outbox_bytes = 0
        self.close: tuple[int, str] | None = None
        self.opened_at = now
        self.last_recv = now
        self.pinged_at = now
        self.ping_nonce = 0
        self.ping_sent_at = 0.0
        self.tokens = float(burst)
        self.tokens_at = now
        self.strikes = 0.0
        self.lagging_since: float | None = None
        self.resync = False
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.held_overflow = False
        self.bytes_in = 0

    @property
    def lagging(self) -> bool:
        return self.lagging_since is not None

    def push(self, frames: list[bytes], nbytes: int) -> None:
        """Queue frames already wrapped for the wire (shared frames are wrapped once)."""
        if self.close is None:
            self.outbox.extend(frames)
            self.outbox_bytes += nbytes

    def send_records(self, records: Iterable[bytes]) -> None:
        if self.close is not None:
            return
        for message in pack_messages(records):
            frame = self.wrap(message)
            self.outbox.append(frame)
            self.outbox_bytes += len(frame)

    def hold(self, records: list[bytes], limit: int) -> None:
        """Keep answers and events for a lagging connection until it catches up."""
        self.held.extend(records)
        self.held_bytes += sum(len(r) for r in records)
        if self.held_bytes > limit:
            self.held_overflow = True

    def take_outbox(self) -> list[bytes]:
        frames, self.outbox = self.outbox, []
        return frames
