"""Prepare the var directory before supervisord starts (run by launcher.sh on every start).

A grain is SIGKILLed when idle, so every start may follow a crash: pid files, sockets and
scratch files left behind are removed, unless a party server is still running on this var
directory, in which case the start is refused. The first start creates the layout and the
secrets. The output is the environment every program reads, as shell ``export`` lines, so that
supervisord, Caddy and the Python programs agree on ports and paths.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shlex
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from common.config import DEFAULT_MAX_UPLOAD_BYTES, LOOPBACK, Config, ConfigError
from common.placement import relay_path
from common.secretfiles import host_key, ticket_key

SUPERVISOR_SOCKET = "supervisor.sock"
UNIX_PATH_MAX = 107  # sun_path is 108 bytes including the terminating NUL
UPLOAD_MARGIN = 1024 * 1024  # the front door lets the API refuse first, with its own message
SUPERVISORD_CONF = Path(__file__).with_name("supervisord.conf")
# The database program's section, which supervisord.conf includes only when the party runs its own.
DATABASE_PROGRAM_CONF = Path(__file__).with_name("supervisord-database.conf")
# Written at every start for relay processes after the first; supervisord.conf and the Caddyfile
# include them (docs/architecture.md §Several relay processes on one machine).
RELAY_PROGRAMS = "relays.conf"
RELAY_ROUTES = "relays.caddy"


class PrepareError(RuntimeError):
    """The var directory cannot be used; the message says why and what to do."""


def supervisor_socket(cfg: Config) -> Path:
    return cfg.run_dir / SUPERVISOR_SOCKET


def stack_is_running(cfg: Config) -> bool:
    """True when a supervisord answers on this var directory's socket."""
    path = supervisor_socket(cfg)
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def _empty(directory: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def prepare(cfg: Config) -> None:
    if len(str(supervisor_socket(cfg))) > UNIX_PATH_MAX:
        raise PrepareError(
            f"the var directory path is too long for a Unix socket ({supervisor_socket(cfg)}); "
            "choose a shorter SOIREE_VAR"
        )
    cfg.var.mkdir(parents=True, exist_ok=True)
    if stack_is_running(cfg):
        raise PrepareError(f"a party server is already running on {cfg.var}")
    # Left over from a SIGKILL: nothing runs on this var directory now, so they are all stale.
    _empty(cfg.run_dir)
    _empty(cfg.tmp_dir)
    (cfg.db_dir / "postgres" / "postmaster.pid").unlink(missing_ok=True)
    # A database elsewhere leaves no store here; one left from earlier starts is kept as it is.
    store = [cfg.db_dir] if cfg.own_database else []
    for directory in (cfg.log_dir, cfg.uploads_dir, *store, cfg.var / "caddy"):
        directory.mkdir(parents=True, exist_ok=True)
    cfg.secrets_dir.mkdir(mode=0o700, exist_ok=True)
    ticket_key(cfg)
    host_key(cfg)
    if cfg.relays > 1:
        (cfg.run_dir / RELAY_PROGRAMS).write_text(relay_programs(cfg))
        (cfg.run_dir / RELAY_ROUTES).write_text(relay_routes(cfg))


def relay_programs(cfg: Config) -> str:
    """supervisord programs ``relay-1`` … for the relay processes after the first: each a copy
    of ``[program:relay]`` with its index in the environment and a log of its own."""
    source = configparser.ConfigParser(interpolation=None)
    source.read(SUPERVISORD_CONF)
    template = dict(source["program:relay"])
    out = configparser.ConfigParser(interpolation=None)
    for index in range(1, cfg.relays):
        name = f"relay-{index}"
        section = dict(template)
        section["environment"] = f'SOIREE_RELAY_INDEX="{index}"'
        section["stdout_logfile"] = template["stdout_logfile"].replace("/relay.log", f"/{name}.log")
        out[f"program:{name}"] = section
    text = io.StringIO()
    out.write(text)
    return text.getvalue()


def relay_routes(cfg: Config) -> str:
    """The front door's route to each relay process after the first, by its own path."""
    routes = []
    for index in range(1, cfg.relays):
        port = cfg.relay_ports(index)[0]
        routes.append(
            f"@relay_{index} path {relay_path(index)}\n"
            f"handle @relay_{index} {{\n\treverse_proxy {LOOPBACK}:{port} {{\n\t\timport upstream\n\t}}\n}}\n"
        )
    return "".join(routes)


_SIZE = re.compile(r"(\d+(?:\.\d+)?) *([kmgt]?)(i?)b?", re.IGNORECASE)


def size_in_bytes(text: str) -> int:
    """``200MB``, ``64KiB``, ``1.5GB`` or ``1048576`` (the sizes Caddy's ``max_size`` reads) in bytes."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise PrepareError(f"{text!r} is not a size (write it like 200MB, 64KiB or 1048576)")
    number, prefix, binary = match.groups()
    power = "kmgt".index(prefix.lower()) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def front_door_upload_limit(env: Mapping[str, str]) -> str:
    """Caddy's request-body cap for the API in bytes: the API's own limit plus a margin.

    A number of bytes, because the front door also compares it with a request's Content-Length.
    """
    if env.get("SOIREE_MAX_UPLOAD"):
        return str(size_in_bytes(env["SOIREE_MAX_UPLOAD"]))
    try:
        api_limit = int(float(env.get("SOIREE_MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES))
    except ValueError:
        api_limit = DEFAULT_MAX_UPLOAD_BYTES  # the API refuses to start and names the variable
    return str(api_limit + UPLOAD_MARGIN)


def program_environment(cfg: Config, env: Mapping[str, str]) -> dict[str, str]:
    """Every variable the programs and their configuration files read, fully resolved."""
    return {
        "SOIREE_VAR": str(cfg.var),
        "SOIREE_MODE": cfg.mode,
        "SOIREE_PORT": str(cfg.port),
        "SOIREE_BIND": env.get("SOIREE_BIND") or LOOPBACK,
        "SOIREE_API_PORT": str(cfg.api_port),
        "SOIREE_RELAY_PORT": str(cfg.relay_port),
        "SOIREE_RELAY_ADMIN_PORT": str(cfg.relay_admin_port),
        "SOIREE_RELAYS": str(cfg.relays),  # a number: `auto` resolved once, for every program
        "SOIREE_APP_PORT": str(cfg.app_port),
        "SOIREE_DB_PORT": str(cfg.db_port),
        "SOIREE_DB_HTTP_PORT": str(cfg.db_http_port),
        "SOIREE_DATABASE_URL": cfg.database_url,
        "SOIREE_OWN_DATABASE": "1" if cfg.own_database else "0",
        # supervisord.conf includes this file: the database program, or nothing (an empty list).
        "SOIREE_DATABASE_PROGRAM": str(DATABASE_PROGRAM_CONF) if cfg.own_database else "",
        "SOIREE_MAX_UPLOAD": front_door_upload_limit(env),
        "HOME": env.get("HOME") or str(cfg.var),  # a grain has no /etc/passwd to look it up
        "TMPDIR": str(cfg.tmp_dir),  # /tmp is a 16 MiB tmpfs in a grain
        "XDG_CONFIG_HOME": str(cfg.var / "caddy"),  # Caddy's autosave.json
        "XDG_DATA_HOME": str(cfg.var / "caddy"),  # Caddy's instance id
        "PYTHONDONTWRITEBYTECODE": "1",  # the app directory is read-only
        "PYTHONUNBUFFERED": "1",
    }


def main() -> int:
    try:
        cfg = Config.from_env()
        prepare(cfg)
        environment = program_environment(cfg, os.environ)
    except (ConfigError, PrepareError, OSError) as e:
        print(f"launcher: {e}", file=sys.stderr)
        return 1
    for key, value in environment.items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
