"""The front door (real Caddy, the real Caddyfile) in front of real HTTP and WebSocket servers."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from app.prepare import prepare, program_environment
from common.config import Config
from tests.support.net import free_port_block, wait_for_port
from tests.support.stack import ROOT, STACK_PORTS
from tests.support.upstream import Upstream
from tests.support.waiting import wait_until

CADDYFILE = ROOT / "app" / "Caddyfile"


class FrontDoor:
    def __init__(self, var: Path, mode: str, **settings: str) -> None:
        self.base = free_port_block(STACK_PORTS)
        self.cfg = Config.from_env(
            {"SOIREE_VAR": str(var), "SOIREE_PORT": str(self.base), "SOIREE_MODE": mode}
        )
        prepare(self.cfg)
        env = {"PATH": "/usr/bin:/bin", **program_environment(self.cfg, {}), **settings}
        self.log = open(self.cfg.log_dir / "frontdoor.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "caddy"),
                "run",
                "--config",
                str(CADDYFILE),
                "--adapter",
                "caddyfile",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.base, timeout=60)
        self.url = f"http://127.0.0.1:{self.base}"
        self.upstreams: list[Upstream] = []

    def upstream(self, name: str) -> Upstream:
        port = {"api": self.cfg.api_port, "relay": self.cfg.relay_port, "app": self.cfg.app_port}[name]
        up = Upstream(name, port).start()
        self.upstreams.append(up)
        return up

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, trust_env=False, timeout=30, **kwargs)  # type: ignore[arg-type]

    def routed(self, path: str) -> bool:
        return self.get(path).status_code == 200

    def stop(self) -> None:
        for up in self.upstreams:
            up.stop()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def front_door(var_dir: Path) -> Iterator[Callable[..., FrontDoor]]:
    doors: list[FrontDoor] = []

    def make(mode: str = "standalone", **settings: str) -> FrontDoor:
        door = FrontDoor(var_dir / f"door{len(doors)}", mode, **settings)
        doors.append(door)
        return door

    yield make
    for door in doors:
        door.stop()


def test_routes_reach_the_right_program(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door()
    for name in ("api", "relay", "app"):
        door.upstream(name)
    wait_until(lambda: all(door.routed(p) for p in ("/api/v1/x", "/relay", "/")), 30, "healthy upstreams")
    expectations = {
        "/api/v1/users?limit=3": "api",
        "/api/v1": "api",
        "/uploads/avatars/a.scn": "api",
        "/relay": "relay",
        "/relay/lobby": "relay",
        "/": "app",
        "/play": "app",
        "/static/soiree.css": "app",
        "/api/v2/other": "app",
        "/relayed": "app",
    }
    for path, upstream in expectations.items():
        seen = door.get(path).json()
        assert seen["upstream"] == upstream, path
        assert seen["path"] == path.split("?")[0]
    assert door.get("/api/v1/users?limit=3").json()["query"] == "limit=3"


async def test_websockets_pass_through_to_the_relay(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door()
    door.upstream("relay")
    await trio.to_thread.run_sync(lambda: wait_until(lambda: door.routed("/relay"), 30, "relay health"))
    async with open_websocket_url(f"ws://127.0.0.1:{door.base}/relay?ticket=abc") as ws:
        for text in ("hello", "x" * 100_000):
            await ws.send_message(text)
            assert await ws.get_message() == f"relay:/relay:{text}"


def test_a_program_that_is_not_ready_gets_no_traffic(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(SOIREE_PROXY_WAIT="0s")
    response = door.get("/api/v1/health")  # nothing listens yet
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert response.json()["status"] == "starting"
    api = door.upstream("api")
    api.healthy = False  # listening, but its /healthz says it cannot do its job yet
    for _ in range(3):
        assert door.get("/api/v1/health").status_code == 503
    api.healthy = True
    wait_until(lambda: door.routed("/api/v1/health"), 30, "the api to be routed once healthy")
    api.healthy = False
    wait_until(lambda: door.get("/api/v1/health").status_code == 503, 30, "an unhealthy api to be dropped")


def test_requests_wait_briefly_for_a_starting_program(front_door: Callable[..., FrontDoor]) -> None:
    """A request made while a program is starting is held, then served, instead of failing."""
    door = front_door(SOIREE_PROXY_WAIT="20s")
    app = door.upstream("app")
    app.healthy = False
    with httpx.Client(trust_env=False, timeout=60) as client:
        request = client.build_request("GET", door.url + "/play")
        result: dict[str, httpx.Response] = {}

        def send() -> None:
            result["r"] = client.send(request)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(timeout=1.5)
        assert sender.is_alive()  # held, not refused
        app.healthy = True
        sender.join(timeout=30)
    assert result["r"].status_code == 200 and result["r"].json()["upstream"] == "app"


def test_upload_bodies_are_capped(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(SOIREE_MAX_UPLOAD="64KB")
    door.upstream("api")
    wait_until(lambda: door.routed("/api/v1/x"), 30, "api health")
    small = httpx.post(door.url + "/api/v1/upload", content=b"a" * 60_000, trust_env=False, timeout=30)
    assert small.status_code == 200 and small.json()["body_size"] == 60_000
    big = httpx.post(door.url + "/api/v1/upload", content=b"a" * 200_000, trust_env=False, timeout=30)
    assert big.status_code == 413 and big.json()["status"] == "error"


SANDSTORM_HEADERS = {
    "X-Sandstorm-User-Id": "0123456789abcdef0123456789abcdef",
    "X-Sandstorm-Permissions": "host,play",
    "X-Sandstorm-Tab-Id": "feedface",
    "X-Forwarded-Proto": "https",
    "Host": "sandbox",
}


def test_standalone_mode_never_trusts_sandstorm_headers(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door("standalone")
    door.upstream("app")
    wait_until(lambda: door.routed("/"), 30, "app health")
    seen = door.get("/", headers=SANDSTORM_HEADERS).json()["headers"]
    assert not [h for h in seen if h.startswith("x-sandstorm-")]
    assert seen["x-forwarded-proto"] == "http"


def test_sandstorm_mode_passes_the_bridges_headers(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door("sandstorm")
    door.upstream("app")
    wait_until(lambda: door.routed("/"), 30, "app health")
    seen = door.get("/", headers=SANDSTORM_HEADERS).json()["headers"]
    assert seen["x-sandstorm-permissions"] == "host,play" and seen["x-sandstorm-tab-id"] == "feedface"
    assert seen["host"] == "sandbox" and seen["x-forwarded-proto"] == "https"
