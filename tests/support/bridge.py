"""A stand-in for sandstorm-http-bridge and Sandstorm's gateway, in front of a grain under test.

It behaves as docs/sandstorm.md describes the real pair (§Request headers, §API
tokens and webkeys, §WebSockets):

- API tokens arrive as ``Authorization: Bearer <token>`` or as a ``/.sandstorm-token/<token>/``
  path prefix (stripped); requests without a token belong to a logged-in browser (UI) session.
- The request the app sees is built from scratch: ``X-Sandstorm-*`` identity headers from the
  token's record (``X-Sandstorm-Tab-Id`` is stable per token, computed as the shell does),
  ``Host: sandbox`` for API requests, a short whitelist of client headers, and nothing else:
  ``Authorization``, ``Origin``, client-supplied ``X-Sandstorm-*`` and other headers are dropped,
  and so are cookies on API requests.
- Response status codes outside Sandstorm's table are mapped: other 4xx become 400 (so 401 and
  429 do), other 5xx become 500. Only whitelisted response headers reach the client.
- A CORS preflight (``OPTIONS``) on an API session is answered as Sandstorm's gateway answers
  it (``WebSessionBridge::addStandardApiOptions`` in web-session-bridge.c++): any origin, the
  headers asked for, the standard methods. The real bridge passes the request on to the app
  too but keeps only a ``DAV`` header of its answer, which this app never sends.
- WebSocket upgrades are forwarded with the bridge's fixed dummy key; after the handshake the
  bytes are pumped both ways. (The real gateway re-frames messages and answers pings itself.)

Simplifications: each client connection carries one request (``Connection: close``), and
request bodies are read whole before they are forwarded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import h11
import trio

PASSED_STATUSES = frozenset(
    {200, 201, 202, 204, 205, 206, 207, 301, 302, 303, 304, 307, 308}
    | {400, 403, 404, 405, 406, 409, 410, 412, 413, 414, 415, 418, 422}
)
DUMMY_WEBSOCKET_KEY = "mj9i153gxeYNlGDoKdoXOQ=="  # what the real bridge sends to every app
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TOKEN_PREFIX = "/.sandstorm-token/"
PASSED_REQUEST_HEADERS = frozenset({"accept", "accept-encoding", "if-match", "if-none-match"})
BODY_HEADERS = frozenset({"content-type", "content-encoding"})
WHITELISTED_REQUEST_HEADERS = frozenset({"x-requested-with", "x-csrftoken", "x-csrf-token"})
PASSED_RESPONSE_HEADERS = frozenset(
    {"content-type", "content-encoding", "content-language", "content-disposition", "etag", "location"}
)
STANDARD_API_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
API_RESPONSE_HEADERS = (
    ("access-control-allow-origin", "*"),
    ("vary", "Authorization"),
    ("content-security-policy", "default-src 'none'; sandbox"),
)
# An approximation of the strict policy Sandstorm puts on grain UIs (docs/sandstorm.md
# §UI Content-Security-Policy):
# same-origin scripts, styles and connections only, remote images and media, no workers, and
# frames only from the grain itself and from Sandstorm's own origin (offer templates are served
# there: web-session-bridge.c++ names the shell's base URL in frame-src).
UI_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: https:; media-src 'self' data: blob: https:; font-src 'self'; "
    "worker-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
MAX_BODY = 512 * 1024 * 1024
CONNECT_PATIENCE = 120.0  # the real bridge retries until the app listens


def ui_content_security_policy(shell_url: str | None) -> str:
    if shell_url is None:
        return UI_CONTENT_SECURITY_POLICY
    return UI_CONTENT_SECURITY_POLICY.replace("frame-src 'none'", f"frame-src 'self' {shell_url}")


def tab_id_for_token(token: str) -> str:
    """X-Sandstorm-Tab-Id for an API token, as Sandstorm's shell derives it."""
    token_hash = base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()
    return hashlib.sha256(("tab:" + token_hash).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Session:
    """Who is behind a request: an API token, or a browser logged in to Sandstorm."""

    permissions: tuple[str, ...]
    tab_id: str
    user_id: str | None = None  # absent for tokens made "for sharing" (anonymous players)
    username: str = "Anonymous User"
    ui: bool = False


@dataclass
class Bridge:
    """Serves the outside world on 127.0.0.1:<port> and talks to the grain through ``new_socket``."""

    new_socket: Callable[[], socket.socket]
    app_port: int = 8000
    api_path: str = "/"
    ui_session: Session | None = None
    tokens: dict[str, Session] = field(default_factory=dict)
    port: int = 0
    shell_url: str | None = None  # Sandstorm's own origin, which may be framed (offer templates)
    _session_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _thread: threading.Thread | None = None
    _cancel: trio.CancelScope | None = None
    _token: trio.lowlevel.TrioToken | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_token(
        self, token: str, permissions: tuple[str, ...], *, user_id: str | None = None, username: str = ""
    ) -> str:
        """Register an API token (as a grain's owner would share one); return its webkey URL."""
        self.tokens[token] = Session(
            permissions=permissions,
            tab_id=tab_id_for_token(token),
            user_id=user_id,
            username=username or "Anonymous User",
        )
        return f"{self.url}#{token}"

    def login(self, user_id: str, username: str, permissions: tuple[str, ...]) -> None:
        """Requests without a token now come from this user's browser session."""
        self.ui_session = Session(
            permissions=permissions,
            tab_id=hashlib.sha256(user_id.encode()).hexdigest()[:32],
            user_id=user_id,
            username=username,
            ui=True,
        )

    # -- running ------------------------------------------------------------------------------

    def start(self) -> Bridge:
        ready = threading.Event()

        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._cancel = scope
                listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
                self.port = listeners[0].socket.getsockname()[1]
                ready.set()
                await trio.serve_listeners(self.handle, listeners)

        self._thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise TimeoutError("the bridge did not start")
        return self

    def stop(self) -> None:
        if self._token is not None and self._cancel is not None:
            self._token.run_sync_soon(self._cancel.cancel)
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- one client connection ----------------------------------------------------------------

    async def handle(self, client: trio.SocketStream) -> None:
        async with client:
            with contextlib.suppress(
                h11.ProtocolError, trio.BrokenResourceError, trio.ClosedResourceError, OSError
            ):
                await self.serve_one(client)

    async def serve_one(self, client: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        request = await next_event(conn, client)
        if not isinstance(request, h11.Request):
            return
        headers = [(k.decode().lower(), v.decode("latin-1")) for k, v in request.headers]
        target = request.target.decode("latin-1")
        token, target = extract_token(headers, target)
        if token is not None:
            session = self.tokens.get(token)
            if session is None:
                await respond(conn, client, 403, b"invalid API token\n", [])
                return
        elif self.ui_session is not None:
            session = self.ui_session
        else:
            await respond(conn, client, 403, b"no Sandstorm session\n", [])
            return
        body = bytearray()
        while True:
            event = await next_event(conn, client)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    await respond(conn, client, 413, b"request too large\n", [])
                    return
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return
        if request.method == b"OPTIONS" and not session.ui:
            await respond(conn, client, 200, b"", api_preflight_headers(headers))
            return
        upgrade = header(headers, "upgrade").lower() == "websocket"
        path = (self.api_path if not session.ui else "/") + target.lstrip("/")
        app_headers = self.request_headers(session, headers, body, upgrade)
        app = await self.connect_app()
        async with app:
            app_conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
            method = request.method.decode()
            await send(app_conn, app, h11.Request(method=method, target=path, headers=app_headers))
            try:
                if body:
                    await send(app_conn, app, h11.Data(data=bytes(body)))
                await send(app_conn, app, h11.EndOfMessage())
            except trio.BrokenResourceError:
                pass  # the app answered early (a body too large, say); its answer still counts
            if upgrade:
                await self.websocket(conn, client, app_conn, app, headers, session)
            else:
                await self.relay_response(conn, client, app_conn, app, session)

    async def connect_app(self) -> trio.SocketStream:
        with trio.fail_after(CONNECT_PATIENCE):
            while True:
                sock = trio.socket.from_stdlib_socket(self.new_socket())
                try:
                    await sock.connect(("127.0.0.1", self.app_port))
                    return trio.SocketStream(sock)
                except OSError:
                    sock.close()
                    await trio.sleep(0.01)

    def request_headers(
        self, session: Session, client: list[tuple[str, str]], body: bytes | bytearray, upgrade: bool
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if session.ui:
            out += [("Host", f"127.0.0.1:{self.port}"), ("X-Forwarded-Proto", "http")]
            out += [("X-Sandstorm-Base-Path", self.url)]
            out += [(k, v) for k, v in client if k in ("user-agent", "accept-language")]
            cookies = "; ".join(
                c.strip()
                for k, v in client
                if k == "cookie"
                for c in v.split(";")
                if c.strip() and not c.strip().startswith("sandstorm-sid=")
            )
            if cookies:
                out.append(("Cookie", cookies))
        else:
            out.append(("Host", "sandbox"))
        out += [
            ("X-Sandstorm-Tab-Id", session.tab_id),
            ("X-Sandstorm-Username", quote(session.username)),
            ("X-Sandstorm-Permissions", ",".join(session.permissions)),
            ("X-Sandstorm-Session-Type", "normal"),
            ("X-Sandstorm-Session-Id", str(next(self._session_ids))),
        ]
        if session.user_id is not None:
            out.append(("X-Sandstorm-User-Id", session.user_id))
        for name, value in client:
            if (
                name in PASSED_REQUEST_HEADERS
                or name in WHITELISTED_REQUEST_HEADERS
                or name.startswith("x-sandstorm-app-")
                or (body and name in BODY_HEADERS)
            ):
                out.append((name, value))
        if upgrade:
            out += [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", DUMMY_WEBSOCKET_KEY),
                ("Sec-WebSocket-Version", "13"),
            ]
            protocol = header(client, "sec-websocket-protocol")
            if protocol:
                out.append(("Sec-WebSocket-Protocol", protocol))
        else:
            out.append(("Connection", "close"))
            if body:
                out.append(("Content-Length", str(len(body))))
        return out

    def response_headers(self, session: Session, app: list[tuple[str, str]]) -> list[tuple[str, str]]:
        out = [
            (k, v)
            for k, v in app
            if k in PASSED_RESPONSE_HEADERS
            or k.startswith("x-sandstorm-app-")
            or k == "x-oc-mtime"
            or (session.ui and k == "set-cookie")
        ]
        if session.ui:
            out.append(("content-security-policy", ui_content_security_policy(self.shell_url)))
        else:
            out += API_RESPONSE_HEADERS
        return out

    async def relay_response(
        self,
        conn: h11.Connection,
        client: trio.SocketStream,
        app_conn: h11.Connection,
        app: trio.SocketStream,
        session: Session,
    ) -> None:
        response = await next_event(app_conn, app)
        while isinstance(response, h11.InformationalResponse):
            response = await next_event(app_conn, app)
        if not isinstance(response, h11.Response):
            await respond(conn, client, 500, b"the app closed the connection\n", [])
            return
        app_headers = [(k.decode().lower(), v.decode("latin-1")) for k, v in response.headers]
        status = map_status(response.status_code)
        headers = [*self.response_headers(session, app_headers), ("connection", "close")]
        length = header(app_headers, "content-length")
        if length:
            headers.append(("content-length", length))
        await send(conn, client, h11.Response(status_code=status, headers=headers))
        while True:
            event = await next_event(app_conn, app)
            if isinstance(event, h11.Data):
                await send(conn, client, h11.Data(data=event.data))
            else:
                break
        await send(conn, client, h11.EndOfMessage())

    async def websocket(
        self,
        conn: h11.Connection,
        client: trio.SocketStream,
        app_conn: h11.Connection,
        app: trio.SocketStream,
        client_headers: list[tuple[str, str]],
        session: Session,
    ) -> None:
        answer = await next_event(app_conn, app)
        if not (isinstance(answer, h11.InformationalResponse) and answer.status_code == 101):
            status = map_status(getattr(answer, "status_code", 500))
            await respond(conn, client, status, b"the app refused the WebSocket\n", [])
            return
        accept = base64.b64encode(
            hashlib.sha1((header(client_headers, "sec-websocket-key") + WEBSOCKET_GUID).encode()).digest()
        ).decode()
        headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
        protocol = header(
            [(k.decode().lower(), v.decode()) for k, v in answer.headers], "sec-websocket-protocol"
        )
        if protocol:
            headers.append(("Sec-WebSocket-Protocol", protocol))
        await send(conn, client, h11.InformationalResponse(status_code=101, headers=headers))
        client_rest, _ = conn.trailing_data
        app_rest, _ = app_conn.trailing_data
        if app_rest:
            await client.send_all(app_rest)
        if client_rest:
            await app.send_all(client_rest)
        async with trio.open_nursery() as nursery:

            async def pump(source: trio.SocketStream, sink: trio.SocketStream) -> None:
                try:
                    while chunk := await source.receive_some(65536):
                        await sink.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(pump, client, app)
            nursery.start_soon(pump, app, client)


def header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k == name), "")


def api_preflight_headers(client: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What Sandstorm answers to a CORS preflight on an API host: "really totally OK"."""
    out = [("access-control-allow-origin", "*"), ("access-control-max-age", "3600")]
    requested = header(client, "access-control-request-headers")
    if requested:
        out.append(("access-control-allow-headers", requested))
    method = header(client, "access-control-request-method")
    methods = f"{STANDARD_API_METHODS}, {method}" if method else STANDARD_API_METHODS
    out.append(("access-control-allow-methods", methods))
    return out


def extract_token(headers: list[tuple[str, str]], target: str) -> tuple[str | None, str]:
    authorization = header(headers, "authorization")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), target
    if target.startswith(TOKEN_PREFIX):
        token, _, rest = target[len(TOKEN_PREFIX) :].partition("/")
        return token, "/" + rest
    return None, target


def map_status(status: int) -> int:
    if status in PASSED_STATUSES:
        return status
    if 400 <= status < 500:
        return 400
    return 500


async def next_event(conn: h11.Connection, stream: trio.SocketStream) -> object:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await stream.receive_some(65536))
            continue
        return event


async def send(conn: h11.Connection, stream: trio.SocketStream, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        await stream.send_all(data)


async def respond(
    conn: h11.Connection, stream: trio.SocketStream, status: int, body: bytes, headers: list[tuple[str, str]]
) -> None:
    headers = [
        *headers,
        ("content-type", "text/plain"),
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    await send(conn, stream, h11.Response(status_code=status, headers=headers))
    await send(conn, stream, h11.Data(data=body))
    await send(conn, stream, h11.EndOfMessage())
