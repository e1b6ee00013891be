"""The relay with the real Uro API: Uro tokens and API-issued tickets open the relay, under the
account's name; the API lists the relay's rooms as shards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio
from uro_shim.settings import STOCK_CLIENT_SIGNUP_KEY

from common.identity import host_key_text
from common.secretfiles import host_key
from relay.client import open_relay
from tests.relay.conftest import RunningRelay, StartRelay
from tests.relay.raw import RawClient, Rejected, http_get
from tests.support.net import free_port
from tests.support.uro import UroServer, server_env
from tests.uro_shim.godot import GodotUro

PASSWORD = "correct horse battery"
UroAndRelay = tuple[UroServer, RunningRelay]


@contextmanager
def running_uro(
    tmp_path: Path, database_url: str, mode: str = "standalone"
) -> Iterator[tuple[UroServer, int]]:
    """A real uro-shim process that looks for the relay's admin endpoint on a port chosen here."""
    admin_port = free_port()
    env = server_env(
        tmp_path / "uro-var", database_url, SOIREE_RELAY_ADMIN_PORT=str(admin_port), SOIREE_MODE=mode
    )
    server = UroServer(
        f"http://127.0.0.1:{env['SOIREE_API_PORT']}", tmp_path / "uro-var", env, tmp_path / "uro.log"
    )
    server.start()
    try:
        yield server, admin_port
    finally:
        server.stop()


@pytest.fixture
def uro_with_relay_port(tmp_path: Path, database_url: str) -> Iterator[tuple[UroServer, int]]:
    with running_uro(tmp_path, database_url) as running:
        yield running


def player(uro: UroServer, name: str) -> GodotUro:
    client = GodotUro(uro.client())
    client.keep_session(client.register(name, f"{name}@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY))
    return client


def host(uro: UroServer) -> GodotUro:
    client = GodotUro(uro.client())
    key = host_key_text(host_key(uro.config))
    client.keep_session(client.http.post("/api/v1/host/session", data={"key": key}))
    return client


@pytest.fixture
async def uro_and_relay(start_relay: StartRelay, uro_with_relay_port: tuple[UroServer, int]) -> UroAndRelay:
    uro, admin_port = uro_with_relay_port
    env = {
        "SOIREE_VAR": str(uro.var),  # the same secrets: tickets signed by the API verify here
        "SOIREE_API_PORT": uro.env["SOIREE_API_PORT"],
        "SOIREE_RELAY_ADMIN_PORT": str(admin_port),
    }
    return uro, await start_relay(env=env)


async def test_uro_tokens_open_the_relay_with_the_accounts_identity(
    uro_and_relay: tuple[UroServer, RunningRelay],
) -> None:
    uro, relay = uro_and_relay
    alice = await trio.to_thread.run_sync(player, uro, "alice")
    the_host = await trio.to_thread.run_sync(host, uro)
    profile = (await trio.to_thread.run_sync(alice.profile)).json()["data"]
    core = relay.server.core
    ways = [
        (f"/relay?token={alice.access_token}", []),
        ("/relay", [("Authorization", alice.access_token)]),  # raw, as the Godot client sends it
        ("/relay", [("Authorization", f"Bearer {alice.access_token}")]),
    ]
    for target, headers in ways:
        client = await RawClient.connect(relay.port, target, headers)
        session = core.sessions[(await client.hello()).member]
        assert (session.user_id, session.name, session.identity.source) == (
            profile["user"]["id"],
            "alice",
            "token",
        )
        assert session.permissions == 1  # play only
    host_client = await RawClient.connect(relay.port, f"/relay?token={the_host.access_token}")
    assert core.sessions[(await host_client.hello()).member].permissions == 3  # an admin is a host
    for bad in (f"/relay?token={alice.access_token}x", "/relay?token=nonsense"):
        with pytest.raises(Rejected) as err:
            await RawClient.connect(relay.port, bad)
        assert err.value.status == 401


async def test_tickets_from_the_api_open_the_relay(uro_and_relay: UroAndRelay) -> None:
    uro, relay = uro_and_relay
    bob = await trio.to_thread.run_sync(player, uro, "bob")
    response = await trio.to_thread.run_sync(lambda: bob.request("POST", "/tickets"))
    ticket = response.json()["data"]["ticket"]
    client = await RawClient.connect(relay.port, f"/relay?ticket={ticket}")
    session = relay.server.core.sessions[(await client.hello()).member]
    assert session.name == "bob" and session.identity.source == "ticket"


async def test_the_api_lists_the_relay_rooms_as_shards(uro_and_relay: UroAndRelay) -> None:
    uro, relay = uro_and_relay
    alice = await trio.to_thread.run_sync(player, uro, "carol")
    async with relay.connect("dave") as dave:
        await dave.join("garden")
        listing = await trio.to_thread.run_sync(lambda: alice.request("GET", "/shards"))
    shards = {s["name"]: s for s in listing.json()["data"]["shards"]}
    assert shards["garden"]["current_users"] == 1 and shards["garden"]["max_users"] == 256
    assert "lobby" in shards


async def test_tokens_cannot_be_checked_while_the_api_is_down(
    uro_and_relay: tuple[UroServer, RunningRelay],
) -> None:
    uro, relay = uro_and_relay
    erin = await trio.to_thread.run_sync(player, uro, "erin")
    await trio.to_thread.run_sync(uro.stop)
    with pytest.raises(Rejected) as err:
        await RawClient.connect(relay.port, f"/relay?token={erin.access_token}")
    assert err.value.status == 503


async def test_an_invite_redeemed_with_a_name_shows_that_name_in_the_relay(
    uro_and_relay: UroAndRelay,
) -> None:
    uro, relay = uro_and_relay
    the_host = await trio.to_thread.run_sync(host, uro)
    invite = (
        await trio.to_thread.run_sync(lambda: the_host.request("POST", "/invites", {"label": "for Ada"}))
    ).json()["data"]["invite"]
    ada = GodotUro(uro.client())
    redeemed = await trio.to_thread.run_sync(
        lambda: ada.request(
            "POST", "/invites/redeem", {"code": invite["code"], "display_name": "Ada Lovelace"}, token=None
        )
    )
    ada.keep_session(redeemed)
    ticket = (await trio.to_thread.run_sync(lambda: ada.request("POST", "/tickets"))).json()["data"]["ticket"]
    # Both ways in, a ticket (what the Godot addon uses) and the token itself, carry the name.
    for credentials in ({"ticket": ticket}, {"token": ada.access_token}):
        async with open_relay(relay.url, **credentials) as client:
            await client.join("lobby")
            status, room = await http_get(relay.admin_port, "/rooms/lobby")
            assert status == 200
            assert [m["name"] for m in room["members"]] == ["Ada Lovelace"], credentials
