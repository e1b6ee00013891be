"""The Python SDK against real relays: ownership flows, races, events, resume, several relays."""

from __future__ import annotations

import pytest
import trio

from relay.client import Disconnected, RelayError, RoomClient, handoff, open_relay
from relay.protocol import Join, Lifetime, ObjectInfo, Rule, State, Status, Synced
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient


async def test_spawn_update_and_views_converge(relay: RunningRelay) -> None:
    async with relay.connect("alice") as a, relay.connect("bob") as b:
        ra, rb = await a.join("lobby"), await b.join("lobby")
        oid = await ra.spawn(b"v0", rule=Rule.DENY, position=(1.0, 2.0, 3.0))
        for i in range(1, 20):
            await ra.update(oid, b"v%d" % i)
        await rb.wait_for(lambda v: oid in v.objects and v.objects[oid].state == b"v19")
        assert rb.view.objects[oid].position == (1.0, 2.0, 3.0)
        assert await rb.request(oid) == Status.NOT_ALLOWED
        await rb.update(oid, b"not mine")
        await rb.wait_for(lambda v: True)
        with trio.fail_after(5):
            while not rb.refusals:
                await trio.sleep(0.01)
        assert rb.refusals[0].status == Status.NOT_OWNER
        assert ra.view.objects[oid].state == b"v19"


async def test_two_grab_race_under_allow_over_real_sockets(relay: RunningRelay) -> None:
    async with relay.connect("alice") as a, relay.connect("bob") as b, relay.connect("carol") as c:
        ra, rb, rc = await a.join("lobby"), await b.join("lobby"), await c.join("lobby")
        gun = await rc.spawn(b"idle", rule=Rule.ALLOW)
        await ra.wait_for(lambda v: gun in v.objects)
        await rb.wait_for(lambda v: gun in v.objects)
        results: dict[str, Status] = {}

        async def grab_and_fire(name: str, room: RoomClient) -> None:
            results[name] = await room.request(gun)
            await room.update(gun, f"fired by {name}".encode())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(grab_and_fire, "alice", ra)
            nursery.start_soon(grab_and_fire, "bob", rb)
        assert sorted(results.values()) == [Status.GRANTED, Status.COOLDOWN]
        winner = "alice" if results["alice"] == Status.GRANTED else "bob"
        loser_room = rb if winner == "alice" else ra
        expected = f"fired by {winner}".encode()
        for room in (ra, rb, rc):
            await room.wait_for(lambda v: v.objects[gun].state == expected)
        with trio.fail_after(5):
            while not loser_room.refusals:
                await trio.sleep(0.01)
        assert loser_room.refusals[0].status == Status.NOT_OWNER
        tables = [r.view.table() for r in (ra, rb, rc)]
        assert tables[0] == tables[1] == tables[2]
        assert all(not r.view.anomalies for r in (ra, rb, rc))


async def test_ask_granted_denied_and_timed_out(start_relay: StartRelay) -> None:
    relay = await start_relay(ask_timeout=0.3, cooldown=0.0)
    async with relay.connect("master") as m, relay.connect("asker") as x:
        rm, rx = await m.join("lobby"), await x.join("lobby")
        oid = await rm.spawn(b"", rule=Rule.ASK)
        await rx.wait_for(lambda v: oid in v.objects)

        async def answer_next(grant: bool) -> None:
            ask = await rm.asks.receive()
            assert (ask.object, ask.requester) == (oid, x.member)
            assert await rm.answer(ask, grant) == Status.OK

        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_next, False)
            assert await rx.request(oid) == Status.DENIED
        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_next, True)
            assert await rx.request(oid) == Status.GRANTED
        await rm.wait_for(lambda v: v.objects[oid].owner == x.member)
        await rm.give(oid, m.member)  # take it back, then let the Ask time out
        assert await rx.request(oid) == Status.TIMEOUT
        late = await rm.asks.receive()
        assert await rm.answer(late, True) == Status.NOT_PENDING
        assert [c.status for c in rm.cancelled_asks] == [Status.TIMEOUT]


async def test_ask_policy_answers_automatically(relay: RunningRelay) -> None:
    async with relay.connect("master") as m, relay.connect("asker") as x:
        rm, rx = await m.join("lobby"), await x.join("lobby")
        rm.ask_policy = lambda ask: ask.requester == x.member
        oid = await rm.spawn(b"", rule=Rule.ASK)
        await rx.wait_for(lambda v: oid in v.objects)
        assert await rx.request(oid) == Status.GRANTED


async def test_ask_with_the_master_away_is_master_absent(start_relay: StartRelay) -> None:
    relay = await start_relay(grace=5.0)
    async with relay.connect("master", reconnect=False) as m, relay.connect("asker") as x:
        rm, rx = await m.join("lobby"), await x.join("lobby")
        oid = await rm.spawn(b"", rule=Rule.ASK, lifetime=Lifetime.PERSISTENT)
        await rx.wait_for(lambda v: oid in v.objects)
        relay.drop(m.member)
        with trio.fail_after(5):
            while relay.server.core.sessions[m.member].connected:
                await trio.sleep(0.01)
        assert await rx.request(oid) == Status.MASTER_ABSENT


async def test_events_to_the_room_and_to_one_member(relay: RunningRelay) -> None:
    async with relay.connect("a") as a, relay.connect("b") as b, relay.connect("c") as c:
        ra, rb, rc = await a.join("lobby"), await b.join("lobby"), await c.join("lobby")
        await ra.wait_for(lambda v: len(v.members) == 3)
        await ra.send_event(b"to all")
        await ra.send_event(b"to b", (b.member,))
        with trio.fail_after(5):
            assert [(await rb.events.receive()).payload for _ in range(2)] == [b"to all", b"to b"]
            got = await rc.events.receive()
        assert (got.sender, got.payload) == (a.member, b"to all")
        with pytest.raises(trio.WouldBlock):
            rc.events.receive_nowait()


async def test_late_join_under_load_has_no_gap_and_no_duplicate(relay: RunningRelay) -> None:
    async with relay.connect("w1") as w1, relay.connect("w2") as w2:
        rooms = [await w1.join("lobby"), await w2.join("lobby")]
        objs = [await r.spawn(b"0", rule=Rule.DENY) for r in rooms]
        last: dict[int, int] = {}
        late: RawClient | None = None

        async def write(room: RoomClient, oid: int) -> None:
            for seq in range(1, 301):
                await room.update(oid, str(seq).encode())
                last[oid] = seq
                await trio.sleep(0.002)

        async with trio.open_nursery() as nursery:
            for room, oid in zip(rooms, objs, strict=True):
                nursery.start_soon(write, room, oid)
            await trio.sleep(0.25)
            late = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('late')}")
            await late.hello()
            await late.send_records(Join(1, "lobby"))
        assert late is not None
        for oid in objs:
            await late.until(
                lambda r, oid=oid: isinstance(r, State) and r.object == oid and r.state == b"300"
            )
        seen: dict[int, list[int]] = {oid: [] for oid in objs}
        synced = False
        for r in late.records:
            if isinstance(r, ObjectInfo):
                seen[r.object].append(int(r.state))
            elif isinstance(r, Synced):
                synced = True
            elif isinstance(r, State):
                assert synced, "live traffic before the snapshot ended"
                seen[r.object].append(int(r.state))
        for oid in objs:
            values = seen[oid]
            assert values[0] < 300 and values[-1] == 300
            assert values == sorted(set(values)), "a state was delivered twice or out of order"


async def test_reconnect_inside_the_grace_window_resumes_everything(start_relay: StartRelay) -> None:
    relay = await start_relay(grace=10.0)
    async with relay.connect("alice") as a, relay.connect("bob") as b:
        ra, rb = await a.join("lobby"), await b.join("lobby")
        avatar = await ra.spawn(b"here", rule=Rule.DENY)
        await rb.wait_for(lambda v: avatar in v.objects)
        member = a.member
        relay.drop(a.member)
        with trio.fail_after(10):
            while a.resumes == 0:
                await trio.sleep(0.01)
        assert a.member == member and ra.joined
        await ra.wait_for(lambda v: v.synced and avatar in v.objects)
        await ra.update(avatar, b"back")
        await rb.wait_for(lambda v: v.objects[avatar].state == b"back")
        assert avatar in rb.view.objects and member in rb.view.members


async def test_reconnect_after_the_grace_window_starts_over(start_relay: StartRelay) -> None:
    relay = await start_relay(grace=0.2)
    async with relay.connect("bob") as b:
        rb = await b.join("lobby")
        async with relay.connect("alice", reconnect_delay=1.0) as a:  # comes back after the grace window
            ra = await a.join("lobby")
            avatar = await ra.spawn(b"here", rule=Rule.DENY)
            await rb.wait_for(lambda v: avatar in v.objects)
            old_member = a.member
            relay.drop(a.member)
            await rb.wait_for(lambda v: avatar not in v.objects and old_member not in v.members)
            with trio.fail_after(10):
                while a.member == old_member:
                    await trio.sleep(0.01)
            assert not ra.joined and a.rooms == {}
            with pytest.raises(RelayError):
                await ra.spawn(b"")


async def test_one_client_in_two_relays_hands_its_avatar_over(start_relay: StartRelay) -> None:
    east, west = await start_relay(), await start_relay()
    async with (
        east.connect("traveller") as t_east,
        west.connect("traveller") as t_west,
        east.connect("eve") as e,
        west.connect("walt") as w,
    ):
        here, there = await t_east.join("lobby"), await t_west.join("lobby")
        re, rw = await e.join("lobby"), await w.join("lobby")
        avatar = await here.spawn(b"pose", rule=Rule.DENY, position=(5.0, 0.0, 1.0))
        await here.update(avatar, b"latest pose")
        await re.wait_for(lambda v: avatar in v.objects and v.objects[avatar].state == b"latest pose")
        await here.wait_for(lambda v: v.objects[avatar].state == b"latest pose")
        moved = await handoff(here, avatar, there)
        await rw.wait_for(lambda v: moved in v.objects)
        obj = rw.view.objects[moved]
        assert (obj.state, obj.rule, obj.position, obj.owner) == (
            b"latest pose",
            Rule.DENY,
            (5.0, 0.0, 1.0),
            t_west.member,
        )
        await re.wait_for(lambda v: avatar not in v.objects)


async def test_connecting_with_a_refused_ticket_raises_disconnected(relay: RunningRelay) -> None:
    with pytest.raises(Disconnected):
        async with open_relay(relay.url, ticket="v1.x.y", reconnect=False):
            pass


async def test_stopping_the_relay_says_goodbye_to_everyone(start_relay: StartRelay) -> None:
    relay = await start_relay()
    async with relay.connect("alice", reconnect=False) as alice:
        await alice.join("lobby")
        await relay.stop()
        with trio.fail_after(5):
            while alice.goodbye is None:
                await trio.sleep(0.01)
        assert alice.goodbye.code == 4008
