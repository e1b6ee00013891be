"""Sessions through the I/O-free core: hello, versions, keepalive, grace window, resume."""

from __future__ import annotations

from relay.protocol import (
    Close,
    Goodbye,
    Hello,
    Join,
    LeaveReason,
    Lifetime,
    MemberLeft,
    Ping,
    Pong,
    Request,
    Rule,
    ServerPing,
    ServerPong,
    Snapshot,
    Spawn,
    State,
    Status,
    Synced,
    Update,
    WelcomeV1,
)
from tests.relay.sim import WALL_EPOCH, Sim


def test_welcome_carries_member_id_token_time_and_limits() -> None:
    sim = Sim()
    a = sim.client("alice")
    welcome = a.of(WelcomeV1)[0]
    assert welcome.version == 1 and welcome.resumed == 0 and len(welcome.token) == 16
    assert welcome.server_time_ms == int((WALL_EPOCH + sim.now) * 1000)
    assert (welcome.tick_hz, welcome.grace_s, welcome.ask_timeout_ms, welcome.max_message) == (
        30,
        30,
        2000,
        65535,
    )
    b = sim.client("bob")
    assert b.member != a.member and b.token != a.token


def test_version_range_picks_the_highest_shared_version_and_refuses_none() -> None:
    sim = Sim()
    assert sim.client(hello=False).hello(versions=(1, 5)).version == 2
    c = sim.client(hello=False)
    c.send(Hello(3, 4))
    c.read()
    goodbye = c.goodbye()
    assert goodbye is not None and goodbye.code == Close.UNSUPPORTED_VERSION
    assert "1..2" in goodbye.reason
    assert c.conn.closing is not None and c.conn.closing[0] == Close.UNSUPPORTED_VERSION


def test_the_first_record_must_be_hello_and_only_once() -> None:
    sim = Sim()
    c = sim.client(hello=False)
    c.send(Join(1, "lobby"))
    c.read()
    assert c.goodbye() == Goodbye(Close.HELLO_EXPECTED, "the first record must be HELLO")
    d = sim.client()
    d.send(Hello(1, 1))
    d.read()
    assert (goodbye := d.goodbye()) is not None and goodbye.code == Close.PROTOCOL_ERROR


def test_hello_timeout_closes_a_silent_connection() -> None:
    sim = Sim()
    c = sim.client(hello=False)
    sim.advance(9.5)
    assert c.conn.closing is None
    sim.advance(1)
    c.read()
    assert (goodbye := c.goodbye()) is not None and goodbye.code == Close.HELLO_EXPECTED


def test_relay_pings_with_server_time_and_measures_latency_from_the_pong() -> None:
    sim = Sim()
    a = sim.client()
    pings: list[ServerPing] = []
    while not pings:
        sim.tick()
        pings = [r for r in a.read() if isinstance(r, ServerPing)]
    assert 15 <= sim.now - 1000 <= 15.1
    assert pings[0].server_time_ms == int((WALL_EPOCH + sim.now) * 1000)
    sim.now += 0.04
    a.send(Pong(pings[0].nonce))
    session = a.conn.session
    assert session is not None and session.latency_ms is not None and 35 <= session.latency_ms <= 45


def test_client_ping_is_answered_with_server_time() -> None:
    sim = Sim()
    a = sim.client()
    a.send(Ping(77))
    pong = [r for r in a.read() if isinstance(r, ServerPong)]
    assert pong and pong[0].nonce == 77 and pong[0].server_time_ms == int((WALL_EPOCH + sim.now) * 1000)


def test_answering_pings_keeps_a_connection_alive_and_silence_closes_it() -> None:
    sim = Sim()
    a, b = sim.client("a"), sim.client("b")
    for _ in range(5):
        sim.advance(15.05)
        for r in a.read():
            if isinstance(r, ServerPing):
                a.send(Pong(r.nonce))
    assert a.conn.closing is None
    b.read()
    assert (goodbye := b.goodbye()) is not None and goodbye.code == Close.IDLE


def test_resume_within_grace_keeps_everything_and_replaces_the_view() -> None:
    sim = Sim()
    a, b = sim.client("alice"), sim.client("bob")
    room = a.join()
    b.join()
    oid = a.call(Spawn, room, Rule.DENY, Lifetime.WITH_MASTER, None, b"s").value
    sim.core.connection_lost(a.conn, sim.now, None)  # dropped, not closed
    sim.advance(5)
    b.read()
    assert a.member in b.views[room].members and oid in b.views[room].objects
    a2 = sim.client("alice", hello=False)
    welcome = a2.hello(token=a.token)
    assert (welcome.resumed, welcome.member, welcome.token) == (1, a.member, a.token)
    sim.tick()
    a2.read()
    kinds = [type(r) for r in a2.records]
    assert kinds.index(Snapshot) < kinds.index(Synced)
    view = a2.views[room]
    assert view.objects[oid].owner == a.member and a.member in view.members
    a2.send(Update(room, oid, 1, None, b"back"))
    sim.tick()
    assert [r.state for r in b.read() if isinstance(r, State)] == [b"back"]


def test_grace_window_expiry_applies_the_leave_rules() -> None:
    sim = Sim()
    a, b = sim.client("alice"), sim.client("bob")
    room = a.join()
    b.join()
    oid = a.call(Spawn, room, Rule.DENY, Lifetime.WITH_MASTER, None, b"").value
    sim.core.connection_lost(a.conn, sim.now, None)
    sim.advance(29)
    b.read()
    assert oid in b.views[room].objects
    sim.advance(1.5)
    b.read()
    assert oid not in b.views[room].objects
    assert [(r.member, r.reason) for r in b.of(MemberLeft)] == [(a.member, LeaveReason.DISCONNECTED)]
    # the token is dead now: a new session starts
    a2 = sim.client("alice", hello=False)
    welcome = a2.hello(token=a.token)
    assert welcome.resumed == 0 and welcome.member != a.member


def test_resume_needs_the_same_user() -> None:
    sim = Sim()
    a = sim.client("alice")
    sim.core.connection_lost(a.conn, sim.now, None)
    mallory = sim.client("mallory", hello=False)
    assert mallory.hello(token=a.token).resumed == 0


def test_resuming_while_the_old_connection_is_open_replaces_it() -> None:
    sim = Sim()
    a = sim.client("alice")
    room = a.join()
    a2 = sim.client("alice", hello=False)
    assert a2.hello(token=a.token).resumed == 1
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.REPLACED
    session = a2.conn.session
    assert session is not None and session.conn is a2.conn and room in session.rooms
    sim.core.connection_lost(a.conn, sim.now, None)  # the old socket finally goes away
    assert session.conn is a2.conn


def test_normal_close_ends_the_session_at_once() -> None:
    sim = Sim()
    a, b = sim.client("alice"), sim.client("bob")
    a.join()
    room = b.join()
    sim.core.connection_lost(a.conn, sim.now, 1000)
    sim.tick()
    b.read()
    assert a.member not in b.views[room].members
    assert sim.client("alice", hello=False).hello(token=a.token).resumed == 0


def test_protocol_error_closes_only_the_sender() -> None:
    sim = Sim()
    a, b = sim.client("alice"), sim.client("bob")
    room = a.join()
    b.join()
    oid = b.call(Spawn, room, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    a.send_raw(Join(5, "x").encode() + b"\x21\x01\x00")  # a valid record, then a truncated one
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.PROTOCOL_ERROR
    assert a.conn.closing is not None
    b.send(Update(room, oid, 1, None, b"still fine"))
    sim.tick()
    assert [r.state for r in b.read() if isinstance(r, State)] == [b"still fine"]
    assert b.call(Request, room, oid).status == Status.GRANTED
