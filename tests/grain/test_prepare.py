"""Preparing the var directory: layout, secrets, stale files after a SIGKILL, refusing a second stack."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.prepare import (
    DATABASE_PROGRAM_CONF,
    PrepareError,
    front_door_upload_limit,
    prepare,
    program_environment,
    supervisor_socket,
)
from common.config import Config
from common.secretfiles import HOST_KEY, TICKET_KEY
from tests.support.stack import ROOT, stack_env


def test_first_start_creates_the_layout_and_secrets(var_dir: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(var_dir / "fresh")})
    prepare(cfg)
    for name in ("run", "log", "tmp", "secrets", "uploads", "db", "caddy"):
        assert (cfg.var / name).is_dir(), name
    assert cfg.secrets_dir.stat().st_mode & 0o777 == 0o700
    ticket, host = (cfg.secrets_dir / TICKET_KEY).read_bytes(), (cfg.secrets_dir / HOST_KEY).read_bytes()
    assert len(ticket) == 32 and len(host) == 32 and ticket != host
    prepare(cfg)  # every later start keeps the secrets
    assert (cfg.secrets_dir / TICKET_KEY).read_bytes() == ticket


def test_stale_files_from_a_sigkill_are_removed_and_data_is_kept(var_dir: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(var_dir)})
    prepare(cfg)
    (cfg.run_dir / "supervisord.pid").write_text("4242")
    supervisor_socket(cfg).write_text("")  # a socket file nobody listens on any more
    (cfg.tmp_dir / "scratch").write_text("x")
    pg = cfg.db_dir / "postgres"
    pg.mkdir()
    (pg / "postmaster.pid").write_text("4243\n")
    (pg / "PG_VERSION").write_text("18\n")
    (cfg.uploads_dir / "avatar.scn").write_text("keep me")
    prepare(cfg)
    assert list(cfg.run_dir.iterdir()) == [] and list(cfg.tmp_dir.iterdir()) == []
    assert not (pg / "postmaster.pid").exists() and (pg / "PG_VERSION").exists()
    assert (cfg.uploads_dir / "avatar.scn").read_text() == "keep me"


def test_a_running_party_server_is_never_disturbed(var_dir: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(var_dir)})
    prepare(cfg)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(supervisor_socket(cfg)))
        listener.listen()
        (cfg.run_dir / "supervisord.pid").write_text("1")
        with pytest.raises(PrepareError, match="already running"):
            prepare(cfg)
        assert (cfg.run_dir / "supervisord.pid").exists()


def test_a_var_path_too_long_for_a_socket_is_a_clear_error(tmp_path: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(tmp_path / ("x" * 120))})
    with pytest.raises(PrepareError, match="too long"):
        prepare(cfg)


def test_environment_is_resolved_once_for_every_program(var_dir: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(var_dir), "SOIREE_PORT": "9100", "SANDSTORM": "1"})
    env = program_environment(cfg, {"HOME": "/var"})
    assert env["SOIREE_MODE"] == "sandstorm"
    assert (env["SOIREE_API_PORT"], env["SOIREE_RELAY_PORT"], env["SOIREE_APP_PORT"]) == (
        "9101",
        "9102",
        "9104",
    )
    assert env["TMPDIR"] == str(var_dir / "tmp") and env["HOME"] == "/var"
    assert env["SOIREE_BIND"] == "127.0.0.1"
    assert program_environment(cfg, {})["HOME"] == str(var_dir)  # a grain may have no HOME


def test_launcher_reads_the_exports(var_dir: Path) -> None:
    """The shell evaluates the output: values with spaces or quotes survive."""
    weird = var_dir / "it's a party"
    env = stack_env(weird, 9200)
    script = 'eval "$("$0" -m app.prepare)" && printf "%s|%s|%s" "$SOIREE_VAR" "$SOIREE_DB_PORT" "$TMPDIR"'
    out = subprocess.run(
        ["bash", "-c", script, sys.executable], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout == f"{weird}|9205|{weird}/tmp"


def test_a_bad_environment_stops_the_launcher_with_a_message(var_dir: Path) -> None:
    env = stack_env(var_dir, 9300, SOIREE_MODE="cloud")
    out = subprocess.run(
        [sys.executable, "-m", "app.prepare"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 1 and "SOIREE_MODE" in out.stderr and out.stdout == ""


def test_a_database_elsewhere_gets_no_program_and_no_store_here(var_dir: Path) -> None:
    own = Config.from_env({"SOIREE_VAR": str(var_dir / "own")})
    assert program_environment(own, {})["SOIREE_DATABASE_PROGRAM"] == str(DATABASE_PROGRAM_CONF)
    assert program_environment(own, {})["SOIREE_OWN_DATABASE"] == "1"
    url = "postgresql://root@10.0.0.7:26257/soiree"
    cfg = Config.from_env(
        {"SOIREE_VAR": str(var_dir / "elsewhere"), "SOIREE_OWN_DATABASE": "0", "SOIREE_DATABASE_URL": url}
    )
    prepare(cfg)
    assert not cfg.db_dir.exists() and cfg.uploads_dir.is_dir()
    env = program_environment(cfg, {})
    assert (env["SOIREE_OWN_DATABASE"], env["SOIREE_DATABASE_PROGRAM"], env["SOIREE_DATABASE_URL"]) == (
        "0",
        "",
        url,
    )


def test_no_own_database_without_a_url_stops_the_launcher_naming_both(var_dir: Path) -> None:
    env = stack_env(var_dir, 9500, SOIREE_OWN_DATABASE="0")
    out = subprocess.run(
        [sys.executable, "-m", "app.prepare"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "SOIREE_OWN_DATABASE=0" in out.stderr and "SOIREE_DATABASE_URL" in out.stderr
    assert list(var_dir.iterdir()) == []  # nothing was prepared


def test_the_front_door_lets_the_api_refuse_large_uploads_first() -> None:
    assert front_door_upload_limit({}) == str(200_000_000 + 1024 * 1024)
    assert front_door_upload_limit({"SOIREE_MAX_UPLOAD_BYTES": "5000000"}) == str(5_000_000 + 1024 * 1024)
    assert front_door_upload_limit({"SOIREE_MAX_UPLOAD_BYTES": "lots"}) == str(200_000_000 + 1024 * 1024)


def test_the_front_door_cap_is_resolved_to_bytes() -> None:
    """Caddy compares it with Content-Length, so whatever the host writes becomes a byte count."""
    for written, size in [
        ("64KB", 64_000),
        ("64KiB", 65_536),
        ("200MB", 200_000_000),
        ("1.5 GB", 1_500_000_000),
        ("1048576", 1_048_576),
        ("2mib", 2 * 1024 * 1024),
        ("10B", 10),
    ]:
        assert front_door_upload_limit({"SOIREE_MAX_UPLOAD": written}) == str(size), written
    for bad in ["lots", "-5MB", "5 XB", "1e9", "5MBB"]:
        with pytest.raises(PrepareError, match="not a size"):
            front_door_upload_limit({"SOIREE_MAX_UPLOAD": bad})


def test_a_bad_upload_cap_stops_the_launcher_with_a_message(var_dir: Path) -> None:
    env = stack_env(var_dir, 9400, SOIREE_MAX_UPLOAD="plenty")
    out = subprocess.run(
        [sys.executable, "-m", "app.prepare"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 1 and "plenty" in out.stderr and out.stdout == ""
