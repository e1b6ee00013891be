"""Who is connecting: identity from the WebSocket upgrade request (DESIGN §3, app/identity.py).

Sandstorm mode trusts the bridge's ``X-Sandstorm-*`` headers. Standalone mode accepts a relay
ticket signed by the Uro API (``?ticket=`` or ``Authorization``), verified offline, or a Uro
access token (``?token=`` or ``Authorization``, raw or ``Bearer``), verified by asking the API
on loopback for the token's profile.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from app.config import LOOPBACK, Config
from app.identity import (
    PERM_HOST,
    PERM_PLAY,
    Identity,
    TicketError,
    clean_name,
    from_sandstorm_headers,
    load_secret,
    verify_ticket,
)
from relay.http import HttpError

PROFILE_TIMEOUT = 5.0


def _bearer(value: str) -> str:
    value = value.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


def _looks_like_ticket(credential: str) -> bool:
    return credential.startswith("v1.") and credential.count(".") == 2


class Authenticator:
    def __init__(self, config: Config, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client
        self._ticket_key: bytes | None = None

    def _key(self) -> bytes:
        if self._ticket_key is None:
            self._ticket_key = load_secret(self.config.secrets_dir, "ticket.key")
        return self._ticket_key

    async def identify(self, headers: list[tuple[str, str]], query: dict[str, str]) -> Identity:
        """The identity of an upgrade request, or HttpError 401/403/503."""
        if self.config.mode == "sandstorm":
            identity = from_sandstorm_headers(headers)
            if identity is None:
                raise HttpError(401, "no Sandstorm identity on the request")
        else:
            identity = await self._standalone(dict(headers), query)
        if not identity.can_play:
            raise HttpError(403, "this identity may not play")
        return identity

    async def _standalone(self, headers: dict[str, str], query: dict[str, str]) -> Identity:
        authorization = _bearer(headers.get("authorization", ""))
        ticket = query.get("ticket") or (authorization if _looks_like_ticket(authorization) else "")
        if ticket:
            try:
                return verify_ticket(self._key(), ticket, now=time.time())
            except TicketError as exc:
                raise HttpError(401, str(exc)) from None
        token = _bearer(query.get("token", "")) or authorization
        if not token:
            raise HttpError(401, "a ticket or a token is needed")
        return await self._verify_token(token)

    async def _verify_token(self, token: str) -> Identity:
        url = f"http://{LOOPBACK}:{self.config.api_port}/api/v1/profile"
        try:
            if self.client is not None:
                response = await self.client.get(
                    url, headers={"authorization": token}, timeout=PROFILE_TIMEOUT
                )
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.get(
                        url, headers={"authorization": token}, timeout=PROFILE_TIMEOUT
                    )
        except httpx.HTTPError:
            raise HttpError(503, "the account service could not be reached") from None
        if response.status_code in (401, 403, 404):
            raise HttpError(401, "the token is not valid")
        if response.status_code != 200:
            raise HttpError(503, f"the account service answered {response.status_code}")
        try:
            return _profile_identity(response.json())
        except (ValueError, KeyError, TypeError):
            raise HttpError(503, "the account service answered something unexpected") from None


def _profile_identity(body: Any) -> Identity:
    data = body["data"]
    user = data["user"]
    user_id = user["id"]
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user id")
    name = user.get("display_name") or user.get("username") or ""
    ruleset = data.get("user_privilege_ruleset") or {}
    perms = {PERM_PLAY} | ({PERM_HOST} if ruleset.get("is_admin") is True else set())
    return Identity(user_id, clean_name(str(name)), frozenset(perms), "token")
