"""Protocol version 2 over real sockets: game roles and packets through a running relay, on the
wire and through the Python SDK."""

from __future__ import annotations

import pytest
import trio

from relay.client import IncomingPacket, NoGame, RelayClient, RoomClient
from relay.protocol import (
    GAME_VERSION,
    PACKET_EXCEPT,
    PACKET_MORE,
    PACKET_RELIABLE,
    PACKET_TYPE,
    PACKET_UNRELIABLE,
    Close,
    Game,
    GamePeer,
    GameRole,
    Goodbye,
    Join,
    Lifetime,
    Notice,
    Owner,
    Packet,
    PacketFrom,
    Request,
    Result,
    Rule,
    Spawn,
    Status,
    Synced,
)
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient

ROOM = 1  # the lobby


async def player(
    relay: RunningRelay, name: str, role: GameRole = GameRole.PEER, *, rcvbuf: int = 0
) -> RawClient:
    """A raw version-2 client in the lobby's game."""
    c = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket(name)}", rcvbuf=rcvbuf)
    assert (await c.hello(versions=(1, GAME_VERSION))).version == GAME_VERSION
    await c.send_records(Join(1, "lobby"), Game(2, ROOM, role))
    await c.until(lambda r: r == Result(2, Status.OK))
    return c


def packets(c: RawClient) -> list[PacketFrom]:
    return [r for r in c.records if isinstance(r, PacketFrom)]


async def test_packets_travel_between_game_peers_on_the_wire(relay: RunningRelay) -> None:
    host = await player(relay, "host", GameRole.HOST)
    peer = await player(relay, "peer")
    old = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('old')}")
    assert (await old.hello()).version == 1  # a version-1 client shares the room
    await old.send_records(Join(1, "lobby"))
    await old.until(lambda r: isinstance(r, Synced))
    assert [r for r in old.records if isinstance(r, GamePeer)] == [
        GamePeer(ROOM, host.member, GameRole.HOST),
        GamePeer(ROOM, peer.member, GameRole.PEER),
    ]
    await host.send_records(
        Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"\x03rpc"),
        Packet(ROOM, PACKET_RELIABLE | PACKET_MORE, 1, 0, (peer.member,), b"big "),
        Packet(ROOM, PACKET_RELIABLE, 1, 0, (peer.member,), b"spawn"),
        Packet(ROOM, PACKET_UNRELIABLE | PACKET_EXCEPT, 0, 9, (old.member,), b"\x06sync"),
    )
    await peer.until(lambda r: isinstance(r, PacketFrom) and r.payload == b"\x06sync")
    assert packets(peer) == [
        PacketFrom(ROOM, host.member, PACKET_RELIABLE, 0, b"\x03rpc"),
        PacketFrom(ROOM, host.member, PACKET_MORE, 1, b"big "),
        PacketFrom(ROOM, host.member, PACKET_RELIABLE, 1, b"spawn"),
        PacketFrom(ROOM, host.member, PACKET_UNRELIABLE, 0, b"\x06sync"),
    ]
    await old.send_records(Join(3, "lobby"))  # a round trip: everything before it has arrived
    await old.until(lambda r: r == Result(3, Status.ALREADY_JOINED))
    assert packets(old) == []
    # a member outside the game gets NOT_IN_GAME; a peer that sends too big a payload is closed,
    # and the others see it leave the game at once
    outsider = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('outsider')}")
    await outsider.hello(versions=(2, 2))
    await outsider.send_records(Join(1, "lobby"), Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"hi"))
    await outsider.until(lambda r: isinstance(r, Notice))
    assert Notice(Status.NOT_IN_GAME, PACKET_TYPE, ROOM) in outsider.records
    await peer.send_records(Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"x" * 65525))
    assert (await peer.closed())[0] == Close.PROTOCOL_ERROR
    await host.until(lambda r: r == GamePeer(ROOM, peer.member, GameRole.NONE))
    for c in (host, old, outsider):
        await c.aclose()


async def test_an_owner_change_reaches_everyone_before_the_new_owners_packets(relay: RunningRelay) -> None:
    a, b, c = await player(relay, "a"), await player(relay, "b"), await player(relay, "c")
    await a.send_records(Spawn(3, ROOM, Rule.ALLOW, Lifetime.WITH_MASTER, None, b""))
    await a.until(lambda r: isinstance(r, Result) and r.req == 3)
    ball = next(r.value for r in a.records if isinstance(r, Result) and r.req == 3)
    await b.send_records(Request(4, ROOM, ball), Packet(ROOM, PACKET_UNRELIABLE, 0, 1, (), b"b owns it"))
    await a.send_records(Packet(ROOM, PACKET_UNRELIABLE, 0, 1, (), b"a still thinks it owns it"))
    for x in (a, c):
        await x.until(lambda r: isinstance(r, PacketFrom) and r.payload == b"b owns it")
    seen = [r for r in c.records if isinstance(r, Owner | PacketFrom) and getattr(r, "object", ball) == ball]
    owner_at = next(i for i, r in enumerate(seen) if isinstance(r, Owner) and r.owner == b.member)
    b_at = next(i for i, r in enumerate(seen) if isinstance(r, PacketFrom) and r.sender == b.member)
    assert owner_at < b_at
    for x in (a, b, c):
        await x.aclose()


@pytest.mark.slow
async def test_a_game_peer_that_stops_reading_is_closed_and_the_others_lose_nothing(
    start_relay: StartRelay,
) -> None:
    relay = await start_relay(
        lag_high=128 << 10, lag_low=16 << 10, unreliable_backlog=32 << 10, rate=60000, burst=60000
    )
    host = await player(relay, "host", GameRole.HOST)
    reader = await player(relay, "reader")
    slow = await player(relay, "slow", rcvbuf=4096)  # from here on it reads nothing
    await host.until(lambda r: r == GamePeer(ROOM, slow.member, GameRole.PEER))
    count = 0

    async def keep_reading(c: RawClient) -> None:
        while await c._pump():
            pass

    async with trio.open_nursery() as nursery:
        nursery.start_soon(keep_reading, host)
        nursery.start_soon(keep_reading, reader)
        with trio.fail_after(30):
            while not any(r == GamePeer(ROOM, slow.member, GameRole.NONE) for r in host.records):
                count += 1
                await host.send_records(
                    Packet(ROOM, PACKET_RELIABLE, 0, 0, (), b"%06d" % count + b"r" * 4000),
                    Packet(ROOM, PACKET_UNRELIABLE, 0, 1, (), b"%06d" % count + b"u" * 4000),
                )
                await trio.sleep(0.005)
            last = b"%06d" % count + b"r"
            while not any(isinstance(r, PacketFrom) and r.payload.startswith(last) for r in reader.records):
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    reliable = [int(p.payload[:6]) for p in packets(reader) if p.payload[6:7] == b"r"]
    assert reliable == list(range(1, count + 1))  # every reliable packet, in order
    code, reason = await slow.closed(timeout=20)
    assert code == Close.TOO_SLOW, (code, reason)
    assert Goodbye(Close.TOO_SLOW, "a game peer could not keep up") in slow.records
    stats = relay.server.core.totals()
    assert stats["packets_in"] == 2 * count
    for x in (host, reader):
        await x.aclose()


# --- the Python SDK -------------------------------------------------------------------------------


async def next_packet(room: RoomClient, timeout: float = 5) -> IncomingPacket:
    with trio.fail_after(timeout):
        return await room.packets.receive()


async def test_sdk_game_roles_and_packets(relay: RunningRelay) -> None:
    async with relay.connect("alice") as a, relay.connect("bob") as b, relay.connect("carol") as c:
        assert a.version == GAME_VERSION
        ra, rb, rc = await a.join("arena"), await b.join("arena"), await c.join("arena")
        assert await ra.set_game_role(GameRole.HOST) == Status.OK
        assert await rb.set_game_role(GameRole.HOST) == Status.HOST_TAKEN
        assert await rb.set_game_role(GameRole.PEER) == Status.OK
        await rc.wait_for(lambda v: v.host == a.member and b.member in v.game_roles)
        assert ra.game_role == GameRole.HOST and rc.game_role == GameRole.NONE
        await ra.send_packet(b"to everyone")  # game peers only: carol is not one
        await ra.send_packet(
            b"unreliable", targets=(b.member, c.member), mode=PACKET_UNRELIABLE, lane=2, channel=3
        )
        await rb.send_packet(b"to the host", targets=(a.member,))
        assert await next_packet(rb) == IncomingPacket(a.member, PACKET_RELIABLE, 0, b"to everyone")
        assert await next_packet(rb) == IncomingPacket(a.member, PACKET_UNRELIABLE, 3, b"unreliable")
        assert await next_packet(ra) == IncomingPacket(b.member, PACKET_RELIABLE, 0, b"to the host")
        assert await rc.set_game_role(GameRole.PEER) == Status.OK
        await ra.wait_for(lambda v: c.member in v.game_roles)
        await ra.send_packet(b"not bob", targets=(b.member,), except_=True)
        assert await next_packet(rc) == IncomingPacket(a.member, PACKET_RELIABLE, 0, b"not bob")
        assert rb.packets.statistics().current_buffer_used == 0
        for bad in ({"mode": 3}, {"lane": 1}, {"channel": 256}, {"targets": tuple(range(256))}):
            with pytest.raises(ValueError):
                await ra.send_packet(b"x", **bad)
        assert a.goodbye is None  # refused before it was sent
        for room in (ra, rb, rc):
            assert room.view.anomalies == []


async def test_sdk_splits_and_joins_a_packet_bigger_than_a_message(relay: RunningRelay) -> None:
    async with relay.connect("alice") as a, relay.connect("bob") as b:
        ra, rb = await a.join("lobby"), await b.join("lobby")
        for room in (ra, rb):
            assert await room.set_game_role(GameRole.PEER) == Status.OK
        await ra.wait_for(lambda v: b.member in v.game_roles)
        big = bytes(range(256)) * 1200  # 300 KiB: five messages' worth
        await ra.send_packet(big, mode=PACKET_UNRELIABLE)  # too big for one message: sent reliable
        await ra.send_packet(b"after")
        assert await next_packet(rb) == IncomingPacket(a.member, PACKET_RELIABLE, 0, big)
        assert (await next_packet(rb)).payload == b"after"
        assert relay.server.core.totals()["packets_in"] == 6


async def test_sdk_a_dropped_connection_ends_the_role_at_once(relay: RunningRelay) -> None:
    async with relay.connect("alice") as a, relay.connect("bob") as b:
        ra, rb = await a.join("lobby"), await b.join("lobby")
        await ra.set_game_role(GameRole.HOST)
        await rb.set_game_role(GameRole.PEER)
        await rb.wait_for(lambda v: v.host == a.member)
        resumes = a.resumes
        relay.drop(a.member)
        await rb.wait_for(lambda v: v.host == 0 and a.member in v.members)  # still in the room
        with trio.fail_after(10):
            while a.resumes == resumes:
                await trio.sleep(0.02)
        assert a.rooms[ra.handle] is ra
        # the fresh snapshot: a resumed session starts outside the game
        await ra.wait_for(lambda v: v.synced and v.game_roles == {b.member: GameRole.PEER})
        assert ra.game_role == GameRole.NONE
        assert await ra.set_game_role(GameRole.HOST) == Status.OK
        await rb.wait_for(lambda v: v.host == a.member)


async def test_sdk_on_a_version_1_session_has_no_game(relay: RunningRelay) -> None:
    async with relay.connect("old", versions=(1, 1)) as old:
        assert old.version == 1
        room = await old.join("lobby")
        with pytest.raises(NoGame):
            await room.set_game_role(GameRole.PEER)
        with pytest.raises(NoGame):
            await room.send_packet(b"x")
        assert isinstance(old, RelayClient) and old.goodbye is None
