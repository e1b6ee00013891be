"""Random operation sequences through the I/O-free core, checking the model's invariants.

Members move their focus around objects near, mid-distance and far, so the distance tiers
(delayed states) are exercised too.

- every object has exactly one owner at a time: a member of the room, or nobody (0);
- a member only ever sees states written by the owner of the epoch they carry;
- views never see a state from an epoch they have left (no anomalies);
- once traffic stops, every connected member's view equals the relay's table.

And for the game (protocol version 2), members taking and dropping roles, grabbing an object,
falling behind, dropping, resuming and leaving while they send packets of every kind:

- packets from one sender arrive in the order sent, stamped with that sender;
- nobody receives a packet from a member that is not a game peer, after that member's
  GAME_PEER(0), or inside a snapshot (the views note any of these as anomalies);
- a reliable packet reaches every receiver it names, unless that receiver leaves the game first
  (PROTOCOL.md §15.6): its connection ends, or in the packet's tick it leaves the room, or gives
  up its role while its connection is behind when the tick goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from relay.protocol import (
    PACKET_EXCEPT,
    PACKET_RELIABLE,
    PACKET_UNRELIABLE,
    PACKET_UNRELIABLE_ORDERED,
    Answer,
    Ask,
    Despawn,
    Focus,
    Game,
    GameRole,
    Give,
    Join,
    Leave,
    Lifetime,
    Packet,
    PacketFrom,
    Release,
    Request,
    Rule,
    SetMaster,
    SetRule,
    Spawn,
    State,
    Update,
)
from relay.room import Room
from tests.relay.sim import Sim, SimClient, relay_table

CLIENTS = 4
clients = st.integers(0, CLIENTS - 1)
objects = st.integers(0, 7)  # index into the objects spawned so far
rules = st.sampled_from(list(Rule))

places = st.sampled_from([None, (0.0, 0.0, 0.0), (40.0, 0.0, 0.0), (200.0, 0.0, 0.0)])  # near, mid, far
spawn = st.tuples(st.just("spawn"), clients, rules, st.sampled_from(list(Lifetime)), places)
epochs = st.sampled_from(["current", "current", "stale", "future"])
update = st.tuples(st.just("update"), clients, objects, epochs, places)
owner_update = st.tuples(st.just("owner_update"), objects, places)  # the owner writes, as real clients do
request = st.tuples(st.just("request"), clients, objects)
tick = st.tuples(st.just("tick"), st.sampled_from([0.0, 0.034, 0.034, 0.2, 0.6, 2.5]))
# weighted towards the traffic that matters: spawns, updates, requests and ticks
operations = st.one_of(
    spawn,
    spawn,
    update,
    update,
    owner_update,
    owner_update,
    owner_update,
    request,
    request,
    tick,
    tick,
    tick,
    st.tuples(st.just("give"), clients, objects, clients),
    st.tuples(st.just("release"), clients, objects),
    st.tuples(st.just("set_rule"), clients, objects, rules),
    st.tuples(st.just("set_master"), clients, objects, clients),
    st.tuples(st.just("despawn"), clients, objects),
    st.tuples(st.just("answer"), clients, st.booleans()),
    st.tuples(st.just("focus"), clients, places),
    st.tuples(st.just("focus"), clients, places),
    st.tuples(st.just("drop"), clients),
    st.tuples(st.just("resume"), clients),
    st.tuples(st.just("close"), clients),
    st.tuples(st.just("rejoin"), clients),
)


@dataclass
class World:
    sim: Sim = field(default_factory=lambda: Sim(cooldown=0.3, ask_timeout=1.0, grace=2.0))
    slots: list[SimClient | None] = field(default_factory=list)
    dropped: list[SimClient | None] = field(default_factory=list)
    spawned: list[int] = field(default_factory=list)
    owner_at: dict[tuple[int, int], int] = field(default_factory=dict)  # (object, epoch) -> owner
    writes: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        self.room = 1
        for i in range(CLIENTS):
            self.slots.append(self._new_client(i))
            self.dropped.append(None)
        for c in self.slots[CLIENTS // 2 :]:  # half the members start with a focus
            assert c is not None
            c.send(Focus(c.req(), self.room, (0.0, 0.0, 0.0)))
        self.observe()

    def _new_client(self, i: int) -> SimClient:
        self.generation += 1
        c = self.sim.client(f"player{i}-{self.generation}")
        c.send(Join(c.req(), "lobby"))
        return c

    @property
    def lobby(self) -> Room:
        return self.sim.core.rooms["lobby"]

    def obj(self, index: int) -> int:
        return self.spawned[index % len(self.spawned)] if self.spawned else 1

    def observe(self) -> None:
        """Record who owns each object at each epoch, and check the relay's own invariants."""
        members = set(self.lobby.members)
        for obj in self.lobby.objects.values():
            assert obj.owner == 0 or obj.owner in members, "owner must be a member or nobody"
            assert obj.master == 0 or obj.master in members, "master must be a member or nobody"
            known = self.owner_at.setdefault((obj.id, obj.epoch), obj.owner)
            assert known == obj.owner, "one epoch, one owner"

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "tick":
            self.sim.tick(op[1])
            self.read_all()
            return
        if kind == "owner_update":
            obj = self.lobby.objects.get(self.obj(op[1]))
            owner = next((x for x in self.slots if x is not None and obj and x.member == obj.owner), None)
            if obj is not None and owner is not None:
                self.writes += 1
                owner.send(
                    Update(self.room, obj.id, obj.epoch, op[2], b"%d:%d" % (owner.member, self.writes))
                )
            return
        c = self.slots[op[1]]
        if kind == "resume":
            old = self.dropped[op[1]]
            if old is not None and self.slots[op[1]] is None:
                new = self.sim.client(old.identity.name, hello=False)
                new.hello(token=old.token)
                self.slots[op[1]] = new
                self.dropped[op[1]] = None
            return
        if kind == "rejoin":
            if c is None and self.dropped[op[1]] is None:
                self.slots[op[1]] = self._new_client(op[1])
            return
        if c is None:
            return
        room = self.room
        if kind == "spawn":
            c.send(Spawn(c.req(), room, op[2], op[3], op[4], b"%d:%d" % (c.member, self.writes)))
        elif kind == "update":
            oid = self.obj(op[2])
            obj = self.lobby.objects.get(oid)
            epoch = obj.epoch if obj else 1
            epoch = {"current": epoch, "stale": max(epoch - 1, 0), "future": epoch + 1}[op[3]]
            self.writes += 1
            c.send(Update(room, oid, epoch, op[4], b"%d:%d" % (c.member, self.writes)))
        elif kind == "request":
            c.send(Request(c.req(), room, self.obj(op[2])))
        elif kind == "give":
            target = self.slots[op[3]]
            c.send(Give(c.req(), room, self.obj(op[2]), target.member if target else 999))
        elif kind == "release":
            c.send(Release(c.req(), room, self.obj(op[2])))
        elif kind == "set_rule":
            c.send(SetRule(c.req(), room, self.obj(op[2]), op[3]))
        elif kind == "set_master":
            target = self.slots[op[3]]
            c.send(SetMaster(c.req(), room, self.obj(op[2]), target.member if target else 999))
        elif kind == "focus":
            c.send(Focus(c.req(), room, op[2]))
        elif kind == "despawn":
            c.send(Despawn(c.req(), room, self.obj(op[2])))
        elif kind == "answer":
            asks = c.of(Ask)
            if asks:
                a = asks[-1]
                c.send(Answer(c.req(), room, a.object, a.ask, int(op[2])))
        elif kind == "drop":
            self.sim.core.connection_lost(c.conn, self.sim.now, None)
            self.slots[op[1]] = None
            self.dropped[op[1]] = c
        elif kind == "close":
            self.sim.core.connection_lost(c.conn, self.sim.now, 1000)
            self.slots[op[1]] = None
        self.spawned = sorted(set(self.spawned) | set(self.lobby.objects))

    def read_all(self) -> None:
        for c in self.slots:
            if c is not None:
                c.read()

    def check_views(self) -> None:
        for c in self.slots:
            if c is None:
                continue
            for view in c.views.values():
                assert view.anomalies == [], view.anomalies
            for rec in c.records:
                if isinstance(rec, State):
                    author = int(rec.state.split(b":")[0])
                    assert self.owner_at.get((rec.object, rec.epoch)) == author, (
                        "a non-owner's state was seen"
                    )

    def settle(self) -> None:
        for _ in range(100):  # 3.4 s: asks time out, grace windows end
            self.sim.tick()
        self.read_all()
        self.observe()
        truth = relay_table(self.lobby)
        for c in self.slots:
            if c is not None and c.conn.closing is None and c.member in self.lobby.members:
                assert c.views[self.room].table() == truth


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=80))
def test_random_operations_keep_the_invariants_and_converge(ops: list[tuple[Any, ...]]) -> None:
    world = World()
    for op in ops:
        world.apply(op)
        world.observe()
        if op[0] == "tick":
            world.check_views()
    world.settle()
    world.check_views()


# --- game peers and packets (protocol version 2) ---------------------------------------------------

PACKET_MODES = [PACKET_RELIABLE, PACKET_UNRELIABLE, PACKET_UNRELIABLE_ORDERED]
target_kinds = st.sampled_from(["all", "list", "except"])
packet = st.tuples(
    st.just("packet"),
    clients,
    st.sampled_from(PACKET_MODES),
    st.integers(0, 2),
    target_kinds,
    st.sets(clients),
)
# weighted towards packets and ticks; the rest changes who is in the game and who can keep up
game_operations = st.one_of(
    packet,
    packet,
    packet,
    packet,
    packet,
    tick,
    tick,
    tick,
    st.tuples(st.just("role"), clients, st.sampled_from(list(GameRole))),
    st.tuples(st.just("grab"), clients),
    st.tuples(st.just("stall"), clients, st.sampled_from([70_000, 70_000, 2_000_000])),
    st.tuples(st.just("unstall"), clients),
    st.tuples(st.just("drop"), clients),
    st.tuples(st.just("resume"), clients),
    st.tuples(st.just("close"), clients),
    st.tuples(st.just("leave"), clients),
    st.tuples(st.just("rejoin"), clients),
    st.tuples(st.just("rejoin"), clients),
    st.tuples(st.just("rejoin"), clients),
)


@dataclass
class GameWorld:
    """Members of one room playing its game: each packet's payload names its sender and a
    sequence number, and the test knows, from the relay's own table, who should get it."""

    sim: Sim = field(default_factory=lambda: Sim(grace=2.0, cooldown=0.0, rate=1000, burst=2000))
    slots: list[SimClient | None] = field(default_factory=list)
    dropped: list[SimClient | None] = field(default_factory=list)
    seq: int = 0
    owed: dict[int, set[int]] = field(default_factory=dict)  # seq -> receivers owed a reliable packet
    unsent: list[int] = field(default_factory=list)  # reliable packets sent since the last tick
    everyone: list[SimClient] = field(default_factory=list)  # every connection, closed ones too
    ball: int = 0
    generation: int = 0

    def __post_init__(self) -> None:
        for i in range(CLIENTS):
            self.slots.append(self._new_client(i))
            self.dropped.append(None)
        host = self.slots[0]
        assert host is not None
        spawned = host.call(Spawn, 1, Rule.ALLOW, Lifetime.PERSISTENT, None, b"")
        assert spawned is not None
        self.ball = spawned.value

    def _new_client(self, i: int) -> SimClient:
        """A member that joins the room and its game (the first one as its host)."""
        self.generation += 1
        c = self.sim.client(f"gamer{i}-{self.generation}", version=2)
        c.send(Join(c.req(), "lobby"), Game(c.req(), 1, GameRole.HOST if i == 0 else GameRole.PEER))
        self.everyone.append(c)
        return c

    @property
    def lobby(self) -> Room:
        return self.sim.core.rooms["lobby"]

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "tick":
            self._resynced_outside_the_game()
            self.sim.tick(op[1])
            self.read_all()
            self.unsent.clear()
            return
        c = self.slots[op[1]]
        if kind in ("leave", "drop", "close") and c is not None:
            for seq in self.unsent:  # gone before the tick that would have carried them
                self.owed[seq].discard(c.member)
        if kind == "resume":
            old = self.dropped[op[1]]
            if old is not None and c is None:
                new = self.sim.client(old.identity.name, hello=False)
                new.hello(token=old.token, versions=(1, 2))
                self.everyone.append(new)
                self.slots[op[1]] = new
                self.dropped[op[1]] = None
            return
        if kind == "rejoin":
            if c is None and self.dropped[op[1]] is None:
                self.slots[op[1]] = self._new_client(op[1])
            return
        if c is None or c.conn.closing is not None:
            return
        if kind == "role":
            c.send(Game(c.req(), 1, op[2]))
        elif kind == "packet":
            self._packet(c, *op[2:])
        elif kind == "grab":
            c.send(Request(c.req(), 1, self.ball))
        elif kind == "stall":
            c.stall(op[2])
        elif kind == "unstall":
            c.unstall()
        elif kind == "leave":
            c.send(Leave(c.req(), 1))
            self.slots[op[1]] = None  # a new member may take its place
        elif kind in ("drop", "close"):
            self.sim.core.connection_lost(c.conn, self.sim.now, None if kind == "drop" else 1000)
            self.slots[op[1]] = None
            if kind == "drop":
                self.dropped[op[1]] = c

    def _resynced_outside_the_game(self) -> None:
        """A receiver that gave up its role after a packet of this tick (it had one when the
        packet was sent) and is behind as the tick goes out is outside the game then: it is
        resynced by a snapshot, without the packet, and not closed (PROTOCOL.md §15.6)."""
        lag_high = self.sim.settings.lag_high
        behind = {
            c.member
            for c in self.slots
            if c is not None and c.stuck > lag_high and c.member not in self.lobby.roles
        }
        for seq in self.unsent:
            self.owed[seq] -= behind

    def _packet(self, c: SimClient, mode: int, lane: int, kind: str, chosen: set[int]) -> None:
        members = [x.member for i, x in enumerate(self.slots) if x is not None and i in chosen]
        targets = () if kind == "all" else tuple(members)
        flags = mode | (PACKET_EXCEPT if kind == "except" else 0)
        self.seq += 1
        c.send(
            Packet(
                1, flags, 0, lane if mode != PACKET_RELIABLE else 0, targets, b"%d:%d" % (c.member, self.seq)
            )
        )
        roles = self.lobby.roles if c.member in self.lobby.members else {}
        if mode == PACKET_RELIABLE and c.member in roles:
            peers = {m for m in roles if m != c.member}
            if kind == "list" and targets:
                peers &= set(targets)
            elif kind == "except":
                peers -= set(targets)
            self.owed[self.seq] = peers
            self.unsent.append(self.seq)

    def read_all(self) -> None:
        for c in self.everyone:
            c.read()

    def check(self) -> None:
        got: dict[int, set[int]] = {}  # seq -> who received it
        for c in self.everyone:
            for view in c.views.values():
                assert view.anomalies == [], view.anomalies  # only from game peers, never in a snapshot
            last: dict[int, int] = {}
            for rec in c.records:
                if isinstance(rec, PacketFrom):
                    sender, seq = map(int, rec.payload.split(b":"))
                    assert sender == rec.sender, "the relay stamps the true sender"
                    assert seq > last.get(sender, 0), "packets from one sender arrive in order"
                    last[sender] = seq
                    got.setdefault(seq, set()).add(c.member)
        delivered = sum(len(x) for x in got.values())
        event(
            "packets delivered: " + ("none" if not delivered else "1-9" if delivered < 10 else "10 or more")
        )
        for seq, receivers in self.owed.items():
            for member in receivers - got.get(seq, set()):
                receiver = next((x for x in self.slots if x is not None and x.member == member), None)
                # a reliable packet is lost only with the receiver's connection
                assert receiver is None or receiver.conn.closing is not None, (seq, member)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(game_operations, min_size=20, max_size=100))
# a member gives up its role in the tick of a reliable packet to it, and is behind as it goes out
@example(
    [("packet", 0, PACKET_RELIABLE, 0, "all", set()), ("role", 1, GameRole.NONE), ("stall", 1, 2_000_000)]
)
def test_random_game_traffic_keeps_packets_in_order_and_from_game_peers_only(
    ops: list[tuple[Any, ...]],
) -> None:
    game = GameWorld()
    for op in ops:
        game.apply(op)
    for _ in range(3):
        game.apply(("tick", None))
    game.check()
