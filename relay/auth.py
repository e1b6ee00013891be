"""Who is connecting: identity from the WebSocket upgrade request (docs/architecture.md §Identity).

Sandstorm mode trusts the bridge's ``X-Sandstorm-*`` headers for who the player is and what
they may do; the name others see comes from the player's account in the Uro API (the one they
set with ``PUT /api/v1/profile``), because keys made for sharing all carry "Anonymous User"
(docs/sandstorm.md §API tokens). Standalone mode accepts a relay ticket signed by the Uro API
(``?ticket=`` or ``Authorization``), verified offline, or a Uro access token (``?token=`` or
``Authorization``, raw or ``Bearer``), verified by asking the API for the token's profile. A
ticket opens one connection, and none once its holder signed out (``TicketGuard``).

Both ask the same loopback ``GET /api/v1/profile``; a token's identity depends on the answer,
a Sandstorm player's name only falls back to the bridge's when the API does not answer.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
import trio

from common.config import LOOPBACK, URO_API, Config
from common.identity import (
    PERM_HOST,
    PERM_PLAY,
    TICKET_MAX_TTL,
    TICKET_VERSION,
    Identity,
    Ticket,
    TicketError,
    bearer_credential,
    clean_name,
    from_sandstorm_headers,
    read_ticket,
)
from common.secretfiles import ticket_key
from relay.http import HttpError

log = logging.getLogger("relay.auth")

PROFILE_TIMEOUT = 5.0  # a Uro token: nobody gets in without the answer
NAME_WAIT = 2.0  # a Sandstorm player's name: after this the bridge's name is used
MALFORMED = (ValueError, KeyError, TypeError, AttributeError)  # a profile of an unexpected shape


def _looks_like_ticket(credential: str) -> bool:
    return credential.startswith(TICKET_VERSION + ".") and credential.count(".") == 2


class TicketGuard:
    """What makes a ticket good for one connection only, and for none once its holder signed out.

    It remembers the id of every ticket that opened a connection until that ticket expires, and
    per account the time of its last sign-out (or removal) for ``TICKET_MAX_TTL``, after which no
    ticket issued before it can still be valid. Free of I/O: callers pass the time. It lives in
    the relay's memory, which is enough for one relay process (relay/PROTOCOL.md §1.1 says what
    several would need).
    """

    def __init__(self) -> None:
        self.used: dict[str, float] = {}  # ticket id -> when the ticket expires
        self.not_before: dict[str, float] = {}  # user id -> tickets issued until then are refused
        self._expiries: list[tuple[float, str, str]] = []  # (when, "used" | "user", key)

    def admit(self, ticket: Ticket, now: float) -> None:
        """Let the ticket open this connection, or raise TicketError saying why not."""
        self._forget(now)
        ended = self.not_before.get(ticket.identity.user_id)
        if ended is not None and ticket.issued_at <= ended:
            raise TicketError("ticket was issued before its holder signed out or was removed")
        if ticket.reusable:
            return
        if ticket.id in self.used:
            raise TicketError("ticket was used already: fetch a new one for every connection")
        self.used[ticket.id] = ticket.expires_at
        heapq.heappush(self._expiries, (ticket.expires_at, "used", ticket.id))

    def end(self, user_id: str, now: float) -> None:
        """The account signed out or was removed: its tickets issued until now are refused."""
        self._forget(now)
        self.not_before[user_id] = now
        heapq.heappush(self._expiries, (now + TICKET_MAX_TTL, "user", user_id))

    def _forget(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] < now:
            when, kind, key = heapq.heappop(expiries)
            table = self.used if kind == "used" else self.not_before
            # a later entry for the same key (a second sign-out) keeps it
            if kind == "used" or table.get(key, when) + TICKET_MAX_TTL <= when:
                table.pop(key, None)


class Authenticator:
    def __init__(self, config: Config, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client
        self._own_client = client is None
        self._ticket_key: bytes | None = None
        self.guard = TicketGuard()

    def _key(self) -> bytes:
        if self._ticket_key is None:
            self._ticket_key = ticket_key(self.config)
        return self._ticket_key

    async def aclose(self) -> None:
        if self._own_client and self.client is not None:
            await self.client.aclose()
            self.client = None

    async def identify(self, headers: list[tuple[str, str]], query: dict[str, str]) -> Identity:
        """The identity of an upgrade request, or HttpError 401/403/503."""
        if self.config.mode == "sandstorm":
            identity = from_sandstorm_headers(headers)
            if identity is None:
                raise HttpError(401, "no Sandstorm identity on the request")
            if identity.can_play:
                identity = await self._with_account_name(identity, headers)
        else:
            identity = await self._standalone(dict(headers), query)
        if not identity.can_play:
            raise HttpError(403, "this identity may not play")
        return identity

    async def _profile(self, headers: Mapping[str, str], timeout: float) -> httpx.Response:
        """The API's answer to ``GET /api/v1/profile`` for these credentials (raises httpx.HTTPError)."""
        if self.client is None:
            # One client for the process: making one costs ~20 ms of CPU (its TLS context), too
            # much for every connection. Loopback only: never through a proxy the environment names.
            self.client = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=8))
        url = f"http://{LOOPBACK}:{self.config.api_port}{URO_API}/profile"
        return await self.client.get(url, headers=dict(headers), timeout=timeout)

    async def _with_account_name(self, identity: Identity, headers: list[tuple[str, str]]) -> Identity:
        """The identity with the display name of the player's account, the same the API sees for
        the same headers; the bridge's name when the API does not answer within NAME_WAIT."""
        forwarded = {k: v for k, v in headers if k.lower().startswith("x-sandstorm-")}
        account: Identity | None = None
        with trio.move_on_after(NAME_WAIT) as waiting:
            try:
                response = await self._profile(forwarded, NAME_WAIT)
                if response.status_code != 200:
                    raise ValueError(f"the API answered {response.status_code}")
                account = _profile_identity(response.json())
            except (httpx.HTTPError, *MALFORMED) as exc:
                log.info("no account name for %s: %s", identity.user_id, exc)
        if waiting.cancelled_caught:
            log.info("no account name for %s: no answer within %g s", identity.user_id, NAME_WAIT)
        if account is None or account.user_id != identity.user_id:
            return identity
        return dataclasses.replace(identity, name=account.name)

    async def _standalone(self, headers: dict[str, str], query: dict[str, str]) -> Identity:
        authorization = bearer_credential(headers.get("authorization", ""))
        ticket = query.get("ticket") or (authorization if _looks_like_ticket(authorization) else "")
        if ticket:
            now = time.time()
            try:
                claims = read_ticket(self._key(), ticket, now=now)
                self.guard.admit(claims, now)
            except TicketError as exc:
                raise HttpError(401, str(exc)) from None
            return claims.identity
        token = bearer_credential(query.get("token", "")) or authorization
        if not token:
            raise HttpError(401, "a ticket or a token is needed")
        return await self._verify_token(token)

    async def _verify_token(self, token: str) -> Identity:
        try:
            response = await self._profile({"authorization": token}, PROFILE_TIMEOUT)
        except httpx.HTTPError:
            raise HttpError(503, "the account service could not be reached") from None
        if response.status_code in (401, 403, 404):
            raise HttpError(401, "the token is not valid")
        if response.status_code != 200:
            raise HttpError(503, f"the account service answered {response.status_code}")
        try:
            return _profile_identity(response.json())
        except MALFORMED:
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
