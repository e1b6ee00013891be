"""The relay's wire format (PROTOCOL.md): record types, their layouts, and a strict codec.

Free of I/O, like h11 and wsproto. Every record is ``type u8, length u16, body``, integers are
little-endian, and one WebSocket message carries one or more records. Each record type is a
frozen dataclass whose fields declare their wire kinds, so one table drives both encoding and
decoding. Decoding raises :class:`ProtocolError` for any malformed input and nothing else.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, Field, dataclass, field, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar, dataclass_transform

from common.identity import PERM_HOST, PERM_PLAY

SUPPORTED_VERSIONS = (1, 2)  # lowest, highest
GAME_VERSION = 2  # the version that brought game roles and packets (section 15)
MAX_MESSAGE = 65535  # Godot 4's WebSocketPeer refuses larger messages by default
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # section 4.1
TOKEN_SIZE = 16
STR8_MAX = 255  # bytes of UTF-8 in a str8
HEADER = struct.Struct("<BH")
HEADER_SIZE = HEADER.size

Position = tuple[float, float, float]


class ProtocolError(Exception):
    """Malformed input. The message says what was wrong and is safe to send to the client."""


class Status(IntEnum):
    OK = 0
    GRANTED = 1
    DENIED = 2
    TIMEOUT = 3
    IN_PROGRESS = 4
    NOT_ALLOWED = 5
    UNKNOWN_OBJECT = 6
    UNKNOWN_ROOM = 7
    UNKNOWN_MEMBER = 8
    COOLDOWN = 9
    MASTER_ABSENT = 10
    NOT_MASTER = 11
    NOT_OWNER = 12
    STALE_EPOCH = 13
    ROOM_FULL = 14
    TOO_MANY_ROOMS = 15
    TOO_MANY_OBJECTS = 16
    TOO_LARGE = 17
    RATE_LIMITED = 18
    INVALID_NAME = 19
    ALREADY_JOINED = 20
    NOT_PENDING = 21
    CANCELLED = 22
    HOST_TAKEN = 23
    NOT_IN_GAME = 24
    QUOTA = 25  # the account's share, or the party's, is used up (section 12.4)
    ELSEWHERE = 26  # JOIN: another relay process holds the room; value: its index (section 4.1)


class Rule(IntEnum):
    ASK = 0
    DENY = 1
    ALLOW = 2


class Lifetime(IntEnum):
    WITH_MASTER = 0
    PERSISTENT = 1


class LeaveReason(IntEnum):
    LEFT = 0
    DISCONNECTED = 1
    KICKED = 2


class DespawnReason(IntEnum):
    BY_MASTER = 0
    MASTER_LEFT = 1
    RESET = 2


class GameRole(IntEnum):
    """A member's part in the room's Godot game (version 2)."""

    NONE = 0
    PEER = 1
    HOST = 2


# PACKET / PACKET_FROM flags (version 2): bits 0-1 the transfer mode, then EXCEPT and MORE.
PACKET_RELIABLE = 0
PACKET_UNRELIABLE = 1
PACKET_UNRELIABLE_ORDERED = 2
PACKET_MODE_MASK = 0x03
PACKET_EXCEPT = 0x04  # the targets are left out of a room-wide send
PACKET_MORE = 0x08  # a fragment: the sender's next packet continues it


class Close(IntEnum):
    """GOODBYE codes, also used as the WebSocket close code. The relay's stay below 4100, but for
    WebSocket's own 1011 (RFC 6455 section 7.4.1: the server failed to handle the connection)."""

    INTERNAL_ERROR = 1011
    PROTOCOL_ERROR = 4000
    UNSUPPORTED_VERSION = 4001
    HELLO_EXPECTED = 4002
    KICKED = 4003
    TOO_SLOW = 4004
    RATE_LIMITED = 4005
    REPLACED = 4006
    IDLE = 4007
    SHUTTING_DOWN = 4008


class ClientClose(IntEnum):
    """Close codes a client sends (section 11): WebSocket's own, and the range from 4100 up."""

    NORMAL = 1000  # RFC 6455 section 7.4.1: the session ends at once
    GOING_AWAY = 1001  # likewise (a page or an application closing)
    DROP = 4100  # the client drops the connection to resume on a new one
    UNREADABLE = 4101  # the relay sent something the client could not decode


SESSION_ENDING_CLOSES = frozenset({ClientClose.NORMAL, ClientClose.GOING_AWAY})


class Limit(IntEnum):
    """The ids of WELCOME's limits (section 9.3): each is a ``u32`` in the unit its name ends with
    (``_MS`` milliseconds; sizes in bytes; rates in units per second; counts otherwise). Ids from
    ``TIER_CELLS`` and ``TIER_TICKS`` on are per distance tier (section 7): tier i is id + i."""

    TICK_HZ = 1
    PING_INTERVAL_MS = 2
    IDLE_TIMEOUT_MS = 3
    HELLO_TIMEOUT_MS = 4
    GRACE_MS = 5
    ASK_TIMEOUT_MS = 6
    COOLDOWN_MS = 7
    MAX_MESSAGE = 8
    MAX_STATE = 9
    MAX_EVENT = 10
    MAX_PACKET = 11
    MAX_ROOMS = 12
    MAX_ROOMS_PER_CONNECTION = 13
    MAX_MEMBERS = 14
    MAX_OBJECTS = 15
    MAX_OBJECTS_PER_MEMBER = 16
    RATE = 17
    BURST = 18
    STRIKE_LIMIT = 19
    LAG_HIGH = 20
    LAG_LOW = 21
    LAG_TIMEOUT_MS = 22
    HELD_LIMIT = 23
    UNRELIABLE_BACKLOG = 24
    PERSIST_INTERVAL_MS = 25
    INTEREST_CELL_MM = 26
    MAX_OBJECTS_PER_ACCOUNT = 27
    MAX_SAVED_PER_ACCOUNT = 28
    MAX_SAVED_OBJECTS = 29
    MAX_SAVED_BYTES = 30
    PLAYER_ROOMS = 31  # the host's policy in force when the WELCOME was sent
    TIER_CELLS = 0x20  # ..0x2F: the largest distance of tier i, in cells
    TIER_TICKS = 0x30  # ..0x3F: tier i is sent every this many ticks


MAX_TIERS = 16  # distance tiers WELCOME can describe (ids TIER_CELLS + 0..15)
Limits = dict[int, int]  # Limit id -> value


# The MEMBER_JOINED bit of each permission an identity may hold (section 9.2).
PERMISSION_BITS: dict[str, int] = {PERM_PLAY: 1, PERM_HOST: 2}


# --- field kinds: how one field is laid out on the wire -------------------------------------


class Kind:
    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, body: bytes, off: int) -> tuple[Any, int]:
        raise NotImplementedError


def _need(body: bytes, off: int, size: int) -> None:
    if off + size > len(body):
        raise ProtocolError("record body is too short")


class _Int(Kind):
    def __init__(self, fmt: str, valid: type[IntEnum] | tuple[int, int] | None = None) -> None:
        self.st = struct.Struct("<" + fmt)
        self.valid = valid
        self.bits = self.st.size * 8

    def _check(self, value: int) -> int:
        if isinstance(self.valid, type):
            try:
                return self.valid(value)
            except ValueError:
                raise ProtocolError(f"{value} is not a valid {self.valid.__name__.lower()}") from None
        if self.valid is not None and not self.valid[0] <= value <= self.valid[1]:
            raise ProtocolError(f"{value} is out of range {self.valid[0]}..{self.valid[1]}")
        return value

    def encode(self, value: int) -> bytes:
        return self.st.pack(self._check(int(value)))

    def decode(self, body: bytes, off: int) -> tuple[int, int]:
        _need(body, off, self.st.size)
        return self._check(self.st.unpack_from(body, off)[0]), off + self.st.size


class _PacketFlags(_Int):
    """``u8`` packet flags: a transfer mode (0-2) and the flag bits in ``allowed``."""

    def __init__(self, allowed: int) -> None:
        super().__init__("B")
        self.allowed = allowed
        self.choices = tuple(v for v in range(256) if self._valid(v))

    def _valid(self, value: int) -> bool:
        return value & PACKET_MODE_MASK != PACKET_MODE_MASK and not value & ~(self.allowed | PACKET_MODE_MASK)

    def _check(self, value: int) -> int:
        if not 0 <= value <= 255:
            raise ProtocolError(f"{value} is out of range 0..255")
        if value & PACKET_MODE_MASK == PACKET_MODE_MASK:
            raise ProtocolError("transfer mode 3 is not valid")
        if value & ~(self.allowed | PACKET_MODE_MASK):
            raise ProtocolError(f"unknown flag bits {value:#04x}")
        return value


class _Str8(Kind):
    def encode(self, value: str) -> bytes:
        raw = value.encode("utf-8")
        if len(raw) > STR8_MAX:
            raise ProtocolError(f"string longer than {STR8_MAX} bytes")
        return bytes((len(raw),)) + raw

    def decode(self, body: bytes, off: int) -> tuple[str, int]:
        _need(body, off, 1)
        n = body[off]
        _need(body, off + 1, n)
        try:
            text = body[off + 1 : off + 1 + n].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("string is not valid UTF-8") from None
        return text, off + 1 + n


class _Token8(Kind):
    """``u8`` length (0 or 16) then the resume token."""

    def encode(self, value: bytes) -> bytes:
        if len(value) not in (0, TOKEN_SIZE):
            raise ProtocolError("a resume token is 0 or 16 bytes")
        return bytes((len(value),)) + value

    def decode(self, body: bytes, off: int) -> tuple[bytes, int]:
        _need(body, off, 1)
        n = body[off]
        if n not in (0, TOKEN_SIZE):
            raise ProtocolError("a resume token is 0 or 16 bytes")
        _need(body, off + 1, n)
        return bytes(body[off + 1 : off + 1 + n]), off + 1 + n


class _Fixed(Kind):
    def __init__(self, size: int) -> None:
        self.size = size

    def encode(self, value: bytes) -> bytes:
        if len(value) != self.size:
            raise ProtocolError(f"expected exactly {self.size} bytes")
        return bytes(value)

    def decode(self, body: bytes, off: int) -> tuple[bytes, int]:
        _need(body, off, self.size)
        return bytes(body[off : off + self.size]), off + self.size


_POS = struct.Struct("<3f")
_FLAGS_POS = 1


def _finite(pos: Position) -> Position:
    isfinite = math.isfinite  # every positioned UPDATE passes here: no generator
    if not (isfinite(pos[0]) and isfinite(pos[1]) and isfinite(pos[2])):
        raise ProtocolError("position must be finite")
    return pos


class _OptPos(Kind):
    """``flags u8`` (bit 0: a position follows) then, if set, three ``f32``."""

    def encode(self, value: Position | None) -> bytes:
        if value is None:
            return b"\x00"
        x, y, z = value
        return b"\x01" + _POS.pack(*_finite((float(x), float(y), float(z))))

    def decode(self, body: bytes, off: int) -> tuple[Position | None, int]:
        _need(body, off, 1)
        flags = body[off]
        if flags & ~_FLAGS_POS:
            raise ProtocolError(f"unknown flag bits {flags:#04x}")
        if not flags:
            return None, off + 1
        _need(body, off + 1, _POS.size)
        pos: Position = _POS.unpack_from(body, off + 1)
        return _finite(pos), off + 1 + _POS.size


class _Members8(Kind):
    """``count u8`` then ``count`` member ids (``u32``)."""

    def encode(self, value: tuple[int, ...]) -> bytes:
        if len(value) > 255:
            raise ProtocolError("at most 255 targets")
        return bytes((len(value),)) + struct.pack(f"<{len(value)}I", *value)

    def decode(self, body: bytes, off: int) -> tuple[tuple[int, ...], int]:
        _need(body, off, 1)
        n = body[off]
        _need(body, off + 1, 4 * n)
        return struct.unpack_from(f"<{n}I", body, off + 1), off + 1 + 4 * n


class _Limits(Kind):
    """``count u8`` then ``count`` pairs of ``id u8, value u32`` (WELCOME, section 9.3); an id
    appears at most once. Ids a client does not know are kept: it skips them."""

    _PAIR = struct.Struct("<BI")

    def encode(self, value: tuple[tuple[int, int], ...]) -> bytes:
        if len(value) > 255:
            raise ProtocolError("at most 255 limits")
        if len({i for i, _ in value}) != len(value):
            raise ProtocolError("a limit appears twice")
        return bytes((len(value),)) + b"".join(self._PAIR.pack(i, v) for i, v in value)

    def decode(self, body: bytes, off: int) -> tuple[tuple[tuple[int, int], ...], int]:
        _need(body, off, 1)
        n = body[off]
        _need(body, off + 1, 5 * n)
        pairs = tuple(self._PAIR.unpack_from(body, off + 1 + 5 * k) for k in range(n))
        if len({i for i, _ in pairs}) != n:
            raise ProtocolError("a limit appears twice")
        return pairs, off + 1 + 5 * n


class _Rest(Kind):
    def encode(self, value: bytes) -> bytes:
        return bytes(value)

    def decode(self, body: bytes, off: int) -> tuple[bytes, int]:
        return bytes(body[off:]), len(body)


U8, U16, U32, U64 = _Int("B"), _Int("H"), _Int("I"), _Int("Q")
BOOL = _Int("B", (0, 1))
RULE, LIFETIME, STATUS = _Int("B", Rule), _Int("B", Lifetime), _Int("B", Status)
LEAVE_REASON, DESPAWN_REASON = _Int("B", LeaveReason), _Int("B", DespawnReason)
PERMS = _Int("B", (0, sum(PERMISSION_BITS.values())))
GAME_ROLE = _Int("B", GameRole)
PACKET_FLAGS = _PacketFlags(PACKET_EXCEPT | PACKET_MORE)
PACKET_FROM_FLAGS = _PacketFlags(PACKET_MORE)
STR8, TOKEN8, TOKEN16, OPT_POS, MEMBERS8, LIMITS, REST = (
    _Str8(),
    _Token8(),
    _Fixed(TOKEN_SIZE),
    _OptPos(),
    _Members8(),
    _Limits(),
    _Rest(),
)


def w(kind: Kind, *, default: Any = MISSING) -> Any:
    """A dataclass field with its wire kind."""
    return field(default=default, metadata={"kind": kind})


# --- records -----------------------------------------------------------------------------------


class Record:
    """One record type: a frozen dataclass whose fields, in order, are its body's layout.

    A new record type is a subclass decorated with ``@_record(type code)``: encoding, decoding
    and the registry of known types follow from its fields.
    """

    TYPE: ClassVar[int]
    VERSION: ClassVar[int] = 1  # the protocol version that introduced the record
    _layout: ClassVar[tuple[tuple[str, Kind], ...]]
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # every record is a dataclass

    def check(self) -> None:
        """Rules between fields, on top of each field's own (raises ProtocolError)."""

    def encode(self) -> bytes:
        self.check()
        try:
            body = b"".join(kind.encode(getattr(self, name)) for name, kind in self._layout)
        except struct.error as exc:  # an integer that does not fit its field
            raise ProtocolError(f"{type(self).__name__.upper()}: {exc}") from None
        if len(body) > 0xFFFF:
            raise ProtocolError("record body longer than 65535 bytes")
        return HEADER.pack(self.TYPE, len(body)) + body

    @classmethod
    def decode_body(cls, body: bytes) -> Record:
        values = []
        off = 0
        for _name, kind in cls._layout:
            value, off = kind.decode(body, off)
            values.append(value)
        if off != len(body):
            raise ProtocolError(
                f"{cls.__name__.upper()} record has {len(body) - off} unexpected trailing bytes"
            )
        record = cls(*values)
        record.check()
        return record


CLIENT_RECORDS: dict[int, type[Record]] = {}
SERVER_RECORDS: dict[int, type[Record]] = {}


R = TypeVar("R", bound=Record)


@dataclass_transform(frozen_default=True, field_specifiers=(w,))
def _record(type_: int) -> Callable[[type[R]], type[R]]:
    def register(cls: type[R]) -> type[R]:
        cls = dataclass(frozen=True, slots=True)(cls)
        cls.TYPE = type_
        cls._layout = tuple((f.name, f.metadata["kind"]) for f in fields(cls))
        (CLIENT_RECORDS if type_ < 0x80 else SERVER_RECORDS)[type_] = cls
        return cls

    return register


# Client -> relay


@_record(0x01)
class Hello(Record):
    min_version: int = w(U16)
    max_version: int = w(U16)
    token: bytes = w(TOKEN8, default=b"")


@_record(0x02)
class Ping(Record):
    nonce: int = w(U32)


@_record(0x03)
class Pong(Record):
    nonce: int = w(U32)


@_record(0x10)
class Join(Record):
    req: int = w(U32)
    name: str = w(STR8)


@_record(0x11)
class Leave(Record):
    req: int = w(U32)
    room: int = w(U16)


@_record(0x12)
class Focus(Record):
    req: int = w(U32)
    room: int = w(U16)
    position: Position | None = w(OPT_POS)


@_record(0x13)
class Game(Record):
    VERSION: ClassVar[int] = GAME_VERSION
    req: int = w(U32)
    room: int = w(U16)
    role: GameRole = w(GAME_ROLE)


@_record(0x20)
class Spawn(Record):
    req: int = w(U32)
    room: int = w(U16)
    rule: Rule = w(RULE)
    lifetime: Lifetime = w(LIFETIME)
    position: Position | None = w(OPT_POS)
    state: bytes = w(REST, default=b"")


@_record(0x21)
class Update(Record):
    room: int = w(U16)
    object: int = w(U32)
    epoch: int = w(U32)
    position: Position | None = w(OPT_POS)
    state: bytes = w(REST, default=b"")


@_record(0x22)
class Despawn(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)


@_record(0x23)
class Request(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)


@_record(0x24)
class Release(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)


@_record(0x25)
class Give(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)
    member: int = w(U32)


@_record(0x26)
class SetMaster(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)
    member: int = w(U32)


@_record(0x27)
class SetRule(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)
    rule: Rule = w(RULE)


@_record(0x28)
class Answer(Record):
    req: int = w(U32)
    room: int = w(U16)
    object: int = w(U32)
    ask: int = w(U32)
    grant: int = w(BOOL)


@_record(0x30)
class Event(Record):
    room: int = w(U16)
    targets: tuple[int, ...] = w(MEMBERS8)
    payload: bytes = w(REST, default=b"")


@_record(0x31)
class Packet(Record):
    VERSION: ClassVar[int] = GAME_VERSION
    room: int = w(U16)
    flags: int = w(PACKET_FLAGS)
    channel: int = w(U8)
    lane: int = w(U16)  # unreliable coalescing key; 0: never coalesced
    targets: tuple[int, ...] = w(MEMBERS8)
    payload: bytes = w(REST, default=b"")

    def check(self) -> None:
        if self.lane and self.flags & PACKET_MODE_MASK == PACKET_RELIABLE:
            raise ProtocolError("a reliable packet has lane 0")


# Relay -> client


@_record(0x81)
class WelcomeV1(Record):
    """WELCOME_V1: the answer to HELLO on a version-1 session, whole seconds and ``u16``s."""

    version: int = w(U16)
    member: int = w(U32)
    resumed: int = w(BOOL)
    token: bytes = w(TOKEN16)
    server_time_ms: int = w(U64)
    tick_hz: int = w(U16)
    ping_interval_s: int = w(U16)
    idle_timeout_s: int = w(U16)
    grace_s: int = w(U16)
    ask_timeout_ms: int = w(U16)
    cooldown_ms: int = w(U16)
    max_message: int = w(U32)
    max_state: int = w(U32)
    max_event: int = w(U32)
    rate: int = w(U16)
    burst: int = w(U16)

    @classmethod
    def of(
        cls,
        version: int,
        member: int,
        resumed: int,
        token: bytes,
        server_time_ms: int,
        limits: dict[int, int],
    ) -> WelcomeV1:
        """The version-1 form of the limits WELCOME carries (timings rounded to seconds)."""

        def seconds(limit: Limit) -> int:
            return round(limits[limit] / 1000)

        return cls(
            version,
            member,
            resumed,
            token,
            server_time_ms,
            limits[Limit.TICK_HZ],
            seconds(Limit.PING_INTERVAL_MS),
            seconds(Limit.IDLE_TIMEOUT_MS),
            seconds(Limit.GRACE_MS),
            limits[Limit.ASK_TIMEOUT_MS],
            limits[Limit.COOLDOWN_MS],
            limits[Limit.MAX_MESSAGE],
            limits[Limit.MAX_STATE],
            limits[Limit.MAX_EVENT],
            limits[Limit.RATE],
            limits[Limit.BURST],
        )

    def limit(self, which: Limit, default: int = 0) -> int:
        """A limit as WELCOME (version 2) names it, from the fields this layout has."""
        values = {
            Limit.TICK_HZ: self.tick_hz,
            Limit.PING_INTERVAL_MS: self.ping_interval_s * 1000,
            Limit.IDLE_TIMEOUT_MS: self.idle_timeout_s * 1000,
            Limit.GRACE_MS: self.grace_s * 1000,
            Limit.ASK_TIMEOUT_MS: self.ask_timeout_ms,
            Limit.COOLDOWN_MS: self.cooldown_ms,
            Limit.MAX_MESSAGE: self.max_message,
            Limit.MAX_STATE: self.max_state,
            Limit.MAX_EVENT: self.max_event,
            Limit.RATE: self.rate,
            Limit.BURST: self.burst,
        }
        return values.get(which, default)


@_record(0x87)
class Welcome(Record):
    """WELCOME: the answer to HELLO from version 2 on, with every limit in force (section 9.3)."""

    version: int = w(U16)
    member: int = w(U32)
    resumed: int = w(BOOL)
    token: bytes = w(TOKEN16)
    server_time_ms: int = w(U64)
    limits: tuple[tuple[int, int], ...] = w(LIMITS, default=())

    def limit(self, which: Limit, default: int = 0) -> int:
        return next((v for i, v in self.limits if i == which), default)


# HELLO's answer: WELCOME from version 2 on, WELCOME_V1 on a version-1 session.
AnyWelcome = Welcome | WelcomeV1
WELCOMES = (Welcome, WelcomeV1)


@_record(0x82)
class Goodbye(Record):
    code: int = w(U16)
    reason: str = w(STR8)


@_record(0x83)
class ServerPing(Record):
    nonce: int = w(U32)
    server_time_ms: int = w(U64)


@_record(0x84)
class ServerPong(Record):
    nonce: int = w(U32)
    server_time_ms: int = w(U64)


@_record(0x85)
class Result(Record):
    req: int = w(U32)
    status: Status = w(STATUS)
    value: int = w(U32, default=0)


@_record(0x86)
class Notice(Record):
    status: Status = w(STATUS)
    record_type: int = w(U8)
    room: int = w(U16)


@_record(0x90)
class Snapshot(Record):
    room: int = w(U16)
    members: int = w(U16)
    objects: int = w(U32)
    name: str = w(STR8)


@_record(0x91)
class Synced(Record):
    room: int = w(U16)


@_record(0x92)
class Left(Record):
    room: int = w(U16)
    reason: LeaveReason = w(LEAVE_REASON)


@_record(0x93)
class MemberJoined(Record):
    room: int = w(U16)
    member: int = w(U32)
    permissions: int = w(PERMS)
    user_id: str = w(STR8)
    name: str = w(STR8)


@_record(0x94)
class MemberLeft(Record):
    room: int = w(U16)
    member: int = w(U32)
    reason: LeaveReason = w(LEAVE_REASON)


@_record(0x95)
class GamePeer(Record):
    room: int = w(U16)
    member: int = w(U32)
    role: GameRole = w(GAME_ROLE)


@_record(0x96)
class MemberPresence(Record):
    """Whether a member is connected (version 2): 0 while it is in its grace window."""

    room: int = w(U16)
    member: int = w(U32)
    connected: int = w(BOOL)


@_record(0xA0)
class ObjectInfo(Record):
    room: int = w(U16)
    object: int = w(U32)
    master: int = w(U32)
    owner: int = w(U32)
    epoch: int = w(U32)
    rule: Rule = w(RULE)
    lifetime: Lifetime = w(LIFETIME)
    position: Position | None = w(OPT_POS)
    state: bytes = w(REST, default=b"")


@_record(0xA1)
class State(Record):
    room: int = w(U16)
    object: int = w(U32)
    epoch: int = w(U32)
    position: Position | None = w(OPT_POS)
    state: bytes = w(REST, default=b"")


@_record(0xA2)
class Despawned(Record):
    room: int = w(U16)
    object: int = w(U32)
    reason: DespawnReason = w(DESPAWN_REASON)


@_record(0xA3)
class Owner(Record):
    room: int = w(U16)
    object: int = w(U32)
    owner: int = w(U32)
    epoch: int = w(U32)


@_record(0xA4)
class Master(Record):
    room: int = w(U16)
    object: int = w(U32)
    master: int = w(U32)


@_record(0xA5)
class RuleChanged(Record):
    room: int = w(U16)
    object: int = w(U32)
    rule: Rule = w(RULE)


@_record(0xA6)
class Refused(Record):
    room: int = w(U16)
    object: int = w(U32)
    epoch: int = w(U32)
    status: Status = w(STATUS)


@_record(0xA7)
class Ask(Record):
    room: int = w(U16)
    object: int = w(U32)
    ask: int = w(U32)
    requester: int = w(U32)


@_record(0xA8)
class AskCancelled(Record):
    room: int = w(U16)
    object: int = w(U32)
    ask: int = w(U32)
    status: Status = w(STATUS)


@_record(0xB0)
class EventFrom(Record):
    room: int = w(U16)
    sender: int = w(U32)
    payload: bytes = w(REST, default=b"")


@_record(0xB1)
class PacketFrom(Record):
    room: int = w(U16)
    sender: int = w(U32)  # "from" in PROTOCOL.md: stamped by the relay
    flags: int = w(PACKET_FROM_FLAGS)
    channel: int = w(U8)
    payload: bytes = w(REST, default=b"")


# --- messages ------------------------------------------------------------------------------------


def split_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The ``(type, body)`` pairs of one message, in order. Raises on a truncated record."""
    if not data:
        raise ProtocolError("empty message")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes is over the {MAX_MESSAGE}-byte limit")
    off = 0
    end = len(data)
    while off < end:
        if off + HEADER_SIZE > end:
            raise ProtocolError("truncated record header")
        type_, length = HEADER.unpack_from(data, off)
        off += HEADER_SIZE
        if off + length > end:
            raise ProtocolError("record length runs past the end of the message")
        yield type_, data[off : off + length]
        off += length


def decode_client_record(type_: int, body: bytes, version: int = 1) -> Record:
    """A client's record, on a session that negotiated ``version``."""
    cls = CLIENT_RECORDS.get(type_)
    if cls is None:
        raise ProtocolError(f"unknown record type {type_:#04x}")
    if version < cls.VERSION:
        raise ProtocolError(f"{cls.__name__.upper()} needs protocol version {cls.VERSION}")
    return cls.decode_body(body)


def decode_client_message(data: bytes, version: int = 1) -> list[Record]:
    """Strict: what the relay accepts from a client on a session that negotiated ``version``."""
    return [decode_client_record(t, b, version) for t, b in split_records(data)]


def decode_server_message(data: bytes) -> list[Record]:
    """What a client reads: record types it does not know are skipped, as PROTOCOL.md asks."""
    return [SERVER_RECORDS[t].decode_body(b) for t, b in split_records(data) if t in SERVER_RECORDS]


def pack_messages(records: Iterable[bytes], limit: int = MAX_MESSAGE) -> list[bytes]:
    """Concatenate encoded records into as few messages of at most ``limit`` bytes as possible."""
    if not isinstance(records, list):
        records = list(records)
    if sum(map(len, records)) <= limit:  # the common case: one message
        return [b"".join(records)] if records else []
    messages: list[bytes] = []
    batch: list[bytes] = []
    size = 0
    for rec in records:
        n = len(rec)
        if size + n > limit and batch:
            messages.append(b"".join(batch))
            batch = []
            size = 0
        if n > limit:
            raise ValueError(f"a record of {n} bytes cannot fit a {limit}-byte message")
        batch.append(rec)
        size += n
    if batch:
        messages.append(b"".join(batch))
    return messages


# --- fast paths for the relay's hottest record ----------------------------------------------------

_UPDATE_HEAD = struct.Struct("<HIIB")  # room, object, epoch, flags
STATE_TYPE = 0xA1
UPDATE_TYPE = 0x21


def parse_update(body: bytes) -> tuple[int, int, int, Position | None, int]:
    """``(room, object, epoch, position, state offset)`` of an UPDATE body, strictly checked.

    The relay forwards an accepted UPDATE's body unchanged as a STATE record, so it only needs
    the head; the state is ``body[state offset:]``.
    """
    if len(body) < _UPDATE_HEAD.size:
        raise ProtocolError("record body is too short")
    room, obj, epoch, flags = _UPDATE_HEAD.unpack_from(body)
    if not flags:
        return room, obj, epoch, None, _UPDATE_HEAD.size
    if flags != _FLAGS_POS:
        raise ProtocolError(f"unknown flag bits {flags:#04x}")
    if len(body) < _UPDATE_HEAD.size + _POS.size:
        raise ProtocolError("record body is too short")
    pos: Position = _POS.unpack_from(body, _UPDATE_HEAD.size)
    return room, obj, epoch, _finite(pos), _UPDATE_HEAD.size + _POS.size


def state_record(update_body: bytes) -> bytes:
    """The STATE record everyone receives for an accepted UPDATE body (same layout)."""
    return HEADER.pack(STATE_TYPE, len(update_body)) + update_body


_PACKET_HEAD = struct.Struct("<HBBHB")  # room, flags, channel, lane, target count
_PACKET_FROM_HEAD = struct.Struct("<BHHIBB")  # record header, room, from, flags, channel
PACKET_TYPE = Packet.TYPE
PACKET_FROM_TYPE = PacketFrom.TYPE
PACKET_FROM_OVERHEAD = _PACKET_FROM_HEAD.size  # a PACKET_FROM record is this plus its payload
_TARGET_STRUCTS = [struct.Struct(f"<{n}I") for n in range(256)]


def parse_packet(body: bytes) -> tuple[int, int, int, int, tuple[int, ...], int]:
    """``(room, flags, channel, lane, targets, payload offset)`` of a PACKET body, checked as
    strictly as :class:`Packet` (the relay's hot path for version 2 does not build the record)."""
    if len(body) < _PACKET_HEAD.size:
        raise ProtocolError("record body is too short")
    room, flags, channel, lane, count = _PACKET_HEAD.unpack_from(body)
    PACKET_FLAGS._check(flags)
    if lane and flags & PACKET_MODE_MASK == PACKET_RELIABLE:
        raise ProtocolError("a reliable packet has lane 0")
    off = _PACKET_HEAD.size + 4 * count
    if len(body) < off:
        raise ProtocolError("record body is too short")
    targets: tuple[int, ...] = _TARGET_STRUCTS[count].unpack_from(body, _PACKET_HEAD.size) if count else ()
    return room, flags, channel, lane, targets, off


def packet_from_record(room: int, sender: int, flags: int, channel: int, payload: bytes) -> bytes:
    """The PACKET_FROM record receivers get (``flags`` without EXCEPT); the payload must fit a
    record (at most 65535 + HEADER_SIZE - PACKET_FROM_OVERHEAD bytes)."""
    body_size = PACKET_FROM_OVERHEAD - HEADER_SIZE + len(payload)
    return _PACKET_FROM_HEAD.pack(PACKET_FROM_TYPE, body_size, room, sender, flags, channel) + payload


def rate_cost(body: bytes) -> int:
    """Rate units a record costs (section 12.2): one, plus one per full KiB of its body."""
    return 1 + len(body) // 1024


def valid_room_name(name: str) -> bool:
    """Section 4.1: 1-64 characters of a-z 0-9 . _ -, starting with a letter or a digit."""
    return ROOM_NAME.fullmatch(name) is not None
