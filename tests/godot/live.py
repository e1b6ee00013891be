"""A live relay for the addon's engine tests: `python -m relay` on free ports, standalone mode.

Players authenticate with relay tickets signed by `app.identity.sign_ticket` with the relay's
own `secrets/ticket.key` (in the test's var directory), as the Uro API signs them; the tickets
live long enough for reconnections within a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from app.identity import PERM_PLAY, Identity, load_secret, sign_ticket
from tests.support.godot_engine import GodotRun
from tests.support.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TICKET_TTL = 600.0
# Until the relay's server lands, the tests that need a live relay cannot run.
RELAY_SERVER_MISSING = not (ROOT / "relay" / "__main__.py").exists()


@dataclass
class LiveRelay:
    port: int
    var: Path
    process: subprocess.Popen[bytes]
    log: Path

    def identity(self, name: str) -> Identity:
        return Identity(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"soiree-test:{name}")), name, frozenset({PERM_PLAY})
        )

    def ticket(self, name: str) -> str:
        key = load_secret(self.var / "secrets", "ticket.key")
        return sign_ticket(key, self.identity(name), now=time.time(), ttl=TICKET_TTL)

    def url(self, name: str) -> str:
        """A relay URL as a player pastes it, with a ticket for the player `name`."""
        return f"ws://127.0.0.1:{self.port}/relay?ticket={self.ticket(name)}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def live_relay(var: Path, env: Mapping[str, str] | None = None) -> Iterator[LiveRelay]:
    """A relay process with its own var directory; stopped (and checked alive) at the end."""
    var.mkdir(parents=True, exist_ok=True)
    load_secret(var / "secrets", "ticket.key")
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOIREE_", "SANDSTORM"))}
    full_env.update(
        {
            "SOIREE_VAR": str(var),
            "SOIREE_MODE": "standalone",
            "SOIREE_RELAY_PORT": str(port),
            "SOIREE_RELAY_ADMIN_PORT": str(free_port()),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    log = var / "relay.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "relay"], cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    relay = LiveRelay(port, var, process, log)
    try:
        wait_for_port(port, timeout=60)
        yield relay
        assert process.poll() is None, f"the relay stopped during the test:\n{relay.log_text()}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def start_and_wait_for(run: GodotRun, text: str, nursery: trio.Nursery, timeout: float = 120.0) -> dict:
    """Starts an engine run in `nursery` and returns once it printed the line `text`.

    The returned dict gets the run's result under "result" when it ends; an end before `text`
    fails the test with what the run printed.
    """
    holder: dict = {}

    async def go() -> None:
        holder["result"] = await run.run_async()

    nursery.start_soon(go)
    with trio.fail_after(timeout):
        while not any(stream == "out" and line == text for stream, line in run.output()):
            if "result" in holder:
                raise AssertionError(f"the run ended before printing {text!r}: {holder['result'].describe()}")
            await trio.sleep(0.2)
    return holder
