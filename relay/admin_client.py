"""A client for the relay's loopback admin endpoint (relay/ADMIN.md), for the host's dashboard.

The endpoint has no authentication of its own because the front door never routes to it; the
app checks the host's permission before anything here is called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import httpx

from common.config import LOOPBACK
from common.placement import place
from relay.protocol import STR8_MAX, Rule, valid_room_name

__all__ = ["RULE_NAMES", "RelayAdmin", "RelayUnavailable", "valid_room_name", "valid_user_id"]

# How the admin endpoint spells an object's rule (relay/ADMIN.md): the protocol's names, lower case.
RULE_NAMES = tuple(rule.name.lower() for rule in Rule)

TIMEOUT = 2.0


def valid_user_id(user_id: str) -> bool:
    """What the admin endpoint takes as an account id (the protocol's str8: 1 to 255 bytes)."""
    return 0 < len(user_id.encode()) <= STR8_MAX


class RelayUnavailable(Exception):
    """The relay did not answer."""


class RelayAdmin:
    """Every relay process's admin endpoint as one: stats summed, rooms listed together (each
    with the ``relay`` index of its process), moderation sent to the process holding the room
    (docs/architecture.md §Several relay processes on one machine). A process that does not
    answer is named in ``stats()["processes"]``; only when none answers is the relay unavailable."""

    def __init__(self, ports: int | Sequence[int], client: httpx.AsyncClient) -> None:
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self.bases = [f"http://{LOOPBACK}:{port}" for port in self.ports]
        self.base = self.bases[0]
        self.client = client

    async def _request(self, index: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            response = await self.client.request(method, self.bases[index] + path, json=body, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise RelayUnavailable(str(exc) or type(exc).__name__) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            raise RelayUnavailable(f"the relay answered HTTP {response.status_code} without JSON") from None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A request to the process that holds the room the path names (``/rooms/<name>/...``);
        what concerns accounts or the policy to every process (each holds its own rooms'
        objects, sessions and tickets), answered as one; anything else to the first process."""
        parts = [p for p in path.split("/") if p]
        if len(self.bases) == 1:
            return await self._request(0, method, path, body)
        if len(parts) >= 2 and parts[0] == "rooms":
            return await self._request(place(parts[1], len(self.bases)), method, path, body)
        if parts[:1] == ["users"] or (parts == ["policy"] and method == "POST"):
            return await self._every(method, path, body)
        return await self._request(0, method, path, body)

    async def _every(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        async def one(index: int) -> tuple[int, Any] | RelayUnavailable:
            try:
                return await self._request(index, method, path, body)
            except RelayUnavailable as exc:
                return exc

        answers = await asyncio.gather(*(one(i) for i in range(len(self.bases))))
        got = [a for a in answers if not isinstance(a, RelayUnavailable)]
        if not got:
            raise cast(RelayUnavailable, answers[0])
        refused = [a for a in got if a[0] != 200]
        if refused:
            return refused[0]
        bodies = [b for _, b in got]
        if method == "GET" and path.rstrip("/") == "/users":
            return 200, merge_users(bodies)
        if method == "POST":  # clear, end: counts summed; policy: the same answer from each
            return 200, {
                key: sum(b.get(key, 0) for b in bodies) if key in SUMMED_ANSWERS else value
                for key, value in bodies[0].items()
            }
        return 200, bodies[0]

    async def _get(self, index: int, path: str) -> Any:
        status, body = await self._request(index, "GET", path)
        if status != 200:
            raise RelayUnavailable(f"{path}: HTTP {status}")
        return body

    async def get(self, path: str) -> Any:
        return await self._get(0, path)

    async def _each(self, path: str) -> list[Any | RelayUnavailable]:
        async def one(index: int) -> Any | RelayUnavailable:
            try:
                return await self._get(index, path)
            except RelayUnavailable as exc:
                return exc

        found = await asyncio.gather(*(one(i) for i in range(len(self.bases))))
        if all(isinstance(answer, RelayUnavailable) for answer in found):
            raise found[0]
        return found

    async def stats(self) -> dict[str, Any]:
        answers = await self._each("/stats")
        for answer in answers:
            if not isinstance(answer, (dict, RelayUnavailable)):
                raise RelayUnavailable("/stats: the relay answered something other than a JSON object")
        if len(answers) == 1:
            return cast(dict[str, Any], answers[0])
        return merge_stats(answers)

    async def rooms(self) -> list[dict[str, Any]]:
        """Every room in detail (members and objects), by name, each with its process's index."""
        summaries = await self._each("/rooms")

        async def detail(index: int, name: str) -> dict[str, Any] | None:
            try:
                status, body = await self._request(index, "GET", f"/rooms/{name}")
            except RelayUnavailable:
                return None  # the process stopped meanwhile
            if status != 200 or not isinstance(body, dict):
                return None  # 404: the room closed meanwhile
            return {**body, "relay": index}

        wanted = sorted(
            (room["name"], index)
            for index, summary in enumerate(summaries)
            if isinstance(summary, dict)
            for room in summary.get("rooms", [])
            if isinstance(room, dict) and "name" in room
        )
        found = await asyncio.gather(*(detail(index, name) for name, index in wanted))
        return [room for room in found if room is not None]


def merge_stats(answers: Sequence[dict[str, Any] | RelayUnavailable]) -> dict[str, Any]:
    """The party's stats from each process's: counts summed, worst values kept, and each
    process's own stats (or why it did not answer) under ``processes``."""
    ok = [a for a in answers if isinstance(a, dict)]

    def total(key: str) -> Any:
        return sum(a.get(key, 0) for a in ok)

    def summed(key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for answer in ok:
            for name, value in (answer.get(key) or {}).items():
                out[name] = out.get(name, 0) + value
        return out

    databases = {a.get("database") for a in ok}
    return {
        **{key: total(key) for key in COUNTED},
        "per_second": summed("per_second"),
        "totals": summed("totals"),
        "queue_bytes": {
            "total": sum(a.get("queue_bytes", {}).get("total", 0) for a in ok),
            "max": max((a.get("queue_bytes", {}).get("max", 0) for a in ok), default=0),
        },
        "tick": {
            **ok[0].get("tick", {}),
            "tick_ms_avg": max((a.get("tick", {}).get("tick_ms_avg", 0.0) for a in ok), default=0.0),
            "tick_ms_max": max((a.get("tick", {}).get("tick_ms_max", 0.0) for a in ok), default=0.0),
        },
        "database": databases.pop() if len(databases) == 1 else "mixed",
        "uptime_s": min(a.get("uptime_s", 0.0) for a in ok),
        "processes": [
            a if isinstance(a, dict) else {"status": "not answering", "error": str(a)} for a in answers
        ],
    }


# Counts in the answers to POST /users/{id}/clear and /end: the party's are the processes' sums.
SUMMED_ANSWERS = ("despawned", "ended")
# An account's counts in GET /users, each process counting what it holds.
USER_COUNTS = ("sessions", "connected", "objects", "saved", "saved_bytes", "rooms")


def merge_users(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``GET /users`` of every process as one: each account's counts and the party's summed."""
    users: dict[str, dict[str, Any]] = {}
    party: dict[str, Any] = {}
    for answer in answers:
        for user in answer.get("users", []):
            mine = users.setdefault(user["user_id"], {**user, **{k: 0 for k in USER_COUNTS}})
            for key in USER_COUNTS:
                mine[key] += user.get(key, 0)
        for key, value in (answer.get("party") or {}).items():
            party[key] = party.get(key, 0) + value
    return {"users": list(users.values()), "party": party, "limits": answers[0].get("limits", {})}


# The stats every process counts for itself and the party's are the sums of.
COUNTED = (
    "members",
    "connections",
    "rooms",
    "objects",
    "refused_updates",
    "coalesced_updates",
    "lagging_connections",
)
