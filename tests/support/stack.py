"""Running the party server's programs on this machine for tests: environments and probes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
import trio

from app.local_run import kill_session, session_processes
from app.prepare import program_environment
from common.config import URO_API, Config
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "launcher.sh"


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


async def relay_ticket(api: str, token: str) -> dict[str, Any]:
    """A player's relay ticket from the party's API (``POST /api/v1/tickets`` with its Uro
    token), fetched off the event loop: the answer's ``data``."""

    def fetch() -> dict[str, Any]:
        response = httpx.post(
            api + f"{URO_API}/tickets", headers={"Authorization": token}, trust_env=False, timeout=30
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    return await trio.to_thread.run_sync(fetch)


def answers_sql(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


class Stack:
    """The whole party server started by launcher.sh on this machine, as `./soiree run` does."""

    def __init__(self, var: Path, port: int, **extra: str) -> None:
        self.var = var
        self.port = port
        self.env = stack_env(var, port, SOIREE_VENV=str(ROOT / ".venv"), **extra)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stack:
        self.var.mkdir(parents=True, exist_ok=True)
        with open(self.var.parent / f"{self.var.name}-launcher.log", "ab") as out:
            self.process = subprocess.Popen(
                ["/bin/bash", str(LAUNCHER)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(lambda: http_status(self.url + "/healthz") == 200, timeout, "the front door and the app")

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "supervisorctl"),
                "-c",
                str(ROOT / "app" / "supervisord.conf"),
                *args,
            ],
            env={**self.env, **program_environment(Config.from_env(self.env), self.env)},
            capture_output=True,
            text=True,
        )
        return result.stdout

    def processes(self) -> list[int]:
        assert self.process is not None
        return session_processes(self.process.pid)

    def kill(self) -> None:
        """SIGKILL for every process at once, as Sandstorm does to an idle grain."""
        assert self.process is not None
        kill_session(self.process.pid)
        self.process.wait(timeout=30)
        wait_until(lambda: not self.processes(), 30, "every killed process to be gone")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=90)
        finally:
            if self.processes():
                kill_session(self.process.pid)
