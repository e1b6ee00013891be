"""The whole relay as a state machine free of I/O: connections, sessions, rooms, the tick.

The server (``relay/server.py``) drives it with four calls and moves bytes:

- ``open(identity, now)`` when an authenticated WebSocket opens → a :class:`Conn`;
- ``receive(conn, message, now)`` for each binary message;
- ``connection_lost(conn, now, code)`` when the socket is gone;
- ``tick(now)`` about ``tick_hz`` times a second.

Output accumulates in each connection's queue of wire-ready frames: ``take_wakeups()`` names
the connections that got some, the server takes them with ``Conn.take_outbox()`` and reports
what it wrote with ``sent(conn, frames, nbytes)``; ``Conn.closing`` asks it to close once the
queue is written. ``now`` is the driver's monotonic clock; the wall clock and the resume
tokens' randomness are handed in too, so that tests drive this class with simulated ones
(``tests/relay/sim.py``).

A new client record type is declared in ``protocol.py`` and handled here: in
``ROOM_HANDLERS`` if it acts on one room (a ``Room`` method does the work), else in
``RelayCore._session_handlers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from common.identity import Identity
from relay.protocol import (
    GAME_VERSION,
    PACKET_FROM_OVERHEAD,
    PACKET_MODE_MASK,
    PACKET_MORE,
    PACKET_RELIABLE,
    PACKET_TYPE,
    SESSION_ENDING_CLOSES,
    SUPPORTED_VERSIONS,
    UPDATE_TYPE,
    Answer,
    Close,
    Despawn,
    Event,
    Focus,
    Game,
    Give,
    Goodbye,
    Hello,
    Join,
    Leave,
    LeaveReason,
    Limit,
    Notice,
    Ping,
    Pong,
    ProtocolError,
    Record,
    Refused,
    Release,
    Request,
    Result,
    ServerPing,
    ServerPong,
    SetMaster,
    SetRule,
    Spawn,
    Status,
    Welcome,
    WelcomeV1,
    decode_client_record,
    parse_packet,
    parse_update,
    rate_cost,
    split_records,
    valid_room_name,
)
from relay.quotas import Quotas
from relay.room import PersistedObject, Room
from relay.session import Conn, Session
from relay.settings import Settings

MAX_HANDLE = 0xFFFF

log = logging.getLogger("relay")


# Records that act on one room: what each does there, given (room, session, record, now).
ROOM_HANDLERS: dict[type[Record], Callable[[Room, Session, Any, float], None]] = {
    Leave: lambda room, s, r, now: room.leave(s, LeaveReason.LEFT, now, r.req),
    Focus: lambda room, s, r, now: room.focus(s, r.req, r.position),
    Spawn: lambda room, s, r, now: room.spawn(s, r.req, r.rule, r.lifetime, r.position, r.state),
    Despawn: lambda room, s, r, now: room.despawn(s, r.req, r.object),
    Request: lambda room, s, r, now: room.request(s, r.req, r.object, now),
    Release: lambda room, s, r, now: room.release(s, r.req, r.object, now),
    Give: lambda room, s, r, now: room.give(s, r.req, r.object, r.member, now),
    SetMaster: lambda room, s, r, now: room.set_master(s, r.req, r.object, r.member),
    SetRule: lambda room, s, r, now: room.set_rule(s, r.req, r.object, r.rule),
    Answer: lambda room, s, r, now: room.answer(s, r.req, r.object, r.ask, bool(r.grant), now),
    Game: lambda room, s, r, now: room.game(s, r.req, r.role),
}


@dataclass
class Counters:
    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    protocol_errors: int = 0
    rate_limited: int = 0
    # counts of rooms that have ended, so that totals never go back
    updates: int = 0
    refused: int = 0
    coalesced: int = 0
    packets_in: int = 0
    packets_out: int = 0
    packets_coalesced: int = 0
    packets_dropped: int = 0


@dataclass
class Rates:
    """Per-second rates over the last sampling window, for the stats endpoint."""

    window: float = 2.0
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    def sample(self, now: float, values: dict[str, int]) -> None:
        self.samples.append((now, values))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.pop(0)

    def per_second(self) -> dict[str, float]:
        if len(self.samples) < 2:
            return {}
        (t0, a), (t1, b) = self.samples[0], self.samples[-1]
        span = t1 - t0
        if span <= 0:
            return {}
        return {k: round((b[k] - a.get(k, 0)) / span, 2) for k in b}


class RelayCore:
    """``wall()`` is the wall clock in unix seconds (the server times of WELCOME and PING),
    ``token_source()`` a new unpredictable 16-byte resume token per call, and ``wrap`` turns a
    message into its wire frame."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        wall: Callable[[], float],
        token_source: Callable[[], bytes],
        wrap: Callable[[bytes], bytes] = bytes,
        elsewhere: Callable[[str], int | None] = lambda name: None,
    ) -> None:
        self.settings = settings or Settings()
        self.elsewhere = elsewhere  # the relay process holding a room placed on another, or None
        self.wrap = wrap
        self.wall = wall
        self.token_source = token_source
        self.sessions: dict[int, Session] = {}
        self.by_token: dict[bytes, Session] = {}
        self.conns: set[Conn] = set()
        self.rooms: dict[str, Room] = {}
        self.handles: dict[int, Room] = {}
        self.quotas = Quotas(self.settings)  # every account's share, across rooms and sessions
        self.next_member = 1
        self.counters = Counters()
        self.rates = Rates()
        self._wake: set[Conn] = set()
        self._noticed: set[tuple[Conn, int, Status]] = set()  # packet notices outside rooms, this tick
        self._refused: set[tuple[Conn, int, int]] = set()  # REFUSED outside rooms, this tick
        self._last_sample = float("-inf")
        self._limits = self.settings.limits()
        self._session_handlers: dict[type[Record], Callable[[Conn, Session, Any, float], None]] = {
            Ping: self._on_ping,
            Pong: self._on_pong,
            Join: self._on_join,
            Event: self._on_event,
        }
        for name in self.settings.default_rooms:
            self._create_room(name)

    # --- the server's calls -------------------------------------------------------------------

    def open(self, identity: Identity, now: float) -> Conn:
        conn = Conn(identity, now, self.settings.burst, self.wrap)
        self.conns.add(conn)
        return conn

    def receive(self, conn: Conn, message: bytes, now: float) -> None:
        if conn.closing is not None:
            return
        conn.last_recv = now
        conn.bytes_in += len(message)
        self.counters.messages_in += 1
        self.counters.bytes_in += len(message)
        try:
            self._receive(conn, message, now)
        except ProtocolError as exc:
            self.counters.protocol_errors += 1
            self.close(conn, Close.PROTOCOL_ERROR, str(exc), now)
        except Exception:
            # A fault of the relay's own: it ends this connection (its session waits out its
            # grace window), never the relay and never anyone else's.
            log.exception("closing a connection whose message the relay failed to handle")
            self.close(conn, Close.INTERNAL_ERROR, "the relay failed to handle this message", now)

    def connection_lost(self, conn: Conn, now: float, code: int | None = None) -> None:
        """The socket is gone. ``code`` is the close code the client sent, if it sent one."""
        self.conns.discard(conn)
        self._wake.discard(conn)
        session = conn.session
        if session is None or session.conn is not conn:
            return  # never said hello, was replaced, or was already detached by close()
        if code in SESSION_ENDING_CLOSES:
            self._end_session(session, LeaveReason.DISCONNECTED, now)
        else:
            self._detach(session, now)

    def tick(self, now: float) -> None:
        s = self.settings
        idle_timeout, ping_interval, lag_high = s.idle_timeout, s.ping_interval, s.lag_high
        for conn in list(self.conns):
            if conn.closing is not None:
                continue
            session = conn.session
            if session is None:
                if now - conn.opened_at > s.hello_timeout:
                    self.close(conn, Close.HELLO_EXPECTED, "no HELLO received", now)
                continue
            if now - conn.last_recv > idle_timeout:
                self.close(conn, Close.IDLE, f"nothing received for {idle_timeout:g} s", now)
                continue
            if now - conn.pinged_at >= ping_interval:
                conn.pinged_at = now
                conn.ping_nonce = (conn.ping_nonce + 1) & 0xFFFFFFFF
                conn.ping_sent_at = now
                self._send(conn, ServerPing(conn.ping_nonce, self._wall_ms()).encode())
            if conn.lagging_since is not None or conn.queued_bytes > lag_high:  # else nothing to check
                self._check_lag(conn, session, now)
        for session in [x for x in self.sessions.values() if x.conn is None and x.grace_deadline <= now]:
            self._end_session(session, LeaveReason.DISCONNECTED, now)
        for room in list(self.rooms.values()):
            room.expire_asks(now)
            room.flush()
        for conn in self.conns:
            if conn.resync and conn.closing is None:
                conn.resync = False
                conn.release_held()
            if conn.has_output:
                self._wake.add(conn)
        for room in [r for r in self.rooms.values() if r.empty and r.name not in s.default_rooms]:
            del self.rooms[room.name]
            del self.handles[room.handle]
            if room.creator:
                self.quotas.room_ended(room.creator)
            self.counters.updates += room.updates
            self.counters.refused += room.refused
            self.counters.coalesced += room.coalesced
            self.counters.packets_in += room.packets_in
            self.counters.packets_out += room.packets_out
            self.counters.packets_coalesced += room.packets_coalesced
            self.counters.packets_dropped += room.packets_dropped
        if self._noticed:
            self._noticed.clear()
        if self._refused:
            self._refused.clear()
        if now - self._last_sample >= 1.0:
            self._last_sample = now
            self.rates.sample(now, self.totals())

    def take_wakeups(self) -> set[Conn]:
        wake, self._wake = self._wake, set()
        return wake

    def sent(self, conn: Conn, frames: list[bytes], nbytes: int) -> None:
        """The server wrote ``nbytes`` of ``frames`` (from ``conn.take_outbox()``); the rest
        goes back to the head of the connection's queue."""
        self.counters.messages_out += len(frames)
        self.counters.bytes_out += nbytes
        total = len(frames[0]) if len(frames) == 1 else sum(map(len, frames))
        conn.sent(nbytes, b"".join(frames)[nbytes:] if nbytes < total else b"")

    def close(self, conn: Conn, code: int, reason: str, now: float) -> None:
        """Say GOODBYE and ask the server to close; the session lives on unless kicked.

        What this tick already produced for the connection (answers to the records that led
        here, a REFUSED(RATE_LIMITED) before a close for the rate) goes before the GOODBYE."""
        if conn.closing is not None:
            return
        session = conn.session
        if session is not None and session.conn is conn and conn.lagging_since is None:
            conn.send_records([rec for room in session.rooms.values() for rec in room.take_pending(session)])
        conn.send_records([Goodbye(code, reason[:200]).encode()])
        conn.request_close(code, reason[:120])
        self._wake.add(conn)
        if session is not None and session.conn is conn:
            if code == Close.KICKED:
                self._end_session(session, LeaveReason.KICKED, now)
            else:
                self._detach(session, now)

    def shutdown(self, now: float) -> None:
        for conn in list(self.conns):
            self.close(conn, Close.SHUTTING_DOWN, "the relay is stopping", now)

    # --- sessions -------------------------------------------------------------------------------

    def _wall_ms(self) -> int:
        return int(self.wall() * 1000)

    def _send(self, conn: Conn, record: bytes) -> None:
        conn.send_records([record])
        self._wake.add(conn)

    def _detach(self, session: Session, now: float) -> None:
        """The connection is gone: the grace window starts."""
        conn = session.conn
        session.conn = None
        session.grace_deadline = now + self.settings.grace
        if conn is not None:
            conn.lagging_since = None
        for room in list(session.rooms.values()):
            room.disconnected(session)

    def _end_session(self, session: Session, reason: LeaveReason, now: float) -> None:
        if session.ended:
            return
        session.ended = True
        for room in list(session.rooms.values()):
            room.leave(session, reason, now)
        self.sessions.pop(session.id, None)
        self.by_token.pop(session.token, None)
        session.conn = None

    def _hello(self, conn: Conn, hello: Hello, now: float) -> None:
        lo, hi = SUPPORTED_VERSIONS
        version = min(hi, hello.max_version)
        if version < max(lo, hello.min_version):
            self.close(conn, Close.UNSUPPORTED_VERSION, f"relay speaks protocol versions {lo}..{hi}", now)
            return
        session = self.by_token.get(hello.token) if hello.token else None
        resumed = session is not None and session.user_id == conn.identity.user_id and not session.ended
        returning = False  # back from its grace window: the rooms learn it is connected again
        if session is not None and resumed:
            old = session.conn
            returning = old is None
            if old is not None:
                session.conn = None  # so closing the old connection does not start a grace window
                self.close(old, Close.REPLACED, "the session was resumed on another connection", now)
        else:
            token = self.token_source()
            session = Session(self.next_member, conn.identity, token, self.wall())
            self.next_member += 1
            self.sessions[session.id] = session
            self.by_token[token] = session
        session.conn = conn
        session.connected_since = self.wall()
        session.version = version
        conn.session = session
        head = (version, session.id, int(resumed), session.token, self._wall_ms())
        if version >= GAME_VERSION:
            limits = {**self._limits, Limit.PLAYER_ROOMS: self.quotas.player_rooms}  # the host's, now
            welcome: Record = Welcome(*head, tuple(limits.items()))
        else:
            welcome = WelcomeV1.of(*head, self._limits)
        self._send(conn, welcome.encode())
        for room in session.rooms.values():
            room.leave_game(session)  # a no-op unless the old connection was replaced, not dropped
            if returning:
                room.reconnected(session)
            room.resync(session)

    def _check_lag(self, conn: Conn, session: Session, now: float) -> None:
        s = self.settings
        if conn.lagging_since is None:
            if conn.queued_bytes > s.lag_high:
                if self._in_game(session):  # packets cannot be recreated by a snapshot
                    self.close(conn, Close.TOO_SLOW, "a game peer could not keep up", now)
                    return
                conn.lagging_since = now
            return
        if self._in_game(session):  # joined a game while behind
            self.close(conn, Close.TOO_SLOW, "a game peer could not keep up", now)
        elif conn.held_overflow or now - conn.lagging_since > s.lag_timeout:
            self.close(conn, Close.TOO_SLOW, "the connection could not keep up", now)
        elif conn.queued_bytes < s.lag_low:
            conn.lagging_since = None
            conn.resync = True
            for room in session.rooms.values():
                room.resync(session)

    @staticmethod
    def _in_game(session: Session) -> bool:
        return any(session.id in room.roles for room in session.rooms.values())

    # --- records ----------------------------------------------------------------------------------

    def _spend(self, conn: Conn, cost: int, now: float, owe: bool = False) -> bool:
        """Take ``cost`` units from the connection's bucket. Without enough, the record is
        dropped, unless ``owe``: then it is carried and the bucket goes below zero (a reliable
        packet is never dropped). Either way the shortfall counts towards closing with 4005."""
        s = self.settings
        elapsed = now - conn.tokens_at
        if elapsed:  # several records of one message come at the same time: nothing to refill
            conn.tokens_at = now
            refill = elapsed * s.rate
            tokens = conn.tokens + refill
            conn.tokens = tokens if tokens < s.burst else float(s.burst)
            if conn.strikes:
                strikes = conn.strikes - refill / 2
                conn.strikes = strikes if strikes > 0 else 0.0
        tokens = conn.tokens
        if tokens >= cost:
            conn.tokens = tokens - cost
            return True
        if owe:
            conn.tokens -= cost
        else:
            self.counters.rate_limited += 1
        conn.strikes += cost  # past strike_limit, _receive closes once this record is answered
        return owe

    def _receive(self, conn: Conn, message: bytes, now: float) -> None:
        packet_bytes = -1  # payload bytes of this message's PACKET records so far (-1: none yet)
        strike_limit = self.settings.strike_limit
        for type_, body in split_records(message):
            if conn.closing is not None:
                return
            if conn.strikes > strike_limit:  # the record before was over the limit, and answered
                self.close(conn, Close.RATE_LIMITED, "kept sending far above the rate limit", now)
                return
            session = conn.session
            if session is None:
                if type_ != Hello.TYPE:
                    self.counters.protocol_errors += 1
                    self.close(conn, Close.HELLO_EXPECTED, "the first record must be HELLO", now)
                    return
                rec = decode_client_record(type_, body)
                assert isinstance(rec, Hello)
                self._hello(conn, rec, now)
                continue
            if type_ == UPDATE_TYPE:
                self._on_update(conn, session, body, now)
                continue
            if type_ == PACKET_TYPE and session.version >= GAME_VERSION:
                packet_bytes = self._on_packet(conn, session, body, now, packet_bytes)
                continue
            rec = decode_client_record(type_, body, session.version)
            if isinstance(rec, Hello):
                raise ProtocolError("HELLO sent twice")
            if not isinstance(rec, Ping | Pong) and not self._spend(conn, rate_cost(body), now):
                self._answer(conn, session, rec, Status.RATE_LIMITED)
                continue
            handler = self._session_handlers.get(type(rec))
            if handler is not None:
                handler(conn, session, rec, now)
            else:
                room = self._room(conn, session, rec)
                if room is not None:
                    ROOM_HANDLERS[type(rec)](room, session, rec, now)
        if conn.strikes > strike_limit and conn.closing is None:
            self.close(conn, Close.RATE_LIMITED, "kept sending far above the rate limit", now)

    def _answer(self, conn: Conn, session: Session, rec: Record, status: Status) -> None:
        """Answer a record that was not carried out, in its room's stream when it names one."""
        room = session.rooms.get(getattr(rec, "room", -1))
        if isinstance(rec, Event):
            if room is not None:
                room.notice(session, status, Event.TYPE)
            else:
                self._send(conn, Notice(status, Event.TYPE, rec.room).encode())
            return
        req: int = getattr(rec, "req", 0)
        if room is not None:
            room.result(session, req, status)
        else:
            self._send(conn, Result(req, status).encode())

    def _room(self, conn: Conn, session: Session, rec: Record) -> Room | None:
        room = session.rooms.get(getattr(rec, "room", -1))
        if room is None:
            self._answer(conn, session, rec, Status.UNKNOWN_ROOM)
        return room

    def _on_update(self, conn: Conn, session: Session, body: bytes, now: float) -> None:
        room_h, oid, epoch, pos, off = parse_update(body)
        room = session.rooms.get(room_h)
        ok = self._spend(conn, rate_cost(body), now)
        if room is None:
            if (conn, room_h, oid) not in self._refused:  # at most one per object per tick
                self._refused.add((conn, room_h, oid))
                status = Status.UNKNOWN_ROOM if ok else Status.RATE_LIMITED
                self._send(conn, Refused(room_h, oid, 0, status).encode())
        elif not ok:
            room.refuse(session, oid, Status.RATE_LIMITED)
        else:
            room.update(session, oid, epoch, pos, body, off)

    def _on_packet(self, conn: Conn, session: Session, body: bytes, now: float, billed: int) -> int:
        """A PACKET. The PACKET records of one message cost one unit together plus one per full
        KiB of their payloads: ``billed`` is what the earlier ones carried (-1: none). Returns
        it with this one's payload added."""
        room_h, flags, channel, lane, targets, off = parse_packet(body)
        size = len(body) - off
        limit = self.settings.max_message - PACKET_FROM_OVERHEAD
        if size > limit:
            raise ProtocolError(f"a packet's payload is at most {limit} bytes (one PACKET_FROM)")
        before = max(billed, 0)
        cost = int(billed < 0) + (before + size) // 1024 - before // 1024
        room = session.rooms.get(room_h)
        owe = (
            flags & PACKET_MODE_MASK == PACKET_RELIABLE
            or bool(flags & PACKET_MORE)
            or (room is not None and room.carries(session))
        )
        ok = self._spend(conn, cost, now, owe)
        if room is None:
            self._notice_once(conn, room_h, Status.UNKNOWN_ROOM if ok else Status.RATE_LIMITED)
        elif not ok:
            room.packet_notice(session, Status.RATE_LIMITED)
        else:
            room.packet(session, flags, channel, lane, targets, body[off:])
        return before + size

    def _notice_once(self, conn: Conn, room: int, status: Status) -> None:
        key = (conn, room, status)
        if key not in self._noticed:
            self._noticed.add(key)
            self._send(conn, Notice(status, PACKET_TYPE, room).encode())

    def _on_ping(self, conn: Conn, session: Session, rec: Record, now: float) -> None:
        assert isinstance(rec, Ping)
        self._send(conn, ServerPong(rec.nonce, self._wall_ms()).encode())

    def _on_pong(self, conn: Conn, session: Session, rec: Record, now: float) -> None:
        assert isinstance(rec, Pong)
        if rec.nonce == conn.ping_nonce and conn.ping_sent_at:
            session.latency_ms = round((now - conn.ping_sent_at) * 1000, 1)

    def _on_join(self, conn: Conn, session: Session, rec: Record, now: float) -> None:
        assert isinstance(rec, Join)
        s = self.settings
        if not valid_room_name(rec.name):
            self._send(conn, Result(rec.req, Status.INVALID_NAME).encode())
            return
        room = self.rooms.get(rec.name)
        if room is None and (where := self.elsewhere(rec.name)) is not None:
            self._send(conn, Result(rec.req, Status.ELSEWHERE, where).encode())
            return
        if room is not None and session.id in room.members:
            self._send(conn, Result(rec.req, Status.ALREADY_JOINED).encode())
            return
        if len(session.rooms) >= s.max_rooms_per_connection:
            self._send(conn, Result(rec.req, Status.TOO_MANY_ROOMS).encode())
            return
        if room is None:
            identity = session.identity
            if not self.quotas.may_create_room(identity.user_id, identity.is_host):
                self._send(conn, Result(rec.req, Status.QUOTA).encode())
                return
            if len(self.rooms) >= s.max_rooms:
                self._send(conn, Result(rec.req, Status.TOO_MANY_ROOMS).encode())
                return
            room = self._create_room(rec.name, identity.user_id)
            self.quotas.room_created(identity.user_id, session.name, identity.is_host)
        room.join(session, rec.req)

    def _on_event(self, conn: Conn, session: Session, rec: Record, now: float) -> None:
        assert isinstance(rec, Event)
        room = self._room(conn, session, rec)
        if room is None:
            return
        if len(rec.payload) > self.settings.max_event:
            self._answer(conn, session, rec, Status.TOO_LARGE)
            return
        room.event(session, rec.targets, rec.payload)

    # --- rooms ------------------------------------------------------------------------------------

    def _create_room(self, name: str, creator: str = "") -> Room:
        handle = next(h for h in range(1, MAX_HANDLE + 1) if h not in self.handles)
        room = Room(name, handle, self.settings, self.wrap, self.quotas, creator)
        self.rooms[name] = room
        self.handles[handle] = room
        return room

    def restore(self, saved: list[PersistedObject]) -> int:
        """Objects saved before a restart; rooms are created as needed, over any room limit, and
        count again toward the accounts that created them."""
        for obj in saved:
            if not valid_room_name(obj.room):
                continue
            room = self.rooms.get(obj.room)
            if room is None:
                room = self._create_room(obj.room, obj.room_creator)
                self.quotas.room_created(obj.room_creator)
            room.restore(obj)
        return len(saved)

    def take_persistence(self) -> tuple[list[PersistedObject], list[tuple[str, int]]]:
        """Persistent objects changed or gone since the last call."""
        upserts: list[PersistedObject] = []
        deletes: list[tuple[str, int]] = []
        for room in self.rooms.values():
            changed, gone = room.take_persistence()
            upserts.extend(changed)
            deletes.extend((room.name, oid) for oid in gone)
        return upserts, deletes

    # --- moderation (the admin endpoint) ------------------------------------------------------------

    def end_user(self, user_id: str, reason: str, now: float) -> int:
        """The account signed out or was removed: every connection and session of it ends at once
        (GOODBYE 4003 with ``reason``). Returns how many sessions ended."""
        ended = 0
        for conn in [c for c in self.conns if c.identity.user_id == user_id]:
            if conn.session is not None and conn.session.conn is conn:
                ended += 1
            self.close(conn, Close.KICKED, reason, now)  # one not welcomed yet gets no session
        for session in [x for x in self.sessions.values() if x.identity.user_id == user_id]:
            ended += 1  # in its grace window
            self._end_session(session, LeaveReason.KICKED, now)
        return ended

    def clear_user(self, user_id: str) -> int:
        """Everything the account spawned goes, in every room, saved objects included (rooms it
        created go too once nobody is in them). Returns how many objects were despawned."""
        return sum(room.clear(user_id) for room in list(self.rooms.values()))

    def kick(self, room_name: str, member: int, now: float) -> bool:
        room = self.rooms.get(room_name)
        if room is None or member not in room.members:
            return False
        session = room.members[member].session
        if session.conn is not None:
            self.close(session.conn, Close.KICKED, "removed by the host", now)
        else:
            self._end_session(session, LeaveReason.KICKED, now)
        return True

    def totals(self) -> dict[str, int]:
        c = self.counters
        rooms = self.rooms.values()
        return {
            "messages_in": c.messages_in,
            "bytes_in": c.bytes_in,
            "messages_out": c.messages_out,
            "bytes_out": c.bytes_out,
            "updates": c.updates + sum(r.updates for r in rooms),
            "refused_updates": c.refused + sum(r.refused for r in rooms),
            "coalesced_updates": c.coalesced + sum(r.coalesced for r in rooms),
            "packets_in": c.packets_in + sum(r.packets_in for r in rooms),
            "packets_out": c.packets_out + sum(r.packets_out for r in rooms),
            "packets_coalesced": c.packets_coalesced + sum(r.packets_coalesced for r in rooms),
            "packets_dropped": c.packets_dropped + sum(r.packets_dropped for r in rooms),
            "protocol_errors": c.protocol_errors,
            "rate_limited": c.rate_limited,
        }
