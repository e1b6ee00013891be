"""Relay tickets are not bearer tokens to replay (PROTOCOL.md §1.1): one ticket opens one
connection, and none once its holder's sessions were ended; development tickets from the command
line. The sign-out and the invite revocation that end them through the API: test_uro_tokens.py."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trio

from common.identity import TICKET_TTL, Ticket, read_ticket, sign_ticket
from common.secretfiles import ticket_key
from relay.auth import TicketGuard
from relay.protocol import Close
from tests.relay.conftest import RunningRelay
from tests.relay.raw import RawClient, Rejected
from tests.relay.sim import identity

ROOT = Path(__file__).resolve().parents[2]


async def test_a_ticket_opens_one_connection(relay: RunningRelay) -> None:
    ticket = relay.ticket("ada")
    ada = await RawClient.connect(relay.port, f"/relay?ticket={ticket}")
    await ada.hello()
    # Someone who saw the ticket (a log, a shared screen, a proxy) tries it within its 60 s.
    for target, headers in (
        (f"/relay?ticket={ticket}", []),
        ("/relay", [("Authorization", f"Bearer {ticket}")]),
    ):
        with pytest.raises(Rejected) as refused:
            await RawClient.connect(relay.port, target, headers)
        assert refused.value.status == 401 and "used" in refused.value.body["error"]
    # A fresh ticket is a fresh connection.
    again = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('ada')}")
    await again.hello()


async def test_ending_a_user_closes_its_sessions_and_refuses_its_earlier_tickets(relay: RunningRelay) -> None:
    unused = relay.ticket("ada")  # fetched before, not used yet
    async with relay.connect("ada") as ada, relay.connect("bob") as bob, httpx.AsyncClient() as http:
        await ada.join("lobby")
        lobby = await bob.join("lobby")
        user_id = identity("ada").user_id
        answer = await http.post(f"{relay.admin}/users/{user_id}/end", json={"reason": "signed out"})
        assert answer.json() == {"user_id": user_id, "ended": 1}
        with trio.fail_after(10):
            while ada.goodbye is None:
                await trio.sleep(0.01)
        assert (ada.goodbye.code, ada.goodbye.reason) == (Close.KICKED, "signed out")
        await lobby.wait_for(lambda view: ada.member not in view.members)
        with pytest.raises(Rejected) as refused:
            await RawClient.connect(relay.port, f"/relay?ticket={unused}")
        assert refused.value.status == 401 and "signed out" in refused.value.body["error"]
        # Tickets issued afterwards work: a player who signs in again plays again.
        back = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('ada')}")
        await back.hello()
        assert bob.goodbye is None


_ids = itertools.count()


def claims(name: str, now: float) -> Ticket:
    key = b"k" * 32
    return read_ticket(key, sign_ticket(key, identity(name), now=now, ticket_id=f"id-{next(_ids)}"), now=now)


def test_the_guard_forgets_what_it_no_longer_needs() -> None:
    guard = TicketGuard()
    first = claims("ada", 100.0)
    guard.admit(first, 100.0)
    assert first.id in guard.used
    guard.end(first.identity.user_id, 130.0)
    guard.admit(claims("ada", 131.0), 131.0)  # issued after the end
    later = 100.0 + TICKET_TTL + 1
    guard.admit(claims("bob", later), later)
    assert first.id not in guard.used  # expired: nobody can present it any more
    assert first.identity.user_id in guard.not_before  # kept until every earlier ticket expired
    guard.admit(claims("bob", 5000.0), 5000.0)
    assert guard.not_before == {} and len(guard.used) == 1


def mint(relay: RunningRelay, *args: str) -> str:
    """`python -m relay ticket ...` against the relay's var directory."""
    env = {**os.environ, "SOIREE_VAR": str(relay.config.var)}
    done = subprocess.run(
        [sys.executable, "-m", "relay", "ticket", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout.strip()


async def test_development_tickets_from_the_command_line(relay: RunningRelay) -> None:
    ticket = await trio.to_thread.run_sync(mint, relay, "--name", "Ada", "--host")
    ada = read_ticket(ticket_key(relay.config), ticket, now=time.time())
    assert ada.identity.name == "Ada" and ada.identity.is_host and not ada.reusable
    client = await RawClient.connect(relay.port, f"/relay?ticket={ticket}")
    member = (await client.hello()).member
    assert relay.server.core.sessions[member].name == "Ada"
    with pytest.raises(Rejected):
        await RawClient.connect(relay.port, f"/relay?ticket={ticket}")
    # The same name is the same account; a reusable ticket opens as many connections as needed.
    reusable = await trio.to_thread.run_sync(mint, relay, "--name", "Ada", "--reusable", "--ttl", "600")
    for _ in range(2):
        again = await RawClient.connect(relay.port, f"/relay?ticket={reusable}")
        session = relay.server.core.sessions[(await again.hello()).member]
        assert session.identity.user_id == ada.identity.user_id and not session.identity.is_host
    for bad in (["--name", "Ada", "--ttl", "3601"], ["--name", " "], []):
        with pytest.raises(AssertionError, match="error"):
            await trio.to_thread.run_sync(mint, relay, *bad)
