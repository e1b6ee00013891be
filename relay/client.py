"""The relay's Python SDK (trio): one :class:`RelayClient` per connection.

A program may hold connections to several relays, and join several rooms on each::

    async with open_relay("ws://127.0.0.1:8000/relay", ticket=get_ticket) as relay:
        room = await relay.join("lobby")
        avatar = await room.spawn(b"pose", rule=Rule.DENY)
        await room.update(avatar, b"new pose", position=(1.0, 0.0, 2.0))
        status = await room.request(other_object)          # Status.GRANTED, DENIED, ...
        room.view.objects[other_object].state                # the latest state, kept in sync

Requests are awaitable and answer with the relay's status. The connection answers the relay's
pings, and when it drops it reconnects and resumes the session within the grace window (the
rooms' views are then replaced by fresh snapshots). :func:`handoff` moves an object from one
room (on one relay) to another.

With a relay that speaks protocol version 2, a room also carries a Godot game
(PROTOCOL.md §15): ``await room.set_game_role(GameRole.PEER)``, ``await room.send_packet(...)``,
and packets from other game peers arrive on ``room.packets``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, connect_websocket_url

from common.config import RELAY_PATH
from common.placement import relay_path
from relay.protocol import (
    GAME_VERSION,
    HEADER_SIZE,
    MAX_MESSAGE,
    PACKET_EXCEPT,
    PACKET_FROM_OVERHEAD,
    PACKET_MODE_MASK,
    PACKET_MORE,
    PACKET_RELIABLE,
    PACKET_UNRELIABLE,
    PACKET_UNRELIABLE_ORDERED,
    SUPPORTED_VERSIONS,
    WELCOMES,
    Answer,
    AnyWelcome,
    Ask,
    AskCancelled,
    ClientClose,
    Close,
    Despawn,
    Event,
    EventFrom,
    Focus,
    Game,
    GamePeer,
    GameRole,
    Give,
    Goodbye,
    Hello,
    Join,
    Leave,
    Left,
    Lifetime,
    Limit,
    Packet,
    PacketFrom,
    Ping,
    Pong,
    Position,
    Record,
    Refused,
    Release,
    Request,
    Result,
    Rule,
    ServerPing,
    ServerPong,
    SetMaster,
    SetRule,
    Snapshot,
    Spawn,
    Status,
    Update,
    decode_server_message,
)
from relay.view import RoomView

log = logging.getLogger("relay.client")

Credential = str | Callable[[], Awaitable[str]] | None
REQUEST_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
FINAL_GOODBYES = (Close.UNSUPPORTED_VERSION, Close.KICKED)  # reconnecting would not help


class RelayError(Exception):
    """The relay answered a request with a status other than success."""

    def __init__(self, status: Status, what: str) -> None:
        super().__init__(f"{what}: {status.name}")
        self.status = status


class Disconnected(Exception):
    """The connection ended; ``goodbye`` is the relay's reason, when it gave one."""

    def __init__(self, goodbye: Goodbye | None = None) -> None:
        super().__init__(goodbye.reason if goodbye else "connection lost")
        self.goodbye = goodbye


@dataclass
class Incoming:
    """An event or an Ask received in a room."""

    sender: int
    payload: bytes


@dataclass
class IncomingPacket:
    """A game packet from another game peer, its fragments joined (``mode``: PACKET_RELIABLE,
    PACKET_UNRELIABLE or PACKET_UNRELIABLE_ORDERED)."""

    sender: int
    mode: int
    channel: int
    payload: bytes


class NoGame(Exception):
    """The relay speaks protocol version 1: its rooms carry no game."""


class RoomClient:
    """A joined room: its live view, its requests, its events and asks."""

    def __init__(self, relay: RelayClient, name: str, handle: int) -> None:
        self.relay = relay
        self.name = name
        self.handle = handle
        self.view = RoomView(handle)
        self.joined = True
        self.refusals: list[Refused] = []
        self._events_send, self.events = trio.open_memory_channel[Incoming](1024)
        self._asks_send, self.asks = trio.open_memory_channel[Ask](256)
        self.cancelled_asks: list[AskCancelled] = []
        self.ask_policy: Callable[[Ask], bool] | None = None  # answer Asks automatically
        self._packets_send, self.packets = trio.open_memory_channel[IncomingPacket](4096)
        self._fragments: dict[int, list[bytes]] = {}  # sender -> the parts so far of its packet
        self._changed = trio.Event()

    @property
    def me(self) -> int:
        return self.relay.member

    @property
    def game_role(self) -> GameRole:
        """This member's role in the room's game (NONE again after a dropped connection)."""
        return self.view.game_roles.get(self.me, GameRole.NONE)

    def _deliver(self, rec: Record) -> None:
        if isinstance(rec, PacketFrom):
            self.view.apply(rec)  # notes a packet from a member outside the game as an anomaly
            parts = self._fragments.setdefault(rec.sender, [])
            parts.append(rec.payload)
            if rec.flags & PACKET_MORE:
                return
            del self._fragments[rec.sender]
            packet = IncomingPacket(rec.sender, rec.flags & PACKET_MODE_MASK, rec.channel, b"".join(parts))
            try:
                self._packets_send.send_nowait(packet)
            except trio.WouldBlock:
                log.warning("room %s: packet dropped, nobody reads room.packets", self.name)
        elif isinstance(rec, GamePeer):
            if rec.role == GameRole.NONE:
                self._fragments.pop(rec.member, None)
            self.view.apply(rec)
        elif isinstance(rec, EventFrom):
            try:
                self._events_send.send_nowait(Incoming(rec.sender, rec.payload))
            except trio.WouldBlock:
                log.warning("room %s: event dropped, nobody reads room.events", self.name)
        elif isinstance(rec, Ask):
            if self.ask_policy is not None:
                grant = self.ask_policy(rec)
                self.relay._send_soon(
                    Answer(self.relay._next_req(), self.handle, rec.object, rec.ask, int(grant))
                )
            else:
                try:
                    self._asks_send.send_nowait(rec)
                except trio.WouldBlock:
                    log.warning("room %s: ask dropped, nobody reads room.asks", self.name)
        elif isinstance(rec, AskCancelled):
            self.cancelled_asks.append(rec)
        elif isinstance(rec, Refused):
            self.refusals.append(rec)
        else:
            self.view.apply(rec)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[RoomView], bool], timeout: float = REQUEST_TIMEOUT) -> None:
        """Wait until ``predicate(view)`` holds (checked after every message from the relay)."""
        with trio.fail_after(timeout):
            while not predicate(self.view):
                await self._changed.wait()

    # --- requests ---------------------------------------------------------------------------

    async def spawn(
        self,
        state: bytes = b"",
        *,
        rule: Rule = Rule.ALLOW,
        lifetime: Lifetime = Lifetime.WITH_MASTER,
        position: Position | None = None,
    ) -> int:
        """Spawn an object (you become its Master and Owner); returns its id."""
        res = await self.relay._call(lambda req: Spawn(req, self.handle, rule, lifetime, position, state))
        if res.status != Status.OK:
            raise RelayError(res.status, "spawn")
        return res.value

    async def update(self, oid: int, state: bytes, *, position: Position | None = None) -> None:
        """Send a new state for an object you own, at the epoch your view knows."""
        obj = self.view.objects.get(oid)
        epoch = obj.epoch if obj is not None else 1
        await self.relay.send(Update(self.handle, oid, epoch, position, state))

    async def request(self, oid: int) -> Status:
        """Ask for ownership; the status says what happened (GRANTED, DENIED, TIMEOUT, ...)."""
        res = await self.relay._call(lambda req: Request(req, self.handle, oid))
        if res.status == Status.GRANTED:
            obj = self.view.objects.get(oid)
            if obj is not None:  # the OWNER record came first; this only guards against surprises
                obj.owner, obj.epoch = self.me, max(obj.epoch, res.value)
        return res.status

    async def _simple(self, what: str, make: Callable[[int], Record]) -> int:
        res = await self.relay._call(make)
        if res.status != Status.OK:
            raise RelayError(res.status, what)
        return res.value

    async def release(self, oid: int) -> None:
        await self._simple("release", lambda req: Release(req, self.handle, oid))

    async def give(self, oid: int, member: int) -> None:
        await self._simple("give", lambda req: Give(req, self.handle, oid, member))

    async def set_rule(self, oid: int, rule: Rule) -> None:
        await self._simple("set_rule", lambda req: SetRule(req, self.handle, oid, rule))

    async def set_master(self, oid: int, member: int) -> None:
        await self._simple("set_master", lambda req: SetMaster(req, self.handle, oid, member))

    async def despawn(self, oid: int) -> None:
        await self._simple("despawn", lambda req: Despawn(req, self.handle, oid))

    async def answer(self, ask: Ask, grant: bool) -> Status:
        res = await self.relay._call(lambda req: Answer(req, self.handle, ask.object, ask.ask, int(grant)))
        return res.status

    async def focus(self, position: Position | None) -> None:
        await self._simple("focus", lambda req: Focus(req, self.handle, position))

    async def send_event(self, payload: bytes, targets: tuple[int, ...] = ()) -> None:
        """To the whole room (but yourself) when ``targets`` is empty."""
        await self.relay.send(Event(self.handle, targets, payload))

    async def leave(self) -> None:
        await self._simple("leave", lambda req: Leave(req, self.handle))

    # --- the game (protocol version 2) --------------------------------------------------------

    async def set_game_role(self, role: GameRole) -> Status:
        """Take part in the room's game (PEER), host it (HOST: Godot peer 1) or leave it (NONE).
        Returns OK, or HOST_TAKEN when another member hosts."""
        self.relay._need_game()
        res = await self.relay._call(lambda req: Game(req, self.handle, role))
        if res.status not in (Status.OK, Status.HOST_TAKEN):
            raise RelayError(res.status, "set_game_role")
        return res.status

    async def send_packet(
        self,
        payload: bytes,
        *,
        targets: tuple[int, ...] = (),
        except_: bool = False,
        mode: int = PACKET_RELIABLE,
        channel: int = 0,
        lane: int = 0,
    ) -> None:
        """Send a packet to game peers: ``targets`` (member ids), or every game peer but you
        when empty; with ``except_``, every game peer but you and ``targets``. A payload over one
        message goes as reliable fragments, joined again by the receivers."""
        self.relay._need_game()
        if len(targets) > 255:
            raise ValueError("at most 255 targets")
        if mode not in (PACKET_RELIABLE, PACKET_UNRELIABLE, PACKET_UNRELIABLE_ORDERED):
            raise ValueError(f"{mode} is not a transfer mode")
        if not 0 <= channel <= 255 or not 0 <= lane <= 0xFFFF or (lane and mode == PACKET_RELIABLE):
            raise ValueError("a channel is 0-255, a lane 0-65535, and a reliable packet has lane 0")
        flags = PACKET_EXCEPT if except_ else 0
        limit = (
            self.relay.max_message
            - HEADER_SIZE
            - max(7 + 4 * len(targets), PACKET_FROM_OVERHEAD - HEADER_SIZE)
        )
        if len(payload) <= limit:
            await self.relay.send(Packet(self.handle, flags | mode, channel, lane, targets, payload))
            return
        for start in range(0, len(payload), limit):
            more = PACKET_MORE if start + limit < len(payload) else 0
            part = payload[start : start + limit]
            await self.relay.send(
                Packet(self.handle, flags | PACKET_RELIABLE | more, channel, 0, targets, part)
            )


def relay_process_url(url: str, index: int) -> str:
    """The URL of relay process ``index`` behind the same front door as ``url``
    (``.../relay`` or ``.../relay/<i>``, docs/architecture.md §Several relay processes on one
    machine). The query (``?room=``) is left out: credentials are added per connection."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    head, _, tail = path.rpartition("/")
    if tail.isdigit() and head.endswith(RELAY_PATH):
        path = head
    if not path.endswith(RELAY_PATH):
        raise ValueError(f"{url!r} is not a relay URL (its path ends neither in /relay nor /relay/<i>)")
    return urlunsplit(parts._replace(path=path[: -len(RELAY_PATH)] + relay_path(index), query=""))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(x for x in (parts.query, urlencode(params)) if x)
    return urlunsplit(parts._replace(query=query))


class RelayClient:
    """One connection to one relay. Create it with :func:`open_relay`."""

    def __init__(
        self,
        url: str,
        *,
        ticket: Credential = None,
        token: Credential = None,
        headers: list[tuple[str, str]] | None = None,
        reconnect: bool = True,
        reconnect_delay: float = 0.2,
        versions: tuple[int, int] = SUPPORTED_VERSIONS,
    ) -> None:
        self.url = url
        self.versions = versions  # the protocol versions HELLO offers
        self.reconnect_delay = reconnect_delay
        self.ticket = ticket
        self.token = token
        self.headers = headers or []
        self.reconnect = reconnect
        self.member = 0
        self.resume_token = b""
        self.welcome: AnyWelcome | None = None
        self.goodbye: Goodbye | None = None
        self.rooms: dict[int, RoomClient] = {}
        self.clock_offset_ms: float | None = None  # server time minus local time
        self.connected = trio.Event()
        self.closed = False
        self.resumes = 0
        self._ws: WebSocketConnection | None = None
        self._req = 0
        self._pending: dict[int, tuple[trio.Event, list[Result]]] = {}
        self._joining: dict[int, str] = {}
        self._ping_sent: dict[int, float] = {}
        self._outgoing_send, self._outgoing = trio.open_memory_channel[Record](256)
        self._ended = trio.Event()
        self._close_done = trio.Event()
        # Connections to the party's other relay processes, opened by join() when a room lives
        # on one of them (Status.ELSEWHERE), by process index; shared with those connections.
        self._siblings: dict[int, RelayClient] = {}
        self._options: dict[str, Any] = {
            "ticket": ticket,
            "token": token,
            "headers": self.headers,
            "reconnect": reconnect,
            "reconnect_delay": reconnect_delay,
            "versions": versions,
        }
        self._nursery: trio.Nursery | None = None  # open_relay's, where siblings run
        self._is_sibling = False

    # --- connection ---------------------------------------------------------------------------

    async def _credential(self, value: Credential) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return await value()

    async def _url(self) -> str:
        ticket = await self._credential(self.ticket)
        token = await self._credential(self.token)
        if ticket:
            return _with_query(self.url, ticket=ticket)
        if token:
            return _with_query(self.url, token=token)
        return self.url

    async def _open(self, nursery: trio.Nursery) -> WebSocketConnection:
        url = await self._url()
        extra = [(k.encode(), v.encode()) for k, v in self.headers]
        ws = await _open_ws(nursery, url, extra)
        await ws.send_message(Hello(*self.versions, self.resume_token).encode())
        while True:
            message = await ws.get_message()
            if isinstance(message, str):
                continue  # the relay sends no text messages
            for rec in decode_server_message(message):
                if isinstance(rec, WELCOMES):
                    self._welcomed(rec)
                    self._ws = ws
                    return ws
                if isinstance(rec, Goodbye):
                    self.goodbye = rec
                    raise Disconnected(rec)

    def _welcomed(self, welcome: AnyWelcome) -> None:
        if self.resume_token and not welcome.resumed:
            # the session is gone: the rooms went with it
            for room in self.rooms.values():
                room.joined = False
            self.rooms.clear()
        elif welcome.resumed:
            self.resumes += 1
        self.welcome = welcome
        self.member = welcome.member
        self.resume_token = welcome.token
        self.clock_offset_ms = welcome.server_time_ms - _wall_ms()  # rough; ping() refines it

    async def _run(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        first = True
        delay = self.reconnect_delay
        while not self.closed:
            try:
                async with trio.open_nursery() as nursery:
                    ws = await self._open(nursery)
                    delay = self.reconnect_delay
                    self.connected.set()
                    if first:
                        first = False
                        task_status.started()
                    nursery.start_soon(self._send_loop, ws)
                    await self._receive_loop(ws)
                    if self.closed:  # let trio-websocket's reader see the relay's close answer
                        await self._close_done.wait()
                    nursery.cancel_scope.cancel()
            except* (
                ConnectionClosed,
                HandshakeError,
                OSError,
                trio.BrokenResourceError,
                trio.TooSlowError,
            ) as group:
                log.info("relay connection ended: %s", group.exceptions[0])
            self._connection_ended()
            if first:
                raise Disconnected(self.goodbye)
            if not self.reconnect or self.closed or (self.goodbye and self.goodbye.code in FINAL_GOODBYES):
                break
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)
        self._ended.set()

    @property
    def version(self) -> int:
        """The protocol version the relay and this client agreed on (0 before the first WELCOME)."""
        return self.welcome.version if self.welcome is not None else 0

    def limit(self, which: Limit, default: int = 0) -> int:
        """A limit in force, as the relay's WELCOME says (PROTOCOL.md section 9.3); ``default``
        before the first WELCOME, or when the relay does not name it."""
        return self.welcome.limit(which, default) if self.welcome is not None else default

    @property
    def max_message(self) -> int:
        return self.limit(Limit.MAX_MESSAGE, MAX_MESSAGE)

    def _need_game(self) -> None:
        if 0 < self.version < GAME_VERSION:
            raise NoGame(f"the relay speaks protocol version {self.version}, games need {GAME_VERSION}")

    def _connection_ended(self) -> None:
        self._ws = None
        self.connected = trio.Event()
        for event, box in self._pending.values():
            box.append(Result(0, Status.CANCELLED))
            event.set()
        self._pending.clear()
        self._joining.clear()

    async def _send_loop(self, ws: WebSocketConnection) -> None:
        async for rec in self._outgoing:
            await ws.send_message(rec.encode())

    async def _receive_loop(self, ws: WebSocketConnection) -> None:
        while True:
            try:
                message = await ws.get_message()
            except ConnectionClosed:
                return
            if isinstance(message, str):
                continue
            touched: set[RoomClient] = set()
            for rec in decode_server_message(message):
                self._dispatch(rec, touched)
            for room in touched:
                room._notify()

    def _dispatch(self, rec: Record, touched: set[RoomClient]) -> None:
        if isinstance(rec, Result):
            name = self._joining.pop(rec.req, None)
            if name is not None and rec.status == Status.OK:
                # the snapshot follows in this very message: the room must exist before it
                self.rooms[rec.value] = RoomClient(self, name, rec.value)
            pending = self._pending.pop(rec.req, None)
            if pending is not None:
                pending[1].append(rec)
                pending[0].set()
        elif isinstance(rec, ServerPing):
            self._send_soon(Pong(rec.nonce))
        elif isinstance(rec, ServerPong):
            sent = self._ping_sent.pop(rec.nonce, None)
            if sent is not None:
                half_rtt = (trio.current_time() - sent) * 500
                self.clock_offset_ms = rec.server_time_ms + half_rtt - _wall_ms()
        elif isinstance(rec, Goodbye):
            self.goodbye = rec
        elif isinstance(rec, Snapshot):
            room = self.rooms.get(rec.room)
            if room is not None:
                room.view.apply(rec)
                room._fragments.clear()  # a resume: what was missed cannot be joined
                touched.add(room)
        elif isinstance(rec, Left):
            room = self.rooms.pop(rec.room, None)
            if room is not None:
                room.joined = False
                touched.add(room)
        else:
            room = self.rooms.get(getattr(rec, "room", -1))
            if room is not None:
                room._deliver(rec)
                touched.add(room)

    # --- sending ---------------------------------------------------------------------------------

    def _next_req(self) -> int:
        self._req = (self._req + 1) & 0xFFFFFFFF
        return self._req

    def _send_soon(self, rec: Record) -> None:
        try:
            self._outgoing_send.send_nowait(rec)
        except trio.WouldBlock:
            log.warning("outgoing queue full, dropped %s", type(rec).__name__)

    async def send(self, rec: Record) -> None:
        if self.closed:
            raise Disconnected(self.goodbye)
        await self._outgoing_send.send(rec)

    async def _call(self, make: Callable[[int], Record], timeout: float = REQUEST_TIMEOUT) -> Result:
        if self._ws is None:
            with trio.fail_after(timeout):
                await self.connected.wait()
        req = self._next_req()
        event = trio.Event()
        box: list[Result] = []
        self._pending[req] = (event, box)
        await self.send(make(req))
        with trio.fail_after(timeout):
            await event.wait()
        return box[0]

    async def ping(self, nonce: int = 1) -> None:
        """Ask for the server time; ``clock_offset_ms`` is set when the answer comes."""
        self._ping_sent[nonce] = trio.current_time()
        await self.send(Ping(nonce))

    async def join(self, name: str, *, _elsewhere_hop: bool = False) -> RoomClient:
        """Join (or create) a room; returns once its snapshot has arrived.

        When another relay process of the party holds the room (``ELSEWHERE``), the room is
        joined over a connection to that process, opened once with the same credentials and
        kept until this client closes; the room's ``relay`` is that connection.
        """

        def make(req: int) -> Record:
            self._joining[req] = name
            return Join(req, name)

        res = await self._call(make)
        if res.status == Status.ELSEWHERE and not _elsewhere_hop:
            sibling = await self._sibling(res.value)
            return await sibling.join(name, _elsewhere_hop=True)
        if res.status != Status.OK:
            raise RelayError(res.status, f"join {name!r}")
        room = self.rooms[res.value]
        await room.wait_for(lambda v: v.synced)
        return room

    async def _sibling(self, index: int) -> RelayClient:
        """The connection to relay process ``index``, opened the first time it is needed."""
        sibling = self._siblings.get(index)
        if sibling is None:
            if self._nursery is None:
                raise RelayError(Status.ELSEWHERE, f"relay process {index} (open clients with open_relay)")
            sibling = RelayClient(relay_process_url(self.url, index), **self._options)
            sibling._siblings = self._siblings
            sibling._is_sibling = True
            sibling._nursery = self._nursery
            self._siblings[index] = sibling
            try:
                await self._nursery.start(sibling._run)
            except BaseException:
                del self._siblings[index]
                raise
        return sibling

    async def close(self) -> None:
        """End the session (a normal close: the relay applies the leave rules at once), and
        those of the connections to other relay processes it opened."""
        self.closed = True
        if not self._is_sibling:
            for sibling in list(self._siblings.values()):
                if not sibling.closed:
                    await sibling.close()
        ws = self._ws
        if ws is not None:
            with trio.move_on_after(CLOSE_TIMEOUT):
                await ws.aclose(code=ClientClose.NORMAL, reason="bye")
        self._close_done.set()


def _wall_ms() -> float:
    return time.time() * 1000


async def _open_ws(nursery: trio.Nursery, url: str, extra: list[tuple[bytes, bytes]]) -> WebSocketConnection:
    with trio.fail_after(CONNECT_TIMEOUT):
        return await connect_websocket_url(
            nursery, url, extra_headers=extra, message_queue_size=64, max_message_size=1 << 17
        )


@asynccontextmanager
async def open_relay(url: str, **options: Any) -> AsyncIterator[RelayClient]:
    """Connect, say hello, and keep the connection (and resume it) until the block ends.

    ``options`` are those of :class:`RelayClient`: ``ticket``, ``token``, ``headers``,
    ``reconnect``, ``reconnect_delay``, ``versions``.
    """
    client = RelayClient(url, **options)
    try:
        async with trio.open_nursery() as nursery:
            client._nursery = nursery
            await nursery.start(client._run)
            try:
                yield client
            finally:
                await client.close()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # one failure (yours or the connection's) comes out as itself, not wrapped in a group
        if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
            raise group.exceptions[0] from None
        raise


async def handoff(src: RoomClient, oid: int, dst: RoomClient, **spawn_args: Any) -> int:
    """Move an object to another room, possibly on another relay: spawn it there with the same
    state (and rule, lifetime, position unless given), wait for the new id, then despawn the old
    one. Returns the new object's id."""
    obj = src.view.objects.get(oid)
    if obj is None:
        raise RelayError(Status.UNKNOWN_OBJECT, "handoff")
    spawn_args.setdefault("rule", obj.rule)
    spawn_args.setdefault("lifetime", obj.lifetime)
    if obj.position is not None and all(math.isfinite(v) for v in obj.position):
        spawn_args.setdefault("position", obj.position)
    new = await dst.spawn(obj.state, **spawn_args)
    await src.despawn(oid)
    return new
