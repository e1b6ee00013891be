"""Protocol version 2 through the I/O-free core: game roles and packets (PROTOCOL.md §15)."""

from __future__ import annotations

import random

import pytest

from relay.protocol import (
    GAME_VERSION,
    PACKET_EXCEPT,
    PACKET_MORE,
    PACKET_RELIABLE,
    PACKET_TYPE,
    PACKET_UNRELIABLE,
    PACKET_UNRELIABLE_ORDERED,
    Close,
    Game,
    GamePeer,
    GameRole,
    Goodbye,
    Hello,
    Join,
    Leave,
    LeaveReason,
    Lifetime,
    MemberJoined,
    MemberLeft,
    MemberPresence,
    Notice,
    ObjectInfo,
    Owner,
    Packet,
    PacketFrom,
    Request,
    Result,
    Rule,
    Snapshot,
    Spawn,
    Status,
    Synced,
    Welcome,
)
from tests.relay.sim import Sim, SimClient

ROOM = 1  # the lobby's handle


def packets(c: SimClient) -> list[PacketFrom]:
    return [r for r in c.read() if isinstance(r, PacketFrom)]


def payloads(c: SimClient) -> list[bytes]:
    return [p.payload for p in packets(c)]


def send(c: SimClient, payload: bytes, *targets: int, flags: int = PACKET_RELIABLE, lane: int = 0) -> None:
    c.send(Packet(ROOM, flags, 0, lane, targets, payload))


# --- versions ---------------------------------------------------------------------------------------


def test_version_2_is_negotiated_when_offered_and_remembered() -> None:
    sim = Sim()
    for offered, chosen in (((1, 1), 1), ((1, 2), 2), ((1, 9), 2), ((2, 5), 2)):
        c = sim.client(f"speaks {offered}", hello=False)
        assert c.hello(versions=offered).version == chosen
        assert c.conn.session is not None and c.conn.session.version == chosen
    too_new = sim.client("future", hello=False)
    too_new.send(Hello(3, 4))
    too_new.read()
    assert too_new.goodbye() == Goodbye(Close.UNSUPPORTED_VERSION, "relay speaks protocol versions 1..2")


def test_game_on_a_version_1_session_is_a_protocol_error() -> None:
    sim = Sim()
    c = sim.client()
    room = c.join()
    c.send(Game(1, room, GameRole.PEER))
    c.read()
    assert c.goodbye() == Goodbye(Close.PROTOCOL_ERROR, "GAME needs protocol version 2")


def test_a_resumed_session_negotiates_again() -> None:
    sim = Sim()
    c = sim.client("a", version=2)
    sim.core.connection_lost(c.conn, sim.now)
    again = sim.client("a", hello=False)
    welcome = again.hello(token=c.token, versions=(1, 1))
    assert welcome.resumed and welcome.version == 1
    assert again.conn.session is not None and again.conn.session.version == 1


# --- roles ------------------------------------------------------------------------------------------


def test_game_is_answered_and_announced_to_the_whole_room() -> None:
    sim = Sim()
    watcher = sim.client("watcher")  # version 1: it skips what it does not know, and gets GAME_PEER
    watcher.join()
    a = sim.client("a", version=2)
    room = a.join()
    watcher.read()
    req = a.req()
    a.send(Game(req, room, GameRole.HOST))
    sim.tick()
    got = a.read()
    assert GamePeer(room, a.member, GameRole.HOST) in got and Result(req, Status.OK) in got
    assert watcher.read() == [GamePeer(room, a.member, GameRole.HOST)]
    # asking for the role one has: OK, and nobody hears of it
    assert a.call(Game, room, GameRole.HOST).status == Status.OK
    assert watcher.read() == []
    assert sim.core.rooms["lobby"].host == a.member


def test_one_host_per_room_and_a_host_may_give_it_up() -> None:
    sim = Sim()
    a, b = sim.player("a", GameRole.HOST), sim.player("b")
    assert b.call(Game, ROOM, GameRole.HOST).status == Status.HOST_TAKEN
    assert GamePeer(ROOM, b.member, GameRole.HOST) not in a.read()
    assert a.call(Game, ROOM, GameRole.PEER).status == Status.OK
    assert GamePeer(ROOM, a.member, GameRole.PEER) in b.read()
    assert b.call(Game, ROOM, GameRole.HOST).status == Status.OK
    assert b.views[ROOM].host == b.member
    assert a.call(Game, ROOM, GameRole.NONE).status == Status.OK
    b.read()
    assert b.views[ROOM].game_roles == {b.member: GameRole.HOST}


def test_game_in_a_room_one_is_not_in_is_unknown_room() -> None:
    sim = Sim()
    a = sim.client(version=2)
    assert a.call(Game, 9, GameRole.PEER).status == Status.UNKNOWN_ROOM


def test_the_role_ends_before_member_left_on_leave_and_session_end() -> None:
    sim = Sim()
    watcher = sim.player("watcher")
    a, b = sim.player("a", GameRole.HOST), sim.player("b")
    watcher.read()
    a.call(Leave, ROOM)
    got = [r for r in watcher.read() if isinstance(r, GamePeer | MemberLeft)]
    assert got == [GamePeer(ROOM, a.member, GameRole.NONE), MemberLeft(ROOM, a.member, LeaveReason.LEFT)]
    assert sim.core.rooms["lobby"].host == 0
    sim.core.connection_lost(b.conn, sim.now, 1000)  # a normal close ends the session at once
    sim.tick()
    got = [r for r in watcher.read() if isinstance(r, GamePeer | MemberLeft)]
    assert got == [
        GamePeer(ROOM, b.member, GameRole.NONE),
        MemberLeft(ROOM, b.member, LeaveReason.DISCONNECTED),
    ]
    assert watcher.views[ROOM].anomalies == []


def test_the_role_ends_at_once_when_the_connection_drops_and_a_resume_starts_outside() -> None:
    sim = Sim(grace=5)
    watcher = sim.player("watcher")
    a = sim.player("a", GameRole.HOST)
    watcher.read()
    sim.core.connection_lost(a.conn, sim.now)  # dropped: the session waits out its grace window
    sim.tick()
    assert watcher.read() == [  # and no MEMBER_LEFT yet
        GamePeer(ROOM, a.member, GameRole.NONE),
        MemberPresence(ROOM, a.member, 0),
    ]
    assert sim.core.rooms["lobby"].host == 0
    again = sim.client("a", hello=False)
    assert again.hello(token=a.token, versions=(1, 2)).resumed
    sim.tick()
    again.read()
    assert again.views[ROOM].game_roles == {watcher.member: GameRole.PEER}
    assert again.call(Game, ROOM, GameRole.HOST).status == Status.OK
    sim.advance(6)
    watcher.read()
    assert [r for r in watcher.records if isinstance(r, MemberLeft)] == []  # it came back in time


def test_a_connection_replaced_by_a_resume_ends_the_role_too() -> None:
    sim = Sim()
    watcher = sim.player("watcher")
    a = sim.player("a")
    watcher.read()
    again = sim.client("a", hello=False)  # the old connection is still open (half-open TCP)
    assert again.hello(token=a.token, versions=(1, 2)).resumed
    sim.tick()
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.REPLACED
    assert watcher.read() == [GamePeer(ROOM, a.member, GameRole.NONE)]
    again.read()
    assert again.views[ROOM].game_roles == {watcher.member: GameRole.PEER}


def test_a_kicked_game_peer_leaves_the_game_before_the_room() -> None:
    sim = Sim()
    watcher, a = sim.player("watcher"), sim.player("a")
    watcher.read()
    assert sim.core.kick("lobby", a.member, sim.now)
    sim.tick()
    got = [r for r in watcher.read() if isinstance(r, GamePeer | MemberLeft)]
    assert got == [GamePeer(ROOM, a.member, GameRole.NONE), MemberLeft(ROOM, a.member, LeaveReason.KICKED)]


def test_the_snapshot_has_game_peers_after_the_members_and_before_the_objects() -> None:
    sim = Sim()
    a, b = sim.player("a", GameRole.HOST), sim.player("b")
    sim.client("outsider").join()
    a.call(Spawn, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"")
    late = sim.client("late", version=2)
    late.join()
    kinds = [type(r) for r in late.records[late.records.index(late.of(Snapshot)[0]) :]]
    assert kinds == [Snapshot, *[MemberJoined] * 4, GamePeer, GamePeer, ObjectInfo, Synced]
    assert late.of(GamePeer) == [
        GamePeer(ROOM, a.member, GameRole.HOST),
        GamePeer(ROOM, b.member, GameRole.PEER),
    ]
    assert late.views[ROOM].host == a.member


# --- packets ----------------------------------------------------------------------------------------


def test_targets_count_0_a_list_and_except() -> None:
    sim = Sim()
    a, b, c, d = (sim.player(n) for n in "abcd")
    outsider = sim.client("outsider", version=2)
    outsider.join()
    for x in (a, b, c, d, outsider):
        x.read()
    send(a, b"all")  # every game peer but the sender
    send(a, b"list", b.member, c.member, outsider.member, a.member, 4242)  # non-peers skipped
    send(a, b"except", b.member, flags=PACKET_EXCEPT)
    send(a, b"except none", flags=PACKET_EXCEPT)
    sim.tick()
    assert payloads(a) == []
    assert payloads(b) == [b"all", b"list", b"except none"]
    assert payloads(c) == [b"all", b"list", b"except", b"except none"]
    assert payloads(d) == [b"all", b"except", b"except none"]
    assert payloads(outsider) == []


def test_the_relay_stamps_the_sender_and_passes_mode_channel_and_more() -> None:
    sim = Sim()
    a, b = sim.player("a"), sim.player("b")
    b.read()
    a.send(Packet(ROOM, PACKET_UNRELIABLE_ORDERED | PACKET_EXCEPT, 7, 3, (), b"x"))
    a.send(Packet(ROOM, PACKET_RELIABLE | PACKET_MORE, 2, 0, (b.member,), b"frag"))
    a.send(Packet(ROOM, PACKET_RELIABLE, 2, 0, (b.member,), b"end"))
    sim.tick()
    assert packets(b) == [
        PacketFrom(ROOM, a.member, PACKET_UNRELIABLE_ORDERED, 7, b"x"),
        PacketFrom(ROOM, a.member, PACKET_MORE, 2, b"frag"),
        PacketFrom(ROOM, a.member, PACKET_RELIABLE, 2, b"end"),
    ]


def test_a_member_outside_the_game_gets_one_not_in_game_per_tick() -> None:
    sim = Sim()
    a, b = sim.client("a", version=2), sim.player("b")
    a.join()
    b.read()
    for _ in range(5):
        send(a, b"nope")
    sim.tick()
    assert a.read() == [Notice(Status.NOT_IN_GAME, PACKET_TYPE, ROOM)]
    assert payloads(b) == []
    send(a, b"nope")
    sim.tick()
    assert a.read() == [Notice(Status.NOT_IN_GAME, PACKET_TYPE, ROOM)]


def test_a_packet_to_an_unknown_room_gets_one_notice_per_tick() -> None:
    sim = Sim()
    a = sim.player("a")
    for _ in range(3):
        a.send(Packet(9, PACKET_RELIABLE, 0, 0, (), b"?"))
    sim.tick()
    assert a.read() == [Notice(Status.UNKNOWN_ROOM, PACKET_TYPE, 9)]


def test_an_owner_change_processed_before_a_packet_arrives_before_it_everywhere() -> None:
    sim = Sim(cooldown=0)
    a, b, c = sim.player("a"), sim.player("b"), sim.player("c")
    ball = a.call(Spawn, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    for x in (a, b, c):
        x.read()
    send(a, b"a: ball state 1")  # sent while a owns the ball
    b.send(Request(b.req(), ROOM, ball))  # b grabs it
    send(b, b"b: ball state 1")  # then sends as its owner
    send(a, b"a: ball state 2")  # a has not heard yet: sent after the change
    sim.tick()
    seen = [
        r.payload if isinstance(r, PacketFrom) else ("OWNER", r.owner)
        for r in c.read()
        if isinstance(r, PacketFrom | Owner)
    ]
    assert seen == [b"a: ball state 1", ("OWNER", b.member), b"b: ball state 1", b"a: ball state 2"]
    seen_by_a = [
        r.payload if isinstance(r, PacketFrom) else "OWNER"
        for r in a.read()
        if isinstance(r, PacketFrom | Owner)
    ]
    assert seen_by_a == ["OWNER", b"b: ball state 1"]


def test_unreliable_packets_on_a_lane_coalesce_within_a_tick_and_the_newer_goes_last() -> None:
    sim = Sim()
    a, b = sim.player("a"), sim.player("b")
    ball = a.call(Spawn, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    b.read()
    send(a, b"sync 1", b.member, flags=PACKET_UNRELIABLE, lane=5)
    send(a, b"other lane", b.member, flags=PACKET_UNRELIABLE, lane=6)
    send(a, b"lane 0", b.member, flags=PACKET_UNRELIABLE)
    send(a, b"lane 0 again", b.member, flags=PACKET_UNRELIABLE)
    send(a, b"reliable", b.member)
    a.send(Packet(ROOM, PACKET_UNRELIABLE, 1, 5, (b.member,), b"other channel"))
    send(a, b"to everyone", flags=PACKET_UNRELIABLE, lane=5)  # other targets
    a.send(Request(a.req(), ROOM, ball))  # nothing changes hands, but a RESULT to a goes here
    a.send(Spawn(a.req(), ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b""))
    send(a, b"sync 2", b.member, flags=PACKET_UNRELIABLE, lane=5)
    sim.tick()
    got = [
        r.payload if isinstance(r, PacketFrom) else "OBJECT"
        for r in b.read()
        if isinstance(r, PacketFrom | ObjectInfo)
    ]
    assert got == [
        b"other lane",
        b"lane 0",
        b"lane 0 again",
        b"reliable",
        b"other channel",
        b"to everyone",
        "OBJECT",
        b"sync 2",
    ]
    assert sim.core.totals()["packets_coalesced"] == 1
    send(a, b"sync 3", b.member, flags=PACKET_UNRELIABLE, lane=5)  # a new tick: nothing to replace
    sim.tick()
    assert payloads(b) == [b"sync 3"]


def test_a_backed_up_receiver_skips_unreliable_packets_but_gets_every_reliable_one() -> None:
    sim = Sim(unreliable_backlog=10_000)
    a, b, c = sim.player("a"), sim.player("b"), sim.player("c")
    for x in (b, c):
        x.read()
    b.stall(20_000)  # more than the backlog is waiting to be written to b
    send(a, b"state 1", flags=PACKET_UNRELIABLE, lane=1)
    send(a, b"rpc 1")
    send(a, b"state 2", flags=PACKET_UNRELIABLE_ORDERED)
    sim.tick()
    assert payloads(c) == [b"state 1", b"rpc 1", b"state 2"]
    assert payloads(b) == [b"rpc 1"]
    totals = sim.core.totals()
    assert (totals["packets_in"], totals["packets_out"], totals["packets_dropped"]) == (3, 4, 2)
    b.unstall()  # caught up: it gets the next ones
    send(a, b"state 3", flags=PACKET_UNRELIABLE, lane=1)
    sim.tick()
    assert payloads(b) == [b"state 3"]
    assert b.conn.closing is None


def test_a_game_peer_that_lags_is_closed_with_4004_instead_of_resynced() -> None:
    sim = Sim(lag_high=50_000, lag_low=10_000)
    a, slow, outsider = sim.player("a"), sim.player("slow"), sim.client("outsider", version=2)
    outsider.join()
    a.read()
    slow.stall(60_000)
    outsider.stall(60_000)
    sim.tick()
    slow.read()
    assert slow.goodbye() == Goodbye(Close.TOO_SLOW, "a game peer could not keep up")
    assert GamePeer(ROOM, slow.member, GameRole.NONE) in a.read()
    assert outsider.conn.lagging and outsider.conn.closing is None  # outside the game: resynced later
    outsider.send(Game(outsider.req(), ROOM, GameRole.PEER))  # joins the game while behind
    sim.tick()
    outsider.read()
    assert outsider.goodbye() == Goodbye(Close.TOO_SLOW, "a game peer could not keep up")


def test_a_member_that_gives_up_its_role_after_a_packet_gets_it_unless_behind() -> None:
    """PROTOCOL.md §15.6: a reliable packet is delivered or its receiver leaves the game first."""
    sim = Sim(lag_high=50_000, lag_low=10_000)
    a, b, c = sim.player("a"), sim.player("b"), sim.player("c")
    for x in (a, b, c):
        x.read()
    # keeping up: the packet, then its own GAME_PEER(0), in the order the relay processed them
    send(a, b"rpc 1")
    b.send(Game(b.req(), ROOM, GameRole.NONE))
    sim.tick()
    assert [r for r in b.read() if isinstance(r, PacketFrom | GamePeer)] == [
        PacketFrom(ROOM, a.member, PACKET_RELIABLE, 0, b"rpc 1"),
        GamePeer(ROOM, b.member, GameRole.NONE),
    ]
    # behind as the tick goes out: outside the game by then, so resynced without it, not closed
    send(a, b"rpc 2")
    c.send(Game(c.req(), ROOM, GameRole.NONE))
    c.stall(60_000)
    sim.tick()
    assert GamePeer(ROOM, c.member, GameRole.NONE) in a.read()  # the sender sees it leave the game
    assert c.conn.lagging and c.conn.closing is None
    c.unstall()
    sim.tick()
    got = c.read()
    assert isinstance(got[0], Snapshot) and any(isinstance(r, Synced) for r in got)
    assert [p.payload for p in c.of(PacketFrom)] == [b"rpc 1"]
    assert c.views[ROOM].game_roles == {a.member: GameRole.PEER} and c.views[ROOM].anomalies == []
    assert c.goodbye() is None
    # giving up the role and taking it again in that tick keeps it in the game: closed if behind
    assert b.call(Game, ROOM, GameRole.PEER).status == Status.OK
    a.read()
    send(a, b"rpc 3")
    b.send(Game(b.req(), ROOM, GameRole.NONE), Game(b.req(), ROOM, GameRole.PEER))
    b.stall(60_000)
    sim.tick()
    b.read()
    assert b.goodbye() == Goodbye(Close.TOO_SLOW, "a game peer could not keep up")
    assert GamePeer(ROOM, b.member, GameRole.NONE) in a.read()


def test_the_packets_of_one_message_cost_one_unit_plus_one_per_kib_of_payload() -> None:
    sim = Sim()
    a, b = sim.player("a"), sim.player("b")
    conn = a.conn
    sim.tick(10)  # a full bucket
    a.send(Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b""))  # one unit; the clock stands still from here
    full = conn.tokens
    assert full == sim.settings.burst - 1
    a.send(*[Packet(ROOM, PACKET_UNRELIABLE, 0, 0, (b.member,), b"x" * 100) for _ in range(20)])
    assert conn.tokens == full - 2  # 20 packets, 2000 bytes: 1 + 1
    a.send(Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"x" * 1023))
    assert conn.tokens == full - 2 - 1
    a.send(
        Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"x" * 1000),
        Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"x" * 100),
        Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"x" * 2000),
    )
    assert conn.tokens == full - 3 - 4  # 3100 bytes: 1 + 3
    sim.tick()
    assert len(payloads(b)) == 25


def test_over_the_rate_unreliable_packets_are_dropped_and_reliable_ones_owed() -> None:
    sim = Sim(rate=10, burst=10, strike_limit=100)
    a, b = sim.player("a"), sim.player("b")
    sim.tick(5)
    b.read()
    for i in range(5):  # a message each: one unit each
        send(a, b"rpc %d" % i)
    for i in range(10):
        send(a, b"state %d" % i, flags=PACKET_UNRELIABLE)
    for i in range(5, 10):
        send(a, b"rpc %d" % i)  # reliable: carried however far over
    sim.tick()
    rpcs = [b"rpc %d" % i for i in range(10)]
    assert payloads(b) == rpcs[:5] + [b"state %d" % i for i in range(5)] + rpcs[5:]
    assert [r for r in a.read() if isinstance(r, Notice)] == [Notice(Status.RATE_LIMITED, PACKET_TYPE, ROOM)]
    assert a.conn.tokens < 0  # owed: what follows waits until it is paid back
    assert a.call(Spawn, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").status == Status.RATE_LIMITED
    for i in range(200):  # keeps sending reliable packets far over its rate: closed
        send(a, b"flood %d" % i)
    a.read()
    assert (goodbye := a.goodbye()) is not None and goodbye.code == Close.RATE_LIMITED


def test_a_payload_that_would_not_fit_one_packet_from_is_a_protocol_error() -> None:
    sim = Sim()
    a, b = sim.player("a"), sim.player("b")
    b.read()
    largest = sim.settings.max_message - 11
    send(a, b"x" * largest)
    sim.tick()
    assert payloads(b) == [b"x" * largest]
    assert max(len(m) for m in b.messages) <= sim.settings.max_message
    send(a, b"x" * (largest + 1))
    a.read()
    assert a.goodbye() == Goodbye(
        Close.PROTOCOL_ERROR, f"a packet's payload is at most {largest} bytes (one PACKET_FROM)"
    )


def test_fragments_go_where_the_first_one_went_and_are_never_skipped_or_coalesced() -> None:
    sim = Sim(unreliable_backlog=10_000)
    a, b = sim.player("a"), sim.player("b")
    b.read()
    send(a, b"part 1 ", flags=PACKET_UNRELIABLE | PACKET_MORE, lane=3)
    sim.tick()
    assert payloads(b) == [b"part 1 "]
    late = sim.player("late")  # a game peer from the middle of the packet on
    b.stall(20_000)
    send(a, b"part 2 ", flags=PACKET_UNRELIABLE | PACKET_MORE, lane=3)
    send(a, b"end", flags=PACKET_UNRELIABLE, lane=3)
    send(a, b"next", flags=PACKET_UNRELIABLE)
    sim.tick()
    assert payloads(b) == [b"part 2 ", b"end"]  # the unreliable one after the end was skipped
    assert payloads(late) == [b"next"]


def test_game_peers_that_get_the_same_packets_share_their_frames() -> None:
    sim = Sim()
    host = sim.player("host", GameRole.HOST)
    clients = [sim.player(f"c{i}") for i in range(4)]
    outsiders = [sim.client(f"o{i}", version=2) for i in range(2)]
    for o in outsiders:
        o.join()
    sim.tick()
    for x in (host, *clients, *outsiders):
        x.read()
    send(host, b"world state", *(c.member for c in clients), flags=PACKET_UNRELIABLE, lane=1)
    for c in clients:
        send(c, b"input of %d" % c.member, host.member, flags=PACKET_UNRELIABLE, lane=1)
    sim.tick()
    frames = [c.conn.take_outbox() for c in clients]
    assert all(f == frames[0] and f[0] is frames[0][0] for f in frames)  # one set of frames for all
    outsider_frames = [o.conn.take_outbox() for o in outsiders]
    assert outsider_frames[0] == [] and outsider_frames[1] == []
    host_got = payloads(host)
    assert sorted(host_got) == sorted(b"input of %d" % c.member for c in clients)


def test_stats_count_packets() -> None:
    sim = Sim()
    a, b, c = sim.player("a"), sim.player("b"), sim.player("c")
    send(a, b"1")
    send(a, b"2", flags=PACKET_UNRELIABLE, lane=1)
    send(a, b"3", flags=PACKET_UNRELIABLE, lane=1)
    sim.tick()
    totals = sim.core.totals()
    assert {k: v for k, v in totals.items() if k.startswith("packets")} == {
        "packets_in": 3,
        "packets_out": 4,
        "packets_coalesced": 1,
        "packets_dropped": 0,
    }
    for x in (a, b, c):
        x.call(Leave, ROOM)
    sim.core.connection_lost(a.conn, sim.now, 1000)
    sim.tick()
    assert sim.core.totals()["packets_out"] == 4  # kept once the room has ended


@pytest.mark.parametrize("role", [GameRole.PEER, GameRole.HOST])
def test_a_game_peer_in_two_rooms_plays_in_each_separately(role: GameRole) -> None:
    sim = Sim()
    a, b = sim.client("a", version=GAME_VERSION), sim.client("b", version=GAME_VERSION)
    lobby, arena = a.join("lobby"), a.join("arena")
    assert b.join("arena") == arena
    b.join("lobby")
    assert a.call(Game, arena, role).status == Status.OK
    assert b.call(Game, arena, GameRole.PEER).status == Status.OK
    a.read()
    b.read()
    a.send(
        Packet(arena, PACKET_RELIABLE, 0, 0, (), b"arena"), Packet(lobby, PACKET_RELIABLE, 0, 0, (), b"lobby")
    )
    sim.tick()
    assert payloads(b) == [b"arena"]
    assert a.read() == [Notice(Status.NOT_IN_GAME, PACKET_TYPE, lobby)]
    assert sim.core.rooms["lobby"].roles == {}


def test_join_game_and_packets_in_one_message() -> None:
    sim = Sim()
    b = sim.player("b")
    b.read()
    a = sim.client("a", version=GAME_VERSION)
    a.send(Join(1, "lobby"), Game(2, ROOM, GameRole.PEER), Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"hi"))
    sim.tick()
    got = a.read()
    assert Result(1, Status.OK, ROOM) in got and Result(2, Status.OK) in got
    assert payloads(b) == [b"hi"]
    assert b.views[ROOM].anomalies == [] and a.member in b.views[ROOM].game_roles
    assert isinstance(a.records[0], Welcome) and a.records[0].version == GAME_VERSION


@pytest.mark.parametrize("seed", range(40))
def test_frames_built_by_difference_equal_the_general_way(seed: int) -> None:
    """Game peers that are like the others but for their packets get frames spliced from one
    base (shared by difference); members whose frames are their own anyway get theirs merged
    record by record. Both must give every member the same records."""
    rnd = random.Random(seed)
    sim = Sim()
    peers = [sim.player(f"p{i}", GameRole.HOST if i == 0 else GameRole.PEER) for i in range(6)]
    outsider = sim.client("outsider", version=GAME_VERSION)
    outsider.join()
    sim.tick()
    ball = peers[0].call(Spawn, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b"").value
    for c in (*peers, outsider):
        c.read()
    for n in range(40):
        c = rnd.choice(peers)
        kind = rnd.random()
        if kind < 0.03:
            c.send(Game(c.req(), ROOM, rnd.choice([GameRole.NONE, GameRole.PEER])))
        elif kind < 0.06:
            c.send(Request(c.req(), ROOM, ball))
        else:
            chosen = tuple(x.member for x in rnd.sample(peers, rnd.randint(0, 5)))
            flags = rnd.choice([PACKET_RELIABLE, PACKET_UNRELIABLE]) | rnd.choice([0, PACKET_EXCEPT])
            lane = rnd.choice([0, 1]) if flags & PACKET_UNRELIABLE else 0
            c.send(Packet(ROOM, flags, 0, lane, chosen, b"%d" % n))
    room = sim.core.rooms["lobby"]
    plan = room._plan_packets()
    shared = [i for i, t in enumerate(room._targets) if t <= 0]
    checked = 0
    for sid, m in room.members.items():
        if sid not in plan.involved or plan.peers is None or sid not in plan.peers:
            continue
        if sid in room._targeted or sid in room._excluded or m.start or m.focus_cell is not None:
            continue  # with records of its own: always the general way
        spliced = room._planned_frames(plan, sid, shared)
        general = room._frames(room._records_for(m, shared, room._packets_for(sid, False)))
        assert spliced[0] == general[0], sid
        checked += 1
    assert checked >= 1
