"""A client for the relay's loopback admin endpoint (relay/ADMIN.md), for the host's dashboard.

The endpoint has no authentication of its own because the front door never routes to it; the
app checks the host's permission before anything here is called.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from common.config import LOOPBACK
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
    def __init__(self, port: int, client: httpx.AsyncClient) -> None:
        self.base = f"http://{LOOPBACK}:{port}"
        self.client = client

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            response = await self.client.request(method, self.base + path, json=body, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise RelayUnavailable(str(exc) or type(exc).__name__) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            raise RelayUnavailable(f"the relay answered HTTP {response.status_code} without JSON") from None

    async def get(self, path: str) -> Any:
        status, body = await self.request("GET", path)
        if status != 200:
            raise RelayUnavailable(f"{path}: HTTP {status}")
        return body

    async def stats(self) -> dict[str, Any]:
        body = await self.get("/stats")
        if not isinstance(body, dict):
            raise RelayUnavailable("/stats: the relay answered something other than a JSON object")
        return body

    async def rooms(self) -> list[dict[str, Any]]:
        """Every room in detail (members and objects), by name."""
        summary = await self.get("/rooms")
        names = sorted(r["name"] for r in summary.get("rooms", []) if isinstance(r, dict) and "name" in r)

        async def detail(name: str) -> dict[str, Any] | None:
            status, body = await self.request("GET", f"/rooms/{name}")
            return body if status == 200 else None  # 404: the room closed meanwhile

        found = await asyncio.gather(*(detail(n) for n in names))
        return [room for room in found if room is not None]
