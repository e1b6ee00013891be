"""A member's session and the connection that currently carries it. Plain objects, no I/O.

A session outlives its connections: when a connection drops, the session waits out its grace
window with ``conn = None`` and a new connection may take it over with the resume token. Rooms
reach a session only through its methods (``joined``, ``left``, ``push``, ``hold``), never
through its connection.

A connection queues wire-ready WebSocket frames. The server takes them (``take_outbox``),
writes them and reports what it wrote (``RelayCore.sent``); until then they count in
``queued_bytes``, which is how the core tells a slow client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from common.identity import PERM_HOST, PERM_PLAY, Identity
from relay.protocol import PERMISSION_BITS, STR8_MAX, pack_messages

if TYPE_CHECKING:
    from relay.room import Room


def permission_bits(identity: Identity) -> int:
    """The MEMBER_JOINED permission bits of an identity (a host may also play)."""
    bits = PERMISSION_BITS[PERM_PLAY] if identity.can_play else 0
    if identity.is_host:
        bits |= PERMISSION_BITS[PERM_HOST]
    return bits


def _cut_utf8(text: str, limit: int = STR8_MAX) -> str:
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
        "version",
    )

    def __init__(self, member_id: int, identity: Identity, token: bytes, now_wall: float) -> None:
        self.id = member_id
        self.identity = identity
        self.user_id = _cut_utf8(identity.user_id)
        self.name = _cut_utf8(identity.name)
        self.permissions = permission_bits(identity)
        self.token = token
        self.conn: Conn | None = None
        self.rooms: dict[int, Room] = {}
        self.grace_deadline = 0.0
        self.connected_since = now_wall
        self.latency_ms: float | None = None
        self.ended = False
        self.version = 1  # the protocol version its connection negotiated (HELLO)

    @property
    def connected(self) -> bool:
        return self.conn is not None

    # --- what rooms call ---------------------------------------------------------------------

    def joined(self, room: Room) -> None:
        self.rooms[room.handle] = room

    def left(self, room: Room) -> None:
        del self.rooms[room.handle]

    @property
    def lagging(self) -> bool:
        """Connected, but so far behind that it gets no room traffic until it catches up."""
        conn = self.conn
        return conn is not None and conn.lagging_since is not None

    def push(self, frames: list[bytes], nbytes: int) -> None:
        """Room traffic, already wrapped for the wire: dropped in the grace window and while the
        connection lags (a fresh snapshot follows either)."""
        conn = self.conn
        if conn is not None and conn.lagging_since is None:
            conn.push(frames, nbytes)

    def hold(self, records: list[bytes], limit: int) -> None:
        """Answers and events kept while the connection lags (see ``Conn.hold``)."""
        if self.conn is not None:
            self.conn.hold(records, limit)


class Conn:
    """One WebSocket connection, from upgrade to close."""

    __slots__ = (
        "_outbox",
        "bytes_in",
        "closing",
        "held",
        "held_bytes",
        "held_overflow",
        "identity",
        "lagging_since",
        "last_recv",
        "opened_at",
        "ping_nonce",
        "ping_sent_at",
        "pinged_at",
        "queued_bytes",
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
        self._outbox: list[bytes] = []
        # Read by the core and the server on every tick, so plain attributes; only this class's
        # methods set them.
        self.queued_bytes = 0  # bytes queued, or taken by the server and not yet reported written
        self.closing: tuple[int, str] | None = None  # (code, reason) once a close was asked
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

    @property
    def has_output(self) -> bool:
        return bool(self._outbox)

    # --- the core's output -------------------------------------------------------------------

    def push(self, frames: list[bytes], nbytes: int) -> None:
        """Queue frames already wrapped for the wire (shared frames are wrapped once)."""
        if self.closing is None:
            self._outbox.extend(frames)
            self.queued_bytes += nbytes

    def send_records(self, records: Iterable[bytes]) -> None:
        if self.closing is not None:
            return
        for message in pack_messages(records):
            frame = self.wrap(message)
            self._outbox.append(frame)
            self.queued_bytes += len(frame)

    def hold(self, records: list[bytes], limit: int) -> None:
        """Keep answers and events for a lagging connection until it catches up."""
        self.held.extend(records)
        self.held_bytes += sum(len(r) for r in records)
        if self.held_bytes > limit:
            self.held_overflow = True

    def release_held(self) -> None:
        """Caught up: what was kept follows the fresh snapshots."""
        self.send_records(self.held)
        self.held, self.held_bytes = [], 0

    def request_close(self, code: int, reason: str) -> None:
        """Queue nothing more but control frames; the first request's code is the one used."""
        if self.closing is None:
            self.closing = (code, reason)

    # --- what the server calls ---------------------------------------------------------------

    def queue_control(self, frame: bytes) -> None:
        """A control frame of the server's own (a pong, the close frame): queued even while
        closing, behind what is already queued."""
        self._outbox.append(frame)
        self.queued_bytes += len(frame)

    def take_outbox(self) -> list[bytes]:
        """The queued frames, for the server to write; they count as queued until reported."""
        frames, self._outbox = self._outbox, []
        return frames

    def sent(self, nbytes: int, rest: bytes = b"") -> None:
        """``nbytes`` of the frames taken were written; ``rest``, their unwritten tail, goes back
        to the head of the queue."""
        self.queued_bytes -= nbytes
        if rest:
            self._outbox.insert(0, rest)
