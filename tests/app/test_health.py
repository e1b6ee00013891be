"""The health panel's facts, each from the real thing: a real supervisord, a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.health import Health, count_restarts, database_facts, disk_usage, process_rows
from common.config import Config
from tests.app.test_web import on_asyncio
from tests.support.waiting import wait_until

SUPERVISORD_CONF = """[supervisord]
nodaemon=true
logfile={var}/log/supervisord.log
pidfile={var}/run/supervisord.pid
childlogdir={var}/log

[unix_http_server]
file={var}/run/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface

[program:relay]
command={python} -c "import time; time.sleep(3600)"
startsecs=1
autorestart=true

[program:app]
command={python} -c "import sys; sys.exit(3)"
startsecs=1
startretries=0
autorestart=false
"""


def test_restarts_are_counted_from_the_latest_supervisord_start() -> None:
    older = """2024-01-01 10:00:00,000 INFO supervisord started with pid 10
2024-01-01 10:00:01,000 INFO spawned: 'relay' with pid 11
2024-01-01 10:00:05,000 INFO spawned: 'relay' with pid 12
"""
    newer = """2024-01-01 11:00:00,000 INFO supervisord started with pid 20
2024-01-01 11:00:01,000 INFO spawned: 'relay' with pid 21
2024-01-01 11:00:01,000 INFO spawned: 'database' with pid 22
2024-01-01 11:00:09,000 INFO exited: relay (terminated by SIGKILL; not expected)
2024-01-01 11:00:10,000 INFO spawned: 'relay' with pid 23
2024-01-01 11:00:20,000 INFO spawned: 'relay' with pid 24
"""
    assert count_restarts([older]) == {"relay": 1}
    assert count_restarts([older, newer]) == {"relay": 2, "database": 0}
    assert count_restarts([newer[newer.index("2024-01-01 11:00:01") :]]) == {"relay": 2, "database": 0}
    assert count_restarts([]) == {}


def test_process_rows_order_the_parts_and_say_what_they_are() -> None:
    infos = [
        {
            "name": "frontdoor",
            "statename": "BACKOFF",
            "start": 0,
            "now": 50,
            "pid": 0,
            "spawnerr": "Exited too quickly",
        },
        {
            "name": "database",
            "statename": "RUNNING",
            "start": 100,
            "now": 160,
            "pid": 42,
            "description": "pid 42",
        },
    ]
    rows = process_rows(infos, {"database": 2})
    assert [r["name"] for r in rows] == ["database", "frontdoor"]
    assert rows[0] == {
        "name": "database",
        "title": "Database",
        "state": "RUNNING",
        "up": True,
        "pid": 42,
        "uptime_s": 60,
        "restarts": 2,
        "detail": "pid 42",
    }
    assert rows[1]["up"] is False and rows[1]["uptime_s"] is None and rows[1]["pid"] is None
    assert rows[1]["detail"] == "Exited too quickly" and rows[1]["restarts"] == 0


def test_disk_usage_counts_allocated_blocks_and_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "sub" / "a", tmp_path / "b")
    (tmp_path / "link").symlink_to(tmp_path / "sub" / "a")
    used = disk_usage(tmp_path)
    assert 100_000 <= used < 100_000 + 64 * 1024  # the file once, plus directory blocks
    assert disk_usage(tmp_path / "missing") == 0


@on_asyncio
async def test_database_facts_from_a_real_postgresql(database_url: str) -> None:
    facts = await database_facts(database_url)
    assert facts["state"] == "ok" and facts["kind"] == "PostgreSQL"
    assert facts["version"].startswith("PostgreSQL ") and facts["size_bytes"] > 1_000_000
    down = await database_facts("postgresql://root@127.0.0.1:9/soiree?connect_timeout=2")
    assert down == {"state": "not answering", "kind": None, "version": None, "size_bytes": None}


@pytest.fixture
def supervised() -> Iterator[Config]:
    """A real supervisord with the party's socket layout, running two small programs."""
    var = Path(tempfile.mkdtemp(prefix="soiree-h-"))  # unix socket paths must stay short
    for sub in ("run", "log", "db"):
        (var / sub).mkdir()
    conf = var / "supervisord.conf"
    conf.write_text(SUPERVISORD_CONF.format(var=var, python=sys.executable))
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("supervisord")), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield Config.from_env({"SOIREE_VAR": str(var), "SOIREE_PORT": "9"})
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        shutil.rmtree(var, ignore_errors=True)


def test_processes_and_restarts_from_a_real_supervisord(supervised: Config) -> None:
    health = Health(supervised)

    def states() -> dict[str, dict[str, Any]]:
        _, rows = asyncio.run(health.processes())
        return {row["name"]: row for row in rows}

    def settled() -> dict[str, dict[str, Any]] | None:
        s = states()
        running, failed = (
            s.get("relay", {}).get("state") == "RUNNING",
            s.get("app", {}).get("state") == "FATAL",
        )
        return s if running and failed else None

    rows = wait_until(settled, 60, "the relay to run and the app to fail")
    assert rows["relay"]["up"] and rows["relay"]["restarts"] == 0 and rows["relay"]["pid"]
    assert not rows["app"]["up"] and rows["app"]["uptime_s"] is None
    os.kill(rows["relay"]["pid"], signal.SIGKILL)  # supervisord starts it again
    again = wait_until(
        lambda: (r := states()["relay"])["state"] == "RUNNING" and r["pid"] != rows["relay"]["pid"] and r,
        60,
        "the relay to be restarted",
    )
    assert again["restarts"] == 1


@on_asyncio
async def test_the_report_says_what_does_not_answer(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "store").write_bytes(b"y" * 50_000)
    cfg = Config.from_env({"SOIREE_VAR": str(tmp_path), "SOIREE_PORT": "9"})
    report = await Health(cfg).report()
    assert report["supervisor"] == "not answering" and report["processes"] == []
    assert report["parts"] == {"api": "not answering", "relay": "not answering", "database": "not answering"}
    assert report["database"]["store_bytes"] >= 50_000
    assert report["var"]["size_bytes"] >= report["database"]["store_bytes"]


@on_asyncio
async def test_a_database_elsewhere_is_asked_at_its_url_and_has_no_store_here(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "db").mkdir()  # left from the days the party ran its own
    (tmp_path / "db" / "store").write_bytes(b"y" * 50_000)
    env = {"SOIREE_VAR": str(tmp_path), "SOIREE_PORT": "9", "SOIREE_OWN_DATABASE": "0"}
    report = await Health(Config.from_env({**env, "SOIREE_DATABASE_URL": database_url})).report()
    assert report["parts"]["database"] == "ok" and report["database"]["kind"] == "PostgreSQL"
    assert report["database"]["own"] is False and report["database"]["store_bytes"] is None
    assert report["var"]["size_bytes"] >= 50_000
    gone = "postgresql://root@127.0.0.1:9/soiree?connect_timeout=2"
    report = await Health(Config.from_env({**env, "SOIREE_DATABASE_URL": gone})).report()
    assert report["parts"]["database"] == "not answering"
