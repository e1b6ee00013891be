"""A relay on another machine lists its rooms in the party's API, as V-Sekai's game servers list
themselves in Uro's shard list (docs/architecture.md §Relays on other machines).

Set on that machine: ``SOIREE_API_URL`` (the party's front door, ``https://party.example``),
``SOIREE_REGISTER_TOKEN`` (a Uro access token of an account the host made for this machine) and
``SOIREE_RELAY_PUBLIC_URL`` (how players reach this relay, ``wss://relay-b.example/relay``).
Every ``interval`` seconds each room the core holds is announced (``POST /api/v1/shards``, once),
kept fresh with its member count (``PUT``, the heartbeat), and withdrawn when it ends
(``DELETE``). A relay that stops heartbeating drops out of the list after the API's freshness
window. Nothing here is needed for the party's own relay processes, which the API asks itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import trio

from common.config import URO_API
from relay.core import RelayCore

log = logging.getLogger("relay.register")

HEARTBEAT = 10.0  # seconds; the API forgets a shard after 30 s without one
TIMEOUT = 5.0
SHARDS = f"{URO_API}/shards"


class RegistrationError(ValueError):
    """The registration settings are incomplete or malformed."""


@dataclass(frozen=True)
class Registration:
    api_url: str
    token: str
    public_url: str
    interval: float = HEARTBEAT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Registration | None:
        """The settings, or None when this relay registers nowhere (``SOIREE_API_URL`` unset)."""
        api = (env.get("SOIREE_API_URL") or "").rstrip("/")
        if not api:
            return None
        token, public = env.get("SOIREE_REGISTER_TOKEN") or "", env.get("SOIREE_RELAY_PUBLIC_URL") or ""
        if not token or not public:
            raise RegistrationError("SOIREE_API_URL needs SOIREE_REGISTER_TOKEN and SOIREE_RELAY_PUBLIC_URL")
        if urlsplit(api).scheme not in ("http", "https"):
            raise RegistrationError(f"SOIREE_API_URL must be an http(s) URL, got {api!r}")
        if urlsplit(public).scheme not in ("ws", "wss") or not urlsplit(public).hostname:
            raise RegistrationError(f"SOIREE_RELAY_PUBLIC_URL must be a ws(s) URL, got {public!r}")
        try:
            interval = float(env.get("SOIREE_REGISTER_INTERVAL") or HEARTBEAT)
        except ValueError:
            raise RegistrationError("SOIREE_REGISTER_INTERVAL must be a number of seconds") from None
        return cls(api, token, public, interval)

    def room_url(self, room: str) -> str:
        return f"{self.public_url}?room={quote(room, safe='')}"

    def address_and_port(self) -> tuple[str, int]:
        parts = urlsplit(self.public_url)
        return parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)


def room_fields(reg: Registration, name: str, members: int, max_members: int) -> dict[str, Any]:
    address, port = reg.address_and_port()
    return {
        "shard[address]": address,
        "shard[port]": port,
        "shard[name]": name,
        "shard[url]": reg.room_url(name),
        "shard[current_users]": members,
        "shard[max_users]": max_members,
    }


class Registrar:
    """Keeps the API's shard list in step with the rooms the core holds."""

    def __init__(self, core: RelayCore, reg: Registration, http: httpx.AsyncClient) -> None:
        self.core = core
        self.reg = reg
        self.http = http
        self.shards: dict[str, str] = {}  # room name -> shard id in the API

    async def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.request(
            method,
            self.reg.api_url + path,
            data=data,
            headers={"Authorization": f"Bearer {self.reg.token}"},
            timeout=TIMEOUT,
        )

    async def sync(self) -> None:
        """One pass: announce new rooms, heartbeat the others, withdraw the ended ones."""
        rooms = {name: room for name, room in self.core.rooms.items()}
        for name in [n for n in self.shards if n not in rooms]:
            response = await self._call("DELETE", f"{SHARDS}/{self.shards[name]}")
            if response.status_code in (200, 404):
                del self.shards[name]
        for name, room in rooms.items():
            fields = room_fields(self.reg, name, len(room.members), self.core.settings.max_members)
            shard = self.shards.get(name)
            if shard is not None:
                response = await self._call(
                    "PUT", f"{SHARDS}/{shard}", {"shard[current_users]": fields["shard[current_users]"]}
                )
                if response.status_code == 404:  # forgotten (the API's janitor): announce again
                    del self.shards[name]
                    shard = None
            if shard is None:
                response = await self._call("POST", SHARDS, fields)
                if response.status_code == 200:
                    self.shards[name] = str(response.json()["data"]["id"])
                else:
                    log.warning(
                        "the API refused room %r: HTTP %d %s", name, response.status_code, response.text[:200]
                    )

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("registering rooms with %s failed, will retry: %s", self.reg.api_url, exc)
            await trio.sleep(self.reg.interval)

    async def withdraw(self) -> None:
        """At a clean stop: take every room off the list at once."""
        for shard in list(self.shards.values()):
            try:
                await self._call("DELETE", f"{SHARDS}/{shard}")
            except httpx.HTTPError:
                return
        self.shards.clear()
