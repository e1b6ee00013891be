"""What PROTOCOL.md answers for a client writer, checked against what the relay does.

One test per answer where behaviour is involved, through the I/O-free core: which refusal wins,
events with odd target lists, SET_MASTER and GIVE to nobody, ANSWER from the wrong member,
MEMBER_PRESENCE, WELCOME's limits, coalescing, REFUSED per tick, cooldowns, resume tokens.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relay.protocol import (
    Answer,
    Ask,
    Close,
    Event,
    EventFrom,
    Give,
    Hello,
    Join,
    Lifetime,
    Limit,
    MemberJoined,
    MemberPresence,
    ObjectInfo,
    Record,
    Refused,
    Release,
    Request,
    Rule,
    SetMaster,
    SetRule,
    Snapshot,
    Spawn,
    State,
    Status,
    Synced,
    Update,
    Welcome,
    WelcomeV1,
)
from relay.settings import Settings
from tests.relay.sim import Sim, SimClient


def room_of(sim: Sim, *names: str, version: int = 1) -> tuple[list[SimClient], int]:
    clients = [sim.client(n, version=version) for n in names]
    room = clients[0].join()
    for c in clients[1:]:
        assert c.join() == room
    for c in clients:
        c.read()
    return clients, room


def spawn(c: SimClient, room: int, rule: Rule = Rule.ASK, lifetime: Lifetime = Lifetime.WITH_MASTER) -> int:
    res = c.call(Spawn, room, rule, lifetime, None, b"")
    assert res.status == Status.OK
    c.read()
    return res.value


def refusals(c: SimClient) -> list[Status]:
    return [r.status for r in c.read() if isinstance(r, Refused)]


# --- section 5.2: which refusal wins ----------------------------------------------------------------


def test_an_update_is_refused_for_the_first_rule_it_breaks_in_the_documented_order() -> None:
    sim = Sim(max_state=8)
    (a, b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room)
    big = b"x" * 9
    cases: list[tuple[SimClient, Update, Status]] = [
        (b, Update(room + 5, oid, 7, None, big), Status.UNKNOWN_ROOM),
        (b, Update(room, oid + 9, 7, None, big), Status.UNKNOWN_OBJECT),
        (b, Update(room, oid, 7, None, big), Status.NOT_OWNER),  # foreign, stale and too large
        (a, Update(room, oid, 7, None, big), Status.STALE_EPOCH),  # stale and too large
        (a, Update(room, oid, 1, None, big), Status.TOO_LARGE),
    ]
    for client, update, status in cases:
        client.send(update)
        sim.tick()
        assert refusals(client) == [status], update


def test_over_the_rate_an_update_is_rate_limited_whatever_else_is_wrong_with_it() -> None:
    sim = Sim(rate=1, burst=3)
    (a, b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room)
    b.send(*(Event(room, (), b"") for _ in range(3)))  # the bucket is empty now
    sim.tick()
    b.read()
    b.send(Update(room + 5, oid, 7, None, b""), *(Update(room, oid, 7, None, b"") for _ in range(5)))
    sim.tick()
    assert refusals(b) == [Status.RATE_LIMITED, Status.RATE_LIMITED]  # one per object per tick


# --- section 3: messages a session does not expect ----------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"", "empty message"),
        (Hello(1, 2).encode(), "HELLO sent twice"),
        (b"\x01\x06\x00\x01\x00\x01\x00\x05\x00", "0 or 16"),
    ],
)
def test_an_empty_message_or_a_second_hello_is_a_protocol_error(message: bytes, reason: str) -> None:
    sim = Sim()
    c = sim.client()
    c.send_raw(message)
    c.read()
    goodbye = c.goodbye()
    assert goodbye is not None and goodbye.code == Close.PROTOCOL_ERROR and reason in goodbye.reason


# --- section 6: events ----------------------------------------------------------------------------


def events(c: SimClient) -> list[bytes]:
    return [r.payload for r in c.read() if isinstance(r, EventFrom)]


def test_duplicate_targets_get_an_event_once_and_a_sender_that_names_itself_gets_it() -> None:
    sim = Sim()
    (a, b, c), room = room_of(sim, "alice", "bob", "carol")
    a.send(Event(room, (b.member, b.member, a.member, b.member), b"once"))
    sim.tick()
    assert (events(a), events(b), events(c)) == ([b"once"], [b"once"], [])


def test_an_event_whose_targets_are_all_absent_reaches_nobody_and_is_not_answered() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    a.send(Event(room, (999, 0, 12345), b"nobody"))
    sim.tick()
    assert a.read() == [] and b.read() == []


def test_a_room_wide_event_skips_its_sender() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    a.send(Event(room, (), b"all"))
    sim.tick()
    assert (events(a), events(b)) == ([], [b"all"])


def test_a_notice_sits_in_the_room_stream_where_its_event_was_dropped() -> None:
    sim = Sim(max_event=4)
    (a, b), room = room_of(sim, "alice", "bob")
    a.send(
        Event(room, (b.member,), b"one"),
        Event(room, (b.member,), b"too long"),
        Request(7, room, 999),
        Event(room, (b.member,), b"two"),
        Event(room, (b.member,), b"long again"),
    )
    sim.tick()
    answers = [(type(r).__name__, getattr(r, "status", None)) for r in a.read()]
    assert answers == [
        ("Notice", Status.TOO_LARGE),
        ("Result", Status.UNKNOWN_OBJECT),
        ("Notice", Status.TOO_LARGE),
    ]
    assert events(b) == [b"one", b"two"]


# --- section 5.3: GIVE and SET_MASTER to nobody ------------------------------------------------------


@pytest.mark.parametrize("make", [Give, SetMaster])
@pytest.mark.parametrize("member", [0, 999])
def test_give_and_set_master_to_nobody_or_a_non_member_are_unknown_member(
    make: type[Record], member: int
) -> None:
    sim = Sim()
    (a, _b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room, lifetime=Lifetime.PERSISTENT)
    assert a.call(make, room, oid, member).status == Status.UNKNOWN_MEMBER
    obj = sim.core.rooms["lobby"].objects[oid]
    assert (obj.master, obj.owner, obj.epoch) == (a.member, a.member, 1)  # nothing changed


def test_a_member_in_its_grace_window_may_be_given_an_object_and_its_mastership() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room)
    sim.core.connection_lost(b.conn, sim.now)
    sim.tick()
    assert a.call(Give, room, oid, b.member).status == Status.OK
    assert a.call(SetMaster, room, oid, b.member).status == Status.OK
    obj = sim.core.rooms["lobby"].objects[oid]
    assert (obj.master, obj.owner) == (b.member, b.member)


def test_a_master_cannot_orphan_its_object_only_leaving_does() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room, lifetime=Lifetime.PERSISTENT)
    assert a.call(SetMaster, room, oid, 0).status == Status.UNKNOWN_MEMBER
    assert a.call(Release, room, oid).status == Status.OK  # the Master releasing: no change
    obj = sim.core.rooms["lobby"].objects[oid]
    assert (obj.master, obj.owner, obj.epoch) == (a.member, a.member, 1)
    a.call(Join, "elsewhere")
    sim.core.connection_lost(a.conn, sim.now, 1000)
    sim.tick()
    assert (obj.master, obj.owner) == (0, 0)
    assert b.call(Request, room, oid).status == Status.GRANTED  # an orphan is adopted


# --- section 5.4: ANSWER -------------------------------------------------------------------------------


def test_answer_from_a_non_master_or_to_no_pending_ask() -> None:
    sim = Sim()
    (a, b, c), room = room_of(sim, "alice", "bob", "carol")
    oid = spawn(a, room)
    other = spawn(a, room)
    asked = b.req()
    b.send(Request(asked, room, oid))
    sim.tick()
    ask = next(r for r in a.read() if isinstance(r, Ask))
    assert c.call(Answer, room, oid, ask.ask, 1).status == Status.NOT_MASTER
    assert b.call(Answer, room, oid, ask.ask, 1).status == Status.NOT_MASTER  # not even the requester
    assert a.call(Answer, room, other, ask.ask, 1).status == Status.NOT_PENDING  # another object
    assert c.call(Answer, room, oid, ask.ask + 50, 1).status == Status.NOT_PENDING  # no such ask
    assert a.call(Answer, room, oid, ask.ask, 0).status == Status.OK
    assert b.result(asked).status == Status.DENIED
    assert a.call(Answer, room, oid, ask.ask, 1).status == Status.NOT_PENDING  # answered already


# --- section 3.4: MEMBER_PRESENCE ------------------------------------------------------------------------


def test_a_member_in_its_grace_window_is_shown_disconnected_and_its_asks_are_master_absent() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob", version=2)
    v1 = sim.client("carol")
    v1.join()
    v1.read()
    oid = spawn(a, room)
    b.read()
    sim.core.connection_lost(a.conn, sim.now)
    sim.tick()
    assert MemberPresence(room, a.member, 0) in b.read()
    assert MemberPresence(room, a.member, 0) in v1.read()  # sent to version-1 sessions too
    assert b.views[room].members[a.member].connected is False
    assert b.call(Request, room, oid).status == Status.MASTER_ABSENT  # what the client could foresee
    late = sim.client("dave", version=2)
    late.join()
    snapshot = [r for r in late.records if isinstance(r, Snapshot | MemberJoined | MemberPresence | Synced)]
    kinds = [type(r).__name__ for r in snapshot]
    assert kinds == ["Snapshot", *["MemberJoined"] * 4, "MemberPresence", "Synced"]
    assert snapshot[-2] == MemberPresence(room, a.member, 0)
    back = sim.client("alice", hello=False)
    back.hello(token=a.token, versions=(1, 2))
    sim.tick()
    assert MemberPresence(room, a.member, 1) in b.read()
    assert late.read() and late.views[room].members[a.member].connected is True
    assert not any(isinstance(r, MemberPresence) for r in back.read())  # its own snapshot: all here
    for c in (b, late):
        assert c.views[room].anomalies == []


def test_a_replaced_connection_is_never_shown_disconnected() -> None:
    sim = Sim()
    (a, b), _room = room_of(sim, "alice", "bob")
    again = sim.client("alice", hello=False)  # the old connection is still open (half-open TCP)
    again.hello(token=a.token)
    sim.tick()
    assert not any(isinstance(r, MemberPresence) for r in b.read())


# --- section 9.3: WELCOME -----------------------------------------------------------------------------


def test_welcome_carries_every_limit_in_force_in_milliseconds() -> None:
    overrides = {"cooldown": 0.25, "grace": 2.5, "ask_timeout": 0.75, "ping_interval": 1.5, "rate": 123}
    sim = Sim(**overrides)
    welcome = sim.client("alice", version=2).of(Welcome)[0]
    limits = dict(welcome.limits)
    assert limits == Settings().with_overrides(**overrides).limits()
    assert {int(x) for x in Limit if x < Limit.TIER_CELLS} <= set(limits)
    assert (welcome.limit(Limit.COOLDOWN_MS), welcome.limit(Limit.GRACE_MS)) == (250, 2500)
    assert (welcome.limit(Limit.PING_INTERVAL_MS), welcome.limit(Limit.ASK_TIMEOUT_MS)) == (1500, 750)
    assert welcome.limit(Limit.MAX_PACKET) == 65524 and welcome.limit(Limit.RATE) == 123
    tiers = [(limits[Limit.TIER_CELLS + i], limits[Limit.TIER_TICKS + i]) for i in range(3)]
    assert tuple(tiers) == Settings().interest_tiers
    old = sim.client("bob").of(WelcomeV1)[0]  # a version-1 session keeps its layout, rounded
    assert (old.grace_s, old.ping_interval_s, old.cooldown_ms, old.rate) == (2, 2, 250, 123)


# --- section 4.2 and 8: coalescing, which every member sees ---------------------------------------------


def test_coalescing_drops_the_same_states_for_every_member_and_a_joiner_misses_nothing() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    oid = spawn(a, room)
    b.read()
    a.send(Update(room, oid, 1, None, b"first"))
    joiner = sim.client("carol")
    joiner.send(Join(joiner.req(), "lobby"))
    a.send(Update(room, oid, 1, None, b"second"), Update(room, oid, 1, None, b"third"))
    sim.tick()

    def states(c: SimClient) -> list[bytes]:
        return [r.state for r in c.read() if isinstance(r, State)]

    assert states(a) == states(b) == states(joiner) == [b"third"]
    snapshot_state = next(r.state for r in joiner.records if isinstance(r, ObjectInfo))
    assert snapshot_state == b"first"  # the snapshot, then the live state that replaced it
    assert joiner.views[room].table() == b.views[room].table()


# --- section 5.2: REFUSED at most one per object per tick ------------------------------------------------


def test_refused_is_at_most_one_per_object_and_member_per_tick() -> None:
    sim = Sim()
    (a, b), room = room_of(sim, "alice", "bob")
    one, two = spawn(a, room), spawn(a, room)
    b.send(*(Update(room, oid, 1, None, b"") for oid in (one, two) for _ in range(5)))
    a.send(*(Update(room, one, 9, None, b"") for _ in range(5)))
    sim.tick()
    assert sorted(r.object for r in b.read() if isinstance(r, Refused)) == [one, two]
    assert [r.object for r in a.read() if isinstance(r, Refused)] == [one]
    b.send(Update(room, one, 1, None, b""))
    sim.tick()
    assert refusals(b) == [Status.NOT_OWNER]  # a new tick, a new REFUSED


# --- section 5.4: what starts a cooldown ----------------------------------------------------------------


def cooldown_after(action: str) -> Status:
    """The answer to a third member's REQUEST (rule allow) right after ``action``."""
    sim = Sim()
    (a, b, c), room = room_of(sim, "alice", "bob", "carol")
    oid = spawn(a, room, Rule.ALLOW, Lifetime.PERSISTENT)
    sim.advance(1.0)  # the spawn itself is no change of owner
    if action == "give":
        assert a.call(Give, room, oid, b.member).status == Status.OK
    elif action == "give to the owner":
        assert a.call(Give, room, oid, a.member).status == Status.OK
    elif action == "grant":
        assert b.call(Request, room, oid).status == Status.GRANTED
    elif action == "release":
        assert a.call(Give, room, oid, b.member).status == Status.OK
        sim.advance(1.0)
        assert b.call(Release, room, oid).status == Status.OK
    elif action == "master takes it back":
        assert a.call(Give, room, oid, b.member).status == Status.OK
        sim.advance(1.0)
        assert a.call(Request, room, oid).status == Status.GRANTED
    elif action == "set master":
        assert a.call(SetMaster, room, oid, b.member).status == Status.OK
    elif action == "set rule":
        assert a.call(SetRule, room, oid, Rule.ALLOW).status == Status.OK
        assert a.call(SetRule, room, oid, Rule.ASK).status == Status.OK
        assert a.call(SetRule, room, oid, Rule.ALLOW).status == Status.OK
    elif action == "owner leaves":
        assert a.call(Give, room, oid, b.member).status == Status.OK
        sim.advance(1.0)
        sim.core.connection_lost(b.conn, sim.now, 1000)  # the relay gives it back to its Master
    return c.call(Request, room, oid).status


@pytest.mark.parametrize("action", ["give", "grant", "release", "master takes it back"])
def test_a_change_of_owner_by_a_member_starts_a_cooldown(action: str) -> None:
    assert cooldown_after(action) == Status.COOLDOWN


@pytest.mark.parametrize("action", ["give to the owner", "set master", "set rule", "owner leaves"])
def test_what_changes_no_owner_or_is_the_relays_own_starts_none(action: str) -> None:
    assert cooldown_after(action) == Status.GRANTED


# --- section 3.5: the resume token ------------------------------------------------------------------


def test_the_resume_token_stays_the_same_across_resumes() -> None:
    sim = Sim()
    a = sim.client("alice")
    a.join()
    token, member = a.token, a.member
    for _ in range(3):
        sim.core.connection_lost(a.conn, sim.now)
        sim.tick()
        a = sim.client("alice", hello=False)
        welcome = a.hello(token=token)
        assert (welcome.resumed, welcome.member, welcome.token) == (1, member, token)
    sim.core.connection_lost(a.conn, sim.now, 1000)  # the session ends: the token with it
    fresh = sim.client("alice", hello=False)
    welcome = fresh.hello(token=token)
    assert welcome.resumed == 0 and welcome.token != token


def test_updates_to_a_room_the_connection_is_not_in_are_refused_once_per_object_per_tick() -> None:
    sim = Sim()
    (a,), room = room_of(sim, "alice")
    a.send(*(Update(room + 5, oid, 1, None, b"") for oid in (1, 2, 1, 1, 2)))
    sim.tick()
    assert [(r.room, r.object, r.status) for r in a.read() if isinstance(r, Refused)] == [
        (room + 5, 1, Status.UNKNOWN_ROOM),
        (room + 5, 2, Status.UNKNOWN_ROOM),
    ]
    a.send(Update(room + 5, 1, 1, None, b""))
    sim.tick()
    assert refusals(a) == [Status.UNKNOWN_ROOM]  # a new tick, a new REFUSED


def test_the_limit_table_of_protocol_md_is_the_relays() -> None:
    text = (Path(__file__).parents[2] / "relay" / "PROTOCOL.md").read_text()
    section = text.split("### 9.3", 1)[1].split("`WELCOME_V1` (`0x81`) is", 1)[0]
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (\d+) \|", section, re.MULTILINE)
    defaults = Settings().limits()
    assert [(int(i), name, int(value)) for i, name, value in rows] == [
        (int(limit), limit.name.lower(), defaults[limit]) for limit in Limit if limit < Limit.TIER_CELLS
    ]
    tiers = re.findall(r"^\| (\d+) \+ i \| `tier_<i>_(\w+)` \| ([^|]+) \|", section, re.MULTILINE)
    assert [(int(i), what) for i, what, _ in tiers] == [
        (Limit.TIER_CELLS, "cells"),
        (Limit.TIER_TICKS, "ticks"),
    ]
    cells, ticks = (", ".join(str(t[k]) for t in Settings().interest_tiers) for k in (0, 1))
    assert [d.strip() for _, _, d in tiers] == [cells.replace(str(1 << 30), "2^30"), ticks]


def test_welcome_names_the_rooms_a_player_may_create_as_the_host_set_it() -> None:
    sim = Sim()
    assert sim.client("alice", version=2).of(Welcome)[0].limit(Limit.PLAYER_ROOMS) == 2
    sim.core.quotas.player_rooms = 5  # the host changed the policy (admin endpoint)
    assert sim.client("bob", version=2).of(Welcome)[0].limit(Limit.PLAYER_ROOMS) == 5
