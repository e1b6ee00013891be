"""Slow clients, rate limits, moderation and persistence hooks of the I/O-free core."""

from __future__ import annotations

from relay.protocol import (
    Close,
    Despawned,
    DespawnReason,
    Event,
    EventFrom,
    Leave,
    LeaveReason,
    Left,
    Lifetime,
    MemberLeft,
    Notice,
    Refused,
    Request,
    Rule,
    RuleChanged,
    Snapshot,
    Spawn,
    State,
    Status,
    Synced,
    Update,
)
from relay.room import PersistedObject
from tests.relay.sim import Sim


def test_a_lagging_client_gets_a_coalesced_snapshot_and_what_was_kept() -> None:
    sim = Sim(lag_high=10_000, lag_low=1_000)
    a, slow = sim.client("a"), sim.client("slow")
    room = a.join()
    slow.join()
    oid = a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    slow.read()
    slow.stall(50_000)  # its socket is not draining
    for i in range(30):
        a.send(Update(room, oid, 1, None, b"%d" % i + b"." * 500))
        if i == 10:
            a.send(Event(room, (slow.member,), b"for you"))
        sim.tick()
    assert slow.conn.lagging
    assert not slow.conn.has_output  # no room traffic queued while behind
    slow.unstall()  # it caught up
    sim.tick()
    records = slow.read()
    kinds = [type(r) for r in records]
    assert kinds[0] is Snapshot and Synced in kinds
    assert [r.payload for r in records if isinstance(r, EventFrom)] == [b"for you"]
    assert kinds.index(EventFrom) > kinds.index(Synced)  # kept answers after the snapshot
    assert slow.views[room].objects[oid].state.startswith(b"29.")
    assert not slow.conn.lagging
    a.send(Update(room, oid, 1, None, b"live again"))
    sim.tick()
    assert [r.state for r in slow.read() if isinstance(r, State)] == [b"live again"]


def test_a_slow_client_never_delays_the_others_and_is_closed_when_it_stays_behind() -> None:
    sim = Sim(lag_high=10_000, lag_low=1_000, lag_timeout=3)
    a, b, slow = sim.client("a"), sim.client("b"), sim.client("slow")
    room = a.join()
    b.join()
    slow.join()
    oid = a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    slow.stall(50_000)
    for i in range(120):
        a.send(Update(room, oid, 1, None, b"%d" % i))
        sim.tick()
        assert [r.state for r in b.read() if isinstance(r, State)] == [b"%d" % i]  # every tick, on time
    slow.read()
    assert (goodbye := slow.goodbye()) is not None and goodbye.code == Close.TOO_SLOW
    session = slow.conn.session
    assert session is not None and not session.ended  # it may resume


def test_rate_limit_answers_then_disconnects_abusers() -> None:
    sim = Sim(rate=10, burst=20, strike_limit=50)
    a = sim.client()
    room = a.join()
    oid = a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    for _ in range(30):
        a.send(Update(room, oid, 1, None, b""))
    a.send(Request(99, room, oid), Event(room, (), b"x"))
    sim.tick()
    a.read()
    assert Status.RATE_LIMITED in {r.status for r in a.of(Refused)}
    assert a.result(99).status == Status.RATE_LIMITED
    assert [n.status for n in a.of(Notice)] == [Status.RATE_LIMITED]
    assert a.conn.closing is None
    for _ in range(60):
        a.send(Update(room, oid, 1, None, b""))
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.RATE_LIMITED


def test_sending_within_the_rate_is_never_limited() -> None:
    sim = Sim(rate=100, burst=100)
    a = sim.client()
    room = a.join()
    oid = a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    for _ in range(300):  # 3 s at 90 records/s
        for _ in range(3):
            a.send(Update(room, oid, 1, None, b""))
        sim.tick()
    a.read()
    assert a.of(Refused) == []


def test_kick_ends_the_session_and_reset_clears_the_room() -> None:
    sim = Sim()
    a, b = sim.client("a"), sim.client("b")
    room = a.join()
    b.join()
    keep = a.call(Spawn, room, Rule.ALLOW, Lifetime.PERSISTENT, None, b"").value
    b.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"")
    assert sim.core.kick("lobby", b.member, sim.now)
    assert not sim.core.kick("lobby", 4242, sim.now)
    sim.tick()
    b.read()
    assert (goodbye := b.goodbye()) is not None and goodbye.code == Close.KICKED
    a.read()
    assert a.of(MemberLeft)[-1].reason == LeaveReason.KICKED
    assert sim.client("b", hello=False).hello(token=b.token).resumed == 0
    lobby = sim.core.rooms["lobby"]
    lobby.set_rule(None, 0, keep, Rule.DENY)
    lobby.reset()
    sim.tick()
    a.read()
    assert [r.rule for r in a.of(RuleChanged)] == [Rule.DENY]
    assert a.of(Despawned)[-1] == Despawned(room, keep, DespawnReason.RESET)
    assert a.views[room].objects == {}
    assert sim.core.take_persistence()[1] == [("lobby", keep)]


def test_persistent_objects_are_reported_once_per_change_and_restored_as_orphans() -> None:
    sim = Sim()
    a = sim.client()
    room = a.join("garden")
    tree = a.call(Spawn, room, Rule.ASK, Lifetime.PERSISTENT, (1.0, 2.0, 3.0), b"seed").value
    a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"not saved")
    for v in (b"sprout", b"tree"):
        a.send(Update(room, tree, 1, None, v))
    upserts, deletes = sim.core.take_persistence()
    alice = a.identity.user_id  # its spawner, and the creator of its room, are kept with it
    saved = PersistedObject("garden", tree, Rule.ASK, 1, (1.0, 2.0, 3.0), b"tree", alice, "alice", alice)
    assert upserts == [saved] and deletes == []
    assert sim.core.take_persistence() == ([], [])
    # a new relay process restores it
    sim2 = Sim()
    sim2.core.restore(upserts)
    c = sim2.client("carol")
    room2 = c.join("garden")
    obj = c.views[room2].objects[tree]
    assert (obj.master, obj.owner, obj.epoch, obj.state, obj.position) == (0, 0, 1, b"tree", (1.0, 2.0, 3.0))
    res = c.call(Request, room2, tree)  # an orphan under ask is adopted
    assert (res.status, res.value) == (Status.GRANTED, 2)
    new = c.call(Spawn, room2, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    assert new > tree  # ids are never reused


def test_leaving_member_gets_left_and_nothing_more() -> None:
    sim = Sim()
    a, b = sim.client("a"), sim.client("b")
    room = a.join("x")
    b.join("x")
    oid = b.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    a.send(Request(a.req(), room, oid))
    a.send(Leave(a.req(), room))
    b.send(Update(room, oid, 1, None, b"after"))
    sim.tick()
    records = a.read()
    assert isinstance(records[-1], Left)
    assert not [r for r in records if isinstance(r, State)]
