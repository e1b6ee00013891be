"""One fuzz input through the relay's codec or its room state machine, with the invariants checked.

``exercise(data)`` reads the input as a small program. Its first byte chooses:

- **codec** (even): the rest is one message. Both directions are decoded strictly; what decodes
  encodes back to the same bytes, and the fast paths of UPDATE and PACKET agree with the codec.
- **room** (odd): four simulated clients (two of protocol version 1, two of version 2, in the
  game) share the lobby of an I/O-free ``RelayCore``; the rest is a list of operations: valid
  requests with fuzzed fields, raw messages (bytes taken from the input as they are), ticks of
  fuzzed length, dropped connections, resumes, new members. After every tick and at the end:

  - one owner: every object's owner and master are members of the room or nobody (0), and an
    epoch never has two owners;
  - only the owner's updates visible: every STATE a client receives is the body of an UPDATE
    that the owner of its epoch sent;
  - packets only from and to game peers, stamped with their true sender, in the order each
    sender sent them; nothing inside a snapshot (the views note any breach as an anomaly);
  - convergence: once traffic stops, every connected member's view is the relay's table;
  - no exception but the protocol's own: the codec raises only ``ProtocolError``, the core
    never fails a connection with 1011 and only ever closes a well-behaved client for reasons
    of its own making (a raw message may earn 4000, 4002 or 4005).

A broken invariant raises ``AssertionError`` (or the unexpected exception itself): a finding.
Used by ``bench/fuzz_relay.py`` (atheris, coverage-guided) and ``tests/relay/test_fuzz_invariants.py``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relay import protocol as p
from relay.protocol import (
    PACKET_EXCEPT,
    PACKET_MODE_MASK,
    PACKET_MORE,
    PACKET_RELIABLE,
    Answer,
    Ask,
    Close,
    Despawn,
    Event,
    Focus,
    Game,
    GameRole,
    Give,
    Goodbye,
    Join,
    Leave,
    Lifetime,
    ObjectInfo,
    Owner,
    Packet,
    PacketFrom,
    Release,
    Request,
    Rule,
    SetMaster,
    SetRule,
    Snapshot,
    Spawn,
    State,
    Update,
)
from relay.room import Room
from relay.view import RoomView
from tests.relay.sim import Sim, SimClient, relay_table

CLIENTS = 4
LOBBY = 1  # the lobby is the relay's first room: handle 1
RAW_CLOSES = {Close.PROTOCOL_ERROR, Close.HELLO_EXPECTED, Close.RATE_LIMITED}
OUTCOMES = ("codec ok", "codec refused", "room")
SETTLE_JUMP = 2.5  # seconds: longer than the World's ask timeout and grace window


class Input:
    """The fuzz input, read front to back; past its end every read is 0."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.at

    def byte(self) -> int:
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1]

    def u16(self) -> int:
        return self.byte() | self.byte() << 8

    def u32(self) -> int:
        return self.u16() | self.u16() << 16

    def bytes(self, n: int) -> bytes:
        chunk = self.data[self.at : self.at + n]
        self.at += len(chunk)
        return chunk


# --- codec ---------------------------------------------------------------------------------------


def _codec(message: bytes) -> str:
    ok = False
    try:
        records = p.decode_client_message(message, version=p.SUPPORTED_VERSIONS[1])
    except p.ProtocolError:
        pass
    else:
        ok = True
        assert b"".join(r.encode() for r in records) == message, "a client message re-encodes as sent"
    try:
        server = p.decode_server_message(message)
    except p.ProtocolError:
        pass
    else:
        ok = True
        for rec in server:
            assert type(rec).decode_body(rec.encode()[3:]) == rec, "a relay record round-trips"
    for type_, body in _records(message):
        if type_ == p.UPDATE_TYPE:
            _agree(_update_fields, lambda r: (r.room, r.object, r.epoch, r.position, r.state), p.Update, body)
        elif type_ == p.PACKET_TYPE:
            _agree(
                _packet_fields,
                lambda r: (r.room, r.flags, r.channel, r.lane, r.targets, r.payload),
                p.Packet,
                body,
            )
    return "codec ok" if ok else "codec refused"


def _update_fields(body: bytes) -> tuple[object, ...]:
    room, obj, epoch, pos, off = p.parse_update(body)
    return room, obj, epoch, pos, body[off:]


def _packet_fields(body: bytes) -> tuple[object, ...]:
    room, flags, channel, lane, targets, off = p.parse_packet(body)
    return room, flags, channel, lane, targets, body[off:]


def _agree(
    fast: Callable[[bytes], tuple[object, ...]],
    slow: Callable[[Any], tuple[object, ...]],
    cls: type[p.Record],
    body: bytes,
) -> None:
    """The hot path's parse of a body and the codec's agree: both refuse, or both read the same."""
    try:
        got: tuple[object, ...] | None = fast(body)
    except p.ProtocolError:
        got = None
    try:
        rec = cls.decode_body(body)
    except p.ProtocolError:
        rec = None
    assert (got is None) == (rec is None), f"{cls.__name__}: fast path and codec disagree on {body.hex()}"
    if rec is not None:
        assert got == slow(rec), f"{cls.__name__}: fast path reads {got}"


def _records(message: bytes) -> list[tuple[int, bytes]]:
    """The records a relay reads before any framing fault of the message."""
    out: list[tuple[int, bytes]] = []
    off = 0
    while off + 3 <= len(message):
        type_, length = struct.unpack_from("<BH", message, off)
        if off + 3 + length > len(message):
            break
        out.append((type_, message[off + 3 : off + 3 + length]))
        off += 3 + length
    return out


# --- the room state machine ----------------------------------------------------------------------


@dataclass
class World:
    sim: Sim = field(
        default_factory=lambda: Sim(
            cooldown=0.3, ask_timeout=1.0, grace=2.0, rate=300, burst=600, strike_limit=800
        )
    )
    slots: list[SimClient | None] = field(default_factory=list)
    dropped: list[SimClient | None] = field(default_factory=list)
    everyone: list[SimClient] = field(default_factory=list)
    raw_senders: set[int] = field(default_factory=set)  # connections (id) that sent raw bytes
    sent_bodies: dict[bytes, set[int]] = field(default_factory=dict)  # UPDATE body -> senders
    sent_payloads: dict[bytes, set[int]] = field(default_factory=dict)  # PACKET payload -> senders
    owner_at: dict[tuple[int, int], int] = field(default_factory=dict)  # (object, epoch) -> owner
    seq: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        for i in range(CLIENTS):
            self.slots.append(self._new_client(i))
            self.dropped.append(None)
        self.sim.tick()
        self.read_all()

    def _new_client(self, i: int) -> SimClient:
        self.generation += 1
        version = 2 if i >= CLIENTS // 2 else 1
        c = self.sim.client(f"fuzz{i}-{self.generation}", version=version)
        c.send(Join(c.req(), "lobby"))
        if version == 2:
            c.send(Game(c.req(), LOBBY, GameRole.HOST if i == CLIENTS - 1 else GameRole.PEER))
        self.everyone.append(c)
        return c

    @property
    def lobby(self) -> Room:
        return self.sim.core.rooms["lobby"]

    def member(self, n: int) -> int:
        c = self.slots[n % CLIENTS]
        return c.member if c is not None else n  # a non-member id now and then

    def obj(self, n: int) -> int:
        ids = sorted(self.lobby.objects)
        return ids[n % len(ids)] if ids and n < 200 else n

    def send(self, c: SimClient, *records: p.Record) -> None:
        self.register(c, b"".join(r.encode() for r in records))
        c.send(*records)

    def register(self, c: SimClient, message: bytes) -> None:
        """What a connection sent that may come back to others: UPDATE bodies, PACKET payloads."""
        for type_, body in _records(message):
            if type_ == p.UPDATE_TYPE:
                self.sent_bodies.setdefault(bytes(body), set()).add(c.member)
            elif type_ == p.PACKET_TYPE:
                try:
                    off = p.parse_packet(body)[5]
                except p.ProtocolError:
                    continue
                self.sent_payloads.setdefault(bytes(body[off:]), set()).add(c.member)

    def step(self, inp: Input) -> None:
        op = inp.byte() % 24
        i = inp.byte() % CLIENTS
        if op in (0, 1, 2):
            self.sim.tick([0.0, 0.034, 0.034, 0.2, 0.6, 2.5][inp.byte() % 6])
            self.read_all()
            self.check()
            return
        c = self.slots[i]
        if op == 3:  # a resume of a dropped connection
            old = self.dropped[i]
            if old is not None and c is None:
                new = self.sim.client(old.identity.name, hello=False)
                new.hello(token=old.token, versions=(1, 2))
                self.everyone.append(new)
                self.slots[i], self.dropped[i] = new, None
            return
        if op == 4:  # a new member in an empty slot
            if c is None and self.dropped[i] is None:
                self.slots[i] = self._new_client(i)
            return
        if c is None or c.conn.closing is not None:
            return
        req = inp.u16()
        if op == 5:
            self.send(
                c, Spawn(req, LOBBY, Rule(inp.byte() % 3), Lifetime(inp.byte() % 2), self.place(inp), b"s")
            )
        elif op in (6, 7):  # an update: by the owner at the current epoch (6), or anyone's guess (7)
            obj = self.lobby.objects.get(self.obj(inp.byte()))
            if obj is None:
                return
            epoch = obj.epoch if op == 6 else [obj.epoch, obj.epoch - 1, obj.epoch + 1, 0][inp.byte() % 4]
            sender = (
                next((x for x in self.slots if x is not None and x.member == obj.owner), c) if op == 6 else c
            )
            self.seq += 1
            self.send(sender, Update(LOBBY, obj.id, max(epoch, 0), self.place(inp), b"%d" % self.seq))
        elif op == 8:
            self.send(c, Request(req, LOBBY, self.obj(inp.byte())))
        elif op == 9:
            self.send(c, Give(req, LOBBY, self.obj(inp.byte()), self.member(inp.byte())))
        elif op == 10:
            self.send(c, Release(req, LOBBY, self.obj(inp.byte())))
        elif op == 11:
            self.send(c, SetRule(req, LOBBY, self.obj(inp.byte()), Rule(inp.byte() % 3)))
        elif op == 12:
            self.send(c, SetMaster(req, LOBBY, self.obj(inp.byte()), self.member(inp.byte())))
        elif op == 13:
            self.send(c, Despawn(req, LOBBY, self.obj(inp.byte())))
        elif op == 14:
            asks = c.of(Ask)
            ask = asks[-1] if asks else Ask(LOBBY, self.obj(inp.byte()), inp.byte(), 0)
            self.send(c, Answer(req, LOBBY, ask.object, ask.ask, inp.byte() & 1))
        elif op == 15:
            self.send(c, Focus(req, LOBBY, self.place(inp)))
        elif op == 16:
            targets = tuple(self.member(inp.byte()) for _ in range(inp.byte() % 4))
            self.send(c, Event(LOBBY, targets, inp.bytes(inp.byte() % 8)))
        elif op == 17 and c.conn.session is not None and c.conn.session.version >= 2:
            self.send(c, Game(req, LOBBY, GameRole(inp.byte() % 3)))
        elif op in (18, 19) and c.conn.session is not None and c.conn.session.version >= 2:
            self.packet(c, inp)
        elif op == 20:  # raw bytes from the input, as they are: the fuzzer's own messages
            message = inp.bytes(inp.byte() + 1)
            self.raw_senders.add(id(c.conn))
            self.register(c, message)
            c.send_raw(message)
        elif op == 21:
            self.send(c, Leave(req, LOBBY))
            self.slots[i] = None
        elif op == 22:  # the connection drops: the grace window starts
            self.sim.core.connection_lost(c.conn, self.sim.now, None)
            self.slots[i], self.dropped[i] = None, c
        elif op == 23:  # a normal close: the session ends
            self.sim.core.connection_lost(c.conn, self.sim.now, 1000)
            self.slots[i] = None

    @staticmethod
    def place(inp: Input) -> tuple[float, float, float] | None:
        where = inp.byte() % 5
        return None if where == 0 else (40.0 * (where - 1) ** 2, 0.0, 0.0)

    def packet(self, c: SimClient, inp: Input) -> None:
        flags = [PACKET_RELIABLE, 1, 2][inp.byte() % 3]
        extra = inp.byte()
        if extra & 1:
            flags |= PACKET_EXCEPT
        if extra & 2 and flags & PACKET_MODE_MASK == PACKET_RELIABLE:
            flags |= PACKET_MORE
        lane = 0 if flags & PACKET_MODE_MASK == PACKET_RELIABLE else inp.byte() % 3
        targets = tuple(self.member(inp.byte()) for _ in range(inp.byte() % 3))
        self.seq += 1
        self.send(c, Packet(LOBBY, flags, inp.byte() % 2, lane, targets, b"P%d:%d" % (c.member, self.seq)))

    def read_all(self) -> None:
        for c in self.everyone:
            c.read()

    def check(self) -> None:
        members = set(self.lobby.members)
        for obj in self.lobby.objects.values():
            assert obj.owner == 0 or obj.owner in members, "an owner is a member of the room or nobody"
            assert obj.master == 0 or obj.master in members, "a master is a member of the room or nobody"
            known = self.owner_at.setdefault((obj.id, obj.epoch), obj.owner)
            assert known == obj.owner, "one epoch, one owner"
        for c in self.everyone:
            self.check_client(c)

    def check_client(self, c: SimClient) -> None:
        goodbye = c.goodbye()
        assert goodbye is None or goodbye.code != Close.INTERNAL_ERROR, f"the relay failed: {goodbye}"
        if goodbye is not None and id(c.conn) not in self.raw_senders:
            assert goodbye.code not in RAW_CLOSES, f"a well-formed client was closed: {goodbye}"
        for view in c.views.values():
            assert view.anomalies == [], view.anomalies
        # Replay what this client received through a view of its own, record by record.
        view = RoomView(LOBBY)
        last_seq: dict[int, int] = {}
        live = False
        for rec in c.records:
            if isinstance(rec, Goodbye) or getattr(rec, "room", None) != LOBBY:
                continue
            if isinstance(rec, Snapshot):
                live = True
            if not live:
                continue
            if isinstance(rec, ObjectInfo | Owner):
                owner = rec.owner
                known = self.owner_at.setdefault((rec.object, rec.epoch), owner)
                assert known == owner, "one epoch, one owner, as every client sees it"
            elif isinstance(rec, State):
                obj = view.objects.get(rec.object)
                assert obj is not None and obj.epoch == rec.epoch, "a STATE of the epoch in force"
                body = rec.encode()[3:]
                assert obj.owner in self.sent_bodies.get(body, set()), "a STATE that its epoch's owner sent"
            elif isinstance(rec, PacketFrom):
                assert view.game_roles.get(c.member, GameRole.NONE) != GameRole.NONE, (
                    "a packet to a game peer"
                )
                assert rec.sender in view.game_roles, "a packet from a game peer"
                assert rec.sender in self.sent_payloads.get(rec.payload, set()), "stamped with its sender"
                if rec.payload.startswith(b"P%d:" % rec.sender):
                    seq = int(rec.payload.split(b":")[1])
                    assert seq > last_seq.get(rec.sender, 0), "packets from one sender in the order sent"
                    last_seq[rec.sender] = seq
            view.apply(rec)
        assert view.anomalies == [], view.anomalies

    def settle(self) -> None:
        # Asks time out and grace windows end (jumps longer than both, twice: an ending can
        # start an ask), and states a distance tier defers arrive (its slowest tier's ticks).
        slowest = max(ticks for _, ticks in self.sim.settings.interest_tiers)
        for _ in range(2):
            self.sim.tick(SETTLE_JUMP)
            for _ in range(slowest + 1):
                self.sim.tick()
        self.read_all()
        self.check()
        truth = relay_table(self.lobby)
        for c in self.slots:
            if c is not None and c.conn.closing is None and c.member in self.lobby.members:
                view = c.views.get(LOBBY)
                assert view is not None and view.synced, "a member has a synced view"
                assert view.table() == truth, "every connected member converges to the relay's table"


def exercise(data: bytes) -> str:
    """One input; returns its outcome (one of OUTCOMES), raises on a broken invariant."""
    if not data:
        return "codec refused"
    if not data[0] & 1:
        return _codec(data[1:])
    world = World()
    inp = Input(data[1:])
    steps = 0
    while inp.left > 0 and steps < 200:
        world.step(inp)
        steps += 1
    world.settle()
    return "room"
