"""A relay on another machine registers its rooms with the party's API (docs/architecture.md
§Relays on other machines), tested on loopback: the party's whole stack stands for the first
machine, a second relay with its own var directory, ports and database for the second."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from app import links
from common.config import STACK_PORTS, Config
from common.db import with_database
from relay.client import open_relay
from relay.protocol import Rule
from tests.support.net import free_port_block
from tests.support.stack import Stack, http_status, relay_ticket, stack_env
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def sign_in(stack: Stack, cfg: Config, names: list[str]) -> list[str]:
    """Access tokens of new accounts, through invite links the host makes."""
    wait_until(lambda: http_status(stack.url + "/api/v1/health") == 200, 90, "the API")
    with httpx.Client(base_url=stack.url, trust_env=False, timeout=30) as http:
        host = http.post("/api/v1/host/session", data={"key": links.host_key(cfg)}).json()["data"]
        tokens = []
        for name in names:
            made = http.post(
                "/api/v1/invites", data={"label": name}, headers={"Authorization": host["access_token"]}
            )
            redeemed = http.post(
                "/api/v1/invites/redeem", data={"code": made.json()["data"]["invite"]["code"]}
            )
            tokens.append(redeemed.json()["data"]["access_token"])
        return tokens


def shards(stack: Stack) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(stack.url + "/api/v1/shards", trust_env=False, timeout=30).json()[
        "data"
    ]["shards"]
    return found


async def test_a_relay_elsewhere_lists_its_rooms_with_the_party_api(
    var_dir: Path, postgres_template: Path
) -> None:
    party = Stack(var_dir / "party", free_port_block(STACK_PORTS)).start()
    machine_b = None
    try:
        await trio.to_thread.run_sync(party.wait_ready)
        cfg = Config.from_env(party.env)
        b_token, ana, bo = await trio.to_thread.run_sync(sign_in, party, cfg, ["machine-b", "ana", "bo"])

        # The second machine: the party's ticket key, its own ports, var directory and database.
        b_var = var_dir / "machine-b"
        (b_var / "secrets").mkdir(parents=True)
        shutil.copy(cfg.secrets_dir / "ticket.key", b_var / "secrets" / "ticket.key")
        b_base = free_port_block(STACK_PORTS)
        b_cfg = Config.from_env(stack_env(b_var, b_base))
        public = f"ws://127.0.0.1:{b_cfg.relay_port}/relay"
        env = {
            **stack_env(b_var, b_base),
            "SOIREE_DATABASE_URL": with_database(cfg.database_url, "soiree_machine_b"),
            "SOIREE_API_URL": party.url,
            "SOIREE_REGISTER_TOKEN": b_token,
            "SOIREE_RELAY_PUBLIC_URL": public,
            "SOIREE_REGISTER_INTERVAL": "0.5",
        }
        log = open(var_dir / "machine-b.log", "wb")  # noqa: SIM115 (closed in finally)
        machine_b = subprocess.Popen(
            [sys.executable, "-m", "relay"], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        await trio.to_thread.run_sync(
            lambda: wait_until(
                lambda: http_status(f"http://127.0.0.1:{b_cfg.relay_port}/healthz") == 200, 90, "machine b"
            )
        )

        async def ticket(token: str) -> str:
            return str((await relay_ticket(party.url, token))["ticket"])

        async with open_relay(public, ticket=lambda: ticket(ana)) as ana_relay:
            garden = await ana_relay.join("garden")
            lamp = await garden.spawn(b"on", rule=Rule.ALLOW)

            def listed() -> dict[str, Any]:
                return {s["name"]: s for s in shards(party) if not s["id"].startswith("relay:")}

            await trio.to_thread.run_sync(
                lambda: wait_until(lambda: "garden" in listed(), 30, "garden listed")
            )
            entry = (await trio.to_thread.run_sync(listed))["garden"]
            assert entry["url"] == f"{public}?room=garden"
            assert (entry["address"], entry["port"], entry["current_users"]) == (
                "127.0.0.1",
                b_cfg.relay_port,
                1,
            )

            # bo finds the room in the list and joins it where it lives.
            url = entry["url"]
            async with open_relay(url.partition("?")[0], ticket=lambda: ticket(bo)) as bo_relay:
                seen = await bo_relay.join(url.partition("?room=")[2])
                assert seen.view.objects[lamp].state == b"on"
                await trio.to_thread.run_sync(
                    lambda: wait_until(
                        lambda: listed()["garden"]["current_users"] == 2, 30, "two in the garden"
                    )
                )

        # Everyone left and nothing in the garden persists: the room ends and leaves the list.
        await trio.to_thread.run_sync(
            lambda: wait_until(
                lambda: "garden" not in {s["name"] for s in shards(party)}, 30, "garden withdrawn"
            )
        )
        # The party's own relay rooms are listed beside, as before.
        assert any(s["id"] == "relay:lobby" for s in await trio.to_thread.run_sync(shards, party))
    finally:
        if machine_b is not None:
            machine_b.send_signal(signal.SIGTERM)
            machine_b.wait(timeout=30)
        party.stop()
