"""In a grain the relay names a player after their account in the Uro API (the real uro-shim,
in Sandstorm mode), not after the bridge's header: keys made for sharing all say "Anonymous
User" (docs/sandstorm.md §API tokens). Without an answer from the API the header's name is used,
and nobody is kept out."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from common.identity import sandstorm_user_id
from relay.client import open_relay
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient, Rejected, http_get
from tests.relay.test_uro_tokens import running_uro
from tests.support.net import free_port
from tests.support.uro import UroServer

ADA_TAB = "a" * 32
BO_TAB = "b" * 32


def bridge_headers(
    tab: str, name: str = "Anonymous%20User", permissions: str = "play"
) -> list[tuple[str, str]]:
    """What sandstorm-http-bridge sends for a key made for sharing (no user id)."""
    return [
        ("X-Sandstorm-Tab-Id", tab),
        ("X-Sandstorm-Permissions", permissions),
        ("X-Sandstorm-Username", name),
        ("X-Sandstorm-Session-Type", "normal"),
    ]


def set_name(uro: UroServer, tab: str, name: str) -> httpx.Response:
    """The player's client setting its name, as the Godot addon does (PUT /api/v1/profile)."""
    client = uro.client(headers=dict(bridge_headers(tab)))
    return client.put("/api/v1/profile", data={"display_name": name})


def host_client(uro: UroServer) -> httpx.Client:
    return uro.client(headers=dict(bridge_headers("h" * 32, "Host", "host,play")))


@pytest.fixture
def sandstorm_uro(tmp_path: Path, database_url: str) -> Iterator[UroServer]:
    with running_uro(tmp_path, database_url, mode="sandstorm") as (uro, _):
        yield uro


async def sandstorm_relay(start_relay: StartRelay, api_port: int | str) -> RunningRelay:
    return await start_relay(mode="sandstorm", env={"SOIREE_API_PORT": str(api_port)})


async def lobby_names(relay: RunningRelay) -> dict[str, str]:
    """user id -> name, as the relay's admin endpoint (and so the host's dashboard) shows them."""
    status, room = await http_get(relay.admin_port, "/rooms/lobby")
    assert status == 200, room
    return {m["user_id"]: m["name"] for m in room["members"]}


async def test_a_player_appears_under_the_name_on_their_account(
    start_relay: StartRelay, sandstorm_uro: UroServer
) -> None:
    relay = await sandstorm_relay(start_relay, sandstorm_uro.env["SOIREE_API_PORT"])
    named = await trio.to_thread.run_sync(set_name, sandstorm_uro, ADA_TAB, "Ada Lovelace")
    assert named.status_code == 200, named.text
    ada_id, bo_id = sandstorm_user_id("tab:" + ADA_TAB), sandstorm_user_id("tab:" + BO_TAB)
    assert named.json()["data"]["user"]["id"] == ada_id

    async with open_relay(relay.url, headers=bridge_headers(BO_TAB)) as bo:
        bo_lobby = await bo.join("lobby")
        async with open_relay(relay.url, headers=bridge_headers(ADA_TAB)) as ada:
            await ada.join("lobby")
            # What every other client is told (MEMBER_JOINED): the account's name.
            await bo_lobby.wait_for(lambda v: ada.member in v.members)
            seen = bo_lobby.view.members[ada.member]
            assert (seen.user_id, seen.name) == (ada_id, "Ada Lovelace")
            # Bo never set one: the name his account got from the bridge.
            assert await lobby_names(relay) == {ada_id: "Ada Lovelace", bo_id: "Anonymous User"}
            # Who she is and what she may do still come from the bridge alone.
            session = relay.server.core.sessions[ada.member]
            assert (session.identity.source, session.permissions) == ("sandstorm", 1)  # play only


async def test_a_new_name_counts_from_the_next_session(
    start_relay: StartRelay, sandstorm_uro: UroServer
) -> None:
    relay = await sandstorm_relay(start_relay, sandstorm_uro.env["SOIREE_API_PORT"])
    async with open_relay(relay.url, headers=bridge_headers(ADA_TAB)) as ada:
        await ada.join("lobby")
        assert set((await lobby_names(relay)).values()) == {"Anonymous User"}
    await trio.to_thread.run_sync(set_name, sandstorm_uro, ADA_TAB, "Ada")
    async with open_relay(relay.url, headers=bridge_headers(ADA_TAB)) as ada:
        await ada.join("lobby")
        assert set((await lobby_names(relay)).values()) == {"Ada"}


async def test_a_player_without_the_play_permission_is_refused_before_the_api_is_asked(
    start_relay: StartRelay, sandstorm_uro: UroServer
) -> None:
    relay = await sandstorm_relay(start_relay, sandstorm_uro.env["SOIREE_API_PORT"])
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, "/relay", bridge_headers("c" * 32, permissions=""))
    assert err.value.status == 403
    # No account was made for them: the API was never asked.
    host = host_client(sandstorm_uro)
    users = (await trio.to_thread.run_sync(lambda: host.get("/api/v1/users"))).json()["data"]["users"]
    assert sandstorm_user_id("tab:" + "c" * 32) not in {u["id"] for u in users}


async def test_with_the_api_down_the_bridges_name_is_used(
    start_relay: StartRelay, sandstorm_uro: UroServer
) -> None:
    relay = await sandstorm_relay(start_relay, sandstorm_uro.env["SOIREE_API_PORT"])
    await trio.to_thread.run_sync(set_name, sandstorm_uro, ADA_TAB, "Ada Lovelace")
    await trio.to_thread.run_sync(sandstorm_uro.stop)
    async with open_relay(relay.url, headers=bridge_headers(ADA_TAB, "Ada%20from%20Sandstorm")) as ada:
        await ada.join("lobby")
        assert await lobby_names(relay) == {sandstorm_user_id("tab:" + ADA_TAB): "Ada from Sandstorm"}


async def test_an_api_that_never_answers_delays_a_player_at_most_a_moment(
    start_relay: StartRelay, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.auth")
    held: list[trio.SocketStream] = []

    async def hold(stream: trio.SocketStream) -> None:  # accept, read nothing, answer nothing
        held.append(stream)
        await trio.sleep_forever()

    port = free_port()
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    nursery.start_soon(trio.serve_listeners, hold, listeners)
    relay = await sandstorm_relay(start_relay, port)
    async with open_relay(relay.url, headers=bridge_headers(BO_TAB, "Bo")) as bo:
        await bo.join("lobby")
        assert await lobby_names(relay) == {sandstorm_user_id("tab:" + BO_TAB): "Bo"}
    assert held, "the relay asked the API"
    assert "no answer within 2 s" in caplog.text  # and gave up waiting
