"""The front door (real Caddy, the real Caddyfile) in front of real HTTP and WebSocket servers."""

from __future__ import annotations

import inspect
import json
import re
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio
import uvicorn
from trio_websocket import open_websocket_url
from uro_shim.__main__ import KEEP_ALIVE
from uro_shim.settings import STOCK_CLIENT_SIGNUP_KEY

from app.prepare import prepare, program_environment
from common.config import STACK_PORTS, Config
from tests.support.net import free_port_block, wait_for_port
from tests.support.stack import ROOT
from tests.support.upstream import Upstream
from tests.support.uro import UroServer, server_env
from tests.support.waiting import wait_until

CADDYFILE = ROOT / "app" / "Caddyfile"


class FrontDoor:
    def __init__(self, var: Path, mode: str, **settings: str) -> None:
        self.base = free_port_block(STACK_PORTS)
        self.cfg = Config.from_env(
            {"SOIREE_VAR": str(var), "SOIREE_PORT": str(self.base), "SOIREE_MODE": mode}
        )
        prepare(self.cfg)
        # The settings as a host would write them, resolved as the launcher resolves them.
        env = {"PATH": "/usr/bin:/bin", **settings, **program_environment(self.cfg, settings)}
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

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, trust_env=False, timeout=30, **kwargs)

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


# -- bad requests: answered at once, and never at anyone else's expense ---------------------------


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(port: int, data: bytes, timeout: float = 20.0) -> RawAnswer:
    """Sends bytes exactly as written and reads one answer. ``timeout`` is far below the minute
    the front door would wait for a body that never comes: an answer within it did not wait."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = s.recv(65536)
            assert chunk, f"closed without an answer: {received!r}"
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        while len(body) < int(headers.get("content-length", "0")):
            chunk = s.recv(65536)
            assert chunk, "closed in the middle of the answer"
            body += chunk
    return RawAnswer(int(status_line.split()[1]), headers, body)


def assert_api_error(answer: RawAnswer | httpx.Response, status: int) -> str:
    """The API's error shape (uro-shim/COMPATIBILITY.md), whoever gave the answer; its message."""
    assert answer.status_code if isinstance(answer, httpx.Response) else answer.status == status
    body = answer.json()
    assert body["error"]["status"] == status and body["error"]["code"] == status
    assert body["message"] == body["error"]["message"] and body["message"]
    return str(body["message"])


def test_a_body_declared_over_the_cap_is_refused_before_it_is_sent(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door(SOIREE_MAX_UPLOAD="64KiB")
    door.upstream("api")
    door.upstream("app")
    wait_until(lambda: door.routed("/api/v1/x") and door.routed("/"), 30, "healthy upstreams")
    for path, cap in (("/api/v1/dashboard/avatars", 65_536), ("/play", 10_000_000)):
        head = f"POST {path} HTTP/1.1\r\nHost: party\r\nContent-Length: {cap + 1}\r\n\r\n".encode()
        answer = raw_exchange(door.base, head)  # and not one byte of the body
        assert answer.status == 413 and answer.headers["connection"] == "close"
        if path.startswith("/api/"):
            assert f"at most {cap} bytes" in assert_api_error(answer, 413)
        else:
            assert answer.json() == {"status": "error", "error": "the request is too large"}
        at_cap = f"POST {path} HTTP/1.1\r\nHost: party\r\nContent-Length: {cap}\r\n\r\n".encode()
        assert raw_exchange(door.base, at_cap + b"a" * cap).json()["body_size"] == cap


def test_a_chunked_body_is_cut_off_at_the_cap(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(SOIREE_MAX_UPLOAD="64KiB")
    door.upstream("api")
    wait_until(lambda: door.routed("/api/v1/x"), 30, "api health")

    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 8192):
            yield b"a" * 8192

    with httpx.Client(trust_env=False, timeout=30) as client:
        small = client.post(door.url + "/api/v1/upload", content=chunks(8192 * 7))
        assert small.status_code == 200 and small.json()["body_size"] == 8192 * 7
        big = client.post(door.url + "/api/v1/upload", content=chunks(8192 * 20))
    assert "at most 65536 bytes" in assert_api_error(big, 413)


MALFORMED_CHUNKED = {
    "a chunk size that is not hex": b"zz\r\nabc\r\n0\r\n\r\n",
    "no CRLF after the chunk": b"3\r\nabcXX0\r\n\r\n",
    "a chunk size too large": b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "an empty chunk size": b"\r\nabc\r\n0\r\n\r\n",
    "a chunk-size line too long": b"3" + b";x" * 5000 + b"\r\nabc\r\n0\r\n\r\n",
    "a malformed trailer": b"3\r\nabc\r\n0\r\nno colon here\r\n\r\n",
}


@pytest.mark.parametrize("what", sorted(MALFORMED_CHUNKED))
def test_a_malformed_chunked_body_is_a_400_not_starting(
    front_door: Callable[..., FrontDoor], what: str
) -> None:
    door = front_door()
    door.upstream("api")
    door.upstream("app")
    wait_until(lambda: door.routed("/api/v1/x") and door.routed("/"), 30, "healthy upstreams")
    for path in ("/api/v1/session", "/app/api/invites"):
        head = f"POST {path} HTTP/1.1\r\nHost: party\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        answer = raw_exchange(door.base, head + MALFORMED_CHUNKED[what])
        assert answer.status == 400 and answer.headers["connection"] == "close", answer
        if path.startswith("/api/"):
            assert "malformed" in assert_api_error(answer, 400)
        else:
            assert answer.json()["status"] == "error" and "malformed" in answer.json()["error"]
    assert door.get("/api/v1/x").status_code == 200  # and the upstream was not taken for broken


@pytest.fixture
def api_door(
    front_door: Callable[..., FrontDoor], database_url: str, tmp_path: Path
) -> Iterator[tuple[FrontDoor, UroServer]]:
    """The real front door in front of the real API and a real PostgreSQL database."""
    door = front_door()
    env = server_env(tmp_path / "api-var", database_url, SOIREE_API_PORT=str(door.cfg.api_port))
    uro = UroServer(f"http://127.0.0.1:{door.cfg.api_port}", tmp_path / "api-var", env, tmp_path / "uro.log")
    uro.start()
    wait_until(lambda: door.routed("/api/v1/health"), 30, "the api behind the front door")
    yield door, uro
    uro.stop()


def test_the_apis_own_early_answers_are_not_held_back(api_door: tuple[FrontDoor, UroServer]) -> None:
    """Under the front door's cap, the API refuses a body by its declared size, or a request by
    its credentials, before the body arrives; the front door passes that on at once."""
    door, _ = api_door
    json_head = (
        b"POST /api/v1/session HTTP/1.1\r\nHost: party\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5000000\r\n\r\n"
    )
    assert "too large" in assert_api_error(raw_exchange(door.base, json_head), 413)
    upload_head = (
        b"POST /api/v1/dashboard/avatars HTTP/1.1\r\nHost: party\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 50000000\r\n\r\n"
    )
    assert "sign in" in assert_api_error(raw_exchange(door.base, upload_head), 401)


# The request shapes that once answered 500 (a lone surrogate reached a handler), 13 of them
# without credentials; tests/uro_shim/test_text_input.py checks each field on its own.
SURROGATE_SHAPES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/registration", {"apiKey": "\ud800", "user": {"username": "zed", "password": "x" * 9}}),
    ("POST", "/api/v1/session", {"user": {"username_or_email": "\ud800", "password": "x" * 9}}),
    ("POST", "/api/v1/host/session", {"key": "\ud800"}),
    ("POST", "/api/v1/invites/redeem", {"code": "\ud800"}),
    ("POST", "/api/v1/shards", {"shard": {"port": 7777, "map": "\ud800", "name": "n"}}),
]


def honest_tickets(door: FrontDoor, token: str, stop: threading.Event, results: list[int]) -> None:
    """What a player's client does: POST for relay tickets on a keep-alive connection."""
    with httpx.Client(base_url=door.url, trust_env=False, timeout=30) as client:
        while not stop.is_set():
            try:
                status = client.post("/api/v1/tickets", headers={"Authorization": token}).status_code
            except httpx.HTTPError:
                status = 0
            results.append(status)


HONEST_REQUESTS = 100  # ticket requests that must go beside the bad ones


def run_beside_honest_traffic(
    door: FrontDoor, token: str, bad: Callable[[httpx.Client], None], rounds: int
) -> list[int]:
    """``bad`` (one round of bad requests) looped by one client while three others ask for
    tickets: at least ``rounds`` rounds, and more until ``HONEST_REQUESTS`` tickets have been
    asked meanwhile (a loaded machine answers fewer a second). The tickets' statuses."""
    stop = threading.Event()
    results: list[int] = []
    players = [threading.Thread(target=honest_tickets, args=(door, token, stop, results)) for _ in range(3)]
    for player in players:
        player.start()
    try:
        with httpx.Client(base_url=door.url, trust_env=False, timeout=30) as client:
            done = 0
            while done < rounds or (len(results) < HONEST_REQUESTS and any(p.is_alive() for p in players)):
                bad(client)
                done += 1
    finally:
        stop.set()
        for player in players:
            player.join(timeout=60)
    return results


def player_token(door: FrontDoor) -> str:
    response = httpx.post(
        door.url + "/api/v1/registration",
        data={
            "apiKey": STOCK_CLIENT_SIGNUP_KEY,
            "user[username]": "alice",
            "user[password]": "correct horse battery",
        },
        trust_env=False,
    )
    return str(response.json()["data"]["access_token"])


def test_bad_requests_beside_honest_traffic_fail_no_one(api_door: tuple[FrontDoor, UroServer]) -> None:
    door, _ = api_door
    refused: list[int] = []

    def bad(client: httpx.Client) -> None:
        for method, path, body in SURROGATE_SHAPES:
            content = json.dumps(body).encode()
            headers = {"Content-Type": "application/json"}
            refused.append(client.request(method, path, content=content, headers=headers).status_code)

    tickets = run_beside_honest_traffic(door, player_token(door), bad, rounds=60)
    assert set(refused) == {400} and len(refused) >= 60 * len(SURROGATE_SHAPES)
    assert len(tickets) >= HONEST_REQUESTS and set(tickets) == {200}, (
        f"{len(tickets) - tickets.count(200)} failed"
    )


def test_a_server_fault_costs_no_one_but_its_own_request(api_door: tuple[FrontDoor, UroServer]) -> None:
    """A real 500: the shards table loses a column the API reads. Tickets do not need it."""
    door, uro = api_door
    token = player_token(door)
    with psycopg.connect(uro.env["SOIREE_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ALTER TABLE uro_shards RENAME COLUMN name TO name_gone")
    failed: list[httpx.Response] = []

    def bad(client: httpx.Client) -> None:
        failed.append(client.get("/api/v1/shards"))

    tickets = run_beside_honest_traffic(door, token, bad, rounds=300)
    assert {r.status_code for r in failed} == {500}
    assert_api_error(failed[0], 500)
    assert len(tickets) >= HONEST_REQUESTS and set(tickets) == {200}, (
        f"{len(tickets) - tickets.count(200)} failed"
    )
    assert "unexpected error on GET /api/v1/shards" in uro.log()


def test_the_front_door_closes_idle_connections_before_the_programs_do() -> None:
    """Otherwise a request can be written into a connection the program is closing, and fail."""
    found = re.findall(r"^\s*keepalive (\d+)s$", CADDYFILE.read_text(), re.MULTILINE)
    assert found, "the front door sets how long it keeps idle connections to the programs"
    # app/__main__.py keeps uvicorn's default
    app_keep_alive = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    assert all(int(seconds) < min(KEEP_ALIVE, app_keep_alive) for seconds in found)
