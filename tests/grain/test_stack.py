"""The whole party server on this machine: launcher.sh, supervisord and every program, for real."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest
import trio

from app import links
from app.local_run import session_processes
from app.prepare import DATABASE_PROGRAM_CONF
from common.config import STACK_PORTS, Config
from relay.client import open_relay
from relay.protocol import Rule, Status
from tests.support.net import free_port_block
from tests.support.stack import LAUNCHER, ROOT, Stack, answers_sql, http_status, relay_ticket
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def program_pid(stack: Stack, name: str) -> int:
    out = stack.supervisorctl("pid", name).strip()
    return int(out) if out.isdigit() else 0


def is_running(stack: Stack, name: str) -> bool:
    lines = [line.split() for line in stack.supervisorctl("status", name).splitlines()]
    return any(fields[:2] == [name, "RUNNING"] for fields in lines)


def parts(stack: Stack) -> dict[str, str]:
    """The parts' states as the host dashboard reports them, signed in with the host link."""
    cfg = Config.from_env(stack.env)
    with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as client:
        if client.get(links.host_url(cfg).replace(links.base_url(cfg), stack.url)).status_code != 200:
            return {}
        response = client.get(stack.url + "/app/api/health")
        return response.json()["parts"] if response.status_code == 200 else {}


def test_the_stack_runs_restarts_crashed_programs_and_stops_cleanly(
    var_dir: Path, postgres_template: Path
) -> None:
    stack = Stack(var_dir / "var", free_port_block(STACK_PORTS)).start()
    try:
        stack.wait_ready()
        wait_until(lambda: parts(stack).get("database") == "ok", 90, "the database")
        for program in ("database", "uro-shim", "app", "frontdoor"):
            wait_until(partial(is_running, stack, program), 60, f"{program} to be RUNNING")

        # The API answers through the front door: the host signs in with the host key.
        key = links.host_key(Config.from_env(stack.env))
        wait_until(lambda: http_status(stack.url + "/api/v1/health") == 200, 90, "the API")
        session = httpx.post(
            stack.url + "/api/v1/host/session", data={"key": key}, trust_env=False, timeout=30
        )
        assert session.status_code == 200 and session.json()["data"]["user"]["username"] == "host"

        # A crash: supervisord starts the program again and the front door routes to it once healthy.
        crashed = program_pid(stack, "app")
        os.kill(crashed, signal.SIGKILL)
        wait_until(lambda: program_pid(stack, "app") not in (0, crashed), 60, "the app to be restarted")
        wait_until(lambda: http_status(stack.url + "/healthz") == 200, 60, "the restarted app")

        # Logs land in size-capped files in the var directory, one per program.
        log = stack.var / "log"
        for name in ("supervisord", "database", "app", "frontdoor"):
            assert (log / f"{name}.log").stat().st_size > 0, name
        assert "ready on 127.0.0.1" in (log / "database.log").read_text()

        # A second party server on the same var directory is refused and disturbs nothing.
        second = subprocess.run(["/bin/bash", str(LAUNCHER)], env=stack.env, capture_output=True, text=True)
        assert second.returncode == 1 and "already running" in second.stderr
        assert http_status(stack.url + "/healthz") == 200
    finally:
        code = stack.stop()
    assert code == 0
    assert stack.processes() == []
    assert not (stack.var / "run" / "supervisor.sock").exists()


def test_sigkill_then_continue_on_the_same_var_directory(var_dir: Path, postgres_template: Path) -> None:
    stack = Stack(var_dir / "var", free_port_block(STACK_PORTS)).start()
    url = Config.from_env(stack.env).database_url
    try:
        stack.wait_ready()
        wait_until(lambda: answers_sql(url), 90, "the soiree database")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE guests (name TEXT PRIMARY KEY)")
            conn.execute("INSERT INTO guests VALUES ('ada')")
        host_key = links.host_key(Config.from_env(stack.env))
        stack.kill()
        assert (stack.var / "run" / "supervisor.sock").exists()  # stale: nothing listens

        stack.start()  # continue the grain
        stack.wait_ready()
        wait_until(lambda: answers_sql(url), 90, "the database after SIGKILL")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM guests").fetchall() == [("ada",)]
        assert links.host_key(Config.from_env(stack.env)) == host_key
        assert parts(stack)["database"] == "ok"
    finally:
        assert stack.stop() == 0


def test_soiree_run_prints_the_links_and_stops_on_ctrl_c(var_dir: Path, postgres_template: Path) -> None:
    port = free_port_block(STACK_PORTS)
    env = Stack(var_dir / "var", port).env
    runner = subprocess.Popen(
        [sys.executable, "-m", "app.local_run", str(LAUNCHER)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert runner.stdout is not None
    try:
        lines: list[str] = []
        while not any(line.strip().startswith("Player page:") for line in lines):
            line = runner.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert f"Soirée is running at http://127.0.0.1:{port}" in text
        host_line = next(line for line in lines if "Host dashboard:" in line)
        host_url = host_line.split("Host dashboard:", 1)[1].strip()
        assert host_url == links.host_url(Config.from_env(env))
        with httpx.Client(trust_env=False, timeout=30, follow_redirects=True) as client:
            assert client.get(host_url).status_code == 200
            assert client.get(f"http://127.0.0.1:{port}/play").status_code == 200
        supervisord = int((var_dir / "var" / "run" / "supervisord.pid").read_text())
    finally:
        runner.send_signal(signal.SIGINT)
        rest, _ = runner.communicate(timeout=120)
    assert runner.returncode == 0, rest
    assert "stopping the party server" in rest and "soiree: stopped" in rest
    with pytest.raises(ProcessLookupError):
        os.kill(supervisord, 0)


async def test_players_sign_in_and_meet_in_the_relay_through_the_front_door(
    var_dir: Path, postgres_template: Path
) -> None:
    """Standalone: invite links, tickets from the API, WebSockets to the relay, all on one port."""
    stack = Stack(var_dir / "var", free_port_block(STACK_PORTS)).start()
    try:
        await trio.to_thread.run_sync(stack.wait_ready)
        cfg = Config.from_env(stack.env)

        def sign_in() -> list[str]:
            wait_until(lambda: http_status(stack.url + "/api/v1/health") == 200, 90, "the API")
            with httpx.Client(base_url=stack.url, trust_env=False, timeout=30) as http:
                host = http.post("/api/v1/host/session", data={"key": links.host_key(cfg)}).json()["data"]
                as_host = {"Authorization": host["access_token"]}
                tokens = []
                for name in ("ana", "bo"):
                    code = http.post("/api/v1/invites", data={"label": name}, headers=as_host).json()
                    redeemed = http.post(
                        "/api/v1/invites/redeem", data={"code": code["data"]["invite"]["code"]}
                    )
                    tokens.append(redeemed.json()["data"]["access_token"])
                wait_until(
                    lambda: http_status(f"http://127.0.0.1:{cfg.relay_port}/healthz") == 200, 90, "relay"
                )
                return tokens

        ana_token, bo_token = await trio.to_thread.run_sync(sign_in)

        async def ticket_for(token: str) -> str:
            data = await relay_ticket(stack.url, token)
            assert data["relay_url"] == f"ws://127.0.0.1:{stack.port}/relay"
            return str(data["ticket"])

        relay = f"ws://127.0.0.1:{stack.port}/relay"
        async with (
            open_relay(relay, ticket=lambda: ticket_for(ana_token)) as ana,
            open_relay(relay, ticket=lambda: ticket_for(bo_token)) as bo,
        ):
            room_a, room_b = await ana.join("porch"), await bo.join("porch")
            chair = await room_a.spawn(b"empty", rule=Rule.ALLOW)
            await room_b.wait_for(lambda v: chair in v.objects)
            assert await room_b.request(chair) == Status.GRANTED
            await room_b.update(chair, b"taken")
            await room_a.wait_for(lambda v: v.objects[chair].state == b"taken")
            assert room_a.view.members[bo.member].name == "bo"
    finally:
        assert await trio.to_thread.run_sync(stack.stop) == 0


def test_every_program_logs_to_a_capped_file_in_the_var_directory() -> None:
    """A grain has no /dev/stdout and one uid; users pay for every megabyte of /var."""
    conf = configparser.RawConfigParser()
    conf.read([ROOT / "app" / "supervisord.conf", DATABASE_PROGRAM_CONF])
    programs = [s.removeprefix("program:") for s in conf.sections() if s.startswith("program:")]
    assert sorted(programs) == ["app", "database", "frontdoor", "relay", "uro-shim"]
    for program in programs:
        section = conf[f"program:{program}"]
        assert section["stdout_logfile"] == f"%(ENV_SOIREE_VAR)s/log/{program}.log"
        assert section["stdout_logfile_maxbytes"] == "1MB" and section["stdout_logfile_backups"] == "1"
        assert section["redirect_stderr"] == "true" and section["autorestart"] == "true"
        assert int(section["startretries"]) >= 1000 and "user" not in section
    assert conf["supervisord"]["logfile"].startswith("%(ENV_SOIREE_VAR)s/log/")
    assert not [v for section in conf.sections() for v in conf[section].values() if "/dev/" in v]


def test_if_soiree_run_itself_is_killed_the_party_server_still_stops(
    var_dir: Path, postgres_template: Path
) -> None:
    env = Stack(var_dir / "var", free_port_block(STACK_PORTS)).env
    runner = subprocess.Popen(
        [sys.executable, "-m", "app.local_run", str(LAUNCHER)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert runner.stdout is not None
    while "Player page:" not in (line := runner.stdout.readline()):
        assert line, "soiree run ended before printing its links"
    supervisord = int((var_dir / "var" / "run" / "supervisord.pid").read_text())
    runner.kill()
    runner.wait(timeout=30)

    def gone() -> bool:
        try:
            os.kill(supervisord, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 90, "supervisord to stop after its parent was killed")
    assert session_processes(supervisord) == []
