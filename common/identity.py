"""Who is asking: one way of resolving identity, shared by the API, the relay and the pages.

Sandstorm mode: sandstorm-http-bridge builds ``X-Sandstorm-*`` headers from scratch, so they
are trusted (the front door strips them from clients in standalone mode). A player holding an
API token is keyed by ``X-Sandstorm-Tab-Id`` (stable per token); a logged-in browser session
(UI requests carry ``X-Sandstorm-Base-Path``) is keyed by ``X-Sandstorm-User-Id``, because a
browser's Tab-Id changes with every tab.

Standalone mode: users hold Uro tokens; the API signs short-lived tickets that the relay
verifies offline with the shared key in the var directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

PERM_HOST = "host"
PERM_PLAY = "play"
KNOWN_PERMISSIONS = frozenset({PERM_HOST, PERM_PLAY})

# Fixed namespace so that every service derives the same account id from the same Sandstorm key.
SOIREE_NAMESPACE = uuid.UUID("5f0c1e2a-7d3b-4c8e-9a61-2b4d6f8e0a13")

NAME_MAX = 64
TICKET_VERSION = "v1"
TICKET_TTL = 60  # seconds a relay ticket lives: a client fetches one for every connection


@dataclass(frozen=True)
class Identity:
    user_id: str  # a UUID string; the account id in the API
    name: str  # display name, for people
    permissions: frozenset[str] = field(default_factory=frozenset)
    source: str = "anonymous"  # "sandstorm", "token", "ticket", "host-key"

    @property
    def is_host(self) -> bool:
        return PERM_HOST in self.permissions

    @property
    def can_play(self) -> bool:
        return PERM_PLAY in self.permissions or PERM_HOST in self.permissions


class TicketError(ValueError):
    """A relay ticket is malformed, forged or expired. The message is safe to show."""


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k.lower(): v for k, v in items}


def clean_name(raw: str, fallback: str = "Guest") -> str:
    """A display name safe to show anywhere: printable, trimmed, bounded."""
    text = "".join(ch for ch in raw if ch.isprintable()).strip()
    return text[:NAME_MAX] or fallback


def sandstorm_user_id(key: str) -> str:
    """The account id for a Sandstorm identity key ("tab:<id>" or "user:<id>")."""
    return str(uuid.uuid5(SOIREE_NAMESPACE, "sandstorm:" + key))


def from_sandstorm_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> Identity | None:
    """The identity the bridge vouches for, or None when the request carries none."""
    h = _lower_headers(headers)
    tab_id = h.get("x-sandstorm-tab-id", "").strip()
    user_id = h.get("x-sandstorm-user-id", "").strip()
    is_ui_session = "x-sandstorm-base-path" in h
    if is_ui_session and user_id:
        key = "user:" + user_id
    elif tab_id:
        key = "tab:" + tab_id
    else:
        return None
    perms = (
        frozenset(p.strip() for p in h.get("x-sandstorm-permissions", "").split(",") if p.strip())
        & KNOWN_PERMISSIONS
    )
    name = clean_name(unquote(h.get("x-sandstorm-username", "")), fallback="Anonymous User")
    return Identity(user_id=sandstorm_user_id(key), name=name, permissions=perms, source="sandstorm")


def bearer_credential(value: str) -> str:
    """An ``Authorization`` value without its optional ``Bearer`` prefix (clients send either)."""
    value = value.strip()
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value


def host_key_text(key: bytes) -> str:
    """The standalone host key as people see it: URL-safe base64 without padding (43 characters)."""
    return _b64(key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TicketError("ticket is not valid base64") from None


def sign_ticket(key: bytes, identity: Identity, *, now: float, ttl: float = TICKET_TTL) -> str:
    """A short-lived proof of identity for the relay: ``v1.<payload>.<mac>``."""
    payload = {
        "sub": identity.user_id,
        "name": identity.name,
        "perms": sorted(identity.permissions),
        "exp": int(now + ttl),
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{TICKET_VERSION}.{body}"
    mac = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


def verify_ticket(key: bytes, ticket: str, *, now: float) -> Identity:
    parts = ticket.split(".")
    if len(parts) != 3 or parts[0] != TICKET_VERSION:
        raise TicketError("ticket has an unknown format")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(parts[2])):
        raise TicketError("ticket signature does not match")
    try:
        payload = json.loads(_unb64(parts[1]))
        sub, name, perms, exp = payload["sub"], payload["name"], payload["perms"], payload["exp"]
        valid = (
            isinstance(sub, str)
            and isinstance(name, str)
            and isinstance(exp, int)
            and isinstance(perms, list)
            and all(isinstance(p, str) for p in perms)
        )
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise TicketError("ticket payload is malformed")
    if exp < now:
        raise TicketError("ticket has expired")
    return Identity(
        user_id=sub,
        name=clean_name(name),
        permissions=frozenset(perms) & KNOWN_PERMISSIONS,
        source="ticket",
    )
