"""Persistent objects in a real PostgreSQL: saved, restored after a restart, kept while the DB is down."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
import trio

from common.db import migrate
from relay.client import RelayError
from relay.persistence import MIGRATIONS, Store
from relay.protocol import Lifetime, Rule, Status
from relay.room import PersistedObject
from tests.relay.conftest import StartRelay
from tests.relay.raw import http_get
from tests.relay.sim import identity
from tests.support.postgres import PostgresServer


def saved_states(url: str) -> dict[int, bytes]:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            rows = conn.execute("SELECT object_id, state FROM relay_objects").fetchall()
    except psycopg.Error:
        return {}
    return {int(oid): bytes(state) for oid, state in rows}


async def eventually(check: Callable[[], object], timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not await trio.to_thread.run_sync(check):
            await trio.sleep(0.05)


def test_store_saves_updates_deletes_and_loads(database_url: str) -> None:
    store = Store(database_url)
    a = PersistedObject("garden", 1, Rule.ASK, 3, (1.0, 2.0, 3.0), b"tree")
    b = PersistedObject("garden", 2, Rule.ALLOW, 1, None, b"")
    store.save([a, b], [])
    store.save([PersistedObject("garden", 1, Rule.DENY, 4, None, b"big tree")], [("garden", 2)])
    assert Store(database_url).load() == [PersistedObject("garden", 1, Rule.DENY, 4, None, b"big tree")]
    store.save([], [("garden", 99)])  # deleting what is not there is fine
    store.close()


async def test_persistent_objects_survive_a_relay_restart(start_relay: StartRelay, database_url: str) -> None:
    first = await start_relay(database_url=database_url, persist_interval=0.1)
    async with first.connect("alice") as alice:
        room = await alice.join("garden")
        tree = await room.spawn(
            b"seed", rule=Rule.ASK, lifetime=Lifetime.PERSISTENT, position=(4.0, 0.0, 4.0)
        )
        flower = await room.spawn(b"", rule=Rule.ALLOW, lifetime=Lifetime.WITH_MASTER)
        for state in (b"sprout", b"sapling", b"tree"):
            await room.update(tree, state)
        await eventually(lambda: saved_states(database_url) == {tree: b"tree"})
    first.scope.cancel()  # killed, no goodbye: as Sandstorm does to an idle grain

    second = await start_relay(database_url=database_url, persist_interval=0.1)
    assert await http_get(second.port, "/healthz") == (200, {"status": "ok", "database": "ok"})
    async with second.connect("bob") as bob:
        room = await bob.join("garden")
        obj = room.view.objects[tree]
        assert (obj.state, obj.rule, obj.position, obj.master, obj.owner) == (
            b"tree",
            Rule.ASK,
            (4.0, 0.0, 4.0),
            0,
            0,
        )
        assert flower not in room.view.objects
        assert await room.request(tree) == Status.GRANTED  # adopted
        new = await room.spawn(b"")
        assert new > tree  # restored ids are not handed out again
        await room.despawn(tree)
        await eventually(lambda: tree not in saved_states(database_url))


async def test_the_relay_keeps_serving_while_the_database_is_down_and_catches_up(
    start_relay: StartRelay, make_pg_server: Callable[..., PostgresServer]
) -> None:
    pg = make_pg_server(fsync=True)  # SIGKILLed below: commits must be durable
    url = pg.create_database()
    relay = await start_relay(database_url=url, persist_interval=0.1)
    async with relay.connect("alice") as alice, relay.connect("bob") as bob:
        ra, rb = await alice.join("garden"), await bob.join("garden")
        tree = await ra.spawn(b"v0", lifetime=Lifetime.PERSISTENT)
        await eventually(lambda: saved_states(url) == {tree: b"v0"})
        await trio.to_thread.run_sync(pg.kill)
        await ra.update(tree, b"while down")
        await rb.wait_for(lambda v: v.objects[tree].state == b"while down")  # traffic goes on
        await eventually(lambda: relay.server.database == "unreachable")
        assert (await http_get(relay.port, "/healthz"))[0] == 200
        await ra.update(tree, b"latest")
        await rb.wait_for(lambda v: v.objects[tree].state == b"latest")
        await trio.to_thread.run_sync(pg.start)
        await eventually(lambda: saved_states(url) == {tree: b"latest"})
        assert relay.server.database == "ok"


async def test_a_database_that_comes_up_late_is_restored_from_later(
    start_relay: StartRelay, make_pg_server: Callable[..., PostgresServer]
) -> None:
    pg = make_pg_server(fsync=True)  # SIGKILLed below: commits must be durable
    url = pg.create_database()
    seed = Store(url)
    seed.save([PersistedObject("garden", 1, Rule.ALLOW, 2, None, b"saved")], [])
    seed.close()
    pg.kill()
    relay = await start_relay(database_url=url, persist_interval=0.1, restore_wait=0.3)
    assert await http_get(relay.port, "/healthz") == (200, {"status": "ok", "database": "unreachable"})
    async with relay.connect("alice") as alice:
        room = await alice.join("garden")
        live = await room.spawn(b"live", lifetime=Lifetime.PERSISTENT)
        assert live == 1  # the saved object's id: it will be moved
        await trio.to_thread.run_sync(pg.start)
        await room.wait_for(lambda v: any(o.state == b"saved" for o in v.objects.values()), 20)
        moved = next(o.id for o in room.view.objects.values() if o.state == b"saved")
        assert moved != live and room.view.objects[live].state == b"live"
        await eventually(lambda: saved_states(url) == {live: b"live", moved: b"saved"})


def test_accounts_are_saved_and_an_older_table_is_migrated_in_place(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:  # the table as version 1 left it
        migrate(conn, "relay", MIGRATIONS[:1])
        conn.execute(
            "INSERT INTO relay_objects (room, object_id, rule, epoch, state)"
            " VALUES ('garden', 1, 2, 1, 'old')"
        )
    store = Store(database_url)
    assert store.load() == [PersistedObject("garden", 1, Rule.ALLOW, 1, None, b"old")]  # account ""
    mine = PersistedObject("attic", 7, Rule.DENY, 2, None, b"box", "u-ada", "Ada", "u-bob")
    store.save([mine], [])
    assert Store(database_url).load() == [mine, PersistedObject("garden", 1, Rule.ALLOW, 1, None, b"old")]
    store.close()


async def test_shares_survive_a_relay_restart(start_relay: StartRelay, database_url: str) -> None:
    first = await start_relay(database_url=database_url, persist_interval=0.1, player_rooms=1)
    async with first.connect("ada") as ada:
        attic = await ada.join("attic")
        box = await attic.spawn(b"box", lifetime=Lifetime.PERSISTENT)
        await eventually(lambda: saved_states(database_url) == {box: b"box"})
    first.scope.cancel()

    second = await start_relay(database_url=database_url, persist_interval=0.1, player_rooms=1)
    share = second.server.core.quotas.of(identity("ada").user_id)
    assert (share.name, share.objects, share.saved, share.saved_bytes, share.rooms) == ("ada", 1, 1, 3, 1)
    async with second.connect("ada") as ada:
        with pytest.raises(RelayError) as refused:
            await ada.join("cellar")  # the attic still counts as Ada's room
        assert refused.value.status == Status.QUOTA
