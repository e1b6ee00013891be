"""Drive the I/O-free relay core directly: simulated clients, a simulated clock."""

from __future__ import annotations

import random
import uuid
from functools import partial
from typing import Any

from common.identity import PERM_HOST, PERM_PLAY, Identity
from relay.core import RelayCore
from relay.protocol import (
    GAME_VERSION,
    TOKEN_SIZE,
    WELCOMES,
    AnyWelcome,
    Game,
    GameRole,
    Goodbye,
    Hello,
    Join,
    Left,
    Record,
    Result,
    Snapshot,
    Status,
    decode_server_message,
)
from relay.room import Room
from relay.settings import Settings
from relay.view import RoomView

WALL_EPOCH = 1_700_000_000.0


def relay_table(room: Room) -> dict[int, tuple[int, int, int, int, bytes]]:
    """The relay's own objects of a room, in the shape of ``RoomView.table()``: what views converge to."""
    return {o.id: (o.master, o.owner, o.epoch, int(o.rule), o.state) for o in room.objects.values()}


def identity(name: str, host: bool = False) -> Identity:
    perms = {PERM_PLAY, PERM_HOST} if host else {PERM_PLAY}
    return Identity(str(uuid.uuid5(uuid.NAMESPACE_URL, name)), name, frozenset(perms), "ticket")


class Sim:
    def __init__(self, **overrides: Any) -> None:
        self.now = 1000.0
        self.settings = Settings().with_overrides(**overrides)
        tokens = random.Random(0)  # resume tokens: unpredictable for clients, repeatable here
        self.core = RelayCore(
            self.settings,
            wall=lambda: WALL_EPOCH + self.now,
            token_source=partial(tokens.randbytes, TOKEN_SIZE),
        )

    def client(
        self, name: str = "alice", *, host: bool = False, hello: bool = True, version: int = 1
    ) -> SimClient:
        """A connected client that said HELLO offering versions 1..``version``."""
        c = SimClient(self, identity(name, host))
        if hello:
            c.hello(versions=(1, version))
        return c

    def player(self, name: str, role: GameRole = GameRole.PEER, room: str = "lobby") -> SimClient:
        """A version-2 client in ``room`` with a game role, everything before read."""
        c = self.client(name, version=GAME_VERSION)
        handle = c.join(room)
        assert c.call(Game, handle, role).status == Status.OK
        return c

    def tick(self, dt: float | None = None) -> None:
        self.now += self.settings.tick_interval if dt is None else dt
        self.core.tick(self.now)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.tick()


class SimClient:
    def __init__(self, sim: Sim, ident: Identity) -> None:
        self.sim = sim
        self.identity = ident
        self.conn = sim.core.open(ident, sim.now)
        self.views: dict[int, RoomView] = {}
        self.records: list[Record] = []
        self.messages: list[bytes] = []
        self.member = 0
        self.token = b""
        self._req = 0
        self._stuck = 0  # bytes a stalled socket holds unwritten

    def req(self) -> int:
        self._req += 1
        return self._req

    def send(self, *records: Record) -> None:
        self.send_raw(b"".join(r.encode() for r in records))

    def send_raw(self, message: bytes) -> None:
        self.sim.core.receive(self.conn, message, self.sim.now)

    def read(self) -> list[Record]:
        """Everything the relay queued for this client since the last read, applied to the views."""
        frames = self.conn.take_outbox()
        self.sim.core.sent(self.conn, frames, sum(map(len, frames)))  # the socket took it all
        self.messages.extend(frames)
        out: list[Record] = []
        for frame in frames:
            assert len(frame) <= self.sim.settings.max_message
            out.extend(decode_server_message(frame))
        for rec in out:
            room = getattr(rec, "room", None)
            if isinstance(rec, Snapshot):
                self.views.setdefault(rec.room, RoomView(rec.room))
            if isinstance(rec, Left):
                self.views.pop(rec.room, None)
            elif room is not None and room in self.views:
                self.views[room].apply(rec)
        self.records.extend(out)
        return out

    def stall(self, nbytes: int) -> None:
        """The socket stops draining with ``nbytes`` unwritten, as when the server's writer is
        blocked in ``send_all`` with a frame of that size; what was queued before is read."""
        self.read()
        self.conn.queue_control(bytes(nbytes))
        self.conn.take_outbox()  # the writer holds it
        self._stuck += nbytes

    @property
    def stuck(self) -> int:
        """The bytes a stalled socket holds unwritten."""
        return self._stuck

    def unstall(self) -> None:
        """The socket wrote what it held."""
        self.conn.sent(self._stuck)
        self._stuck = 0

    def hello(self, token: bytes = b"", versions: tuple[int, int] = (1, 1)) -> AnyWelcome:
        self.send(Hello(versions[0], versions[1], token))
        welcome = [r for r in self.read() if isinstance(r, WELCOMES)]
        assert welcome, "no WELCOME"
        self.member = welcome[0].member
        self.token = welcome[0].token
        return welcome[0]

    def call(self, make: Any, *args: Any) -> Result:
        """Send a request built as ``make(req, *args)``, run one tick, return its RESULT."""
        req = self.req()
        self.send(make(req, *args))
        self.sim.tick()
        return self.result(req)

    def result(self, req: int) -> Result:
        self.read()
        found = [r for r in self.records if isinstance(r, Result) and r.req == req]
        assert found, f"no RESULT for request {req}"
        return found[0]

    def join(self, name: str = "lobby") -> int:
        res = self.call(Join, name)
        assert res.status == Status.OK, res
        return res.value

    def goodbye(self) -> Goodbye | None:
        found = [r for r in self.records if isinstance(r, Goodbye)]
        return found[-1] if found else None

    def of(self, kind: type[Record]) -> list[Any]:
        return [r for r in self.records if isinstance(r, kind)]
