"""The relay's loopback admin endpoint: JSON stats for the dashboard, rooms for the Uro API
(which lists them as shards), moderation, each account's share and the host's policy, and the
end of an account's sessions (the API's sign-out, a revoked invite, the host removing a player).
Never routed by the front door. ADMIN.md has the exact shapes.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import h11
import trio

from common.config import LOOPBACK
from common.identity import clean_name
from relay import policy
from relay.admin_client import valid_user_id
from relay.http import HttpError, Request, read_request, send_json
from relay.protocol import PERMISSION_BITS, STR8_MAX, GameRole, Lifetime, Rule
from relay.quotas import Share
from relay.room import Room
from relay.server import RelayServer

REMOVED = "removed by the host"  # the GOODBYE reason when an end names none
RULES = {rule.name.lower(): rule for rule in Rule}  # "ask", "deny", "allow"
LIFETIMES = {lifetime: lifetime.name.lower() for lifetime in Lifetime}  # "with_master", "persistent"
GAME_ROLES = {role: role.name.lower() for role in GameRole}  # "none", "peer", "host"


def _permissions(bits: int) -> list[str]:
    return [name for name, bit in PERMISSION_BITS.items() if bits & bit]


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise HttpError(400, f"{what} must be an integer") from None
    return int(value)


class AdminApi:
    def __init__(self, server: RelayServer) -> None:
        self.server = server
        self.core = server.core

    async def run(self, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(port, host=LOOPBACK)
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self.handle, listeners)

    async def handle(self, stream: trio.abc.Stream) -> None:
        try:
            http = h11.Connection(h11.SERVER)
            try:
                request = await read_request(stream)
                if request is None:
                    return
                http = request.http
                status, body = self.route(request)
            except HttpError as exc:
                status, body = exc.status, {"error": exc.message}
            await send_json(stream, http, status, body)
        finally:
            await stream.aclose()

    def route(self, request: Request) -> tuple[int, Any]:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if parts == ["healthz"]:
            self._method(method, "GET")
            return self.server.health()
        if parts == ["stats"]:
            self._method(method, "GET")
            return 200, self.stats()
        if parts == ["rooms"]:
            self._method(method, "GET")
            return 200, {"rooms": [self.room_summary(r) for r in self.core.rooms.values()]}
        if parts == ["users"]:
            self._method(method, "GET")
            return 200, self.users()
        if len(parts) == 3 and parts[0] == "users" and parts[2] in ("end", "clear"):
            self._method(method, "POST")
            user_id = unquote(parts[1])
            if not valid_user_id(user_id):
                raise HttpError(400, f"a user id has 1 to {STR8_MAX} bytes")
            return self.end_user(user_id, request) if parts[2] == "end" else self.clear_user(user_id)
        if parts == ["policy"]:
            if method == "POST":
                return self.set_policy(request)
            self._method(method, "GET")
            return 200, self.policy()
        if len(parts) >= 2 and parts[0] == "rooms":
            room = self.core.rooms.get(parts[1])
            if room is None:
                raise HttpError(404, f"no room named {parts[1]!r}")
            rest = parts[2:]
            if not rest:
                self._method(method, "GET")
                return 200, self.room_detail(room)
            if rest == ["kick"]:
                self._method(method, "POST")
                return self.kick(room, request)
            if rest == ["reset"]:
                self._method(method, "POST")
                count = len(room.objects)
                room.reset()
                return 200, {"name": room.name, "despawned": count}
            if len(rest) == 3 and rest[0] == "objects" and rest[2] == "rule":
                self._method(method, "POST")
                return self.set_rule(room, rest[1], request)
        raise HttpError(404, f"nothing at {request.path}")

    @staticmethod
    def _method(method: str, allowed: str) -> None:
        if method != allowed:
            raise HttpError(405, f"use {allowed} here")

    # --- reading ---------------------------------------------------------------------------------

    def room_summary(self, room: Room) -> dict[str, Any]:
        return {
            "name": room.name,
            "handle": room.handle,
            "members": len(room.members),
            "connected": sum(1 for m in room.members.values() if m.session.connected),
            "max_members": self.core.settings.max_members,
            "objects": len(room.objects),
        }

    def room_detail(self, room: Room) -> dict[str, Any]:
        members = [
            {
                "id": m.session.id,
                "user_id": m.session.user_id,
                "name": m.session.name,
                "connected": m.session.connected,
                "connected_since": round(m.session.connected_since, 3),
                "latency_ms": m.session.latency_ms,
                "permissions": _permissions(m.session.permissions),
                "focus": list(m.focus) if m.focus is not None else None,
            }
            for m in room.members.values()
        ]
        objects = [
            {
                "id": o.id,
                "master": o.master,
                "owner": o.owner,
                "rule": o.rule.name.lower(),
                "epoch": o.epoch,
                "lifetime": LIFETIMES[o.lifetime],
                "position": list(o.position) if o.position is not None else None,
                "state_size": len(o.state),
            }
            for o in sorted(room.objects.values(), key=lambda o: o.id)
        ]
        game_peers = {str(member): GAME_ROLES[role] for member, role in room.roles.items()}
        return {**self.room_summary(room), "members": members, "objects": objects, "game_peers": game_peers}

    def stats(self) -> dict[str, Any]:
        core = self.core
        queues = [c.queued_bytes for c in core.conns]
        return {
            "members": len(core.sessions),
            "connections": len(core.conns),
            "rooms": len(core.rooms),
            "objects": sum(len(r.objects) for r in core.rooms.values()),
            "per_second": core.rates.per_second(),
            "totals": core.totals(),
            "refused_updates": core.totals()["refused_updates"],
            "coalesced_updates": core.totals()["coalesced_updates"],
            "queue_bytes": {"total": sum(queues), "max": max(queues, default=0)},
            "lagging_connections": sum(1 for c in core.conns if c.lagging),
            "tick": {"hz": core.settings.tick_hz, **self.server.last_tick_stats},
            "database": self.server.database,
            "uptime_s": round(time.time() - self.server.started_at, 1),
        }

    def users(self) -> dict[str, Any]:
        """Every account with a share or a session: what it holds, against the limits."""
        core, s = self.core, self.core.settings
        quotas = core.quotas
        sessions: dict[str, list[Any]] = {}
        for session in core.sessions.values():
            sessions.setdefault(session.identity.user_id, []).append(session)
        users = []
        for user_id in sorted(quotas.accounts.keys() | sessions.keys()):
            share = quotas.of(user_id)
            live = sessions.get(user_id, [])
            users.append(
                {
                    "user_id": user_id,
                    "name": live[-1].name if live else share.name,
                    "host": share.host or any(x.identity.is_host for x in live),
                    "sessions": len(live),
                    "connected": sum(1 for x in live if x.connected),
                    **self._share(share),
                }
            )
        return {
            "users": users,
            "party": {"saved": quotas.saved, "saved_bytes": quotas.saved_bytes, "rooms": len(core.rooms)},
            "limits": {
                "objects_per_user": s.max_objects_per_account,
                "saved_per_user": s.max_saved_per_account,
                "saved": s.max_saved_objects,
                "saved_bytes": s.max_saved_bytes,
                "rooms": s.max_rooms,
                "player_rooms": quotas.player_rooms,
            },
        }

    @staticmethod
    def _share(share: Share) -> dict[str, int]:
        return {
            "objects": share.objects,
            "saved": share.saved,
            "saved_bytes": share.saved_bytes,
            "rooms": share.rooms,
        }

    def policy(self) -> dict[str, Any]:
        return policy.Policy(self.core.quotas.player_rooms).to_json()

    # --- moderation --------------------------------------------------------------------------------

    def kick(self, room: Room, request: Request) -> tuple[int, Any]:
        body = request.json()
        if not isinstance(body, dict) or "member" not in body:
            raise HttpError(400, 'send {"member": <member id>}')
        member = _int(body["member"], "member")
        if not self.core.kick(room.name, member, trio.current_time()):
            raise HttpError(404, f"no member {member} in room {room.name!r}")
        self.server.wake_writers()
        return 200, {"name": room.name, "kicked": member}

    def set_rule(self, room: Room, object_id: str, request: Request) -> tuple[int, Any]:
        oid = _int(object_id, "object id")
        if oid not in room.objects:
            raise HttpError(404, f"no object {oid} in room {room.name!r}")
        body = request.json()
        name = body.get("rule") if isinstance(body, dict) else None
        rule = RULES.get(name) if isinstance(name, str) else None
        if rule is None:
            raise HttpError(400, 'send {"rule": "ask" | "deny" | "allow"}')
        room.set_rule(None, 0, oid, rule)
        return 200, {"name": room.name, "id": oid, "rule": rule.name.lower()}

    def end_user(self, user_id: str, request: Request) -> tuple[int, Any]:
        """The account's sessions end now, and its tickets issued until now are refused."""
        body = request.json()
        raw = body.get("reason", REMOVED) if isinstance(body, dict) else None
        if not isinstance(raw, str):
            raise HttpError(400, 'send {"reason": "<why, for the player>"} or nothing')
        reason = clean_name(raw, fallback=REMOVED)
        self.server.auth.guard.end(user_id, time.time())
        ended = self.core.end_user(user_id, reason, trio.current_time())
        self.server.wake_writers()
        return 200, {"user_id": user_id, "ended": ended}

    def clear_user(self, user_id: str) -> tuple[int, Any]:
        despawned = self.core.clear_user(user_id)
        return 200, {"user_id": user_id, "despawned": despawned}

    def set_policy(self, request: Request) -> tuple[int, Any]:
        try:
            chosen = policy.parse(request.json(), self.core.settings.max_rooms)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        try:
            policy.save(policy.policy_path(self.server.config), chosen)
        except OSError as exc:
            raise HttpError(507, f"the setting could not be saved: {exc.strerror or exc}") from None
        self.core.quotas.player_rooms = chosen.player_rooms
        return 200, self.policy()
