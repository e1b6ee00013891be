"""Promises of PROTOCOL.md that the relay once broke, each reproduced through the I/O-free core.

- a flood of updates is answered REFUSED(RATE_LIMITED) before the GOODBYE 4005 that ends it;
- a requester that leaves during its own Ask still gets the Ask's RESULT (CANCELLED);
- a malformed first HELLO closes with 4000 (a protocol error), a first record that is not
  HELLO with 4002;
- settings whose values do not fit their WELCOME fields are refused before any client comes,
  and a fault while handling one connection's message closes that connection only.
"""

from __future__ import annotations

import pytest

from relay import room as room_module
from relay.protocol import (
    PACKET_RELIABLE,
    AskCancelled,
    Close,
    Goodbye,
    Hello,
    Join,
    Leave,
    LeaveReason,
    Left,
    Lifetime,
    Limit,
    Packet,
    PacketFrom,
    Record,
    Refused,
    Request,
    Result,
    Rule,
    Spawn,
    State,
    Status,
    Update,
    Welcome,
    WelcomeV1,
)
from relay.settings import Settings
from tests.relay.sim import Sim, SimClient


def owner_of_one(sim: Sim, name: str = "alice") -> tuple[SimClient, int, int]:
    c = sim.client(name)
    room = c.join()
    oid = c.call(Spawn, room, Rule.ASK, Lifetime.WITH_MASTER, None, b"").value
    c.read()
    return c, room, oid


def before_goodbye(records: list[Record]) -> list[Record]:
    goodbyes = [i for i, r in enumerate(records) if isinstance(r, Goodbye)]
    assert goodbyes, "no GOODBYE"
    return records[: goodbyes[0]]


# --- a flood of updates: the answers come before the goodbye --------------------------------------


def test_a_burst_of_3000_updates_gets_refused_rate_limited_before_goodbye_4005() -> None:
    sim = Sim()
    a, room, oid = owner_of_one(sim)
    for n in range(3000):  # one message each, faster than a tick: the way a runaway client sends
        a.send(Update(room, oid, 1, None, b"%d" % n))
    sim.tick()
    a.read()
    goodbye = a.goodbye()
    assert goodbye is not None and goodbye.code == Close.RATE_LIMITED
    earlier = before_goodbye(a.records)
    assert Refused(room, oid, 1, Status.RATE_LIMITED) in earlier
    assert [r.state for r in earlier if isinstance(r, State)] == [b"599"]  # the burst, coalesced


def test_a_flood_spread_over_ticks_is_answered_in_the_tick_that_closes_it() -> None:
    sim = Sim(rate=10, burst=20, strike_limit=50)
    a, room, oid = owner_of_one(sim)
    a.send(*(Update(room, oid, 1, None, b"") for _ in range(40)))  # over by 20: refused, not closed
    sim.tick()
    a.read()
    assert a.conn.closing is None and a.of(Refused) == [Refused(room, oid, 1, Status.RATE_LIMITED)]
    a.records.clear()
    for _ in range(40):  # the strike limit is crossed within this tick
        a.send(Update(room, oid, 1, None, b""))
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.RATE_LIMITED
    assert Refused(room, oid, 1, Status.RATE_LIMITED) in before_goodbye(a.records)


def test_the_request_that_crosses_the_strike_limit_is_answered_before_the_goodbye() -> None:
    sim = Sim(rate=10, burst=10, strike_limit=5)
    a, room, oid = owner_of_one(sim)
    a.send(*(Request(100 + n, room, oid) for n in range(20)))
    a.read()
    earlier = before_goodbye(a.records)
    limited = [r.req for r in earlier if isinstance(r, Result) and r.status == Status.RATE_LIMITED]
    # what the bucket held is carried out; then 6 are dropped and answered: the sixth crosses the
    # limit of 5 strikes, and the GOODBYE comes after its answer
    assert limited == list(range(limited[0], limited[0] + 6))
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.RATE_LIMITED


def test_the_reliable_packet_that_crosses_the_limit_is_carried_then_the_sender_closed() -> None:
    sim = Sim(rate=10, burst=10, strike_limit=20)
    a, b = sim.player("a"), sim.player("b")
    b.read()
    big = b"x" * 8000  # 1 + 7 units a message: over the bucket after two, over the strikes soon
    for n in range(6):
        a.send(Packet(1, PACKET_RELIABLE, 0, 0, (), big[:-1] + bytes([n])))
    sim.tick()
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.RATE_LIMITED
    got = [r.payload[-1] for r in b.read() if isinstance(r, PacketFrom)]
    assert got == list(range(len(got))) and len(got) >= 3  # every one carried, in order, none lost


# --- an Ask whose requester leaves -------------------------------------------------------------------


def test_a_requester_that_leaves_during_its_own_ask_gets_its_result() -> None:
    sim = Sim()
    a, room, oid = owner_of_one(sim)
    b = sim.client("bob")
    b.join()
    b.read()
    b.send(Request(50, room, oid))
    sim.tick()
    b.send(Leave(51, room))
    sim.tick()
    b.read()
    a.read()
    answers = [r for r in b.records if isinstance(r, Result | Left) and getattr(r, "req", 50) in (50, 51)]
    assert answers == [
        Result(50, Status.CANCELLED),
        Result(51, Status.OK, room),
        Left(room, LeaveReason.LEFT),
    ]
    assert [r.status for r in a.of(AskCancelled)] == [Status.CANCELLED]


def test_a_requester_whose_session_ends_during_its_ask_is_not_answered_on_a_dead_connection() -> None:
    sim = Sim()
    a, room, oid = owner_of_one(sim)
    b = sim.client("bob")
    b.join()
    b.send(Request(50, room, oid))
    sim.tick()
    sim.core.connection_lost(b.conn, sim.now, 1000)  # a normal close: the session ends
    sim.tick()
    assert not b.conn.has_output
    assert [r.status for r in a.read() if isinstance(r, AskCancelled)] == [Status.CANCELLED]


# --- the first record -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x01\x06\x00" + b"\x01\x00\x01\x00\x05\x00", Close.PROTOCOL_ERROR),  # token_len 5
        (b"\x01\x04\x00" + b"\x01\x00\x01\x00", Close.PROTOCOL_ERROR),  # HELLO too short
        (b"\x01\x05", Close.PROTOCOL_ERROR),  # a truncated header
        (b"", Close.PROTOCOL_ERROR),  # an empty message
        (Join(1, "lobby").encode(), Close.HELLO_EXPECTED),  # well formed, but not HELLO
        (b"\x7f\x00\x00", Close.HELLO_EXPECTED),  # an unknown type is not HELLO either
        (Hello(3, 4).encode(), Close.UNSUPPORTED_VERSION),
    ],
)
def test_the_first_message_is_closed_with_the_code_section_11_gives(message: bytes, code: Close) -> None:
    sim = Sim()
    c = sim.client(hello=False)
    c.send_raw(message)
    c.read()
    assert (goodbye := c.goodbye()) is not None and goodbye.code == code, goodbye
    assert c.conn.session is None  # no session was made


def test_a_valid_hello_followed_by_a_malformed_record_is_welcomed_then_closed_4000() -> None:
    sim = Sim()
    c = sim.client(hello=False)
    c.send_raw(Hello(1, 1).encode() + b"\x00")
    c.read()
    assert [type(r).__name__ for r in c.records] == ["WelcomeV1", "Goodbye"]
    assert (goodbye := c.goodbye()) is not None and goodbye.code == Close.PROTOCOL_ERROR


# --- settings that do not fit their wire fields, and faults of the relay's own --------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"rate": 100_000},
        {"burst": 200_000},
        {"rate": -1},
        {"ping_interval": 70_000.0},
        {"idle_timeout": 66_000.0},
        {"grace": 66_000.0},
        {"ask_timeout": 70.0},
        {"cooldown": 66.0},
        {"hello_timeout": 5_000_000.0},
        {"max_objects": 2**32},
        {"lag_high": 2**33, "lag_low": 1},
        {"interest_tiers": tuple((n, 1) for n in range(17))},
    ],
)
def test_settings_that_do_not_fit_welcome_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"does not fit|tiers"):
        Settings().with_overrides(**overrides)


def test_the_largest_settings_that_fit_are_welcomed_in_both_layouts() -> None:
    sim = Sim(rate=65535, burst=65535, cooldown=65.535, grace=65535.0)
    (v1,), (v2,) = sim.client("one").of(WelcomeV1), sim.client("two", version=2).of(Welcome)
    assert (v1.rate, v1.burst, v1.cooldown_ms, v1.grace_s) == (65535, 65535, 65535, 65535)
    assert (v2.limit(Limit.RATE), v2.limit(Limit.COOLDOWN_MS), v2.limit(Limit.GRACE_MS)) == (
        65535,
        65535,
        65535000,
    )


def test_a_fault_while_handling_a_message_closes_only_that_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = Sim()
    a, room, oid = owner_of_one(sim)
    b = sim.client("bob")
    b.join()
    b.read()
    spawn = room_module.Room.spawn

    def failing_spawn(self: room_module.Room, session: object, req: int, *args: object) -> None:
        if req == 666:
            raise RuntimeError("a bug in the relay")
        spawn(self, session, req, *args)  # type: ignore[arg-type]  # passed through as received

    monkeypatch.setattr(room_module.Room, "spawn", failing_spawn)
    b.send(Spawn(666, room, Rule.ASK, Lifetime.WITH_MASTER, None, b""))
    b.read()
    assert (goodbye := b.goodbye()) is not None and goodbye.code == Close.INTERNAL_ERROR
    assert b.conn.closing is not None
    a.send(
        Update(room, oid, 1, None, b"still here"), Spawn(7, room, Rule.ASK, Lifetime.WITH_MASTER, None, b"")
    )
    sim.tick()
    assert State(room, oid, 1, None, b"still here") in a.read()
    assert a.result(7).status == Status.OK and a.conn.closing is None
    # the failed member's session waits out its grace window like any dropped connection
    assert sim.core.sessions[b.member].conn is None
