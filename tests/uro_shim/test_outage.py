"""The database goes away and comes back: 503 with a message meanwhile, then service resumes by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.support.postgres import PostgresServer
from tests.support.uro import UroServer
from tests.support.waiting import wait_until
from tests.uro_shim.godot import GodotUro
from tests.uro_shim.test_sessions import register
from tests.uro_shim.test_shards import SHARD


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert "database" in body["error"]["message"] and body["error"]["status"] == 503


def test_database_killed_and_restarted(
    make_pg_server: Callable[..., PostgresServer], make_uro: Callable[..., UroServer]
) -> None:
    pg = make_pg_server(fsync=True)  # durable commits, as in the party server
    uro = make_uro(pg.create_database())
    alice = register(uro)
    shard_id = alice.create_shard(SHARD).json()["data"]["id"]

    pg.kill()
    http = uro.client()
    # The first request may be the one that discovers the outage; all of them answer 503, none hangs.
    for _ in range(3):
        started = time.monotonic()
        assert_unavailable(http.get("/api/v1/shards"))
        assert time.monotonic() - started < 20
    assert_unavailable(alice.profile())
    assert_unavailable(alice.sign_in("alice", "correct horse battery"))
    health = http.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "unavailable" and health.json()["error"]
    assert http.get("/api/v1/health").json()["services"] == {"uro": "unhealthy"}
    assert http.get("/api/v1/nowhere").status_code == 404  # routing does not need the database

    pg.start()
    wait_until(lambda: http.get("/healthz").status_code == 200, what="the API to be healthy")
    assert alice.profile().status_code == 200  # the session survived
    assert alice.update_shard(shard_id).status_code == 200
    assert [s["id"] for s in GodotUro(http).shards().json()["data"]["shards"]] == [shard_id]


def test_starting_before_the_database(
    make_pg_server: Callable[..., PostgresServer], make_uro: Callable[..., UroServer]
) -> None:
    pg = make_pg_server()
    url = pg.url_for("soiree")  # not created yet: the API creates it and migrates when it can
    pg.kill()
    uro = make_uro(url, wait_healthy=False)
    http = uro.client()
    assert_unavailable(http.get("/api/v1/maps"))
    assert http.get("/healthz").status_code == 503
    pg.start()
    wait_until(lambda: http.get("/healthz").status_code == 200, what="the API to be healthy")
    maps = http.get("/api/v1/maps").json()["data"]["maps"]
    assert [m["name"] for m in maps] == ["Default map"]
