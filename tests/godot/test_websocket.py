"""GDScript's WebSocketPeer, in the real engine, against a real Python WebSocket server on loopback.

This is the client addon's transport: binary frames with little-endian fields, the token in the
URL path (web exports send no handshake headers), a subprotocol, messages larger than 64 KiB.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from tests.support.godot_engine import GodotResult, run_godot_project_async

WEBSOCKET = Path(__file__).with_name("projects") / "websocket"
PROTOCOL = "soiree-test"
FIXED = struct.Struct("<BIqd")  # kind, u32, s64, f64: the 21 bytes every message starts with

pytestmark = pytest.mark.usefixtures("godot_engine")


@dataclass
class Client:
    """What one engine sends, and what the server sends it."""

    a: int
    b: int
    c: float
    text: str
    payload: bytes
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    protocols: list[str] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    @classmethod
    def random(cls, rng: random.Random, blob_size: int) -> Client:
        # c has a short exact decimal form, so passing it as text loses nothing.
        fields = (rng.getrandbits(32), rng.randint(-(2**63), 2**63 - 1), rng.randint(-(2**20), 2**20) / 1024)
        payload = FIXED.pack(2, rng.getrandbits(32), rng.randint(-(2**63), 2**63 - 1), rng.random() * 1e6)
        return cls(*fields, text=f"héllo ✓ {rng.getrandbits(20)}", payload=payload + rng.randbytes(blob_size))

    def hello(self) -> bytes:
        text = self.text.encode()
        return FIXED.pack(1, self.a, self.b, self.c) + struct.pack("<H", len(text)) + text

    def echo(self) -> bytes:
        return b"\x03" + self.payload[1:]


class Server:
    """Answers each client's HELLO with its PAYLOAD once `expected` clients have said hello."""

    def __init__(self, clients: dict[str, Client]) -> None:
        self.clients = clients
        self.all_here = trio.Event()
        self.port = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_websocket, self.handle, "127.0.0.1", 0, None)
            self.port = server.port
            task_status.started()

    def url(self, name: str) -> str:
        return f"ws://127.0.0.1:{self.port}/.sandstorm-token/{name}/relay?ticket=t-{name}"

    async def handle(self, request: WebSocketRequest) -> None:
        name = request.path.split("/")[2]
        client = self.clients[name]
        client.path = request.path
        client.headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        client.protocols = list(request.proposed_subprotocols)
        protocol = PROTOCOL if PROTOCOL in client.protocols else None
        connection = await request.accept(subprotocol=protocol)
        client.received.append(_as_bytes(await connection.get_message()))
        if sum(1 for c in self.clients.values() if c.received) == len(self.clients):
            self.all_here.set()
        # Every engine waits here until all are connected: they must be running at the same time.
        await self.all_here.wait()
        await connection.send_message(client.payload)
        client.received.append(_as_bytes(await connection.get_message()))
        await connection.aclose(code=1000, reason="done")


def _as_bytes(message: str | bytes) -> bytes:
    return message if isinstance(message, bytes) else b"TEXT:" + message.encode()


async def run_clients(clients: dict[str, Client]) -> dict[str, GodotResult]:
    server = Server(clients)
    results: dict[str, GodotResult] = {}
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)

        async def run_one(name: str) -> None:
            client = clients[name]
            args = [f"url={server.url(name)}", f"protocol={PROTOCOL}", f"a={client.a}", f"b={client.b}"]
            args += [f"c={client.c!r}", f"text={client.text}"]
            results[name] = await run_godot_project_async(WEBSOCKET, args=args, timeout=120)

        async with trio.open_nursery() as engines:
            for name in clients:
                engines.start_soon(run_one, name)
        nursery.cancel_scope.cancel()
    return results


def assert_exchanged(client: Client, result: GodotResult) -> None:
    assert result.exit_code == 0, result.describe()
    assert client.received == [client.hello(), client.echo()], result.describe()


async def test_binary_messages_cross_both_ways_intact() -> None:
    client = Client.random(random.Random(), blob_size=200_000)
    result = (await run_clients({"solo": client}))["solo"]
    assert_exchanged(client, result)
    x, y = FIXED.unpack_from(client.payload)[1:3]
    decoded = [line for line in result.stdout if line.startswith(f"payload x={x} y={y} ")]
    assert decoded and decoded[0].endswith(" blob=200000 bytes"), result.describe()
    # The web platform: the token travels in the URL, and handshake headers are never sent.
    assert client.path == "/.sandstorm-token/solo/relay?ticket=t-solo"
    assert "x-soiree-test" not in client.headers
    assert client.protocols == [PROTOCOL]


async def test_two_engines_run_at_once() -> None:
    rng = random.Random()
    clients = {"alice": Client.random(rng, blob_size=100), "bob": Client.random(rng, blob_size=70_000)}
    results = await run_clients(clients)
    for name, client in clients.items():
        assert_exchanged(client, results[name])
