"""Two busy rooms on one relay process against the same two rooms on two processes.

    .venv/bin/python -m bench.relay_processes --clients 200,300,400 [--seconds 10 --warmup 5]

Each round starts fresh relays without a database: either one process holding both rooms, or
two processes of one party (``SOIREE_RELAYS=2``) holding one room each (rooms named so that
placement puts them there). Two load generators, one per room and each a process of its own,
run ``bench.relay_load``'s workload (N avatars in the room, 20 updates a second of 100 bytes,
everyone receiving everyone in their room) at the same time against the process that holds
their room. Reported per round: each room's p99 latency and whether its samplers got every
latest state, each relay process's CPU, and the load average. Nothing is pinned: on a 2-core
machine the relays and the generators share both cores (bench/README.md §Several relay
processes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import trio

from bench.relay_load import RoundResult, load1, run_round
from common.config import Config, stack_ports
from common.identity import Identity
from common.placement import place
from common.secretfiles import TICKET_KEY, load_secret, mint_ticket
from relay.client import open_relay
from relay.protocol import Lifetime
from tests.support.net import free_port_block


def room_on(index: int, count: int, prefix: str) -> str:
    return next(f"{prefix}-{n}" for n in range(1000) if place(f"{prefix}-{n}", count) == index)


def start(var: Path, base: int, relays: int, index: int, settings: list[str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SOIREE_VAR": str(var),
        "SOIREE_PORT": str(base),
        "SOIREE_MODE": "standalone",
        "SOIREE_RELAYS": str(relays),
        "SOIREE_RELAY_INDEX": str(index),
    }
    cmd = [sys.executable, "-m", "relay", "--no-database", "--log-level", "WARNING"]
    for setting in settings:
        cmd += ["--set", setting]
    proc = subprocess.Popen(cmd, env=env)
    port = Config.from_env(env).relay_ports(index)[0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"relay process {index} did not start")


def open_rooms(cfg: Config, key: bytes, rooms: list[str]) -> list[int]:
    """Create the rooms, in order, each holding one persistent object so that it stays when its
    creator leaves: their handles are then known before the generators send their JOINs."""

    async def run() -> list[int]:
        handles = []
        for room in rooms:
            url = f"ws://127.0.0.1:{cfg.relay_ports(place(room, cfg.relays))[0]}/relay"
            keeper_id = Identity(str(uuid.uuid4()), "keeper", frozenset({"play"}), "ticket")
            ticket = mint_ticket(key, keeper_id)
            async with open_relay(url, ticket=ticket, reconnect=False) as keeper:
                joined = await keeper.join(room)
                await joined.spawn(b"", lifetime=Lifetime.PERSISTENT)
                handles.append(joined.handle)
        return handles

    return trio.run(run)


def generator(job: dict[str, Any], out: Any) -> None:
    out.put((job["room"], asdict(run_round(**job))))


def one_round(layout: int, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Two rooms of ``n`` avatars each on ``layout`` relay processes (1 or 2)."""
    settings = [f"max_members={n + 10}", "default_rooms="]  # only the measured rooms
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        base = free_port_block(stack_ports(layout))
        procs = [start(var, base, layout, index, settings) for index in range(layout)]
        try:
            cfg = Config.from_env(
                {"SOIREE_VAR": str(var), "SOIREE_PORT": str(base), "SOIREE_RELAYS": str(layout)}
            )
            key = load_secret(var / "secrets", TICKET_KEY)
            rooms = [room_on(0, layout, "busy"), room_on(layout - 1, layout, "crowd")]
            handles = open_rooms(cfg, key, rooms)
            jobs = []
            for room, handle in zip(rooms, handles, strict=True):
                index = place(room, layout)
                port, admin = cfg.relay_ports(index)
                jobs.append(
                    {
                        "port": port,
                        "admin_port": admin,
                        "key": key,
                        "pid": procs[index].pid,
                        "n": n,
                        "samplers": args.samplers,
                        "warmup": args.warmup,
                        "seconds": args.seconds,
                        "rate": args.rate,
                        "room": room,
                        "handle": handle,
                    }
                )
            queue: Any = multiprocessing.Queue()
            workers = [multiprocessing.Process(target=generator, args=(job, queue)) for job in jobs]
            for worker in workers:
                worker.start()
            results = dict(queue.get(timeout=args.warmup + args.seconds + 300) for _ in workers)
            for worker in workers:
                worker.join()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
    per_room = [results[room] for room in rooms]
    cpu = [r["server_cpu_percent"] for r in per_room[:layout]]  # one process: both measured it
    return {
        "processes": layout,
        "clients_per_room": n,
        "p99_ms": [r["p99_ms"] for r in per_room],
        "latest_ok": [r["latest_ok"] for r in per_room],
        "delivered": [r["delivered_ratio"] for r in per_room],
        "relay_cpu_percent": cpu,
        "holds": all(RoundResult(**r).passed for r in per_room),
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.relay_processes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", default="200,300,400", help="comma-separated avatars per room")
    parser.add_argument("--samplers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds per size and layout, alternated")
    args = parser.parse_args(argv)
    print(f"load average before: {load1()}")
    print("procs  per room  p99 ms (room a, b)  latest  relay CPU %         holds  load average")
    for n in [int(x) for x in args.clients.split(",") if x]:
        for _ in range(args.repeat):
            for layout in (1, 2):
                r = one_round(layout, n, args)
                latest = "yes" if all(r["latest_ok"]) else "NO"
                cpu = ", ".join(f"{c:.0f}" for c in r["relay_cpu_percent"])
                holds = "ok" if r["holds"] else "over"
                print(
                    f"{layout:5d} {n:9d}  {r['p99_ms'][0]:7.1f} {r['p99_ms'][1]:7.1f}     {latest:>6}  "
                    f"{cpu:<18} {holds:>5}  "
                    f"{r['load_average']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
