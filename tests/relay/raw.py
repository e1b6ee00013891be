"""A bare WebSocket client on trio streams (wsproto), for poking the relay at the wire level."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from relay.protocol import WELCOMES, AnyWelcome, Hello, Record, decode_server_message


class Rejected(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class RawClient:
    def __init__(self, stream: trio.SocketStream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self.messages: list[bytes] = []
        self._partial = bytearray()
        self.records: list[Record] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.member = 0

    @classmethod
    async def connect(
        cls, port: int, target: str, headers: list[tuple[str, str]] | None = None, *, rcvbuf: int = 0
    ) -> RawClient:
        if rcvbuf:  # a small receive buffer makes a slow reader visible to the relay quickly
            sock = trio.socket.socket()
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, rcvbuf)
            await sock.connect(("127.0.0.1", port))
            stream = trio.SocketStream(sock)
        else:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        ws = WSConnection(ConnectionType.CLIENT)
        extra = [(k.encode(), v.encode()) for k, v in headers or []]
        await stream.send_all(ws.send(Request(host="relay.test", target=target, extra_headers=extra)))
        status, body = 0, b""
        with trio.fail_after(10):
            while True:
                data = await stream.receive_some(65536)
                ws.receive_data(data or None)
                for event in ws.events():
                    if isinstance(event, AcceptConnection):
                        return cls(stream, ws)
                    if isinstance(event, RejectConnection):
                        status = event.status_code
                        if not event.has_body:
                            raise Rejected(status, None)
                    if isinstance(event, RejectData):
                        body += event.data
                        if event.body_finished:
                            raise Rejected(status, json.loads(body) if body else None)
                if not data:
                    raise Rejected(status, None)

    async def hello(self, versions: tuple[int, int] = (1, 1)) -> AnyWelcome:
        await self.send(Hello(*versions).encode())
        recs = await self.until(lambda r: isinstance(r, WELCOMES))
        welcome = recs[-1]
        assert isinstance(welcome, WELCOMES)
        self.member = welcome.member
        return welcome

    async def send(self, payload: bytes) -> None:
        await self.stream.send_all(self.ws.send(BytesMessage(payload)))

    async def send_text(self, text: str) -> None:
        await self.stream.send_all(self.ws.send(TextMessage(text)))

    async def send_records(self, *records: Record) -> None:
        await self.send(b"".join(r.encode() for r in records))

    async def _pump(self) -> bool:
        """Read once; False when the connection is over."""
        try:
            data = await self.stream.receive_some(1 << 20)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        self.ws.receive_data(data or None)
        alive = bool(data)
        for event in self.ws.events():
            if isinstance(event, BytesMessage):
                self._partial += event.data
                if event.message_finished:
                    message, self._partial = bytes(self._partial), bytearray()
                    self.messages.append(message)
                    self.records.extend(decode_server_message(message))
            elif isinstance(event, CloseConnection):
                self.close_code, self.close_reason = event.code, event.reason or ""
                if self.ws.state is ConnectionState.REMOTE_CLOSING:  # the relay closed: answer it
                    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await self.stream.send_all(self.ws.send(event.response()))
                alive = False
        return alive

    async def until(self, predicate: Any, timeout: float = 10) -> list[Record]:
        """Read until a record satisfies ``predicate``; returns everything read so far."""
        with trio.fail_after(timeout):
            while not any(predicate(r) for r in self.records):
                if not await self._pump():
                    raise AssertionError(f"connection closed ({self.close_code} {self.close_reason})")
        return self.records

    async def closed(self, timeout: float = 10) -> tuple[int | None, str]:
        with trio.fail_after(timeout):
            while await self._pump():
                pass
        return self.close_code, self.close_reason

    async def aclose(self) -> None:
        await self.stream.aclose()


async def http_get(port: int, path: str) -> tuple[int, Any]:
    """One plain HTTP GET; returns (status, parsed JSON body)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = b""
    with trio.fail_after(10):
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else None
