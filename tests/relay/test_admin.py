"""The loopback admin endpoint: the shapes other parts depend on, moderation, bad input."""

from __future__ import annotations

import httpx
import pytest
import trio

from relay.client import RelayError
from relay.protocol import PACKET_UNRELIABLE, Close, GameRole, Lifetime, Rule, Status
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.sim import identity


async def test_rooms_room_detail_and_stats_have_the_agreed_shapes(relay: RunningRelay) -> None:
    async with relay.connect("alice") as alice, relay.connect("bob") as bob, httpx.AsyncClient() as http:
        ra, rb = await alice.join("lobby"), await bob.join("lobby")
        await alice.join("party")
        ball = await ra.spawn(b"12345", rule=Rule.ALLOW, position=(1.0, 2.0, 3.0))
        await rb.spawn(b"", rule=Rule.DENY, lifetime=Lifetime.PERSISTENT)
        await alice.ping()
        rooms = (await http.get(f"{relay.admin}/rooms")).json()["rooms"]
        by_name = {r["name"]: r for r in rooms}
        assert set(by_name) == {"lobby", "party"}
        assert {k: by_name["lobby"][k] for k in ("members", "max_members", "objects")} == {
            "members": 2,
            "max_members": 256,
            "objects": 2,
        }
        detail = (await http.get(f"{relay.admin}/rooms/lobby")).json()
        assert detail["name"] == "lobby"
        members = {m["id"]: m for m in detail["members"]}
        assert set(members) == {alice.member, bob.member}
        a = members[alice.member]
        assert (
            a["name"] == "alice" and a["permissions"] == ["play"] and isinstance(a["connected_since"], float)
        )
        assert set(a) >= {"id", "user_id", "name", "connected_since", "latency_ms", "permissions"}
        objs = {o["id"]: o for o in detail["objects"]}
        assert objs[ball] == {
            "id": ball,
            "master": alice.member,
            "owner": alice.member,
            "rule": "allow",
            "epoch": 1,
            "lifetime": "with_master",
            "position": [1.0, 2.0, 3.0],
            "state_size": 5,
        }
        with trio.fail_after(5):
            for _ in range(200):
                await ra.update(ball, b"x")
                await trio.sleep(0.01)
                stats = (await http.get(f"{relay.admin}/stats")).json()
                if stats["per_second"].get("updates", 0) > 0:
                    break
        assert (stats["members"], stats["rooms"], stats["objects"]) == (2, 2, 2)
        for key in ("messages_in", "bytes_in", "messages_out", "bytes_out", "updates"):
            assert key in stats["per_second"] and key in stats["totals"]
        assert stats["per_second"]["messages_in"] > 0 and stats["per_second"]["bytes_out"] > 0
        assert {"refused_updates", "coalesced_updates", "queue_bytes", "lagging_connections", "tick"} <= set(
            stats
        )
        assert stats["tick"]["hz"] == 30


async def test_game_peers_in_room_detail_and_packets_in_stats(relay: RunningRelay) -> None:
    async with relay.connect("alice") as alice, relay.connect("bob") as bob, httpx.AsyncClient() as http:
        ra, rb = await alice.join("lobby"), await bob.join("lobby")
        detail = (await http.get(f"{relay.admin}/rooms/lobby")).json()
        assert detail["game_peers"] == {}
        await ra.set_game_role(GameRole.HOST)
        await rb.set_game_role(GameRole.PEER)
        detail = (await http.get(f"{relay.admin}/rooms/lobby")).json()
        assert detail["game_peers"] == {str(alice.member): "host", str(bob.member): "peer"}
        for i in range(3):
            await ra.send_packet(b"state %d" % i, mode=PACKET_UNRELIABLE)  # lane 0: none replaced
        for _ in range(3):
            with trio.fail_after(5):
                await rb.packets.receive()
        stats = (await http.get(f"{relay.admin}/stats")).json()
        packets = {k: v for k, v in stats["totals"].items() if k.startswith("packets_")}
        assert packets == {"packets_in": 3, "packets_out": 3, "packets_coalesced": 0, "packets_dropped": 0}
        assert set(packets) <= set(stats["per_second"]) or stats["per_second"] == {}


async def test_kick_rule_and_reset(relay: RunningRelay) -> None:
    async with (
        relay.connect("alice") as alice,
        relay.connect("bob", reconnect=False) as bob,
        httpx.AsyncClient() as http,
    ):
        ra, rb = await alice.join("lobby"), await bob.join("lobby")
        oid = await ra.spawn(b"", rule=Rule.ASK, lifetime=Lifetime.PERSISTENT)
        await rb.wait_for(lambda v: oid in v.objects)
        r = await http.post(f"{relay.admin}/rooms/lobby/objects/{oid}/rule", json={"rule": "allow"})
        assert r.status_code == 200 and r.json()["rule"] == "allow"
        await rb.wait_for(lambda v: v.objects[oid].rule == Rule.ALLOW)
        r = await http.post(f"{relay.admin}/rooms/lobby/kick", json={"member": bob.member})
        assert r.status_code == 200
        await ra.wait_for(lambda v: bob.member not in v.members)
        with trio.fail_after(5):
            while bob.goodbye is None:
                await trio.sleep(0.01)
        assert bob.goodbye.code == Close.KICKED
        r = await http.post(f"{relay.admin}/rooms/lobby/reset")
        assert r.json() == {"name": "lobby", "despawned": 1}
        await ra.wait_for(lambda v: not v.objects)


async def test_users_shares_clear_and_policy(start_relay: StartRelay) -> None:
    relay = await start_relay()
    async with relay.connect("ada") as ada, relay.connect("bob") as bob, httpx.AsyncClient() as http:
        attic = await ada.join("attic")
        await attic.spawn(b"chest", lifetime=Lifetime.PERSISTENT)
        await attic.spawn(b"", lifetime=Lifetime.WITH_MASTER)
        lobby = await bob.join("lobby")
        await lobby.spawn(b"bob's")
        answer = (await http.get(f"{relay.admin}/users")).json()
        users = {u["name"]: u for u in answer["users"]}
        assert users["ada"] == {
            "user_id": identity("ada").user_id,
            "name": "ada",
            "host": False,
            "sessions": 1,
            "connected": 1,
            "objects": 2,
            "saved": 1,
            "saved_bytes": 5,
            "rooms": 1,
        }
        assert (users["bob"]["objects"], users["bob"]["rooms"]) == (1, 0)  # the lobby is the relay's
        assert answer["party"] == {"saved": 1, "saved_bytes": 5, "rooms": 2}
        assert answer["limits"] == {
            "objects_per_user": 256,
            "saved_per_user": 64,
            "saved": 4096,
            "saved_bytes": 32 << 20,
            "rooms": 64,
            "player_rooms": 2,
        }
        cleared = await http.post(f"{relay.admin}/users/{identity('ada').user_id}/clear")
        assert cleared.json() == {"user_id": identity("ada").user_id, "despawned": 2}
        await attic.wait_for(lambda view: not view.objects)
        assert len(lobby.view.objects) == 1

        # The host's policy: kept in the var directory, in force at once, and after a restart.
        assert (await http.get(f"{relay.admin}/policy")).json() == {"player_rooms": 2}
        changed = await http.post(f"{relay.admin}/policy", json={"player_rooms": 0})
        assert changed.json() == {"player_rooms": 0}
        with pytest.raises(RelayError) as refused:
            await bob.join("cellar")
        assert refused.value.status == Status.QUOTA
    await relay.stop()
    again = await start_relay()  # the same var directory
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{again.admin}/policy")).json() == {"player_rooms": 0}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/nowhere", None, 404),
        ("GET", "/rooms/nosuchroom", None, 404),
        ("POST", "/rooms", None, 405),
        ("GET", "/rooms/lobby/kick", None, 405),
        ("POST", "/rooms/lobby/kick", b"not json", 400),
        ("POST", "/rooms/lobby/kick", b'{"who": 1}', 400),
        ("POST", "/rooms/lobby/kick", b'{"member": "abc"}', 400),
        ("POST", "/rooms/lobby/kick", b'{"member": 999}', 404),
        ("POST", "/rooms/lobby/objects/abc/rule", b'{"rule": "allow"}', 400),
        ("POST", "/rooms/lobby/objects/5/rule", b'{"rule": "allow"}', 404),
        ("POST", "/rooms/lobby/objects/1/rule", b'{"rule": "maybe"}', 400),
        ("POST", "/rooms/lobby/objects/1/rule", b'{"rule": ["ask"]}', 400),
        ("POST", "/rooms/lobby/reset", b"x" * 70_000, 413),
        ("GET", "/users/u-1/end", None, 405),
        ("POST", "/users/u-1/end", b'{"reason": 7}', 400),
        ("POST", "/users/u-1/end", b"[", 400),
        ("POST", "/users/" + "x" * 256 + "/clear", None, 400),
        ("POST", "/users/u-1/forget", None, 404),
        ("POST", "/policy", b'{"player_rooms": -1}', 400),
        ("POST", "/policy", b'{"player_rooms": 65}', 400),
        ("POST", "/policy", b'{"player_rooms": true}', 400),
        ("POST", "/policy", b'{"rooms": 1}', 400),
        ("DELETE", "/policy", None, 405),
    ],
)
async def test_bad_admin_requests_get_json_4xx(
    relay: RunningRelay, method: str, path: str, body: bytes | None, status: int
) -> None:
    async with relay.connect("alice") as alice, httpx.AsyncClient() as http:
        room = await alice.join("lobby")
        await room.spawn(b"")  # object 1 exists
        r = await http.request(method, relay.admin + path, content=body)
        assert r.status_code == status
        assert "error" in r.json()


async def test_admin_healthz(relay: RunningRelay) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{relay.admin}/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
