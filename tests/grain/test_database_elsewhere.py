"""A party whose database is a server elsewhere (``SOIREE_OWN_DATABASE=0``; docs/architecture.md
§Relays on other machines), for real: launcher.sh, supervisord and every program, with a PostgreSQL
server the test starts standing for the cluster elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio

from app import links
from common.config import STACK_PORTS, Config
from relay.client import open_relay
from relay.protocol import Lifetime, Rule
from tests.app.dashboard import DESKTOP, text_of
from tests.support.browser import open_browser
from tests.support.net import free_port_block
from tests.support.postgres import PostgresServer
from tests.support.stack import Stack, http_status, relay_ticket
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

# What the party's own database program would run: none of it may appear.
DATABASE_COMMANDS = ("app.database", "bin/postgres", "cockroach")


def command_lines(pids: list[int]) -> list[str]:
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue  # gone meanwhile
    return lines


def host_health(stack: Stack, cfg: Config) -> dict[str, Any]:
    """The host dashboard's health panel, signed in with the host link."""
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as client:
        assert client.get(links.host_url(cfg).replace(links.base_url(cfg), stack.url)).status_code == 200
        response = client.get(stack.url + "/app/api/health")
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report


def new_player(stack: Stack, cfg: Config, name: str) -> tuple[str, str]:
    """An account made through the API (an invite link the host makes): its id and access token."""
    wait_until(lambda: http_status(stack.url + "/api/v1/health") == 200, 90, "the API")
    with httpx.Client(base_url=stack.url, trust_env=False, timeout=30) as http:
        host = http.post("/api/v1/host/session", data={"key": links.host_key(cfg)}).json()["data"]
        made = http.post(
            "/api/v1/invites", data={"label": name}, headers={"Authorization": host["access_token"]}
        )
        redeemed = http.post("/api/v1/invites/redeem", data={"code": made.json()["data"]["invite"]["code"]})
        assert redeemed.status_code == 200, redeemed.text
        data = redeemed.json()["data"]
        return str(data["user"]["id"]), str(data["access_token"])


async def test_the_party_uses_a_database_elsewhere_and_runs_none_of_its_own(
    var_dir: Path, make_pg_server: Callable[..., PostgresServer]
) -> None:
    elsewhere = make_pg_server()
    url = elsewhere.url_for("soiree_party")  # not created yet: the API and the relay create it
    stack = Stack(
        var_dir / "var", free_port_block(STACK_PORTS), SOIREE_OWN_DATABASE="0", SOIREE_DATABASE_URL=url
    )
    cfg = Config.from_env(stack.env)
    assert cfg.database_url == url and not cfg.own_database
    stack.start()
    try:
        await trio.to_thread.run_sync(stack.wait_ready)
        user_id, token = await trio.to_thread.run_sync(new_player, stack, cfg, "ana")

        def query(sql: str, *args: object) -> list[tuple[Any, ...]]:
            with psycopg.connect(url) as conn:
                return conn.execute(sql, args).fetchall()

        # The account landed in the database elsewhere.
        assert query("SELECT display_name FROM uro_users WHERE id = %s", user_id) == [("ana",)]

        # The relay's persistent objects land there too.
        await trio.to_thread.run_sync(
            lambda: wait_until(
                lambda: http_status(f"http://127.0.0.1:{cfg.relay_port}/healthz") == 200, 90, "the relay"
            )
        )

        async def ticket() -> str:
            return str((await relay_ticket(stack.url, token))["ticket"])

        async with open_relay(f"ws://127.0.0.1:{stack.port}/relay", ticket=ticket) as ana:
            garden = await ana.join("garden")
            lantern = await garden.spawn(b"lit", rule=Rule.ALLOW, lifetime=Lifetime.PERSISTENT)

            def saved() -> list[tuple[Any, ...]]:
                return query(
                    "SELECT state, account FROM relay_objects WHERE room = 'garden' AND object_id = %s",
                    lantern,
                )

            await trio.to_thread.run_sync(lambda: wait_until(saved, 30, "the relay to save the lantern"))
            assert [(bytes(state), account) for state, account in saved()] == [(b"lit", user_id)]

        # No database program: supervisord does not know one, no such process runs, no store was made.
        status = await trio.to_thread.run_sync(stack.supervisorctl, "status")
        programs = {line.split()[0] for line in status.splitlines() if line.strip()}
        assert {"uro-shim", "relay", "app", "frontdoor"} <= programs and "database" not in programs
        running = command_lines(stack.processes())
        assert any("uro_shim" in line for line in running)  # the list is the party's processes
        assert not [line for line in running if any(name in line for name in DATABASE_COMMANDS)]
        assert not (stack.var / "db").exists() and not (stack.var / "log" / "database.log").exists()

        # The host's health panel asks the database elsewhere and finds it fine.
        assert http_status(stack.url + "/healthz") == 200

        def settled() -> dict[str, Any] | None:  # supervisord says RUNNING after startsecs (3 s)
            report = host_health(stack, cfg)
            return report if report["processes"] and all(p["up"] for p in report["processes"]) else None

        report = await trio.to_thread.run_sync(lambda: wait_until(settled, 30, "every program RUNNING"))
        assert report["parts"] == {"api": "ok", "relay": "ok", "database": "ok"}
        database = report["database"]
        assert (database["kind"], database["own"], database["store_bytes"]) == ("PostgreSQL", False, None)
        assert sorted(p["name"] for p in report["processes"]) == ["app", "frontdoor", "relay", "uro-shim"]

        # The dashboard, in a browser, shows four parts up and the database as fine, elsewhere.
        async with open_browser() as page:
            await page.set_viewport(*DESKTOP)
            await page.navigate(links.host_url(cfg).replace(links.base_url(cfg), stack.url))
            titles = await page.wait_for(
                """(() => { const rows = [...document.querySelectorAll('#processes tbody tr')];
                  return rows.length === 4 && rows.every(r => r.querySelector('.state').textContent === 'up')
                    && document.querySelector('#db-kind').textContent.endsWith('(ok)')
                    && rows.map(r => r.querySelector('th').textContent); })()""",
                what="four parts up and the database ok",
            )
            assert "Database" not in titles
            assert (await page.evaluate(text_of("#db-kind"))).startswith("PostgreSQL")
            assert await page.evaluate(text_of("#db-store")) == "none here (the database is elsewhere)"
    finally:
        code = await trio.to_thread.run_sync(stack.stop)
    assert code == 0
