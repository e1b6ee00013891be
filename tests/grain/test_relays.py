"""A party server with two relay processes, for real: launcher.sh, supervisord, the front door's
per-process routes, the SDK following a room to the process that holds it, the API's shard
list and the dashboard over both (docs/architecture.md §Several relay processes on one machine)."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from app import links
from common.config import Config, stack_ports
from common.placement import place
from common.secretfiles import mint_ticket, ticket_key
from relay.client import open_relay
from relay.protocol import Rule
from tests.grain.test_stack import is_running, program_pid
from tests.relay.sim import identity
from tests.support.net import free_port_block
from tests.support.stack import Stack, http_status
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def named_on(index: int, prefix: str) -> str:
    return next(f"{prefix}-{n}" for n in range(1000) if place(f"{prefix}-{n}", 2) == index)


def dashboard(stack: Stack, path: str) -> Any:
    cfg = Config.from_env(stack.env)
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as client:
        client.get(links.host_url(cfg).replace(links.base_url(cfg), stack.url))
        response = client.get(stack.url + path)
        assert response.status_code == 200, response.text
        return response.json()


async def test_two_relay_processes_behind_one_front_door(var_dir: Path, postgres_template: Path) -> None:
    stack = Stack(var_dir / "var", free_port_block(stack_ports(2)), SOIREE_RELAYS="2").start()
    try:
        await trio.to_thread.run_sync(stack.wait_ready)
        cfg = Config.from_env(stack.env)

        def every_relay_ready() -> None:
            for program in ("relay", "relay-1"):
                wait_until(partial(is_running, stack, program), 60, f"{program} to be RUNNING")
            for index in (0, 1):
                health = f"http://127.0.0.1:{cfg.relay_ports(index)[0]}/healthz"
                wait_until(partial(lambda url: http_status(url) == 200, health), 90, f"relay {index}")

        await trio.to_thread.run_sync(every_relay_ready)
        # The front door leads /relay/1 to process 1 (a plain GET is not an upgrade: the relay's 400).
        assert await trio.to_thread.run_sync(http_status, stack.url + "/relay/1") == 400
        assert await trio.to_thread.run_sync(http_status, stack.url + "/relay/2") == 404

        key = ticket_key(cfg)

        def tickets(name: str) -> Callable[[], Awaitable[str]]:
            async def fetch() -> str:
                return mint_ticket(key, identity(name, False))

            return fetch

        rooms = [named_on(0, "porch"), named_on(1, "attic")]
        relay = f"ws://127.0.0.1:{stack.port}/relay"
        async with (
            open_relay(relay, ticket=tickets("ana")) as ana,
            open_relay(f"{relay}/1", ticket=tickets("bo")) as bo,
        ):
            # ana's connection is to process 0: the attic is followed to process 1.
            porch, attic = await ana.join(rooms[0]), await ana.join(rooms[1])
            assert porch.relay is ana and attic.relay is not ana
            assert attic.relay.url == f"{relay}/1"
            attic_bo = await bo.join(rooms[1])
            lamp = await attic.spawn(b"on", rule=Rule.ALLOW)
            await attic_bo.wait_for(lambda v: lamp in v.objects)
            porch_bo = await bo.join(rooms[0])  # and bo's, from process 1 to process 0
            assert porch_bo.relay is not bo
            assert set(porch_bo.view.members) == {ana.member, porch_bo.relay.member}

            # The API's shard list and the dashboard see both processes' rooms.
            shards = await trio.to_thread.run_sync(
                lambda: httpx.get(stack.url + "/api/v1/shards", trust_env=False, timeout=30).json()
            )
            urls = {s["name"]: s["url"] for s in shards["data"]["shards"] if s["id"].startswith("relay:")}
            assert urls[rooms[0]] == f"{relay}?room={rooms[0]}"
            assert urls[rooms[1]] == f"{relay}/1?room={rooms[1]}"
            live = await trio.to_thread.run_sync(dashboard, stack, "/app/api/live")
            listed = {r["name"]: r["relay"] for r in live["rooms"]}
            assert listed[rooms[0]] == 0 and listed[rooms[1]] == 1
            assert live["stats"]["members"] == 4

            # Process 1 dies: supervisord brings it back; process 0's room never noticed.
            old = await trio.to_thread.run_sync(program_pid, stack, "relay-1")
            os.kill(old, signal.SIGKILL)
            await trio.to_thread.run_sync(
                lambda: wait_until(
                    lambda: program_pid(stack, "relay-1") not in (0, old) and is_running(stack, "relay-1"),
                    60,
                    "relay-1 restarted",
                )
            )
            chair = await porch.spawn(b"still here")
            await porch_bo.wait_for(lambda v: chair in v.objects)
    finally:
        stack.stop()
