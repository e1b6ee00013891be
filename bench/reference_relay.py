"""The reference line for relay capacity: a minimal tick-batched relay with no ownership logic.

It speaks just enough of the protocol for ``bench/relay_load.py`` (JOIN and SPAWN answered OK,
UPDATE forwarded as STATE) and does the least a tick-batched relay can: every UPDATE body
becomes a STATE record (the newest per object replaces an older one still waiting), and each
tick packs the waiting records once into shared WebSocket frames that every connection gets.
No tickets, ownership, epochs, rate limits, lag handling, pings or stats beyond what the
benchmark reads.

Everything else is our relay's own edge, so that the comparison is of what lies between the
edges: trio, the same HTTP upgrade (``relay.http``), the same client-frame decoder
(``relay.wsframes``), the same frame building (``relay.server.ws_frame``), the same write path
(straight into the socket with ``send``/``sendmsg`` when it has room, a writer task when not),
the same tick loop and the same collector settings. It reads each connection in a task of its
own, the plain trio way; with ``--one-reader`` it reads them all from one task as our relay
does (``relay/reading.py``), to show what that edge alone is worth.

    python -m bench.reference_relay --port 8002 --admin-port 8003 [--one-reader]
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import struct
import sys

import trio
from wsproto.utilities import generate_accept_token

from common.config import LOOPBACK, RELAY_PATH
from relay.http import HttpError, read_request, send_json
from relay.protocol import (
    HEADER,
    MAX_MESSAGE,
    UPDATE_TYPE,
    Join,
    Result,
    Spawn,
    Status,
    pack_messages,
    state_record,
)
from relay.reading import SocketReader
from relay.server import READ_BATCH, RECEIVE_SIZE, TickStats, ws_frame
from relay.settings import Settings
from relay.wsframes import OP_BINARY, ClientFrames, FrameError

JOIN_TYPE = Join.TYPE
SPAWN_TYPE = Spawn.TYPE
_REQ = struct.Struct("<I")
_OBJECT = struct.Struct("<I")  # an UPDATE body's object id, after its room (u16)


class Peer:
    __slots__ = ("busy", "ended", "frames", "outbox", "raw", "stream", "wake")

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.raw = socket.socket(fileno=os.dup(stream.socket.fileno()))
        self.raw.setblocking(False)
        self.outbox: list[bytes] = []
        self.wake = trio.Event()
        self.busy = False
        self.frames = ClientFrames(MAX_MESSAGE)
        self.ended = trio.Event()  # with one reader: the reading task is done with it


class ReferenceRelay:
    def __init__(self, tick_hz: int, one_reader: bool = False) -> None:
        self.one_reader: SocketReader[Peer] | None = (
            SocketReader(RECEIVE_SIZE, READ_BATCH) if one_reader else None
        )
        self.interval = 1.0 / tick_hz
        self.peers: list[Peer] = []
        self.pending: dict[int, bytes] = {}  # object id -> its newest STATE record this tick
        self.next_object = 1
        self.stats = TickStats()
        self.last_stats = self.stats.take()
        self.rotation = 0

    def answer(self, peer: Peer, records: list[bytes]) -> None:
        for message in pack_messages(records):
            peer.outbox.append(ws_frame(message))
        self.write(peer)

    def receive(self, peer: Peer, message: bytes) -> None:
        answers: list[bytes] = []
        off, end = 0, len(message)
        while off + 3 <= end:
            t, n = HEADER.unpack_from(message, off)
            body = message[off + 3 : off + 3 + n]
            off += 3 + n
            if t == UPDATE_TYPE:
                self.pending[_OBJECT.unpack_from(body, 2)[0]] = state_record(body)
            elif t == JOIN_TYPE:
                answers.append(Result(_REQ.unpack_from(body)[0], Status.OK, 1).encode())
            elif t == SPAWN_TYPE:
                answers.append(Result(_REQ.unpack_from(body)[0], Status.OK, self.next_object).encode())
                self.next_object += 1
        if answers:
            self.answer(peer, answers)

    def tick(self) -> None:
        if not self.pending:
            return
        frames = [ws_frame(m) for m in pack_messages(list(self.pending.values()), MAX_MESSAGE)]
        self.pending = {}
        peers = self.peers
        if len(peers) > 1:  # as our relay: start each round somewhere else
            self.rotation = (self.rotation + 7919) % len(peers)
            peers = peers[self.rotation :] + peers[: self.rotation]
        for peer in peers:
            peer.outbox.extend(frames)
            self.write(peer)

    def write(self, peer: Peer) -> None:
        if peer.busy:
            peer.wake.set()
            return
        frames, peer.outbox = peer.outbox, []
        try:
            sent = peer.raw.send(frames[0]) if len(frames) == 1 else peer.raw.sendmsg(frames)
        except OSError:
            sent = 0
        total = sum(map(len, frames))
        if sent < total:  # the rest waits for the writer task
            peer.outbox.insert(0, b"".join(frames)[sent:])
            peer.wake.set()

    async def ticker(self) -> None:
        deadline = trio.current_time()
        next_stats = deadline + 1.0
        while True:
            deadline += self.interval
            now = trio.current_time()
            if deadline < now - self.interval:
                deadline = now
            await trio.sleep_until(deadline)
            started = trio.current_time()
            self.tick()
            self.stats.add(trio.current_time() - started)
            if started >= next_stats:
                next_stats = started + 1.0
                self.last_stats = self.stats.take()

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            try:
                request = await read_request(stream)
            except HttpError:
                return
            if request is None:
                return
            if request.path != RELAY_PATH:
                await send_json(stream, request.http, 200, {"status": "ok"})
                return
            key = request.header("sec-websocket-key") or ""
            accept = generate_accept_token(key.encode("latin-1")).decode("ascii")
            await stream.send_all(
                b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                b"sec-websocket-accept: " + accept.encode() + b"\r\n\r\n"
            )
            peer = Peer(stream)
            self.peers.append(peer)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.writer, peer)
                    await self.reader(peer, bytes(request.http.trailing_data[0]))
                    nursery.cancel_scope.cancel()
            finally:
                self.peers.remove(peer)
                if self.one_reader is not None:
                    self.one_reader.remove(peer.raw)
                peer.raw.close()
        except (trio.BrokenResourceError, trio.ClosedResourceError, FrameError):
            pass
        finally:
            await stream.aclose()

    async def reader(self, peer: Peer, data: bytes) -> None:
        self.feed(peer, data)
        if self.one_reader is not None:
            self.one_reader.add(peer.raw, peer)
            await peer.ended.wait()
            return
        while data := await peer.stream.receive_some(RECEIVE_SIZE):
            self.feed(peer, data)

    def feed(self, peer: Peer, data: bytes) -> None:
        for opcode, payload in peer.frames.feed(data):
            if opcode == OP_BINARY:
                self.receive(peer, payload)

    async def read_all(self, reader: SocketReader[Peer]) -> None:
        """With one reader: every connection's data, from one task."""
        while True:
            for peer, data in await reader.read():  # removed sockets are not read
                try:
                    self.feed(peer, data)
                except FrameError:
                    data = b""
                if not data:
                    reader.remove(peer.raw)
                    peer.ended.set()

    async def writer(self, peer: Peer) -> None:
        while True:
            await peer.wake.wait()
            peer.wake = trio.Event()
            if peer.outbox:
                data = b"".join(peer.outbox)
                peer.outbox = []
                peer.busy = True
                try:
                    await peer.stream.send_all(data)
                finally:
                    peer.busy = False

    async def admin(self, stream: trio.SocketStream) -> None:
        try:
            request = await read_request(stream)
            if request is not None:
                queues = [sum(map(len, p.outbox)) for p in self.peers]
                stats = {
                    "tick": self.last_stats,
                    "queue_bytes": {"total": sum(queues), "max": max(queues, default=0)},
                    "lagging_connections": 0,
                }
                await send_json(stream, request.http, 200, stats)
        except (HttpError, trio.BrokenResourceError):
            pass
        finally:
            await stream.aclose()


async def serve(port: int, admin_port: int, tick_hz: int, one_reader: bool) -> None:
    relay = ReferenceRelay(tick_hz, one_reader)
    listeners = await trio.open_tcp_listeners(port, host=LOOPBACK)
    admin = await trio.open_tcp_listeners(admin_port, host=LOOPBACK)
    gc.freeze()  # the same collector settings as the relay (relay/service.py)
    gc.set_threshold(Settings().gc_threshold, 20, 100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, relay.handle, listeners)
        nursery.start_soon(trio.serve_listeners, relay.admin, admin)
        nursery.start_soon(relay.ticker)
        if relay.one_reader is not None:
            nursery.start_soon(relay.read_all, relay.one_reader)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                break
        nursery.cancel_scope.cancel()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reference_relay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--tick-hz", type=int, default=Settings().tick_hz)
    parser.add_argument("--one-reader", action="store_true", help="read every connection from one task")
    args = parser.parse_args(argv)
    trio.run(serve, args.port, args.admin_port, args.tick_hz, args.one_reader)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
