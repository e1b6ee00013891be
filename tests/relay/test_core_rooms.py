"""Rooms and events through the I/O-free core: names, limits, snapshots, late join, events."""

from __future__ import annotations

import pytest

from relay.protocol import (
    Event,
    EventFrom,
    Join,
    Leave,
    LeaveReason,
    Left,
    Lifetime,
    MemberJoined,
    Notice,
    ObjectInfo,
    Result,
    Rule,
    Snapshot,
    Spawn,
    State,
    Status,
    Synced,
    Update,
)
from tests.relay.sim import Sim


def test_join_answers_then_snapshots_then_goes_live() -> None:
    sim = Sim()
    a, b = sim.client("alice"), sim.client("bob")
    room = a.join("lobby")
    oid = a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, (1.0, 2.0, 3.0), b"hello").value
    assert b.join("lobby") == room
    kinds = [type(r) for r in b.records[1:]]  # after WELCOME
    assert kinds == [Result, Snapshot, MemberJoined, MemberJoined, ObjectInfo, Synced]
    snap = b.of(Snapshot)[0]
    assert (snap.room, snap.members, snap.objects, snap.name) == (room, 2, 1, "lobby")
    view = b.views[room]
    assert view.synced and set(view.members) == {a.member, b.member}
    assert view.objects[oid].state == b"hello" and view.objects[oid].position == (1.0, 2.0, 3.0)
    assert view.members[a.member].name == "alice"
    a.read()
    assert [r.member for r in a.of(MemberJoined)][-1] == b.member


def test_room_names_are_checked() -> None:
    sim = Sim()
    a = sim.client()
    for bad in ("", "Lobby", "-x", "a b", "x" * 65, "ü"):
        assert a.call(Join, bad).status == Status.INVALID_NAME, bad
    assert a.call(Join, "a" * 64).status == Status.OK
    assert a.call(Join, "map.2_b-c").status == Status.OK


def test_rooms_are_created_on_first_join_and_end_when_empty() -> None:
    sim = Sim()
    a = sim.client()
    handle = a.join("party")
    assert "party" in sim.core.rooms
    assert a.call(Join, "party").status == Status.ALREADY_JOINED
    res = a.call(Leave, handle)
    assert (res.status, res.value) == (Status.OK, handle)
    assert a.of(Left)[-1] == Left(handle, LeaveReason.LEFT)
    assert "party" not in sim.core.rooms
    assert "lobby" in sim.core.rooms  # default rooms never end
    assert a.call(Leave, handle).status == Status.UNKNOWN_ROOM


def test_a_room_with_persistent_objects_outlives_its_members() -> None:
    sim = Sim()
    a = sim.client()
    room = a.join("garden")
    a.call(Spawn, room, Rule.ALLOW, Lifetime.PERSISTENT, None, b"tree")
    a.call(Leave, room)
    assert "garden" in sim.core.rooms
    b = sim.client("bob")
    b.join("garden")
    assert [o.state for o in b.views[room].objects.values()] == [b"tree"]


def test_room_limits() -> None:
    sim = Sim(max_rooms=3, max_rooms_per_connection=2, max_members=2)
    a, b, c = sim.client("a"), sim.client("b"), sim.client("c")
    a.join("one")
    a.join("two")
    assert a.call(Join, "three").status == Status.TOO_MANY_ROOMS  # per connection
    b.join("one")
    assert c.call(Join, "one").status == Status.ROOM_FULL
    assert c.call(Join, "four").status == Status.TOO_MANY_ROOMS  # lobby, one, two exist
    assert c.call(Join, "lobby").status == Status.OK


def test_one_connection_in_several_rooms_keeps_them_apart() -> None:
    sim = Sim()
    a, b = sim.client("a"), sim.client("b")
    r1, r2 = a.join("one"), a.join("two")
    assert r1 != r2
    b.join("one")
    o1 = a.call(Spawn, r1, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"in one").value
    o2 = a.call(Spawn, r2, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"in two").value
    a.send(Update(r1, o1, 1, None, b"1"), Update(r2, o2, 1, None, b"2"))
    sim.tick()
    b.read()
    assert [(r.room, r.state) for r in b.of(State)] == [(r1, b"1")]
    assert set(b.views[r1].objects) == {o1}


def test_big_snapshots_are_split_into_messages_under_64_kib() -> None:
    sim = Sim(max_objects_per_member=1000)
    a, b = sim.client("a"), sim.client("b")
    room = a.join()
    for i in range(100):
        a.send(Spawn(1000 + i, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, bytes([i]) * 2000))
    sim.tick()
    a.read()
    b.join()
    assert len(b.views[room].objects) == 100
    assert len(b.messages) >= 4 and max(len(m) for m in b.messages) <= 65535


def test_late_join_under_load_has_no_gap_and_no_duplicate() -> None:
    sim = Sim()
    writers = [sim.client(f"w{i}") for i in range(4)]
    room = writers[0].join()
    objs = {}
    for w in writers:
        if w is not writers[0]:
            w.join()
        objs[w] = w.call(Spawn, room, Rule.DENY, Lifetime.WITH_MASTER, None, b"0").value
    late = sim.client("late", hello=False)
    seq = 0
    last: dict[int, int] = {}
    for step in range(60):
        for w in writers:  # several updates per object per tick
            seq += 1
            w.send(Update(room, objs[w], 1, None, str(seq).encode()))
            if step == 30 and w is writers[1]:
                late.hello()
                late.send(Join(1, "lobby"))  # joins in the middle of a tick
            seq += 1
            w.send(Update(room, objs[w], 1, None, str(seq).encode()))
            last[objs[w]] = seq
        sim.tick()
    late.read()
    seen: dict[int, list[int]] = {}
    synced = False
    for r in late.records:
        if isinstance(r, ObjectInfo):
            seen.setdefault(r.object, []).append(int(r.state))
        if isinstance(r, Synced):
            synced = True
        if isinstance(r, State):
            assert synced
            seen[r.object].append(int(r.state))
    for w in writers:
        values = seen[objs[w]]
        assert values == sorted(set(values)), "a state arrived twice or out of order"
        assert values[-1] == last[objs[w]], "the latest state did not arrive"
        assert len(values) > 20  # one per tick after the join, not just the snapshot
    # converged: the late joiner's table equals a writer's table
    writers[0].read()
    assert late.views[room].table() == writers[0].views[room].table()
    assert late.views[room].anomalies == []


@pytest.mark.parametrize("targets", [(), ("b",), ("b", "c")])
def test_events_reach_their_targets_only(targets: tuple[str, ...]) -> None:
    sim = Sim()
    cl = {n: sim.client(n) for n in "abcd"}
    room = cl["a"].join()
    for n in "bcd":
        cl[n].join()
    ids = tuple(cl[n].member for n in targets)
    cl["a"].send(Event(room, ids, b"bang"))
    sim.tick()
    expected = set(targets) if targets else {"b", "c", "d"}
    for n, c in cl.items():
        got = [r for r in c.read() if isinstance(r, EventFrom)]
        assert got == ([EventFrom(room, cl["a"].member, b"bang")] if n in expected else []), n


def test_events_from_one_sender_keep_their_order_and_unknown_targets_are_skipped() -> None:
    sim = Sim()
    a, b = sim.client("a"), sim.client("b")
    room = a.join()
    b.join()
    for i in range(20):
        a.send(Event(room, (b.member, 4242) if i % 2 else (), b"%d" % i))
        if i % 5 == 0:
            sim.tick()
    sim.tick()
    b.read()
    assert [int(r.payload) for r in b.of(EventFrom)] == list(range(20))


def test_undeliverable_events_get_a_notice() -> None:
    sim = Sim(max_event=4)
    a = sim.client()
    room = a.join()
    a.send(Event(room, (), b"12345"), Event(room + 9, (), b""))
    sim.tick()
    a.read()
    # the unknown room is answered at once; the other in the room's stream at the tick
    assert [(n.status, n.record_type) for n in a.of(Notice)] == [
        (Status.UNKNOWN_ROOM, Event.TYPE),
        (Status.TOO_LARGE, Event.TYPE),
    ]
