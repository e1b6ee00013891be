"""Shards: registration, heartbeat, freshness, ownership, and the relay's rooms in the list."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import GodotUro
from tests.uro_shim.test_sessions import host_client, register

SHARD = {
    "port": 7777,
    "map": "uro://dddf8154-60a3-4c9f-888b-fb70c3e2655f",
    "name": "Alice's place",
    "max_users": 16,
    "current_users": 1,
}


def listed(client: GodotUro) -> list[dict[str, Any]]:
    response = client.shards()
    assert response.status_code == 200
    shards: list[dict[str, Any]] = response.json()["data"]["shards"]
    return shards


def test_create_list_heartbeat_and_delete_like_the_client(uro: UroServer, database_url: str) -> None:
    host = register(uro)
    response = host.create_shard(SHARD, extra_headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 200, response.text
    shard_id = response.json()["data"]["id"]
    assert isinstance(shard_id, str)
    (item,) = listed(GodotUro(uro.client()))
    assert item == {
        "id": shard_id,
        "user": "alice",
        "address": "203.0.113.7",
        "port": 7777,
        "map": SHARD["map"],
        "name": "Alice's place",
        "current_users": 1,
        "max_users": 16,
    }
    # Age the heartbeat past 30 s: the shard drops out of the list until the next heartbeat.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE uro_shards SET updated_at = %s", (datetime.now(UTC) - timedelta(seconds=31),))
    assert listed(host) == []
    beat = host.update_shard(shard_id)  # no body, as the client's 10 s heartbeat
    assert beat.status_code == 200 and beat.json() == {"data": {"id": shard_id}}
    assert [s["id"] for s in listed(host)] == [shard_id]
    assert host.update_shard(shard_id, {"current_users": 5}).status_code == 200
    assert listed(host)[0]["current_users"] == 5
    deleted = host.delete_shard(shard_id)
    assert deleted.status_code == 200 and deleted.json() == {"data": {"id": shard_id}}
    assert listed(host) == []
    assert host.delete_shard(shard_id).status_code == 404


def test_only_the_owner_or_the_same_address_may_change_a_shard(uro: UroServer) -> None:
    alice = register(uro)
    bob = register(uro, "bob", "bob@example.org")
    owned = alice.create_shard(SHARD).json()["data"]["id"]
    for response in (bob.update_shard(owned), bob.delete_shard(owned)):
        assert response.status_code == 403 and "announced" in response.json()["error"]["message"]
    anonymous = GodotUro(uro.client())
    assert anonymous.update_shard(owned).status_code == 403
    assert alice.update_shard(owned).status_code == 200

    here = {"X-Forwarded-For": "198.51.100.1"}
    there = {"X-Forwarded-For": "198.51.100.2"}
    anon_id = anonymous.create_shard(SHARD, extra_headers=here).json()["data"]["id"]
    assert anonymous.update_shard(anon_id, extra_headers=there).status_code == 403
    assert bob.update_shard(anon_id, extra_headers=there).status_code == 403
    assert anonymous.update_shard(anon_id, extra_headers=here).status_code == 200
    host = host_client(uro)  # the host moderates
    assert host.delete_shard(owned).status_code == 200
    assert anonymous.delete_shard(anon_id, extra_headers=here).status_code == 200


def test_shard_validation(uro: UroServer) -> None:
    client = register(uro)
    for fields, words in (
        ({**SHARD, "port": "seventy"}, "whole number"),
        ({**SHARD, "port": 70000}, "between 1 and 65535"),
        ({k: v for k, v in SHARD.items() if k != "name"}, "shard[name] is required"),
        ({**SHARD, "max_users": -1}, "between"),
    ):
        response = client.create_shard(fields)
        assert response.status_code == 400 and words in response.json()["error"]["message"], response.text
    assert client.update_shard("not-a-uuid").status_code == 404
    # Godot writes floats as "7777.0"; JSON bodies carry real numbers.
    assert client.create_shard({**SHARD, "port": 7777.0}).status_code == 200
    response = client.http.post(
        "/api/v1/shards",
        json={"shard": {**SHARD, "port": 7000}},
        headers={"Authorization": client.access_token},
    )
    assert response.status_code == 200


class RelayAdmin:
    """A tiny HTTP server answering the relay admin contract ``GET /rooms`` (docs/architecture.md)."""

    def __init__(self, port: int) -> None:
        self.payload: object = {"rooms": []}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(owner.payload).encode() if self.path == "/rooms" else b"{}"
                self.send_response(200 if self.path == "/rooms" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relay_admin(uro: UroServer) -> Iterator[RelayAdmin]:
    admin = RelayAdmin(int(uro.env["SOIREE_RELAY_ADMIN_PORT"]))
    yield admin
    admin.close()


def test_relay_rooms_are_listed_as_shards_with_a_join_url(uro: UroServer, relay_admin: RelayAdmin) -> None:
    relay_admin.payload = {
        "rooms": [
            {"name": "lobby", "members": 3, "max_members": 32, "objects": 12},
            {"name": "back room/2", "members": 0, "max_members": 8, "objects": 0},
            {"name": "broken", "members": "three"},  # not the contract's shape: skipped
        ]
    }
    register(uro).create_shard(SHARD)
    http = uro.client()
    headers = {"Host": "party.example:8443", "X-Forwarded-Proto": "https"}
    shards = http.get("/api/v1/shards", headers=headers).json()["data"]["shards"]
    assert [s["name"] for s in shards] == ["Alice's place", "lobby", "back room/2"]
    lobby = shards[1]
    assert lobby == {
        "id": "relay:lobby",
        "user": "",
        "address": "party.example",
        "port": 8443,
        "map": "uro://dddf8154-60a3-4c9f-888b-fb70c3e2655f",
        "name": "lobby",
        "current_users": 3,
        "max_users": 32,
        "objects": 12,
        "url": "wss://party.example:8443/relay?room=lobby",
    }
    assert "url" not in shards[0]
    assert shards[2]["url"] == "wss://party.example:8443/relay?room=back%20room%2F2"
    plain = http.get("/api/v1/shards", headers={"Host": "10.0.0.5:8000"}).json()["data"]["shards"]
    assert plain[1]["url"] == "ws://10.0.0.5:8000/relay?room=lobby" and plain[1]["port"] == 8000
    sandbox = http.get("/api/v1/shards", headers={"Host": "sandbox"}).json()["data"]["shards"]
    assert sandbox[1]["url"] == "/relay?room=lobby"

    relay_admin.payload = ["not", "an", "object"]
    assert [s["name"] for s in http.get("/api/v1/shards").json()["data"]["shards"]] == ["Alice's place"]


def test_without_a_relay_only_registered_shards_are_listed(uro: UroServer) -> None:
    register(uro).create_shard(SHARD)
    assert [s["name"] for s in listed(GodotUro(uro.client()))] == ["Alice's place"]


def test_a_relay_that_hangs_does_not_hang_the_list(
    make_uro: Callable[..., UroServer], database_url: str
) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        uro = make_uro(database_url, SOIREE_RELAY_ADMIN_PORT=str(listener.getsockname()[1]))
        response = uro.client().get("/api/v1/shards", timeout=10)
        assert response.status_code == 200 and response.json() == {"data": {"shards": []}}
    finally:
        listener.close()


def test_a_relay_room_elsewhere_is_listed_with_the_url_that_joins_it(uro: UroServer) -> None:
    """A relay on another machine registers a room (docs/architecture.md §Relays on other
    machines): no map needed, the url kept and listed; anything but ws(s) refused."""
    machine = register(uro)
    room = {
        "port": 443,
        "address": "relay-b.example",
        "name": "garden",
        "url": "wss://relay-b.example/relay?room=garden",
    }
    response = machine.create_shard(room)
    assert response.status_code == 200, response.text
    shard_id = response.json()["data"]["id"]
    (item,) = [s for s in listed(machine) if s["id"] == shard_id]
    assert item["url"] == room["url"] and item["map"].startswith("uro://") and item["name"] == "garden"
    assert machine.update_shard(shard_id, {"current_users": 3}).status_code == 200
    assert [s["current_users"] for s in listed(machine) if s["id"] == shard_id] == [3]
    for url in ("http://relay-b.example/relay", "javascript:alert(1)", "wss://" + "x" * 2048):
        refused = machine.create_shard({**room, "url": url})
        assert refused.status_code == 400 and "url" in refused.json()["error"]["message"], refused.text
    # A game server's shard is as before: no url, and its map still required.
    game = machine.create_shard(SHARD).json()["data"]["id"]
    assert "url" not in next(s for s in listed(machine) if s["id"] == game)
    no_map = machine.create_shard({k: v for k, v in SHARD.items() if k != "map"})
    assert no_map.status_code == 400 and "shard[map] is required" in no_map.json()["error"]["message"]
