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
from relay.protocol import Close, Goodbye
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


async def wait_closed(client: RawClient) -> tuple[int | None, str]:
    """The close a connection gets after its GOODBYE (the same code and reason)."""
    closed = await client.closed(timeout=15)
    goodbyes = [r for r in client.records if isinstance(r, Goodbye)]
    assert [(g.code, g.reason) for g in goodbyes] == [closed]
    return closed


async def test_signing_out_ends_the_relay_sessions_and_the_tickets_given_before(
    uro_and_relay: UroAndRelay,
) -> None:
    uro, relay = uro_and_relay
    fay = await trio.to_thread.run_sync(player, uro, "fay")

    async def ticket() -> str:
        answer = await trio.to_thread.run_sync(lambda: fay.request("POST", "/tickets"))
        return str(answer.json()["data"]["ticket"])

    playing = await RawClient.connect(relay.port, f"/relay?ticket={await ticket()}")
    await playing.hello()
    spare = await ticket()  # fetched for a reconnection, not used yet
    assert (await trio.to_thread.run_sync(fay.sign_out)).status_code == 200
    assert await wait_closed(playing) == (Close.KICKED, "signed out")
    with pytest.raises(Rejected) as refused:
        await RawClient.connect(relay.port, f"/relay?ticket={spare}")
    assert refused.value.status == 401
    # Signed in again, Fay plays again.
    fay.keep_session(await trio.to_thread.run_sync(fay.sign_in, "fay", PASSWORD))
    back = await RawClient.connect(relay.port, f"/relay?ticket={await ticket()}")
    await back.hello()


async def test_revoking_an_invite_ends_its_holder_s_relay_sessions(uro_and_relay: UroAndRelay) -> None:
    uro, relay = uro_and_relay
    the_host = await trio.to_thread.run_sync(host, uro)
    invite = (
        await trio.to_thread.run_sync(lambda: the_host.request("POST", "/invites", {"label": "Gus"}))
    ).json()["data"]["invite"]
    gus = GodotUro(uro.client())
    gus.keep_session(
        await trio.to_thread.run_sync(
            lambda: gus.request("POST", "/invites/redeem", {"code": invite["code"]}, token=None)
        )
    )

    async def ticket() -> str:
        answer = await trio.to_thread.run_sync(lambda: gus.request("POST", "/tickets"))
        return str(answer.json()["data"]["ticket"])

    by_ticket = await RawClient.connect(relay.port, f"/relay?ticket={await ticket()}")
    by_token = await RawClient.connect(relay.port, f"/relay?token={gus.access_token}")
    await by_ticket.hello()
    await by_token.hello()
    spare = await ticket()
    revoked = await trio.to_thread.run_sync(lambda: the_host.request("DELETE", f"/invites/{invite['id']}"))
    assert revoked.status_code == 200
    for client in (by_ticket, by_token):
        code, reason = await wait_closed(client)
        assert code == Close.KICKED and "revoked" in reason
    for target in (f"/relay?ticket={spare}", f"/relay?token={gus.access_token}"):
        with pytest.raises(Rejected) as refused:
            await RawClient.connect(relay.port, target)
        assert refused.value.status == 401
