"""One room: its members, its objects and their ownership rules, its game. Free of I/O.

Every action appends encoded records to this tick's list, addressed to everyone, to everyone
but one member, to one member, or (a game packet) to the game peers it names. ``flush`` then
turns the list into WebSocket frames: one set of frames shared by every member that gets the
same bytes (the common case: members outside the game, and game peers that get the same
packets), and frames of their own for the few members that differ this tick (a joiner, a member
with answers or a focus). A newer STATE of an object replaces the older one still waiting in
the list (coalescing), and any change of owner, master or rule first pushes the object's latest
state to everyone, so that no member sees a state after a change it predates. Packets travel in
the same list, so they keep their place among the room's other records (PROTOCOL.md §8, §15.4).
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from relay.interest import Cell, Interest
from relay.protocol import (
    HEADER_SIZE,
    PACKET_EXCEPT,
    PACKET_MODE_MASK,
    PACKET_MORE,
    PACKET_RELIABLE,
    PACKET_TYPE,
    Ask,
    AskCancelled,
    Despawned,
    DespawnReason,
    EventFrom,
    GamePeer,
    GameRole,
    LeaveReason,
    Left,
    Lifetime,
    Master,
    MemberJoined,
    MemberLeft,
    MemberPresence,
    Notice,
    ObjectInfo,
    Owner,
    Position,
    Refused,
    Result,
    Rule,
    RuleChanged,
    Snapshot,
    State,
    Status,
    Synced,
    pack_messages,
    packet_from_record,
    state_record,
)
from relay.quotas import Quotas
from relay.session import Session
from relay.settings import Settings

EVERYONE = 0  # a target: every member; a member id: that member alone; -member id: all but it
PACKETS = 1 << 32  # a target beyond every member id: the receivers its entry in _packets names

# Who receives one packet: ``(members, None)``: those members; ``(members, among)``: every member
# of ``among`` (the game peers when it was sent) but ``members``, which is what a packet to most
# game peers is, so that a tick where everyone sends to everyone costs per exception, not per
# delivery.
Audience = tuple[frozenset[int], frozenset[int] | None]
_NOBODY: frozenset[int] = frozenset()
_PERSISTENT = Lifetime.PERSISTENT  # read on every update: an enum member from the class costs ~0.1 µs

# What identifies an unreliable packet that a newer one replaces: sender, lane, channel, flags
# and targets as sent.
LaneKey = tuple[int, int, int, int, tuple[int, ...]]


@dataclass(frozen=True)
class PersistedObject:
    """What survives a relay restart of an object whose lifetime is persistent: with the account
    that spawned it (its share, PROTOCOL.md §12.4) and the account that created its room."""

    room: str
    object: int
    rule: Rule
    epoch: int
    position: Position | None
    state: bytes
    account: str = ""  # "" for objects saved before accounts were kept
    account_name: str = ""
    room_creator: str = ""


class Obj:
    __slots__ = (
        "account",
        "ask",
        "cell",
        "epoch",
        "id",
        "info",
        "info_key",
        "lifetime",
        "master",
        "owner",
        "owner_changed_at",
        "position",
        "rule",
        "state_off",
        "state_rec",
    )

    def __init__(
        self,
        oid: int,
        master: int,
        owner: int,
        epoch: int,
        rule: Rule,
        lifetime: Lifetime,
        position: Position | None,
        account: str = "",
    ) -> None:
        self.id = oid
        self.account = account  # the user id of its spawner: its share (relay/quotas.py)
        self.master = master
        self.owner = owner
        self.epoch = epoch
        self.rule = rule
        self.lifetime = lifetime
        self.position = position
        self.cell: Cell | None = None
        self.state_rec = b""  # the latest STATE record; the state is state_rec[state_off:]
        self.state_off = 0
        self.owner_changed_at = float("-inf")
        self.ask: int | None = None
        self.info = b""  # the encoded OBJECT record, valid while info_key matches
        self.info_key: tuple[object, ...] | None = None

    @property
    def state(self) -> bytes:
        return self.state_rec[self.state_off :]


class PendingAsk:
    __slots__ = ("deadline", "id", "obj", "req", "requester")

    def __init__(self, aid: int, obj: int, requester: Session, req: int, deadline: float) -> None:
        self.id = aid
        self.obj = obj
        self.requester = requester
        self.req = req
        self.deadline = deadline


class _PacketPlan:
    """This tick's packets as differences: ``full`` the packets that go to every game peer in
    ``peers`` but a few, ``missing`` those few per member, ``extra`` the packets that go to a
    few members only. Frames built from it are kept by difference (``frames``)."""

    __slots__ = ("base", "extra", "frames", "full", "involved", "missing", "peers")

    def __init__(self) -> None:
        self.full: list[int] = []
        self.missing: dict[int, list[int]] = {}
        self.extra: dict[int, list[int]] = {}
        self.peers: frozenset[int] | None = None
        self.involved: set[int] | frozenset[int] = frozenset()
        self.base: tuple[list[int], list[bytes]] | None = None  # shared records and ``full``
        self.frames: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[list[bytes], int]] = {}


class Member:
    __slots__ = ("focus", "focus_cell", "owed_from", "owing", "session", "start")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.start = 0  # index in this tick's records where this member's room traffic begins
        self.focus: Position | None = None
        self.focus_cell: Cell | None = None
        self.owing = False  # the focus moved this tick: deferred states may be owed
        self.owed_from: Cell | None = None


class Room:
    def __init__(
        self,
        name: str,
        handle: int,
        settings: Settings,
        wrap: Callable[[bytes], bytes] = bytes,
        quotas: Quotas | None = None,
        creator: str = "",
    ) -> None:
        self.name = name
        self.handle = handle
        self.settings = settings
        self.wrap = wrap
        self.quotas = quotas or Quotas(settings)  # shared by every room of the relay
        self.creator = creator  # the account whose JOIN created the room ("": the relay's own)
        self.members: dict[int, Member] = {}
        self.objects: dict[int, Obj] = {}
        self.next_object = 1
        self.asks: dict[int, PendingAsk] = {}
        self.next_ask = 1
        self.mastered: Counter[int] = Counter()
        self._member_recs: dict[int, bytes] = {}
        self.interest = Interest(settings.interest_cell, settings.interest_tiers)
        self.tick_no = 0
        # This tick's records, in order, as three columns of equal length (the flush reads them
        # column by column): the record (None once a newer STATE of its object replaced it), its
        # target (EVERYONE, a member id or minus a member id), and whether it is deferrable (a
        # STATE with a position, which focused members get by distance tier). Then what indexes
        # them; flush empties it all.
        self._records: list[bytes | None] = []
        self._targets: list[int] = []
        self._deferrable: list[bool] = []
        self._state_at: dict[int, int] = {}  # object id -> index of its pending STATE
        self._alone: dict[int, list[int]] = {}  # member id -> indices of the records for it alone
        self._targeted: dict[int, Session] = {}  # the members that _alone names
        self._excluded: set[int] = set()  # members some record is for everyone but
        self._refused: set[tuple[int, int]] = set()  # (member id, object id) refused this tick
        # This tick's packets: (index in _records, audience, whether a backed-up receiver skips
        # it), the index of each waiting unreliable packet by its lane, and the packet notices sent.
        self._packets: list[tuple[int, Audience, bool]] = []
        self._lane_at: dict[LaneKey, int] = {}
        self._noticed: set[tuple[int, Status]] = set()
        # The game: each member's role (members with none are left out) and the host.
        self.roles: dict[int, GameRole] = {}
        self.host = 0
        self._peers: frozenset[int] | None = None  # the members with a role, until one changes
        self._chains: dict[int, frozenset[int]] = {}  # sender -> receivers of its fragmented packet
        self._persist_dirty: set[int] = set()  # persistent objects changed since the last save
        self._persist_gone: set[int] = set()  # ids whose saved rows must go
        # counters for the stats endpoint
        self.updates = 0
        self.refused = 0
        self.coalesced = 0
        self.packets_in = 0
        self.packets_out = 0  # PACKET_FROM records handed to receivers
        self.packets_coalesced = 0
        self.packets_dropped = 0  # unreliable packets a backed-up receiver skipped

    # --- emitting -------------------------------------------------------------------------

    def _emit(self, rec: bytes, target: int = EVERYONE) -> None:
        self._records.append(rec)
        self._targets.append(target)
        self._deferrable.append(False)

    def _to(self, session: Session, rec: bytes) -> None:
        sid = session.id
        alone = self._alone.get(sid)
        if alone is None:
            alone = self._alone[sid] = []
            self._targeted[sid] = session
        alone.append(len(self._records))
        self._emit(rec, sid)

    def result(self, session: Session, req: int, status: Status, value: int = 0) -> None:
        self._to(session, Result(req, status, value).encode())

    def notice(self, session: Session, status: Status, record_type: int) -> None:
        """A record of ``record_type`` for this room was not carried out (no request id)."""
        self._to(session, Notice(status, record_type, self.handle).encode())

    def _refuse(self, session: Session, oid: int, epoch: int, status: Status) -> None:
        self.refused += 1
        key = (session.id, oid)
        if key not in self._refused:  # at most one REFUSED per object per tick
            self._refused.add(key)
            self._to(session, Refused(self.handle, oid, epoch, status).encode())

    def _object_record(self, obj: Obj) -> bytes:
        # Snapshots repeat every object's record for each joiner: encode it once per change.
        key = (obj.state_rec, obj.master, obj.owner, obj.epoch, obj.rule, obj.position)
        if obj.info_key is None or obj.info_key[0] is not key[0] or obj.info_key[1:] != key[1:]:
            obj.info = ObjectInfo(
                self.handle,
                obj.id,
                obj.master,
                obj.owner,
                obj.epoch,
                obj.rule,
                obj.lifetime,
                obj.position,
                obj.state,
            ).encode()
            obj.info_key = key
        return obj.info

    def _member_record(self, session: Session) -> bytes:
        rec = self._member_recs.get(session.id)
        if rec is None:
            rec = self._member_recs[session.id] = MemberJoined(
                self.handle, session.id, session.permissions, session.user_id, session.name
            ).encode()
        return rec

    def _snapshot_to(self, session: Session) -> None:
        self._to(session, Snapshot(self.handle, len(self.members), len(self.objects), self.name).encode())
        for m in self.members.values():
            self._to(session, self._member_record(m.session))
        for m in self.members.values():
            if not m.session.connected and m.session is not session:
                self._to(session, MemberPresence(self.handle, m.session.id, 0).encode())
        for sid, role in self.roles.items():
            self._to(session, GamePeer(self.handle, sid, role).encode())
        for oid in sorted(self.objects):
            self._to(session, self._object_record(self.objects[oid]))
        self._to(session, Synced(self.handle).encode())

    def _flush_state(self, obj: Obj) -> None:
        """Before a change of owner, master or rule: the object's latest state reaches everyone."""
        i = self._state_at.pop(obj.id, None)
        pending = self.interest.discard(obj.id)
        if i is not None:
            self._deferrable[i] = False
        elif pending:
            for m in self.members.values():
                if m.focus_cell is not None or m.owing:
                    self._to(m.session, obj.state_rec)

    def _set_owner(self, obj: Obj, owner: int, now: float, cooldown: bool = True) -> None:
        self._flush_state(obj)
        obj.owner = owner
        obj.epoch += 1
        if cooldown:  # changes the relay makes itself when a member leaves start no cooldown
            obj.owner_changed_at = now
        self._emit(Owner(self.handle, obj.id, owner, obj.epoch).encode())
        self._dirty(obj)

    def _set_master(self, obj: Obj, master: int) -> None:
        self._flush_state(obj)
        if obj.master:
            self.mastered[obj.master] -= 1
        if master:
            self.mastered[master] += 1
        obj.master = master
        self._emit(Master(self.handle, obj.id, master).encode())
        ask = self.asks.get(obj.ask) if obj.ask is not None else None
        if ask is not None:  # a pending Ask follows the Master
            new = self.members.get(master)
            if new is not None and new.session.connected:
                self._to(new.session, Ask(self.handle, obj.id, ask.id, ask.requester.id).encode())
            else:
                self._end_ask(ask, Status.MASTER_ABSENT)

    def _despawn(self, obj: Obj, reason: DespawnReason) -> None:
        if obj.ask is not None and obj.ask in self.asks:
            self._end_ask(self.asks[obj.ask], Status.UNKNOWN_OBJECT)
        del self.objects[obj.id]
        self._state_at.pop(obj.id, None)
        self.interest.discard(obj.id)
        if obj.master:
            self.mastered[obj.master] -= 1
        self._emit(Despawned(self.handle, obj.id, reason).encode())
        persistent = obj.lifetime == Lifetime.PERSISTENT
        self.quotas.remove(obj.account, persistent, len(obj.state_rec) - obj.state_off)
        if persistent:
            self._persist_dirty.discard(obj.id)
            self._persist_gone.add(obj.id)

    def _dirty(self, obj: Obj) -> None:
        if obj.lifetime == Lifetime.PERSISTENT:
            self._persist_dirty.add(obj.id)

    def _end_ask(self, ask: PendingAsk, status: Status, tell_master: bool = False) -> None:
        """Answer the requester of a pending Ask with ``status`` and forget the Ask."""
        del self.asks[ask.id]
        obj = self.objects.get(ask.obj)
        if obj is not None and obj.ask == ask.id:
            obj.ask = None
        # A requester that left meanwhile still gets its answer (flush serves it as a leaver).
        self.result(ask.requester, ask.req, status, obj.epoch if status == Status.GRANTED and obj else 0)
        if tell_master and obj is not None:
            master = self.members.get(obj.master)
            if master is not None:
                self._to(master.session, AskCancelled(self.handle, obj.id, ask.id, status).encode())

    # --- membership ---------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """Nobody here and nothing that must outlive its Master: the room may end."""
        return not self.members and not any(o.lifetime == Lifetime.PERSISTENT for o in self.objects.values())

    def join(self, session: Session, req: int) -> None:
        if session.id in self.members:
            self.result(session, req, Status.ALREADY_JOINED)
            return
        if len(self.members) >= self.settings.max_members:
            self.result(session, req, Status.ROOM_FULL)
            return
        self._emit(self._member_record(session))
        member = self.members[session.id] = Member(session)
        session.joined(self)
        member.start = len(self._records)
        self.result(session, req, Status.OK, self.handle)
        self._snapshot_to(session)

    def reconnected(self, session: Session) -> None:
        """The member resumed its session within its grace window: connected again."""
        self._emit(MemberPresence(self.handle, session.id, 1).encode())

    def take_pending(self, session: Session) -> list[bytes]:
        """This tick's records so far for one member, in order: its connection closes now, and
        what led to the close must reach it before the GOODBYE (the flush then finds the member
        disconnected). States a focus defers are left out: the close ends that view anyway."""
        sid = session.id
        m = self.members.get(sid)
        if m is None:
            return self._records_alone(sid)
        records, targets, deferrable = self._records, self._targets, self._deferrable
        focused = m.focus_cell is not None
        packets = set(self._packets_for(sid, False)) if self._packets else set()
        out: list[bytes] = []
        for i in range(len(records)):
            r = records[i]
            if r is None:
                continue
            t = targets[i]
            if t == sid or (
                i >= m.start
                and (
                    i in packets if t == PACKETS else t <= 0 and t != -sid and not (focused and deferrable[i])
                )
            ):
                out.append(r)
        return out

    def resync(self, session: Session) -> None:
        """A fresh snapshot that replaces the member's view (after a resume or a lag)."""
        m = self.members[session.id]
        m.start = len(self._records)
        m.owing = False
        self._snapshot_to(session)

    def leave(self, session: Session, reason: LeaveReason, now: float, req: int | None = None) -> None:
        sid = session.id
        self._end_role(sid)  # GAME_PEER before MEMBER_LEFT
        del self.members[sid]
        session.left(self)
        self._member_recs.pop(sid, None)
        for ask in list(self.asks.values()):
            obj = self.objects.get(ask.obj)
            if ask.requester is session:
                self._end_ask(ask, Status.CANCELLED, tell_master=True)
            elif obj is not None and obj.master == sid:
                self._end_ask(ask, Status.MASTER_ABSENT)
        for obj in list(self.objects.values()):
            if obj.master != sid:
                continue
            if obj.lifetime == Lifetime.WITH_MASTER:
                self._despawn(obj, DespawnReason.MASTER_LEFT)
            else:
                self._set_master(obj, 0)
                if obj.owner == sid:
                    self._set_owner(obj, 0, now, cooldown=False)
        for obj in self.objects.values():
            if obj.owner == sid:
                self._set_owner(obj, obj.master, now, cooldown=False)
        self._emit(MemberLeft(self.handle, sid, reason).encode())
        if req is not None:
            self.result(session, req, Status.OK, self.handle)
        self._to(session, Left(self.handle, reason).encode())

    def disconnected(self, session: Session) -> None:
        """The member's connection dropped; it is in its grace window. Everyone is told (so that
        a client can foresee MASTER_ABSENT), nobody can ask it now, and it is out of the game at
        once: packets sent to it meanwhile would be lost."""
        self._end_role(session.id)
        self._emit(MemberPresence(self.handle, session.id, 0).encode())
        for ask in list(self.asks.values()):
            obj = self.objects.get(ask.obj)
            if obj is not None and obj.master == session.id:
                self._end_ask(ask, Status.MASTER_ABSENT)

    def focus(self, session: Session, req: int, position: Position | None) -> None:
        m = self.members[session.id]
        cell = self.interest.cell_of(position)
        if cell != m.focus_cell:
            if not m.owing:
                m.owing, m.owed_from = True, m.focus_cell
            m.focus_cell = cell
        m.focus = position
        self.result(session, req, Status.OK)

    # --- objects -----------------------------------------------------------------------------

    def spawn(
        self,
        session: Session,
        req: int,
        rule: Rule,
        lifetime: Lifetime,
        position: Position | None,
        state: bytes,
    ) -> None:
        s = self.settings
        if len(state) > s.max_state:
            self.result(session, req, Status.TOO_LARGE)
            return
        if len(self.objects) >= s.max_objects or self.mastered[session.id] >= s.max_objects_per_member:
            self.result(session, req, Status.TOO_MANY_OBJECTS)
            return
        account, host, persistent = (
            session.identity.user_id,
            session.identity.is_host,
            lifetime == Lifetime.PERSISTENT,
        )
        if not self.quotas.may_spawn(account, host, persistent, len(state)):
            self.result(session, req, Status.QUOTA)
            return
        oid = self.next_object
        self.next_object += 1
        obj = Obj(oid, session.id, session.id, 1, rule, lifetime, position, account)
        self._set_state(obj, 1, position, state)
        self.objects[oid] = obj
        self.mastered[session.id] += 1
        self.quotas.add(account, persistent, len(state), session.name, host)
        self._emit(self._object_record(obj))
        self.result(session, req, Status.OK, oid)
        self._dirty(obj)

    def _set_state(self, obj: Obj, epoch: int, position: Position | None, state: bytes) -> None:
        rec = State(self.handle, obj.id, epoch, position, state).encode()
        obj.state_rec = rec
        obj.state_off = len(rec) - len(state)
        if position is not None:
            obj.position = position
            obj.cell = self.interest.cell_of(position)

    def update(
        self,
        session: Session,
        oid: int,
        epoch: int,
        position: Position | None,
        body: bytes,
        state_off: int,
    ) -> None:
        """An UPDATE, the hot path: its body is forwarded unchanged as a STATE record."""
        obj = self.objects.get(oid)
        if obj is None:
            self._refuse(session, oid, 0, Status.UNKNOWN_OBJECT)
        elif obj.owner != session.id:
            self._refuse(session, oid, obj.epoch, Status.NOT_OWNER)
        elif epoch != obj.epoch:
            self._refuse(session, oid, obj.epoch, Status.STALE_EPOCH)
        elif len(body) - state_off > self.settings.max_state:
            self._refuse(session, oid, obj.epoch, Status.TOO_LARGE)
        elif obj.lifetime == _PERSISTENT and not self._saved_resize(obj, len(body) - state_off):
            self._refuse(session, oid, obj.epoch, Status.QUOTA)
        else:
            self.updates += 1
            rec = state_record(body)
            obj.state_rec = rec
            obj.state_off = state_off + HEADER_SIZE
            if position is not None:
                obj.position = position
                obj.cell = self.interest.cell_of(position)
            records = self._records
            i = self._state_at.get(oid)
            if i is not None:
                records[i] = None
                self.coalesced += 1
            self._state_at[oid] = len(records)
            cell = obj.cell
            records.append(rec)
            self._targets.append(EVERYONE)
            self._deferrable.append(cell is not None)
            if cell is not None:
                self.interest.record(oid, cell, rec)

    def _saved_resize(self, obj: Obj, size: int) -> bool:
        """A persistent object's state is replaced: within the party's saved bytes (and then
        marked for saving), or refused."""
        if not self.quotas.resize(obj.account, len(obj.state_rec) - obj.state_off, size):
            return False
        self._persist_dirty.add(obj.id)
        return True

    def refuse(self, session: Session, oid: int, status: Status) -> None:
        obj = self.objects.get(oid)
        self._refuse(session, oid, obj.epoch if obj else 0, status)

    def _mastered_object(self, session: Session, req: int, oid: int, member: int | None = None) -> Obj | None:
        """The object, if ``session`` is its Master (and ``member``, if given, is in the room);
        otherwise the failure is answered and None returned."""
        obj = self.objects.get(oid)
        if obj is None:
            self.result(session, req, Status.UNKNOWN_OBJECT)
        elif obj.master != session.id:
            self.result(session, req, Status.NOT_MASTER)
        elif member is not None and member not in self.members:
            self.result(session, req, Status.UNKNOWN_MEMBER)
        else:
            return obj
        return None

    def despawn(self, session: Session, req: int, oid: int) -> None:
        obj = self._mastered_object(session, req, oid)
        if obj is not None:
            self._despawn(obj, DespawnReason.BY_MASTER)
            self.result(session, req, Status.OK)

    def request(self, session: Session, req: int, oid: int, now: float) -> None:
        sid = session.id
        obj = self.objects.get(oid)
        if obj is None:
            self.result(session, req, Status.UNKNOWN_OBJECT)
        elif obj.owner == sid:
            self.result(session, req, Status.GRANTED, obj.epoch)
        elif obj.master == sid:
            self._set_owner(obj, sid, now)
            self.result(session, req, Status.GRANTED, obj.epoch)
        elif obj.rule == Rule.DENY:
            self.result(session, req, Status.NOT_ALLOWED)
        elif now - obj.owner_changed_at < self.settings.cooldown:
            self.result(session, req, Status.COOLDOWN)
        elif obj.master == 0:  # an orphan under ask or allow: adopted
            self._set_master(obj, sid)
            self._set_owner(obj, sid, now)
            self.result(session, req, Status.GRANTED, obj.epoch)
        elif obj.rule == Rule.ALLOW:
            self._set_owner(obj, sid, now)
            self.result(session, req, Status.GRANTED, obj.epoch)
        elif obj.ask is not None:
            self.result(session, req, Status.IN_PROGRESS)
        else:
            master = self.members[obj.master].session
            if not master.connected:
                self.result(session, req, Status.MASTER_ABSENT)
                return
            ask = PendingAsk(self.next_ask, oid, session, req, now + self.settings.ask_timeout)
            self.next_ask += 1
            self.asks[ask.id] = ask
            obj.ask = ask.id
            self._to(master, Ask(self.handle, oid, ask.id, sid).encode())

    def answer(self, session: Session, req: int, oid: int, aid: int, grant: bool, now: float) -> None:
        ask = self.asks.get(aid)
        obj = self.objects.get(oid)
        if ask is None or obj is None or ask.obj != oid:
            self.result(session, req, Status.NOT_PENDING)
        elif obj.master != session.id:
            self.result(session, req, Status.NOT_MASTER)
        else:
            if grant:
                if obj.owner != ask.requester.id:
                    self._set_owner(obj, ask.requester.id, now)
                self._end_ask(ask, Status.GRANTED)
            else:
                self._end_ask(ask, Status.DENIED)
            self.result(session, req, Status.OK)

    def give(self, session: Session, req: int, oid: int, member: int, now: float) -> None:
        obj = self._mastered_object(session, req, oid, member)
        if obj is None:
            return
        if obj.owner != member:
            self._set_owner(obj, member, now)
        self.result(session, req, Status.OK, obj.epoch)

    def release(self, session: Session, req: int, oid: int, now: float) -> None:
        obj = self.objects.get(oid)
        if obj is None:
            self.result(session, req, Status.UNKNOWN_OBJECT)
        elif obj.owner != session.id:
            self.result(session, req, Status.NOT_OWNER)
        else:
            if obj.owner != obj.master:
                self._set_owner(obj, obj.master, now)
            self.result(session, req, Status.OK, obj.epoch)

    def set_rule(self, session: Session | None, req: int, oid: int, rule: Rule) -> None:
        """Change a rule; ``session=None`` is the host acting through the admin endpoint."""
        if session is None:
            obj = self.objects.get(oid)
            if obj is None:
                return
        else:
            obj = self._mastered_object(session, req, oid)
            if obj is None:
                return
        if obj.rule != rule:
            self._flush_state(obj)
            obj.rule = rule
            self._emit(RuleChanged(self.handle, oid, rule).encode())
            self._dirty(obj)
        if session is not None:
            self.result(session, req, Status.OK)

    def set_master(self, session: Session, req: int, oid: int, member: int) -> None:
        obj = self._mastered_object(session, req, oid, member)
        if obj is None:
            return
        if obj.master != member:
            self._set_master(obj, member)
        self.result(session, req, Status.OK)

    def event(self, session: Session, targets: tuple[int, ...], payload: bytes) -> None:
        rec = EventFrom(self.handle, session.id, payload).encode()
        if not targets:
            self._emit(rec, -session.id)
            self._excluded.add(session.id)
            return
        for target in dict.fromkeys(targets):
            m = self.members.get(target)
            if m is not None:
                self._to(m.session, rec)

    # --- the game (protocol version 2) ---------------------------------------------------------

    def game(self, session: Session, req: int, role: GameRole) -> None:
        sid = session.id
        if role == self.roles.get(sid, GameRole.NONE):
            self.result(session, req, Status.OK)
        elif role == GameRole.HOST and self.host:
            self.result(session, req, Status.HOST_TAKEN)
        else:
            self._set_role(sid, role)
            self.result(session, req, Status.OK)

    def _set_role(self, sid: int, role: GameRole) -> None:
        self._peers = None
        if role == GameRole.NONE:
            del self.roles[sid]
            self._chains.pop(sid, None)
        else:
            self.roles[sid] = role
        if role == GameRole.HOST:
            self.host = sid
        elif self.host == sid:
            self.host = 0
        self._emit(GamePeer(self.handle, sid, role).encode())

    def _end_role(self, sid: int) -> None:
        if sid in self.roles:
            self._set_role(sid, GameRole.NONE)

    def leave_game(self, session: Session) -> None:
        """The member's role ends (a session resumed on a new connection starts outside the game)."""
        self._end_role(session.id)

    def carries(self, session: Session) -> bool:
        """The member's next packet continues a fragmented one: it must not be dropped."""
        return session.id in self._chains

    def packet_notice(self, session: Session, status: Status) -> None:
        """A PACKET was not carried out: at most one notice per member, status and tick."""
        key = (session.id, status)
        if key not in self._noticed:
            self._noticed.add(key)
            self.notice(session, status, PACKET_TYPE)

    def packet(
        self, session: Session, flags: int, channel: int, lane: int, targets: tuple[int, ...], payload: bytes
    ) -> None:
        """A PACKET from a member: to the game peers it names, stamped with its sender."""
        sid = session.id
        roles = self.roles
        if sid not in roles:
            self.packet_notice(session, Status.NOT_IN_GAME)
            return
        self.packets_in += 1
        peers = self._peers
        if peers is None:
            peers = self._peers = frozenset(roles)
        chain = self._chains.get(sid)
        # Either the receivers or (cheaper for a packet to most game peers) who is left out.
        receivers: frozenset[int] | None = None
        left_out: frozenset[int] | None = None
        if chain is not None:  # the rest of a fragmented packet goes where its start went
            receivers = peers.intersection(chain)
        elif targets and not flags & PACKET_EXCEPT:
            receivers = peers.intersection(targets).difference((sid,))
        else:
            left_out = peers.intersection(targets).union((sid,)) if targets else frozenset((sid,))
        count = len(receivers) if receivers is not None else len(peers) - len(left_out or ())
        more = flags & PACKET_MORE
        if more and chain is None:
            self._chains[sid] = receivers if receivers is not None else peers.difference(left_out or ())
        elif not more and chain is not None:
            del self._chains[sid]
        if not count:
            return
        # Fragments (and the end of a fragmented packet) are delivered as reliable ones.
        unreliable = flags & PACKET_MODE_MASK != PACKET_RELIABLE and not more and chain is None
        records = self._records
        i = len(records)
        if lane and unreliable:
            key = (sid, lane, channel, flags, targets)
            older = self._lane_at.get(key)
            if older is not None:  # the newer one goes at the end, never earlier than what came before it
                records[older] = None
                self.packets_coalesced += 1
            self._lane_at[key] = i
        records.append(packet_from_record(self.handle, sid, flags & ~PACKET_EXCEPT, channel, payload))
        self._targets.append(PACKETS)
        self._deferrable.append(False)
        if receivers is not None and 2 * count > len(peers):
            left_out = peers - receivers
        audience: Audience = (left_out, peers) if left_out is not None else (receivers or frozenset(), None)
        self._packets.append((i, audience, unreliable))

    def reset(self) -> None:
        """The host clears the room: every object goes, persistent ones included."""
        for obj in list(self.objects.values()):
            self._despawn(obj, DespawnReason.RESET)

    def clear(self, account: str) -> int:
        """The host removes what an account spawned here, persistent objects included."""
        gone = [obj for obj in self.objects.values() if obj.account == account]
        for obj in gone:
            self._despawn(obj, DespawnReason.RESET)
        return len(gone)

    def expire_asks(self, now: float) -> None:
        for ask in [a for a in self.asks.values() if a.deadline <= now]:
            self._end_ask(ask, Status.TIMEOUT, tell_master=True)

    # --- persistence ---------------------------------------------------------------------------

    def restore(self, saved: PersistedObject) -> None:
        """An object saved before a restart: an orphan (its Master's session is gone).

        Normally this runs before anyone joins. If the database came back late and a live object
        already has the saved object's id, the saved one gets a new id (and its row moves).
        """
        live = self.objects.get(saved.object)
        if live is None:
            self._restore(saved)
            return
        moved = replace(saved, object=self.next_object)
        self._restore(moved)
        self._persist_dirty.add(moved.object)
        self._persist_gone.add(saved.object)  # the old row now belongs to the live object, if anything
        if live.lifetime == Lifetime.PERSISTENT:
            self._persist_dirty.add(saved.object)

    def _restore(self, saved: PersistedObject) -> None:
        obj = Obj(
            saved.object, 0, 0, saved.epoch, saved.rule, Lifetime.PERSISTENT, saved.position, saved.account
        )
        self._set_state(obj, saved.epoch, saved.position, saved.state)
        self.objects[obj.id] = obj
        self.quotas.add(saved.account, True, len(saved.state), saved.account_name)
        self.next_object = max(self.next_object, obj.id + 1)
        if self.members:  # restored late, after members joined: they learn of it like a spawn
            self._emit(self._object_record(obj))

    def persisted(self, oid: int) -> PersistedObject:
        obj = self.objects[oid]
        share = self.quotas.accounts.get(obj.account)
        return PersistedObject(
            self.name,
            oid,
            obj.rule,
            obj.epoch,
            obj.position,
            obj.state,
            obj.account,
            share.name if share is not None else "",
            self.creator,
        )

    def take_persistence(self) -> tuple[list[PersistedObject], list[int]]:
        """Persistent objects changed since the last call, and the ids whose rows must go."""
        upserts = [self.persisted(oid) for oid in self._persist_dirty if oid in self.objects]
        gone = list(self._persist_gone)
        self._persist_dirty, self._persist_gone = set(), set()
        return upserts, gone

    # --- the tick --------------------------------------------------------------------------------

    def _frames(self, records: list[bytes]) -> tuple[list[bytes], int]:
        frames = [self.wrap(m) for m in pack_messages(records, self.settings.max_message)]
        return frames, sum(len(f) for f in frames)

    def _records_for(self, m: Member, shared: list[int], packets: list[int]) -> list[bytes]:
        """This tick's records for one member whose frames differ from the others'.

        ``shared`` holds the indices of records addressed to everyone (or everyone but one),
        ``packets`` those of the packets the member receives; merged in order with the member's
        own records, this costs O(shared + own), whatever others were sent (a tick where
        hundreds join carries hundreds of snapshots).
        """
        sid = m.session.id
        focused = m.focus_cell is not None
        records, targets, deferrable = self._records, self._targets, self._deferrable
        start = m.start
        out: list[bytes] = []
        for i in heapq.merge(
            shared[bisect.bisect_left(shared, start) :],
            self._alone.get(sid, ()),
            packets[bisect.bisect_left(packets, start) :] if start else packets,
        ):
            r = records[i]
            if r is None:
                continue
            t = targets[i]
            if t == sid or (t != -sid and not (focused and deferrable[i])):
                out.append(r)
        if m.owing:
            out.extend(self.interest.owed(m.owed_from, m.focus_cell))
            m.owing = False
        return out

    def _records_alone(self, sid: int) -> list[bytes]:
        records = self._records
        return [r for i in self._alone.get(sid, ()) if (r := records[i]) is not None]

    def _packets_for(self, sid: int, backed_up: bool) -> list[int]:
        """The indices of this tick's packets one member receives, in order (the general way,
        for the few members whose frames are their own anyway). A member with more than
        ``unreliable_backlog`` bytes waiting skips the unreliable ones."""
        records = self._records
        got: list[int] = []
        skipped = 0
        for i, (members, among), skippable in self._packets:
            if records[i] is None or not (
                sid in members if among is None else sid in among and sid not in members
            ):
                continue
            if backed_up and skippable:
                skipped += 1
            else:
                got.append(i)
        self.packets_out += len(got)
        self.packets_dropped += skipped
        return got

    def _plan_packets(self) -> _PacketPlan:
        """Who gets which of this tick's packets, as differences from the common case."""
        records = self._records
        plan = _PacketPlan()
        snapshots: list[tuple[int, frozenset[int]]] = []
        several = False
        for i, (members, among), _skippable in self._packets:
            if records[i] is None:  # replaced by a newer one
                continue
            if among is None:
                for sid in members:
                    plan.extra.setdefault(sid, []).append(i)
                continue
            plan.full.append(i)
            for sid in members:
                plan.missing.setdefault(sid, []).append(i)
            if plan.peers is None:
                plan.peers = among
            elif among is not plan.peers:
                several = True
            snapshots.append((i, among))
        if several:  # roles changed within the tick: nobody gets a packet from before its role
            peers = frozenset().union(*(among for _, among in snapshots))
            for i, among in snapshots:
                for sid in peers - among:
                    plan.missing.setdefault(sid, []).append(i)
            for missed in plan.missing.values():
                missed.sort()
            plan.peers = peers
        plan.involved = plan.extra.keys() | (plan.peers or ())
        return plan

    def _planned_frames(self, plan: _PacketPlan, sid: int, shared: list[int]) -> tuple[list[bytes], int]:
        """The frames of a game peer that is like the others but for its packets: the records
        everyone in the game gets, minus the packets it misses, plus those for it alone. Peers
        with the same differences share the frames."""
        missing, extra = plan.missing.get(sid, ()), plan.extra.get(sid, ())
        self.packets_out += len(plan.full) - len(missing) + len(extra)
        key = (tuple(missing), tuple(extra))
        frames = plan.frames.get(key)
        if frames is not None:
            return frames
        records = self._records
        if plan.base is None:
            base: list[int] = []
            base_records: list[bytes] = []
            for i in heapq.merge(shared, plan.full):
                r = records[i]
                if r is not None:
                    base.append(i)
                    base_records.append(r)
            plan.base = (base, base_records)
        base, base_records = plan.base
        if not missing and not extra:
            out = base_records
        else:  # splice the base: C-level slices, Python work only per difference
            edits = sorted(
                [(bisect.bisect_left(base, i), 1, i) for i in missing]
                + [(bisect.bisect_left(base, i), 0, i) for i in extra]
            )
            out = []
            at = 0
            for p, remove, i in edits:
                if p > at:
                    out += base_records[at:p]
                    at = p
                r = records[i]
                if remove:
                    at = p + 1
                elif r is not None:  # extras are live records
                    out.append(r)
            out += base_records[at:]
        frames = plan.frames[key] = self._frames(out)
        return frames

    def _frames_of(self, m: Member, shared: list[int], plan: _PacketPlan | None) -> tuple[list[bytes], int]:
        """The frames of a member whose records differ from the common ones this tick; for a
        focused member, followed by its tiers' states in the frames shared by its focus cell."""
        sid = m.session.id
        conn = m.session.conn
        if plan is None or sid not in plan.involved:
            frames = self._frames(self._records_for(m, shared, []))
        else:
            backed_up = conn is not None and conn.queued_bytes > self.settings.unreliable_backlog
            plain = not (m.start or m.owing or sid in self._targeted or sid in self._excluded)
            if (
                plain
                and not backed_up
                and m.focus_cell is None
                and plan.peers is not None
                and sid in plan.peers
            ):
                return self._planned_frames(plan, sid, shared)
            frames = self._frames(self._records_for(m, shared, self._packets_for(sid, backed_up)))
        if m.focus_cell is not None:
            tiers = self.interest.due_tiers(self.tick_no, m.focus_cell)
            due, size = self.interest.due_frames(tiers, m.focus_cell, self._frames)
            if size:
                frames = (frames[0] + due, frames[1] + size)
        return frames

    def flush(self) -> None:
        """Hand this tick's records to the members' sessions."""
        held_limit = self.settings.held_limit
        records, targets = self._records, self._targets
        shared: tuple[list[bytes], int] | None = None
        shared_at: list[int] | None = None  # indices of records for everyone, once needed
        ordered_at: list[int] | None = None  # those of them that focused members get this tick
        by_focus: dict[Cell, tuple[list[bytes], int]] = {}
        ordered: tuple[list[bytes], int] | None = None
        plan = self._plan_packets() if self._packets else None
        involved = plan.involved if plan is not None else _NOBODY
        for sid, m in self.members.items():
            session = m.session
            if m.start or sid in self._targeted or sid in self._excluded or sid in involved:
                if not session.connected:
                    continue  # in its grace window: a resume brings a fresh snapshot
                if session.lagging:
                    if sid in self._targeted:
                        session.hold(self._records_alone(sid), held_limit)
                    continue
                if shared_at is None:
                    shared_at = [i for i, t in enumerate(targets) if t <= 0]
                at = shared_at
                if m.focus_cell is not None:  # its tiers' states come from the interest, not from here
                    if ordered_at is None:
                        deferrable = self._deferrable
                        ordered_at = [i for i in shared_at if not deferrable[i]]
                    at = ordered_at
                frames = self._frames_of(m, at, plan)
            elif m.focus_cell is None:
                if not records and not m.owing:
                    continue
                if shared is None:
                    shared = self._frames(
                        [r for r, t in zip(records, targets, strict=True) if r is not None and t <= 0]
                    )
                frames = shared
            else:
                cached = by_focus.get(m.focus_cell)
                if cached is None:
                    if ordered is None:  # what every focused member gets, before its tiers' states
                        ordered = self._frames(
                            [
                                r
                                for r, t, d in zip(records, targets, self._deferrable, strict=True)
                                if r is not None and t <= 0 and not d
                            ]
                        )
                    # then its tiers' states: frames shared by every focus that gets the same cells
                    tiers = self.interest.due_tiers(self.tick_no, m.focus_cell)
                    due, due_size = self.interest.due_frames(tiers, m.focus_cell, self._frames)
                    cached = (ordered[0] + due, ordered[1] + due_size) if due_size else ordered
                    if len(cached[0]) > 1:  # one buffer, shared by the cell's members: a write
                        cached = ([b"".join(cached[0])], cached[1])  # of one piece costs less
                    by_focus[m.focus_cell] = cached
                frames = cached
            if m.owing:  # the focus moved: states still owed under its old tiers follow
                if not session.connected or session.lagging:
                    continue
                m.owing = False
                owed = self.interest.owed(m.owed_from, m.focus_cell)
                if owed:
                    more = self._frames(owed)
                    frames = (frames[0] + more[0], frames[1] + more[1])
            if frames[0]:
                session.push(*frames)  # dropped in the grace window or while lagging
        for sid, session in self._targeted.items():
            if sid in self.members or not session.connected:
                continue  # members were served above; a member that left gets its last answers
            if session.lagging:
                session.hold(self._records_alone(sid), held_limit)
            else:
                session.push(*self._frames(self._records_alone(sid)))
        self._records, self._targets, self._deferrable = [], [], []
        self._state_at.clear()
        self._targeted.clear()
        self._alone.clear()
        self._excluded.clear()
        self._refused.clear()
        if self._packets:
            self._packets, self._lane_at = [], {}
        if self._noticed:
            self._noticed.clear()
        for m in self.members.values():
            m.start = 0
        self.interest.end_tick()
        self.tick_no += 1
