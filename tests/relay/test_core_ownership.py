"""Objects and the Master / Owner / Rule model, driven through the I/O-free core."""

from __future__ import annotations

from relay.protocol import (
    Answer,
    Ask,
    AskCancelled,
    Despawn,
    Despawned,
    DespawnReason,
    Give,
    Lifetime,
    Master,
    ObjectInfo,
    Owner,
    Refused,
    Release,
    Request,
    Result,
    Rule,
    RuleChanged,
    SetMaster,
    SetRule,
    Spawn,
    State,
    Status,
    Update,
)
from tests.relay.sim import Sim, SimClient


def room_of_three(**overrides: object) -> tuple[Sim, SimClient, SimClient, SimClient, int]:
    sim = Sim(**overrides)
    a, b, c = sim.client("alice"), sim.client("bob"), sim.client("carol")
    room = a.join()
    assert b.join() == room and c.join() == room
    for x in (a, b, c):
        x.read()
    return sim, a, b, c, room


def spawn(
    client: SimClient, room: int, rule: Rule = Rule.ALLOW, lifetime: Lifetime = Lifetime.WITH_MASTER
) -> int:
    res = client.call(Spawn, room, rule, lifetime, (0.0, 0.0, 0.0), b"init")
    assert res.status == Status.OK
    return res.value


def test_spawner_becomes_master_and_owner_and_everyone_learns_the_object() -> None:
    _sim, a, b, c, room = room_of_three()
    oid = spawn(a, room)
    for x in (a, b, c):
        x.read()
        obj = x.views[room].objects[oid]
        assert (obj.master, obj.owner, obj.epoch, obj.rule, obj.state) == (
            a.member,
            a.member,
            1,
            Rule.ALLOW,
            b"init",
        )
    # RESULT comes right after the OBJECT record
    kinds = [type(r) for r in a.records]
    assert kinds.index(Result, kinds.index(ObjectInfo)) == kinds.index(ObjectInfo) + 1


def test_only_the_owners_updates_at_the_current_epoch_reach_anyone() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(a, room)
    a.send(Update(room, oid, 1, None, b"from owner"))
    b.send(Update(room, oid, 1, None, b"from bob"))  # not the owner
    a.send(Update(room, oid, 7, None, b"wrong epoch"))
    b.send(Update(room, 999, 1, None, b"nothing"))
    sim.tick()
    states = {x: [r.state for r in x.read() if isinstance(r, State)] for x in (a, b, c)}
    assert states[a] == states[b] == states[c] == [b"from owner"]  # the sender gets its echo too
    assert [(r.status, r.epoch) for r in b.of(Refused)] == [(Status.NOT_OWNER, 1), (Status.UNKNOWN_OBJECT, 0)]
    assert [(r.status, r.epoch) for r in a.of(Refused)] == [(Status.STALE_EPOCH, 1)]
    assert c.of(Refused) == []
    assert all(x.views[room].objects[oid].state == b"from owner" for x in (a, b, c))


def test_at_most_one_refusal_per_object_per_tick_and_oversized_state_is_refused() -> None:
    sim, a, b, _c, room = room_of_three(max_state=10)
    oid = spawn(a, room)
    for _ in range(5):
        b.send(Update(room, oid, 1, None, b"x"))
    a.send(Update(room, oid, 1, None, b"x" * 11))
    sim.tick()
    b.read(), a.read()
    assert len(b.of(Refused)) == 1
    assert a.of(Refused)[0].status == Status.TOO_LARGE
    assert sim.core.rooms["lobby"].refused == 6


def test_updates_within_a_tick_are_coalesced_to_the_latest() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room)
    for i in range(10):
        a.send(Update(room, oid, 1, None, b"v%d" % i))
    sim.tick()
    assert [r.state for r in b.read() if isinstance(r, State)] == [b"v9"]
    assert sim.core.rooms["lobby"].coalesced == 9


def test_allow_grants_at_once_and_bumps_the_epoch_before_new_states() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.ALLOW)
    a.send(Update(room, oid, 1, None, b"a1"))
    res = b.call(Request, room, oid)
    assert (res.status, res.value) == (Status.GRANTED, 2)
    b.send(Update(room, oid, 2, None, b"b1"))
    a.send(Update(room, oid, 1, None, b"a2 too late"))
    sim.tick()
    c.read()
    relevant = [r for r in c.records if isinstance(r, State | Owner) and r.object == oid]
    assert relevant == [
        State(room, oid, 1, None, b"a1"),
        Owner(room, oid, b.member, 2),
        State(room, oid, 2, None, b"b1"),
    ]
    a.read()
    assert a.of(Refused)[-1].status == Status.NOT_OWNER  # a lost the object
    assert c.views[room].anomalies == []


def test_two_grab_race_under_allow_has_one_winner_and_everyone_converges() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(c, room, Rule.ALLOW)
    # Both grab in the same tick and both fire right away at the epoch they expect (2).
    ra, rb = a.req(), b.req()
    a.send(Request(ra, room, oid), Update(room, oid, 2, None, b"alice fires"))
    b.send(Request(rb, room, oid), Update(room, oid, 2, None, b"bob fires"))
    sim.tick()
    assert a.result(ra).status == Status.GRANTED
    assert b.result(rb).status == Status.COOLDOWN
    assert [r.status for r in b.of(Refused)] == [Status.NOT_OWNER]
    for x in (a, b, c):
        x.read()
        assert [r.state for r in x.records if isinstance(r, State) and r.object == oid] == [b"alice fires"]
    tables = [x.views[room].table() for x in (a, b, c)]
    assert tables[0] == tables[1] == tables[2]
    assert tables[0][oid][1] == a.member


def test_cooldown_ends_and_master_is_never_in_cooldown() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.ALLOW)
    assert b.call(Request, room, oid).status == Status.GRANTED
    assert c.call(Request, room, oid).status == Status.COOLDOWN
    assert a.call(Request, room, oid).status == Status.GRANTED  # the Master asking for its own object
    sim.advance(0.6)
    res = c.call(Request, room, oid)
    assert (res.status, res.value) == (Status.GRANTED, 4)


def test_deny_refuses_and_already_owner_is_granted_without_change() -> None:
    _sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.DENY)
    assert b.call(Request, room, oid).status == Status.NOT_ALLOWED
    res = a.call(Request, room, oid)
    assert (res.status, res.value) == (Status.GRANTED, 1)
    assert b.call(Request, room, 12345).status == Status.UNKNOWN_OBJECT


def test_ask_forwarded_to_the_master_and_granted() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    rb = b.req()
    b.send(Request(rb, room, oid))
    sim.tick()
    ask = next(r for r in a.read() if isinstance(r, Ask))
    assert (ask.object, ask.requester) == (oid, b.member)
    # a second Ask while the first waits
    assert c.call(Request, room, oid).status == Status.IN_PROGRESS
    assert a.call(Answer, room, oid, ask.ask, 1).status == Status.OK
    res = b.result(rb)
    assert (res.status, res.value) == (Status.GRANTED, 2)
    kinds = [type(r) for r in b.records]
    assert kinds.index(Owner) < kinds.index(Result, kinds.index(Owner))  # OWNER before GRANTED
    assert b.views[room].objects[oid].owner == b.member


def test_ask_denied_and_late_answers_are_not_pending() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    rb = b.req()
    b.send(Request(rb, room, oid))
    sim.tick()
    ask = next(r for r in a.read() if isinstance(r, Ask))
    assert a.call(Answer, room, oid, ask.ask, 0).status == Status.OK
    assert b.result(rb).status == Status.DENIED
    assert a.call(Answer, room, oid, ask.ask, 1).status == Status.NOT_PENDING
    assert b.views[room].objects[oid].owner == a.member


def test_ask_times_out_after_two_seconds_and_the_master_is_told() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    rb = b.req()
    b.send(Request(rb, room, oid))
    sim.advance(1.9)
    b.read()
    assert not [r for r in b.records if isinstance(r, Result) and r.req == rb]
    sim.advance(0.2)
    assert b.result(rb).status == Status.TIMEOUT
    a.read()
    assert [(r.object, r.status) for r in a.of(AskCancelled)] == [(oid, Status.TIMEOUT)]
    assert a.call(Answer, room, oid, a.of(Ask)[0].ask, 1).status == Status.NOT_PENDING


def test_only_the_master_may_answer_an_ask() -> None:
    sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    b.send(Request(b.req(), room, oid))
    sim.tick()
    ask = next(r for r in a.read() if isinstance(r, Ask))
    assert c.call(Answer, room, oid, ask.ask, 1).status == Status.NOT_MASTER


def test_ask_with_master_disconnected_is_answered_master_absent() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    sim.core.connection_lost(a.conn, sim.now, None)  # a dropped: in its grace window
    assert b.call(Request, room, oid).status == Status.MASTER_ABSENT


def test_pending_ask_answered_master_absent_when_the_master_drops() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    rb = b.req()
    b.send(Request(rb, room, oid))
    sim.tick()
    sim.core.connection_lost(a.conn, sim.now, None)
    sim.tick()
    assert b.result(rb).status == Status.MASTER_ABSENT


def test_requester_leaving_cancels_its_ask() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    b.send(Request(b.req(), room, oid))
    sim.tick()
    sim.core.connection_lost(b.conn, sim.now, 1000)
    sim.tick()
    a.read()
    assert [r.status for r in a.of(AskCancelled)] == [Status.CANCELLED]


def test_despawn_during_an_ask_answers_unknown_object() -> None:
    sim, a, b, _c, room = room_of_three()
    oid = spawn(a, room, Rule.ASK)
    rb = b.req()
    b.send(Request(rb, room, oid))
    sim.tick()
    assert a.call(Despawn, room, oid).status == Status.OK
    assert b.result(rb).status == Status.UNKNOWN_OBJECT


def test_master_gives_changes_rule_and_hands_mastership_on() -> None:
    _sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.DENY)
    assert b.call(Give, room, oid, c.member).status == Status.NOT_MASTER
    assert a.call(Give, room, oid, 999).status == Status.UNKNOWN_MEMBER
    res = a.call(Give, room, oid, b.member)
    assert (res.status, res.value) == (Status.OK, 2)
    assert b.call(SetRule, room, oid, Rule.ALLOW).status == Status.NOT_MASTER
    assert a.call(SetRule, room, oid, Rule.ALLOW).status == Status.OK
    assert a.call(SetMaster, room, oid, c.member).status == Status.OK
    assert a.call(SetRule, room, oid, Rule.ASK).status == Status.NOT_MASTER
    assert a.call(Despawn, room, oid).status == Status.NOT_MASTER
    for x in (a, b, c):
        x.read()
        obj = x.views[room].objects[oid]
        assert (obj.master, obj.owner, obj.rule, obj.epoch) == (c.member, b.member, Rule.ALLOW, 2)
    assert [r.rule for r in c.of(RuleChanged)] == [Rule.ALLOW]
    assert [r.master for r in c.of(Master)] == [c.member]


def test_owner_releases_back_to_the_master() -> None:
    _sim, a, b, c, room = room_of_three()
    oid = spawn(a, room, Rule.ALLOW)
    b.call(Request, room, oid)
    assert c.call(Release, room, oid).status == Status.NOT_OWNER
    res = b.call(Release, room, oid)
    assert (res.status, res.value) == (Status.OK, 3)
    c.read()
    assert c.views[room].objects[oid].owner == a.member
    res = a.call(Release, room, oid)  # the Master releasing its own object changes nothing
    assert (res.status, res.value) == (Status.OK, 3)


def test_despawn_by_master_reaches_everyone() -> None:
    _sim, a, b, c, room = room_of_three()
    oid = spawn(a, room)
    assert a.call(Despawn, room, oid).status == Status.OK
    for x in (b, c):
        x.read()
        assert oid not in x.views[room].objects
        assert [(r.object, r.reason) for r in x.of(Despawned)] == [(oid, DespawnReason.BY_MASTER)]


def test_leaving_returns_owned_objects_and_applies_lifetimes() -> None:
    sim, a, b, c, room = room_of_three()
    a_temp = spawn(a, room, Rule.ALLOW, Lifetime.WITH_MASTER)
    a_keep = spawn(a, room, Rule.ALLOW, Lifetime.PERSISTENT)
    c_obj = spawn(c, room, Rule.ALLOW)
    sim.advance(0.6)
    assert a.call(Request, room, c_obj).status == Status.GRANTED  # a owns c's object
    assert b.call(Request, room, a_keep).status == Status.GRANTED  # b owns a's persistent object
    sim.core.connection_lost(a.conn, sim.now, 1000)  # a closes normally: leaves at once
    sim.tick()
    for x in (b, c):
        x.read()
        objs = x.views[room].objects
        assert a_temp not in objs
        assert (objs[a_keep].master, objs[a_keep].owner) == (0, b.member)  # orphan, still owned by b
        assert (objs[c_obj].master, objs[c_obj].owner) == (c.member, c.member)
        assert a.member not in x.views[room].members


def test_orphans_are_adopted_under_allow_and_ask_but_not_deny() -> None:
    sim, a, b, c, room = room_of_three()
    ask_obj = spawn(a, room, Rule.ASK, Lifetime.PERSISTENT)
    deny_obj = spawn(a, room, Rule.DENY, Lifetime.PERSISTENT)
    sim.core.connection_lost(a.conn, sim.now, 1000)
    sim.tick()
    b.read()
    assert b.views[room].objects[ask_obj].owner == 0
    res = b.call(Request, room, ask_obj)
    assert res.status == Status.GRANTED
    assert c.call(Request, room, deny_obj).status == Status.NOT_ALLOWED
    c.read()
    assert (c.views[room].objects[ask_obj].master, c.views[room].objects[ask_obj].owner) == (
        b.member,
        b.member,
    )


def test_spawn_limits() -> None:
    _sim, a, b, c, room = room_of_three(max_objects_per_member=2, max_objects=3, max_state=4)
    spawn(a, room)
    spawn(a, room)
    assert a.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").status == Status.TOO_MANY_OBJECTS
    spawn(b, room)
    assert c.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").status == Status.TOO_MANY_OBJECTS
    assert c.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"12345").status == Status.TOO_LARGE


def test_requests_for_a_room_not_joined_are_unknown_room() -> None:
    sim, a, _b, _c, room = room_of_three()
    assert a.call(Request, room + 5, 1).status == Status.UNKNOWN_ROOM
    a.send(Update(room + 5, 1, 1, None, b""))
    sim.tick()
    a.read()
    assert a.of(Refused)[-1].status == Status.UNKNOWN_ROOM
