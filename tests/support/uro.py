"""A real uro-shim process on a free port, for any suite that needs the Uro API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common.config import STACK_PORTS, Config
from tests.support.net import free_port, free_port_block

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class UroServer:
    base_url: str
    var: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return Config.from_env(self.env)

    def client(self, **kwargs: Any) -> httpx.Client:
        c = httpx.Client(base_url=self.base_url, timeout=30.0, **kwargs)
        self.clients.append(c)
        return c

    def start(self, wait_healthy: bool = True) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uro_shim"], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.wait_listening()
        if wait_healthy:
            self.wait_healthy()

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"uro-shim exited: {self.log()}")
            try:
                httpx.get(self.base_url + "/healthz", timeout=5)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"uro-shim did not listen: {self.log()}") from None
                time.sleep(0.1)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while httpx.get(self.base_url + "/healthz", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"uro-shim did not become healthy: {self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def server_env(var: Path, database_url: str, **overrides: str) -> dict[str, str]:
    base = free_port_block(STACK_PORTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOIREE_", "SANDSTORM"))}
    env.update(
        {
            "SOIREE_VAR": str(var),
            "SOIREE_PORT": str(base),
            "SOIREE_API_PORT": str(free_port()),
            "SOIREE_RELAY_ADMIN_PORT": str(free_port()),  # nothing listens unless a test serves it
            "SOIREE_DATABASE_URL": database_url,
            "SOIREE_MODE": "standalone",
            "SOIREE_BCRYPT_ROUNDS": "4",  # the production cost (12) only slows the suite down
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env
