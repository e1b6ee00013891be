"""Several relay processes of one party (docs/architecture.md §Several relay processes on one
machine): each holds the rooms placed on it, answers a JOIN for any other room with the process
that holds it, and restores only its own rooms' saved objects."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import psycopg
import pytest
import trio

from common.config import stack_ports
from common.placement import HOME_ROOM, place
from relay.admin_client import RelayAdmin
from relay.client import RelayError, relay_process_url
from relay.protocol import Join, Lifetime, Result, Rule, Status
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient, Rejected
from tests.relay.sim import identity
from tests.relay.test_persistence import eventually
from tests.support.net import free_port_block

T = TypeVar("T")


def saved_rooms(url: str) -> set[str]:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            return {row[0] for row in conn.execute("SELECT room FROM relay_objects").fetchall()}
    except psycopg.Error:
        return set()


def named_on(index: int, count: int, prefix: str = "room") -> str:
    return next(f"{prefix}-{n}" for n in range(1000) if place(f"{prefix}-{n}", count) == index)


async def party(start_relay: StartRelay, count: int, **options: object) -> list[RunningRelay]:
    """``count`` relay processes of one party: one port block, one var directory."""
    base = free_port_block(stack_ports(count))
    return [
        await start_relay(
            env={"SOIREE_PORT": str(base), "SOIREE_RELAYS": str(count), "SOIREE_RELAY_INDEX": str(i)},
            **options,
        )
        for i in range(count)
    ]


async def join_result(relay: RunningRelay, name: str, target: str = "/relay") -> Result:
    # A host: held to the party's caps only, so that many rooms may be made in a row.
    client = await RawClient.connect(relay.port, f"{target}?ticket={relay.ticket('ada', host=True)}")
    try:
        await client.hello()
        await client.send_records(Join(7, name))
        records = await client.until(lambda r: isinstance(r, Result) and r.req == 7)
        return next(r for r in records if isinstance(r, Result) and r.req == 7)
    finally:
        await client.aclose()


async def test_each_process_listens_on_its_own_ports(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 3)
    cfg = relays[0].config
    assert [(r.port, r.admin_port) for r in relays] == [cfg.relay_ports(i) for i in range(3)]
    assert len({r.port for r in relays}) == 3


async def test_a_room_lives_on_one_process_and_the_others_name_it(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 2)
    here, there = named_on(0, 2), named_on(1, 2)
    assert (await join_result(relays[0], here)).status == Status.OK
    elsewhere = await join_result(relays[0], there)
    assert (elsewhere.status, elsewhere.value) == (Status.ELSEWHERE, 1)
    assert there not in relays[0].server.core.rooms  # asking did not create it here
    back = await join_result(relays[1], here)
    assert (back.status, back.value) == (Status.ELSEWHERE, 0)
    assert (await join_result(relays[1], there)).status == Status.OK
    assert set(relays[1].server.core.rooms) == {there}


async def test_only_the_home_process_makes_the_lobby(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 3)
    assert HOME_ROOM in relays[0].server.core.rooms
    assert all(HOME_ROOM not in r.server.core.rooms for r in relays[1:])
    assert (await join_result(relays[2], HOME_ROOM)).value == 0


async def test_a_process_answers_on_its_own_path_and_not_on_another_s(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 3)
    assert (await join_result(relays[1], named_on(1, 3), "/relay/1")).status == Status.OK
    with pytest.raises(Rejected) as refused:
        await join_result(relays[1], named_on(1, 3), "/relay/2")
    assert refused.value.status == 404


async def test_one_process_answers_every_join_as_before(relay: RunningRelay) -> None:
    for n in range(20):
        assert (await join_result(relay, f"room-{n}")).status == Status.OK


async def test_the_sdk_needs_open_relay_to_follow_a_room_elsewhere(start_relay: StartRelay) -> None:
    from relay.client import RelayClient

    relays = await party(start_relay, 2)
    client = RelayClient(relays[0].url, ticket=relays[0].tickets("ada"))
    async with trio.open_nursery() as nursery:
        await nursery.start(client._run)
        with pytest.raises(RelayError) as err:
            await client.join(named_on(1, 2))
        assert err.value.status == Status.ELSEWHERE
        await client.close()
        nursery.cancel_scope.cancel()


def test_process_urls_keep_the_front_door_and_drop_the_query() -> None:
    assert relay_process_url("ws://h:8000/relay", 2) == "ws://h:8000/relay/2"
    assert relay_process_url("wss://h/relay/2?room=x", 0) == "wss://h/relay"
    assert relay_process_url("wss://h/relay/1", 3) == "wss://h/relay/3"
    assert (
        relay_process_url("wss://h/.sandstorm-token/t0k/relay", 1) == "wss://h/.sandstorm-token/t0k/relay/1"
    )
    with pytest.raises(ValueError):
        relay_process_url("wss://h/elsewhere", 1)


async def test_each_process_restores_only_its_own_rooms(start_relay: StartRelay, database_url: str) -> None:
    relays = await party(start_relay, 2, database_url=database_url, persist_interval=0.1)
    rooms = [named_on(0, 2, "kept"), named_on(1, 2, "kept")]
    made: dict[str, int] = {}
    for index, name in enumerate(rooms):
        async with relays[index].connect("ada") as ada:
            room = await ada.join(name)
            made[name] = await room.spawn(name.encode(), rule=Rule.ASK, lifetime=Lifetime.PERSISTENT)
    await eventually(lambda: saved_rooms(database_url) >= set(rooms))
    for relay in relays:
        relay.scope.cancel()  # killed, no goodbye

    again = await party(start_relay, 2, database_url=database_url, persist_interval=0.1)
    for index, name in enumerate(rooms):
        core = again[index].server.core
        assert name in core.rooms and rooms[1 - index] not in core.rooms
        async with again[index].connect("bob") as bob:
            room = await bob.join(name)
            assert room.view.objects[made[name]].state == name.encode()


async def on_admin(ports: list[int], ask: Callable[[RelayAdmin], Awaitable[T]]) -> T:
    """The admin client runs on asyncio (in the app and the API): in a thread of its own here,
    while the relays serve on trio."""

    async def run() -> T:
        async with httpx.AsyncClient() as http:
            return await ask(RelayAdmin(ports, http))

    return await trio.to_thread.run_sync(lambda: asyncio.run(run()))


async def test_the_admin_client_sees_every_process_as_one(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 2)
    ports = [r.admin_port for r in relays]
    names = [named_on(0, 2, "seen"), named_on(1, 2, "seen")]
    async with relays[0].connect("ada") as ada, relays[1].connect("bob") as bob:
        await ada.join(names[0])
        room = await bob.join(names[1])
        await room.spawn(b"lamp")

        listed = await on_admin(ports, lambda admin: admin.rooms())
        assert {r["name"]: r["relay"] for r in listed} == {HOME_ROOM: 0, names[0]: 0, names[1]: 1}
        stats = await on_admin(ports, lambda admin: admin.stats())
        assert (stats["members"], stats["rooms"], stats["objects"]) == (2, 3, 1)
        assert [p["members"] for p in stats["processes"]] == [1, 1]
        # Moderation reaches the process that holds the room.
        status, body = await on_admin(ports, lambda admin: admin.request("POST", f"/rooms/{names[1]}/reset"))
        assert status == 200, body
        await room.wait_for(lambda view: not view.objects)

        relays[1].scope.cancel()  # one process gone: the other is still seen
        stats = await on_admin(ports, lambda admin: admin.stats())
        assert stats["members"] == 1 and stats["processes"][1]["status"] == "not answering"
        listed = await on_admin(ports, lambda admin: admin.rooms())
        assert {r["name"] for r in listed} == {HOME_ROOM, names[0]}


async def test_what_concerns_an_account_reaches_every_process(start_relay: StartRelay) -> None:
    relays = await party(start_relay, 2)
    ports = [r.admin_port for r in relays]
    # One account, a connection to each process (as the SDK opens through the front door).
    async with relays[0].connect("ada") as ada, relays[1].connect("ada") as ada_1:
        rooms = [await ada.join(named_on(0, 2, "mine")), await ada_1.join(named_on(1, 2, "mine"))]
        for room in rooms:
            await room.spawn(b"hat")
        user_id = identity("ada").user_id

        status, users = await on_admin(ports, lambda admin: admin.request("GET", "/users"))
        assert status == 200
        (mine,) = [u for u in users["users"] if u["user_id"] == user_id]
        assert (mine["sessions"], mine["objects"], mine["rooms"]) == (2, 2, 2)
        assert users["party"]["rooms"] == 3  # the lobby too

        status, cleared = await on_admin(
            ports, lambda admin: admin.request("POST", f"/users/{user_id}/clear")
        )
        assert (status, cleared["despawned"]) == (200, 2)
        status, ended = await on_admin(
            ports, lambda admin: admin.request("POST", f"/users/{user_id}/end", {})
        )
        assert (status, ended["ended"]) == (200, 2)
        assert all(not r.server.core.sessions for r in relays)
