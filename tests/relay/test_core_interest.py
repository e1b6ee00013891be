"""Interest: distance tiers for members with a focus; the latest state always arrives."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from relay.interest import Cell, Interest
from relay.protocol import Focus, Give, Lifetime, Owner, Rule, Spawn, State, Status, Update
from tests.relay.sim import Sim, SimClient


def setup() -> tuple[Sim, SimClient, SimClient, int, dict[str, int]]:
    sim = Sim()
    owner, viewer = sim.client("owner"), sim.client("viewer")
    room = owner.join()
    viewer.join()
    positions = {"near": (4.0, 0.0, 0.0), "mid": (40.0, 0.0, 0.0), "far": (200.0, 0.0, 0.0)}
    objs = {
        name: owner.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, pos, b"0").value
        for name, pos in positions.items()
    }
    objs["nowhere"] = owner.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"0").value
    assert viewer.call(Focus, room, (0.0, 0.0, 0.0)).status == Status.OK
    viewer.read()
    return sim, owner, viewer, room, objs


def run(
    sim: Sim, owner: SimClient, viewer: SimClient, room: int, objs: dict[str, int], ticks: int
) -> dict[str, list[tuple[int, bytes]]]:
    """Update every object every tick; record at which ticks the viewer got which value."""
    got: dict[str, list[tuple[int, bytes]]] = {k: [] for k in objs}
    names = {v: k for k, v in objs.items()}
    for t in range(ticks):
        for oid in objs.values():
            owner.send(Update(room, oid, 1, None, b"%d" % t))
        tick_no = sim.core.rooms["lobby"].tick_no
        sim.tick()
        for r in viewer.read():
            if isinstance(r, State):
                got[names[r.object]].append((tick_no, r.state))
    return got


def test_far_objects_are_sent_less_often_and_near_ones_every_tick() -> None:
    sim, owner, viewer, room, objs = setup()
    got = run(sim, owner, viewer, room, objs, 30)
    assert len(got["near"]) == 30 and len(got["nowhere"]) == 30
    assert 9 <= len(got["mid"]) <= 11 and all(t % 3 == 0 for t, _ in got["mid"])
    assert 2 <= len(got["far"]) <= 4 and all(t % 10 == 0 for t, _ in got["far"])
    for t, value in got["far"]:  # what arrives is the newest value at that tick
        assert value == got["near"][[tt for tt, _ in got["near"]].index(t)][1]


def test_foci_take_their_slow_tiers_in_turns_by_slab() -> None:
    """Viewers focused at different z get the far tier on different ticks, each every 10th
    tick, so no tick carries every focus's slow tiers; viewers at the same z and y share turns."""
    sim = Sim()
    owner = sim.client("owner")
    room = owner.join()
    far = owner.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, (1000.0, 0.0, 1000.0), b"0").value
    foci = [(16.0 * (i % 2), 0.0, 16.0 * (i // 2)) for i in range(20)]  # 10 slabs of z, 2 cells each
    viewers = [sim.client(f"viewer {i}") for i in range(len(foci))]
    for v, focus in zip(viewers, foci, strict=True):
        v.join()
        assert v.call(Focus, room, focus).status == Status.OK
        v.read()
    turns: list[list[int]] = [[] for _ in viewers]
    first = sim.core.rooms["lobby"].tick_no
    for t in range(40):
        owner.send(Update(room, far, 1, None, b"%d" % t))
        tick_no = sim.core.rooms["lobby"].tick_no
        sim.tick()
        for got, v in zip(turns, viewers, strict=True):
            if any(isinstance(r, State) and r.object == far for r in v.read()):
                got.append(tick_no)
    for got in turns:  # every viewer at the far tier's rate, evenly spaced
        assert len(got) == 4 and {b - a for a, b in itertools.pairwise(got)} == {10}
    assert all(turns[i] == turns[i + 1] for i in range(0, len(turns), 2))  # same z: same turns
    per_tick = [sum(t in got for got in turns) for t in range(first + 10, first + 40)]
    assert max(per_tick) == 2  # one slab of two viewers a tick


def test_moving_to_a_slab_with_later_turns_delivers_what_was_deferred() -> None:
    """A far state deferred under the old focus, whose new focus's far turn comes later than the
    old one's would have, arrives at the move: the latest value arrives even if it never changes
    again."""
    sim, owner, viewer, room, objs = setup()
    far = objs["far"]
    interest = sim.core.rooms["lobby"].interest
    here, there = (0, 0, 0), (0, 0, 1)  # the viewer's cell; the next one along z (16 m away)
    assert interest.phase(here) != interest.phase(there)
    # just after the viewer's far turn, the far object changes once more, and never again
    while 2 not in interest.due_tiers(sim.core.rooms["lobby"].tick_no - 1, here):
        sim.tick()
    owner.send(Update(room, far, 1, None, b"last"))
    sim.tick()
    viewer.read()
    assert viewer.views[room].objects[far].state != b"last"  # deferred
    viewer.send(Focus(viewer.req(), room, (0.0, 0.0, 20.0)))
    sim.tick()
    assert b"last" in [r.state for r in viewer.read() if isinstance(r, State) and r.object == far]


def test_the_latest_value_always_arrives_once_updates_stop() -> None:
    sim, owner, viewer, room, objs = setup()
    run(sim, owner, viewer, room, objs, 13)
    sim.advance(0.4)  # 12 quiet ticks: every tier has had its turn
    viewer.read()
    view = viewer.views[room]
    assert all(view.objects[oid].state == b"12" for oid in objs.values())


def test_members_without_focus_get_everything_every_tick() -> None:
    sim, owner, viewer, room, objs = setup()
    assert viewer.call(Focus, room, None).status == Status.OK
    got = run(sim, owner, viewer, room, objs, 12)
    assert all(len(v) == 12 for v in got.values())


def test_a_change_of_owner_is_preceded_by_the_latest_state_for_focused_members() -> None:
    sim, owner, viewer, room, objs = setup()
    far = objs["far"]
    while sim.core.rooms["lobby"].tick_no % 10 != 1:
        sim.tick()
    viewer.read()
    owner.send(Update(room, far, 1, None, b"before the change"))
    sim.tick()
    assert not [r for r in viewer.read() if isinstance(r, State) and r.object == far]  # deferred
    assert owner.call(Give, room, far, viewer.member).status == Status.OK
    viewer.read()
    seq = [r for r in viewer.records if isinstance(r, State | Owner) and r.object == far]
    assert seq[-2:] == [State(room, far, 1, None, b"before the change"), Owner(room, far, viewer.member, 2)]
    sim.advance(0.5)
    viewer.read()
    assert viewer.views[room].anomalies == []  # no state of epoch 1 after the change


def test_moving_the_focus_delivers_states_still_owed() -> None:
    sim, owner, viewer, room, objs = setup()
    far = objs["far"]
    while sim.core.rooms["lobby"].tick_no % 10 != 1:
        sim.tick()
    owner.send(Update(room, far, 1, None, b"deferred"))
    sim.tick()
    assert not [r for r in viewer.read() if isinstance(r, State) and r.object == far]
    viewer.send(Focus(viewer.req(), room, (199.0, 0.0, 0.0)))  # walk over to it
    sim.tick()
    assert [r.state for r in viewer.read() if isinstance(r, State) and r.object == far] == [b"deferred"]


def _tier_by_distance(interest: Interest, focus: Cell, cell: Cell) -> int:
    """Section 7 read literally: the first tier whose bound holds the Chebyshev distance."""
    d = max(abs(a - b) for a, b in zip(focus, cell, strict=True))
    return next((t for t, bound in enumerate(interest.bounds) if d <= bound), len(interest.bounds) - 1)


def _turns_by_spec(focus: Cell) -> int:
    """Section 7 read literally: a focus's turns are shifted by z + 7 y ticks."""
    return focus[2] + 7 * focus[1]


@settings(max_examples=60, deadline=None)
@given(
    objects=st.lists(st.tuples(st.integers(-9, 9), st.integers(-2, 2), st.integers(-9, 9)), max_size=60),
    focus=st.tuples(st.integers(-10, 10), st.integers(-3, 3), st.integers(-10, 10)),
    moved=st.tuples(st.integers(-10, 10), st.integers(-3, 3), st.integers(-10, 10)),
    tick=st.integers(0, 29),
)
def test_shared_segments_carry_exactly_each_tiers_states(
    objects: list[Cell], focus: Cell, moved: Cell, tick: int
) -> None:
    """What a focus gets from the rows and segments (and their shared frames) is exactly, and
    only once, every due tier's states by distance; what a moved focus is owed likewise."""
    interest = Interest(16.0, ((1, 1), (4, 3), (1 << 30, 10)))
    for oid, cell in enumerate(objects):
        interest.record(oid, cell, b"state %d" % oid)
    expected = [
        b"state %d" % oid
        for oid, cell in enumerate(objects)
        if (tick + _turns_by_spec(focus)) % interest.periods[_tier_by_distance(interest, focus, cell)] == 0
    ]
    tiers = interest.due_tiers(tick, focus)
    assert sorted(interest.due(tiers, focus)) == sorted(expected)
    frames, size = interest.due_frames(tiers, focus, lambda recs: ([b"".join(recs)], len(b"".join(recs))))
    assert sorted(b"".join(frames)) == sorted(b"".join(expected)) and size == sum(map(len, expected))
    same_turns = (_turns_by_spec(focus) - _turns_by_spec(moved)) % 30 == 0
    owed = [  # deferred, and either its tier changes or the turns do
        b"state %d" % oid
        for oid, cell in enumerate(objects)
        if _tier_by_distance(interest, focus, cell)
        and (
            not same_turns
            or _tier_by_distance(interest, focus, cell) != _tier_by_distance(interest, moved, cell)
        )
    ]
    assert sorted(interest.owed(focus, moved)) == sorted(owed)
    assert sorted(interest.owed(focus, None)) == sorted(
        b"state %d" % oid for oid, cell in enumerate(objects) if _tier_by_distance(interest, focus, cell)
    )
