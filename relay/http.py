"""The little HTTP/1.1 the relay speaks over trio streams, with h11: one request per connection.

Used for the WebSocket upgrade, ``GET /healthz`` and the loopback admin endpoint. Every
response closes the connection, which keeps this small and is all those callers need.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
REQUEST_TIMEOUT = 10.0


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: list[tuple[str, str]]
    body: bytes
    http: h11.Connection  # answers go through it

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise HttpError(400, "the body is not valid JSON") from None


async def read_request(stream: trio.abc.Stream, timeout: float = REQUEST_TIMEOUT) -> Request | None:
    """One request with its body, or None if the peer went away. Raises HttpError on bad input."""
    http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    with trio.move_on_after(timeout) as scope:
        head = await _next(http, stream)
        if not isinstance(head, h11.Request):
            return None
        body = bytearray()
        while True:
            event = await _next(http, stream)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise HttpError(413, "the request body is too large")
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return None
    if scope.cancelled_caught:
        raise HttpError(408, "the request took too long")
    target = urlsplit(head.target.decode("latin-1"))
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in head.headers]
    return Request(head.method.decode("ascii"), target.path, query, headers, bytes(body), http)


async def _next(http: h11.Connection, stream: trio.abc.Stream) -> Any:
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            raise HttpError(400, f"malformed HTTP request: {exc}") from None
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive_some(MAX_HEAD)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return None
            http.receive_data(bytes(data))
            if not data:
                return None
            continue
        return event


def encode_json_response(http: h11.Connection, status: int, payload: Any) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = h11.Response(
        status_code=status,
        headers=[
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("connection", "close"),
            ("cache-control", "no-store"),
        ],
    )
    try:
        return http.send(head) + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage())
    except h11.LocalProtocolError:
        # h11 refuses to answer after a malformed request: write the response by hand
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json"]
        lines += [f"content-length: {len(body)}", "connection: close", "", ""]
        return "\r\n".join(lines).encode() + body


async def send_json(stream: trio.abc.Stream, http: h11.Connection, status: int, payload: Any) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(encode_json_response(http, status, payload))
