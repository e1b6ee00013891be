"""Where every Soirée process finds its ports, paths and mode.

One environment, read the same way by every process (docs/architecture.md §Environment):
``SOIREE_VAR`` (default ``/var``), ``SOIREE_PORT`` (default 8000), ``SOIREE_MODE``
(``sandstorm`` when ``SANDSTORM=1``, else ``standalone``). Internal ports default to
offsets from the front door's port so that several stacks (tests) can run side by side
by choosing one free base port.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["sandstorm", "standalone"]

# Offsets from SOIREE_PORT for the internal, loopback-only listeners.
API_OFFSET = 1  # uro-shim
RELAY_OFFSET = 2  # relay WebSocket (+ /healthz)
RELAY_ADMIN_OFFSET = 3  # relay stats and moderation; never routed by the front door
APP_OFFSET = 4  # dashboard and player pages
DB_OFFSET = 5  # CockroachDB or PostgreSQL SQL port
DB_HTTP_OFFSET = 6  # CockroachDB console (loopback only)
# How many consecutive ports one party server takes, from SOIREE_PORT up.
STACK_PORTS = 1 + max(API_OFFSET, RELAY_OFFSET, RELAY_ADMIN_OFFSET, APP_OFFSET, DB_OFFSET, DB_HTTP_OFFSET)
# Relay processes after the first take two ports each (WebSocket, admin) above the stack's block.
PORTS_PER_EXTRA_RELAY = 2
# SOIREE_RELAYS=auto: one relay process per core, at most this many.
MAX_RELAYS = 8


def stack_ports(relays: int) -> int:
    """How many consecutive ports a party server with ``relays`` relay processes takes."""
    return STACK_PORTS + PORTS_PER_EXTRA_RELAY * (relays - 1)


# The user CockroachDB's insecure mode uses; PostgreSQL gets the same, so one URL fits both.
DB_SUPERUSER = "root"
LOOPBACK = "127.0.0.1"  # /etc/hosts is hidden in a grain: never rely on "localhost"
# The relay's WebSocket path, the same behind the front door (app/Caddyfile) and on the relay's port.
RELAY_PATH = "/relay"
# Where Uro's JSON API lives (its router's scope; uro-shim/COMPATIBILITY.md), on the API's port and
# behind the front door alike.
URO_API = "/api/v1"
# The API's largest multipart body unless SOIREE_MAX_UPLOAD_BYTES says otherwise: Uro's own limit
# (uro-shim/COMPATIBILITY.md §Configuration). The front door's cap is derived from it (app/prepare.py).
DEFAULT_MAX_UPLOAD_BYTES = 200_000_000


class ConfigError(ValueError):
    """The environment does not describe a runnable configuration."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name} must be between 1 and 65535, got {value}")
    return value


def _own_database(env: Mapping[str, str]) -> bool:
    """``SOIREE_OWN_DATABASE``: whether the party runs its own database program (default ``1``).

    ``0`` is for a party whose database is a server elsewhere (a multi-node CockroachDB cluster),
    which ``SOIREE_DATABASE_URL`` must then name: without it there would be no database at all.
    """
    raw = (env.get("SOIREE_OWN_DATABASE") or "1").strip()
    if raw not in ("0", "1"):
        raise ConfigError(
            "SOIREE_OWN_DATABASE must be 1 (the party runs its own database) or 0 (it uses the server "
            f"SOIREE_DATABASE_URL names), got {raw!r}"
        )
    if raw == "0" and not env.get("SOIREE_DATABASE_URL"):
        raise ConfigError(
            "SOIREE_OWN_DATABASE=0 needs SOIREE_DATABASE_URL: the party's own database program does not "
            "run, so SOIREE_DATABASE_URL must name the database server to use"
        )
    return raw == "1"


def _relays(env: Mapping[str, str]) -> int:
    """``SOIREE_RELAYS``: how many relay processes (default 1; ``auto``: one per core)."""
    raw = (env.get("SOIREE_RELAYS") or "1").strip()
    if raw == "auto":
        return max(1, min(os.cpu_count() or 1, MAX_RELAYS))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RELAYS:
        raise ConfigError(f"SOIREE_RELAYS must be 'auto' or a number from 1 to {MAX_RELAYS}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Config:
    var: Path
    mode: Mode
    port: int
    api_port: int
    relay_port: int
    relay_admin_port: int
    app_port: int
    db_port: int
    db_http_port: int
    database_url: str
    # Whether supervisord runs the database program; when not, database_url is a server elsewhere.
    own_database: bool = True
    relays: int = 1  # relay processes (docs/architecture.md §Several relay processes on one machine)
    relay_index: int = 0  # which of them this process is, in a relay process

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        var = Path(env.get("SOIREE_VAR") or "/var").absolute()
        mode_raw = env.get("SOIREE_MODE") or ("sandstorm" if env.get("SANDSTORM") == "1" else "standalone")
        if mode_raw not in ("sandstorm", "standalone"):
            raise ConfigError(f"SOIREE_MODE must be 'sandstorm' or 'standalone', got {mode_raw!r}")
        mode: Mode = "sandstorm" if mode_raw == "sandstorm" else "standalone"
        port = _port(env, "SOIREE_PORT", 8000)
        db_port = _port(env, "SOIREE_DB_PORT", port + DB_OFFSET)
        database_url = env.get("SOIREE_DATABASE_URL") or (
            f"postgresql://{DB_SUPERUSER}@{LOOPBACK}:{db_port}/soiree?sslmode=disable"
        )
        own_database = _own_database(env)
        relays = _relays(env)
        index_raw = env.get("SOIREE_RELAY_INDEX") or "0"
        if not index_raw.isdigit() or int(index_raw) >= relays:
            raise ConfigError(
                f"SOIREE_RELAY_INDEX must be a number below SOIREE_RELAYS ({relays}), got {index_raw!r}"
            )
        relay_index = int(index_raw)
        return cls(
            var=var,
            mode=mode,
            port=port,
            api_port=_port(env, "SOIREE_API_PORT", port + API_OFFSET),
            relay_port=_port(env, "SOIREE_RELAY_PORT", port + RELAY_OFFSET),
            relay_admin_port=_port(env, "SOIREE_RELAY_ADMIN_PORT", port + RELAY_ADMIN_OFFSET),
            app_port=_port(env, "SOIREE_APP_PORT", port + APP_OFFSET),
            db_port=db_port,
            db_http_port=_port(env, "SOIREE_DB_HTTP_PORT", port + DB_HTTP_OFFSET),
            database_url=database_url,
            own_database=own_database,
            relays=relays,
            relay_index=relay_index,
        )

    def relay_ports(self, index: int) -> tuple[int, int]:
        """Relay process ``index``'s WebSocket and admin ports: process 0 has the relay's own."""
        if index == 0:
            return self.relay_port, self.relay_admin_port
        websocket = self.port + STACK_PORTS + PORTS_PER_EXTRA_RELAY * (index - 1)
        return websocket, websocket + 1

    @property
    def relay_admin_ports(self) -> list[int]:
        """Every relay process's admin port, by index."""
        return [self.relay_ports(index)[1] for index in range(self.relays)]

    # The var directory's layout. Only the var directory is writable and persistent in a grain.
    @property
    def run_dir(self) -> Path:  # pid and socket files; emptied at every start
        return self.var / "run"

    @property
    def log_dir(self) -> Path:  # size-capped rotating logs (a grain has no /dev/stdout)
        return self.var / "log"

    @property
    def tmp_dir(self) -> Path:  # scratch space; /tmp is a 16 MiB tmpfs in a grain
        return self.var / "tmp"

    @property
    def secrets_dir(self) -> Path:  # keys created on first start (ticket signing, host key)
        return self.var / "secrets"

    @property
    def uploads_dir(self) -> Path:  # user content served under /uploads
        return self.var / "uploads"

    @property
    def db_dir(self) -> Path:  # the database's store (only with own_database)
        return self.var / "db"

    @property
    def relay_dir(self) -> Path:  # the relay's own small files: the host's settings (relay/policy.py)
        return self.var / "relay"
