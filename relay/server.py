"""The relay's trio edge: listeners, the WebSocket upgrade, framing, the tick, the writers.

Client frames are decoded on raw trio streams by ``relay/wsframes.py`` (no per-connection queue
or background task beyond one writer); server frames are built once per message, because they
are unmasked: a frame shared by many receivers is the same bytes for all of them (``ws_frame``). Each
connection has one writer task that drains its outbox with a single ``send_all`` per wakeup, so
a slow socket only ever delays its own connection; the core decides when it is too slow. One
task reads every connection's socket (``relay/reading.py``) and wakes the writers once for all
it read.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

import h11
import trio
from wsproto.utilities import generate_accept_token

from common.config import LOOPBACK, RELAY_PATH, Config
from common.placement import index_of_path, place
from relay.auth import Authenticator
from relay.core import RelayCore
from relay.http import HttpError, Request, read_request, send_json
from relay.persistence import Persister
from relay.protocol import TOKEN_SIZE, ClientClose, Close
from relay.reading import SocketReader
from relay.session import Conn
from relay.settings import Settings
from relay.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    PROTOCOL_ERROR_CLOSE,
    ClientFrames,
    FrameError,
    close_frame,
    parse_close,
    server_frame,
)

log = logging.getLogger("relay")

RECEIVE_SIZE = 65536
CLOSE_WAIT = 2.0  # how long to wait for the client's close frame after sending ours
READ_BATCH = 256  # sockets read per wakeup of the reading task, before trio runs the others


def _dup_socket(stream: trio.abc.Stream) -> socket.socket | None:
    if not isinstance(stream, trio.SocketStream):
        return None
    raw = socket.socket(fileno=os.dup(stream.socket.fileno()))
    raw.setblocking(False)
    return raw


def ws_frame(payload: bytes) -> bytes:
    """A binary message as one frame: built once, the same bytes for every receiver."""
    return server_frame(OP_BINARY, payload)


def new_token() -> bytes:
    return secrets.token_bytes(TOKEN_SIZE)


@dataclass(eq=False)
class Wire:
    """The edge's half of a connection: its socket, its frame decoder, its writer's wakeup."""

    stream: trio.abc.Stream
    conn: Conn
    frames: ClientFrames
    raw: socket.socket | None = None  # a dup of the socket, for writes that need no waiting
    wake: trio.Event = field(default_factory=trio.Event)
    busy: bool = False  # the writer task is in send_all: direct writes would reorder bytes
    close_sent: bool = False  # our close frame is queued: wait for the client's answer
    answering: bool = False  # the client's close is being answered: flush, then hang up
    read_end: trio.Event = field(default_factory=trio.Event)  # the reading task is done with it
    flush: bool = False  # at the read end: a close answer is still to be sent


@dataclass
class TickStats:
    ticks: int = 0
    total: float = 0.0
    worst: float = 0.0

    def add(self, seconds: float) -> None:
        self.ticks += 1
        self.total += seconds
        self.worst = max(self.worst, seconds)

    def take(self) -> dict[str, float]:
        out = {
            "tick_ms_avg": round(1000 * self.total / self.ticks, 3) if self.ticks else 0.0,
            "tick_ms_max": round(1000 * self.worst, 3),
        }
        self.ticks, self.total, self.worst = 0, 0.0, 0.0
        return out


class RelayServer:
    def __init__(
        self,
        config: Config,
        settings: Settings | None = None,
        *,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.config = config
        self.index = config.relay_index
        settings = settings or Settings()
        # Of the rooms that always exist, this process makes those placed on it.
        settings = settings.with_overrides(
            default_rooms=tuple(name for name in settings.default_rooms if self.holds(name))
        )
        self.core = RelayCore(
            settings, wall=time.time, token_source=new_token, wrap=ws_frame, elsewhere=self.elsewhere
        )
        self.settings = self.core.settings
        self.auth = authenticator or Authenticator(config)
        self.wires: dict[Conn, Wire] = {}
        self._rotation = 0
        self.tick_stats = TickStats()
        self.last_tick_stats: dict[str, float] = {"tick_ms_avg": 0.0, "tick_ms_max": 0.0}
        self.ready = trio.Event()  # set once persistent objects are restored (or given up on)
        self.persister: Persister | None = None
        self.started_at = time.time()
        self._reader: SocketReader[Wire] = SocketReader(RECEIVE_SIZE, READ_BATCH)

    def holds(self, room: str) -> bool:
        """Whether ``room`` is placed on this process (docs/architecture.md §Several relay
        processes on one machine)."""
        return place(room, self.config.relays) == self.index

    def elsewhere(self, room: str) -> int | None:
        where = place(room, self.config.relays)
        return None if where == self.index else where

    @property
    def database(self) -> str:
        """ "ok", "unreachable", "unknown" or "disabled", for /healthz and /stats."""
        return "disabled" if self.persister is None else self.persister.status

    # --- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the WebSocket port and tick until cancelled; reports the bound port."""
        listeners = await trio.open_tcp_listeners(self.config.relay_ports(self.index)[0], host=LOOPBACK)
        port: int = listeners[0].socket.getsockname()[1]
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.serve_listeners, self.handle, listeners)
                nursery.start_soon(self._ticker)
                nursery.start_soon(self._read_all)
                task_status.started(port)
        finally:
            self._reader.close()
            with trio.move_on_after(1.0, shield=True):
                await self.auth.aclose()

    async def _ticker(self) -> None:
        interval = self.settings.tick_interval
        deadline = trio.current_time()
        next_stats = deadline + 1.0
        while True:
            deadline += interval
            now = trio.current_time()
            if deadline < now - interval:  # fell behind: skip ticks rather than burst
                deadline = now
            await trio.sleep_until(deadline)
            started = trio.current_time()
            self.core.tick(started)
            self.wake_writers()
            self.tick_stats.add(trio.current_time() - started)
            if started >= next_stats:
                next_stats = started + 1.0
                self.last_tick_stats = self.tick_stats.take()

    def wake_writers(self) -> None:
        """Send what the core queued: straight into the socket when it has room (most of the
        time), else through the connection's writer task, which waits for the socket."""
        core = self.core
        conns = list(core.take_wakeups())
        if len(conns) > 1:  # start each round somewhere else, so that nobody is always served last
            self._rotation = (self._rotation + 7919) % len(conns)
            conns = conns[self._rotation :] + conns[: self._rotation]
        for conn in conns:
            wire = self.wires.get(conn)
            if wire is None:
                continue
            if wire.busy or wire.raw is None or conn.closing is not None or not conn.has_output:
                wire.wake.set()
                continue
            frames = conn.take_outbox()
            try:
                sent = wire.raw.send(frames[0]) if len(frames) == 1 else wire.raw.sendmsg(frames)
            except OSError:  # full (BlockingIOError) or broken: the writer task finds out which
                sent = 0
            core.sent(conn, frames, sent)
            if conn.has_output:  # what the socket did not take went back to the queue
                wire.wake.set()

    async def shutdown(self) -> None:
        """Say goodbye to everyone and give the writers a moment to deliver it."""
        self.core.shutdown(trio.current_time())
        self.wake_writers()
        with trio.move_on_after(1.0):
            while any(wire.conn.has_output for wire in self.wires.values()):
                await trio.sleep(0.02)

    # --- HTTP ----------------------------------------------------------------------------------

    async def handle(self, stream: trio.abc.Stream) -> None:
        """One TCP connection. Whatever goes wrong while serving it ends it alone: an exception
        that escaped here would end ``serve_listeners``, and with it every connection."""
        try:
            try:
                request = await read_request(stream)
            except HttpError as exc:
                await send_json(stream, h11.Connection(h11.SERVER), exc.status, {"error": exc.message})
                return
            if request is None:
                return
            if request.path == "/healthz" and request.method == "GET":
                status, body = self.health()
                await send_json(stream, request.http, status, body)
            elif request.path == RELAY_PATH or index_of_path(request.path, self.config.relays) == self.index:
                await self._upgrade(stream, request)
            else:
                await send_json(stream, request.http, 404, {"error": f"nothing at {request.path}"})
        except Exception:
            log.exception("a connection failed; it is closed, the relay serves on")
        finally:
            await stream.aclose()

    def health(self) -> tuple[int, dict[str, object]]:
        if not self.ready.is_set():
            return 503, {"status": "restoring", "error": "restoring saved objects", "database": self.database}
        return 200, {"status": "ok", "database": self.database}

    async def _upgrade(self, stream: trio.abc.Stream, request: Request) -> None:
        key = request.header("sec-websocket-key")
        upgrade = (request.header("upgrade") or "").lower()
        if request.method != "GET" or upgrade != "websocket" or not key:
            await send_json(stream, request.http, 400, {"error": "expected a WebSocket upgrade"})
            return
        if request.header("sec-websocket-version") != "13":
            await send_json(stream, request.http, 400, {"error": "only WebSocket version 13 is spoken"})
            return
        if not self.ready.is_set():
            await send_json(stream, request.http, 503, {"error": "the relay is restoring saved objects"})
            return
        try:
            identity = await self.auth.identify(request.headers, request.query)
        except HttpError as exc:
            await send_json(stream, request.http, exc.status, {"error": exc.message})
            return
        accept = h11.InformationalResponse(
            status_code=101,
            headers=[
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-accept", generate_accept_token(key.encode("latin-1")).decode("ascii")),
            ],
            reason=b"Switching Protocols",
        )
        try:
            await stream.send_all(request.http.send(accept))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        trailing, _ = request.http.trailing_data
        conn = self.core.open(identity, trio.current_time())
        wire = Wire(stream, conn, ClientFrames(self.settings.max_message), raw=_dup_socket(stream))
        self.wires[conn] = wire
        log.info("connection from %s (%s)", identity.name, identity.source)
        try:
            await self._serve_websocket(wire, bytes(trailing))
        finally:
            del self.wires[conn]
            self.core.connection_lost(conn, trio.current_time(), None)
            if wire.raw is not None:
                wire.raw.close()

    # --- WebSocket -------------------------------------------------------------------------------

    async def _serve_websocket(self, wire: Wire, trailing: bytes) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer, wire, nursery.cancel_scope)
            try:
                flush = await self._read(wire, trailing)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                flush = False
            if flush:  # our answer to the client's close is queued: the writer hangs up after it
                wire.wake.set()
                nursery.cancel_scope.deadline = min(
                    nursery.cancel_scope.deadline, trio.current_time() + CLOSE_WAIT
                )
            else:
                nursery.cancel_scope.cancel()

    async def _read(self, wire: Wire, trailing: bytes) -> bool:
        """Feed the core until the connection ends; True if a close answer still has to be sent.
        A socket goes to the reading task; any other stream is read here."""
        ended = self._feed(wire, trailing, trio.current_time()) if trailing else None
        self.wake_writers()
        if wire.raw is None:
            while ended is None:
                data = await wire.stream.receive_some(RECEIVE_SIZE)
                ended = self._feed(wire, data, trio.current_time())
                self.wake_writers()
            return ended
        if ended is not None:
            return ended
        self._reader.add(wire.raw, wire)
        try:
            await wire.read_end.wait()
        finally:
            self._stop_reading(wire)
        return wire.flush

    def _stop_reading(self, wire: Wire) -> None:
        assert wire.raw is not None
        self._reader.remove(wire.raw)  # before the dup is closed (relay/reading.py)
        wire.read_end.set()

    async def _read_all(self) -> None:
        """The reading task: what every socket with data had, then the writers, once."""
        while True:
            batch = await self._reader.read()
            now = trio.current_time()
            for wire, data in batch:  # a wire removed while the task waited is not in it
                try:
                    ended = self._feed(wire, data, now)
                except Exception:  # a fault with one connection ends that connection only
                    log.exception("a connection failed; it is closed, the relay serves on")
                    ended = False
                if ended is not None:
                    wire.flush = ended
                    self._stop_reading(wire)
            self.wake_writers()

    def _feed(self, wire: Wire, data: bytes | bytearray, now: float) -> bool | None:
        """Bytes from the client into the core: None while the connection goes on, else whether
        a close answer still has to be sent. No data means the client hung up. The caller wakes
        the writers (the reading task once for all it read)."""
        if not data:
            return False
        conn, core = wire.conn, self.core
        try:
            events = wire.frames.feed(data)
        except FrameError as exc:  # say why, then hang up: nothing more is read
            core.close(conn, Close.PROTOCOL_ERROR, f"bad WebSocket frame: {exc}", now)
            wire.answering = True
            return True
        for opcode, payload in events:
            if opcode == OP_BINARY:
                core.receive(conn, payload, now)
            elif opcode == OP_PING:
                conn.queue_control(server_frame(OP_PONG, payload))
                wire.wake.set()
            elif opcode == OP_TEXT:
                reason = "text messages are not part of the protocol"
                core.close(conn, Close.PROTOCOL_ERROR, reason, now)
            elif opcode == OP_CLOSE:
                return self._closing(wire, payload)
        return None

    def _closing(self, wire: Wire, payload: bytes) -> bool:
        """A close frame from the client: the answer to ours (done), or its own (answer it)."""
        if wire.close_sent:
            return False
        try:
            code, reason = parse_close(payload)
        except FrameError as exc:
            code, reason = PROTOCOL_ERROR_CLOSE, str(exc)
        conn = wire.conn
        self.core.connection_lost(conn, trio.current_time(), code)
        conn.request_close(code or ClientClose.NORMAL, reason)
        conn.queue_control(close_frame(code or ClientClose.NORMAL, reason))
        wire.close_sent = wire.answering = True
        return True

    async def _writer(self, wire: Wire, scope: trio.CancelScope) -> None:
        conn, stream, core = wire.conn, wire.stream, self.core
        while True:
            await wire.wake.wait()
            wire.wake = trio.Event()
            frames = conn.take_outbox()
            if frames:
                data = b"".join(frames)
                wire.busy = True
                try:
                    await stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    scope.cancel()
                    return
                finally:
                    wire.busy = False
                core.sent(conn, frames, len(data))
            if conn.has_output:
                wire.wake.set()
            elif conn.closing is not None and not wire.close_sent:
                wire.close_sent = True
                conn.queue_control(close_frame(*conn.closing))
                wire.wake.set()
                # the reader ends things when the client answers; if it does not, this does
                scope.deadline = min(scope.deadline, trio.current_time() + CLOSE_WAIT)
            elif wire.answering:
                scope.cancel()  # the closing handshake is done on our side: hang up
                return
