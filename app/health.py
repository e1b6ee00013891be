"""The health panel's facts: supervised processes, the database, the var directory.

The database is asked at ``SOIREE_DATABASE_URL``, wherever it is: the party's own database program,
or a server elsewhere when that program does not run (``SOIREE_OWN_DATABASE=0``).

supervisord answers XML-RPC on its unix socket (``run/supervisor.sock``). It reports each
program's state and pid but no restart count, so restarts are counted from its own log: every
``spawned: '<name>'`` line after the latest ``supervisord started`` line is one start, and all
but the first are restarts. The log is kept in two files of 1 MB (about ten thousand restarts).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import time
import xmlrpc.client
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import httpx
from supervisor.xmlrpc import SupervisorTransport

from app import links
from app.prepare import supervisor_socket
from common.config import Config

SUPERVISOR_TIMEOUT = 3.0
PART_TIMEOUT = 2.0
SIZE_CACHE_SECONDS = 10.0
SPAWNED = re.compile(r"spawned: '([^']+)' with pid \d+")
SUPERVISOR_STARTED = "supervisord started with pid"
UP_STATES = frozenset({"RUNNING"})
# What each supervised program is, for people, and how to tell it answers.
PROGRAMS = {
    "database": "Database",
    "uro-shim": "Accounts and content API",
    "relay": "Relay",
    "app": "Pages (this dashboard)",
    "frontdoor": "Front door",
}


def count_restarts(log_texts: Iterable[str]) -> dict[str, int]:
    """Restarts per program since supervisord's latest start; ``log_texts`` oldest first."""
    spawns: dict[str, int] = {}
    for text in log_texts:
        for line in text.splitlines():
            if SUPERVISOR_STARTED in line:
                spawns.clear()
            elif found := SPAWNED.search(line):
                spawns[found[1]] = spawns.get(found[1], 0) + 1
    return {name: count - 1 for name, count in spawns.items()}


def read_supervisor_log(log_dir: Path) -> list[str]:
    texts = []
    for path in (log_dir / "supervisord.log.1", log_dir / "supervisord.log"):
        try:
            texts.append(path.read_text(errors="replace"))
        except OSError:
            continue
    return texts


def process_rows(infos: list[dict[str, Any]], restarts: dict[str, int]) -> list[dict[str, Any]]:
    """supervisord's process records, reduced to what the health panel shows."""
    rows = []
    for info in sorted(infos, key=lambda i: list(PROGRAMS).index(i["name"]) if i["name"] in PROGRAMS else 99):
        up = info.get("statename") in UP_STATES
        start, now = info.get("start") or 0, info.get("now") or 0
        rows.append(
            {
                "name": info["name"],
                "title": PROGRAMS.get(info["name"], info["name"]),
                "state": str(info.get("statename", "UNKNOWN")),
                "up": up,
                "pid": info.get("pid") or None,
                "uptime_s": max(0, now - start) if up and start else None,
                "restarts": restarts.get(info["name"], 0),
                "detail": str(info.get("description") or info.get("spawnerr") or ""),
            }
        )
    return rows


def supervisor_processes(socket_path: Path) -> list[dict[str, Any]]:
    """``supervisor.getAllProcessInfo`` over the unix socket (blocking)."""
    transport = SupervisorTransport(None, None, serverurl=f"unix://{socket_path}")
    # The URL only satisfies ServerProxy: the transport connects to the socket.
    proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
    # XML-RPC answers are untyped; supervisord documents this one as a list of structs
    return cast("list[dict[str, Any]]", proxy.supervisor.getAllProcessInfo())


def disk_usage(path: Path) -> int:
    """Bytes on disk under ``path`` (allocated blocks; hard links counted once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while we looked (database temporary files)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


async def http_part(port: int) -> str:
    try:
        async with httpx.AsyncClient(timeout=PART_TIMEOUT, trust_env=False) as client:
            response = await client.get(links.healthz_url(port))
    except httpx.HTTPError:
        return "not answering"
    if response.status_code == 200:
        return "ok"
    try:
        return str(response.json().get("status", response.status_code))
    except ValueError:
        return f"HTTP {response.status_code}"


async def database_facts(url: str) -> dict[str, Any]:
    """Whether SQL answers, which server it is, and how big the party's database is."""
    # The SQL driver is loaded the first time the host looks, not at start: nothing else in the
    # app uses it, and an idle party should not pay for it (bench/README.md §Idle memory).
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=int(PART_TIMEOUT), autocommit=True)
    except psycopg.Error:
        return {"state": "not answering", "kind": None, "version": None, "size_bytes": None}
    try:
        cur = await conn.execute("SELECT version()")
        version = str((await cur.fetchone() or ("",))[0])
        if "CockroachDB" in version:
            kind, size = "CockroachDB", None  # no pg_database_size(); the store's size is shown
        else:
            kind = "PostgreSQL"
            cur = await conn.execute("SELECT pg_database_size(current_database())")
            size = int((await cur.fetchone() or (0,))[0])
    except psycopg.Error as exc:
        return {
            "state": f"error: {exc.sqlstate or 'query failed'}",
            "kind": None,
            "version": None,
            "size_bytes": None,
        }
    finally:
        await conn.close()
    short = version.split(" on ")[0].split(" (")[0]
    return {"state": "ok", "kind": kind, "version": short, "size_bytes": size}


class Health:
    """Gathers the health panel; directory sizes are cached briefly (walking a store costs)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._sizes: tuple[float, dict[str, int | None]] | None = None

    async def sizes(self) -> dict[str, int | None]:
        """The var directory's size and the database store's (None: the database is elsewhere)."""
        now = time.monotonic()
        if self._sizes is None or now - self._sizes[0] > SIZE_CACHE_SECONDS:

            async def store() -> int | None:
                return await asyncio.to_thread(disk_usage, self.cfg.db_dir) if self.cfg.own_database else None

            var, store_bytes = await asyncio.gather(asyncio.to_thread(disk_usage, self.cfg.var), store())
            self._sizes = (now, {"var": var, "store": store_bytes})
        return self._sizes[1]

    async def processes(self) -> tuple[str, list[dict[str, Any]]]:
        socket_path = supervisor_socket(self.cfg)
        try:
            infos = await asyncio.wait_for(
                asyncio.to_thread(supervisor_processes, socket_path), SUPERVISOR_TIMEOUT
            )
        except (OSError, TimeoutError, http.client.HTTPException, xmlrpc.client.Error):
            return "not answering", []
        texts = await asyncio.to_thread(read_supervisor_log, self.cfg.log_dir)
        return "ok", process_rows(infos, count_restarts(texts))

    async def report(self) -> dict[str, Any]:
        cfg = self.cfg
        (supervisor, processes), database, api, relay, front, sizes = await asyncio.gather(
            self.processes(),
            database_facts(cfg.database_url),
            http_part(cfg.api_port),
            http_part(cfg.relay_port),
            http_part(cfg.port),
            self.sizes(),
        )
        ready = {
            "database": database["state"],
            "uro-shim": api,
            "relay": relay,
            "app": "ok",
            "frontdoor": front,
        }
        for row in processes:
            row["answers"] = ready.get(row["name"])
        return {
            "supervisor": supervisor,
            "processes": processes,
            "parts": {"api": api, "relay": relay, "database": database["state"]},
            "database": {**database, "own": cfg.own_database, "store_bytes": sizes["store"]},
            "var": {"size_bytes": sizes["var"]},
            "mode": cfg.mode,
        }
