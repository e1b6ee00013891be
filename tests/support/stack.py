"""Running the party server's programs on this machine for tests: environments and probes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "launcher.sh"
STACK_PORTS = 7  # front door + uro-shim, relay, relay admin, app, database, database console


def stack_env(var: Path, port: int, **extra: str) -> dict[str, str]:
    """This process's environment with the party server's own settings replaced."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOIREE_")}
    env.update(SOIREE_VAR=str(var), SOIREE_PORT=str(port))
    env.update(extra)
    return env


def http_status(url: str, headers: Mapping[str, str] | None = None) -> int | None:
    try:
        return httpx.get(url, headers=headers, timeout=5.0, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def answers_sql(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False
