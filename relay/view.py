"""A client's view of one room, rebuilt from the records the relay sends. Free of I/O.

The Python SDK keeps one per joined room; tests use it to check that every member converges
to the relay's own table. It is strict about the ordering promises of PROTOCOL.md §8 and
notes every breach in ``anomalies`` instead of guessing: packets (version 2) only from game
peers, none inside a snapshot, a member's role ended before it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relay.protocol import (
    Despawned,
    GamePeer,
    GameRole,
    Lifetime,
    Master,
    MemberJoined,
    MemberLeft,
    MemberPresence,
    ObjectInfo,
    Owner,
    PacketFrom,
    Position,
    Record,
    Rule,
    RuleChanged,
    Snapshot,
    State,
    Synced,
)


@dataclass
class MemberView:
    id: int
    user_id: str
    name: str
    permissions: int
    connected: bool = True  # False while it is in its grace window (MEMBER_PRESENCE, version 2)


@dataclass
class ObjectView:
    id: int
    master: int
    owner: int
    epoch: int
    rule: Rule
    lifetime: Lifetime
    position: Position | None
    state: bytes


@dataclass
class RoomView:
    handle: int
    name: str = ""
    members: dict[int, MemberView] = field(default_factory=dict)
    objects: dict[int, ObjectView] = field(default_factory=dict)
    game_roles: dict[int, GameRole] = field(default_factory=dict)  # members with a role only
    synced: bool = False
    anomalies: list[str] = field(default_factory=list)

    @property
    def host(self) -> int:
        """The member that hosts the room's game (Godot peer 1), 0 for none."""
        return next((m for m, role in self.game_roles.items() if role == GameRole.HOST), 0)

    def apply(self, rec: Record) -> None:
        """Apply one record addressed to this room (``rec.room == self.handle``)."""
        if isinstance(rec, Snapshot):
            self.name = rec.name
            self.members.clear()
            self.objects.clear()
            self.game_roles.clear()
            self.synced = False
        elif isinstance(rec, Synced):
            self.synced = True
        elif isinstance(rec, MemberJoined):
            self.members[rec.member] = MemberView(rec.member, rec.user_id, rec.name, rec.permissions)
        elif isinstance(rec, MemberLeft):
            self.members.pop(rec.member, None)
            if self.game_roles.pop(rec.member, None) is not None:
                self.anomalies.append(f"member {rec.member} left with its game role")
        elif isinstance(rec, MemberPresence):
            member = self.members.get(rec.member)
            if member is None:
                self.anomalies.append(f"MEMBER_PRESENCE for unknown member {rec.member}")
            else:
                member.connected = bool(rec.connected)
        elif isinstance(rec, GamePeer):
            if rec.member not in self.members:
                self.anomalies.append(f"GAME_PEER for unknown member {rec.member}")
            elif rec.role == GameRole.NONE:
                self.game_roles.pop(rec.member, None)
            else:
                self.game_roles[rec.member] = rec.role
        elif isinstance(rec, PacketFrom):
            if not self.synced:
                self.anomalies.append(f"PACKET_FROM member {rec.sender} inside a snapshot")
            elif rec.sender not in self.game_roles:
                self.anomalies.append(f"PACKET_FROM member {rec.sender}, which is not a game peer")
        elif isinstance(rec, ObjectInfo):
            self.objects[rec.object] = ObjectView(
                rec.object, rec.master, rec.owner, rec.epoch, rec.rule, rec.lifetime, rec.position, rec.state
            )
        elif isinstance(rec, State):
            obj = self.objects.get(rec.object)
            if obj is None:
                self.anomalies.append(f"STATE for unknown object {rec.object}")
            elif rec.epoch != obj.epoch:
                self.anomalies.append(f"STATE of object {rec.object} at epoch {rec.epoch}, known {obj.epoch}")
            else:
                obj.state = rec.state
                if rec.position is not None:
                    obj.position = rec.position
        elif isinstance(rec, Owner):
            obj = self._known(rec.object)
            if obj is not None:
                if rec.epoch <= obj.epoch:
                    self.anomalies.append(f"OWNER of object {rec.object} went back to epoch {rec.epoch}")
                obj.owner, obj.epoch = rec.owner, rec.epoch
        elif isinstance(rec, Master):
            obj = self._known(rec.object)
            if obj is not None:
                obj.master = rec.master
        elif isinstance(rec, RuleChanged):
            obj = self._known(rec.object)
            if obj is not None:
                obj.rule = rec.rule
        elif isinstance(rec, Despawned) and self.objects.pop(rec.object, None) is None:
            self.anomalies.append(f"DESPAWNED for unknown object {rec.object}")

    def _known(self, oid: int) -> ObjectView | None:
        obj = self.objects.get(oid)
        if obj is None:
            self.anomalies.append(f"record for unknown object {oid}")
        return obj

    def table(self) -> dict[int, tuple[int, int, int, int, bytes]]:
        """``object → (master, owner, epoch, rule, state)``, for comparing views."""
        return {o.id: (o.master, o.owner, o.epoch, int(o.rule), o.state) for o in self.objects.values()}
