"""Benchmark of the host dashboard's live view: what one refresh of ``/app/api/live`` costs the app
and the relay, with a party in the room.

    .venv/bin/python -m bench.dashboard_live [--players 16] [--objects 3] [--rate 10] [--seconds 10]

Starts a real ``python -m relay --no-database`` and a real ``python -m app`` on free loopback
ports. Bots on the relay's Python SDK join one room, each spawns objects and moves them
``--rate`` times a second. Three phases of ``--seconds`` each:

1. no dashboard open (the app still samples the relay's stats every 2 s);
2. one dashboard refreshing every second, as the page does;
3. one client refreshing as fast as it can (the worst a busy host's browser tabs could do).

For each phase: the relay's and the app's CPU use, the relay's tick time (its own ``/stats``,
averaged over its last second) and, while refreshing, the latency and size of ``/app/api/live``.
The load generator shares the machine's cores with the relay and the app: compare runs made on
the same machine only.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from app import links
from app.access import HOST_COOKIE
from common.config import RELAY_PATH, STACK_PORTS, Config
from common.identity import Identity
from common.secretfiles import mint_ticket, ticket_key
from relay.client import open_relay
from relay.protocol import Rule
from tests.support.net import free_port_block
from tests.support.stack import http_status, stack_env
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(module: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def bot(url: str, key: bytes, n: int, objects: int, rate: float, stop: trio.Event) -> None:
    identity = Identity(f"bench-{n}", f"Bot {n}", frozenset({"play"}), "ticket")

    async def ticket() -> str:
        return mint_ticket(key, identity, ttl=3600)

    async with open_relay(url, ticket=ticket) as relay:
        room = await relay.join("lobby")
        ids = [await room.spawn(b"x" * 64, rule=Rule.ALLOW, position=(n, 0.0, k)) for k in range(objects)]
        step = 0
        while not stop.is_set():
            step += 1
            for k, oid in enumerate(ids):
                angle = step / rate + k
                await room.update(oid, b"x" * 64, position=(n + math.cos(angle), 0.0, k + math.sin(angle)))
            await trio.sleep(1 / rate)


async def phase_load(
    admin: httpx.AsyncClient, seconds: float, pids: tuple[int, int]
) -> tuple[list[float], tuple[float, float]]:
    """The relay's tick times, one a second, and the relay's and the app's CPU use (percent of
    one core) over the phase."""
    samples = []
    before = [cpu_seconds(pid) for pid in pids]
    started = time.monotonic()
    deadline = trio.current_time() + seconds
    while trio.current_time() < deadline:
        await trio.sleep(1)
        stats = (await admin.get("/stats")).json()
        samples.append(float(stats["tick"].get("tick_ms_avg", 0.0)))
    wall = time.monotonic() - started
    relay_cpu, app_cpu = ((cpu_seconds(pid) - b) / wall * 100 for pid, b in zip(pids, before, strict=True))
    return samples, (relay_cpu, app_cpu)


async def refresh(app: httpx.AsyncClient, seconds: float, interval: float) -> tuple[list[float], list[int]]:
    latencies, sizes = [], []
    deadline = trio.current_time() + seconds
    while trio.current_time() < deadline:
        started = time.perf_counter()
        response = await app.get("/app/api/live?since=0")
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and response.json()["relay"] == "ok", response.text
        sizes.append(len(response.content))
        await trio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return latencies, sizes


def summary(values: list[float]) -> str:
    if not values:
        return "–"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.1f}, p99 {p99:.1f}, max {ordered[-1]:.1f}"


def wait_healthy(url: str) -> None:
    wait_until(lambda: http_status(url) == 200, 60, url)


async def main(args: argparse.Namespace) -> None:
    var = Path(tempfile.mkdtemp(prefix="soiree-bench-"))
    base = free_port_block(STACK_PORTS)
    env = stack_env(var, base)
    cfg = Config.from_env(env)
    relay = start("relay", env, "--no-database")
    app = start("app", env)
    try:
        for port in (cfg.relay_port, cfg.app_port):
            health = f"http://127.0.0.1:{port}/healthz"
            await trio.to_thread.run_sync(wait_healthy, health)
        key = ticket_key(cfg)
        stop = trio.Event()
        results: dict[str, Any] = {}
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{cfg.relay_admin_port}", trust_env=False) as admin,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{cfg.app_port}",
                cookies={HOST_COOKIE: links.host_key(cfg)},
                trust_env=False,
                timeout=30,
            ) as dashboard,
            trio.open_nursery() as nursery,
        ):
            url = f"ws://127.0.0.1:{cfg.relay_port}{RELAY_PATH}"
            for n in range(args.players):
                nursery.start_soon(bot, url, key, n, args.objects, args.rate, stop)
            await trio.sleep(3)  # everyone joined and moving
            stats = (await admin.get("/stats")).json()
            results["party"] = (stats["members"], stats["objects"], stats["per_second"]["messages_in"])

            pids = (relay.pid, app.pid)
            results["no dashboard"] = (*await phase_load(admin, args.seconds, pids), [], [])
            async with trio.open_nursery() as phase:
                box: dict[str, Any] = {}

                async def poll(interval: float) -> None:
                    box["live"] = await refresh(dashboard, args.seconds, interval)

                phase.start_soon(poll, 1.0)
                load = await phase_load(admin, args.seconds, pids)
            results["dashboard, 1 refresh/s"] = (*load, *box["live"])
            async with trio.open_nursery() as phase:
                phase.start_soon(poll, 0.0)
                load = await phase_load(admin, args.seconds, pids)
            results["dashboard, as fast as it can"] = (*load, *box["live"])
            stop.set()

        members, objects, messages_in = results.pop("party")
        print(f"party: {members} players, {objects} objects, {messages_in:.0f} messages/s into the relay")
        print(
            "| phase | relay CPU % | app CPU % | relay tick ms (avg per second) | /app/api/live ms"
            " | refreshes/s | response KB |"
        )
        print("|---|---:|---:|---|---|---:|---:|")
        for name, (ticks, (relay_cpu, app_cpu), latencies, sizes) in results.items():
            rate = f"{len(latencies) / args.seconds:.1f}" if latencies else "–"
            size = f"{statistics.mean(sizes) / 1024:.1f}" if sizes else "–"
            print(
                f"| {name} | {relay_cpu:.0f} | {app_cpu:.0f} | {summary(ticks)} | {summary(latencies)}"
                f" | {rate} | {size} |"
            )
    finally:
        for process in (relay, app):
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--players", type=int, default=16)
    parser.add_argument("--objects", type=int, default=3, help="objects each player moves")
    parser.add_argument("--rate", type=float, default=10.0, help="updates per second per object")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    trio.run(main, parser.parse_args())
