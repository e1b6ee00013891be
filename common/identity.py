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
# Relay tickets (relay/PROTOCOL.md §1.1 is the format's reference for client writers).
TICKET_VERSION = "v2"
TICKET_TTL = 60  # seconds a relay ticket lives: a client fetches one for every connection
# The longest life a relay accepts (development tickets from `python -m relay ticket`). The relay
# remembers a sign-out this long, so that no ticket issued before it can still be valid.
TICKET_MAX_TTL = 3600
TICKET_ID_MAX = 64


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


@dataclass(frozen=True)
class Ticket:
    """A verified relay ticket: who it names, and what the relay needs to refuse its reuse
    (``id``, until ``expires_at``) and to refuse it after its holder signed out (``issued_at``)."""

    identity: Identity
    id: str
    issued_at: float  # unix seconds
    expires_at: float  # unix seconds
    reusable: bool = False  # a development ticket: opens any number of connections


def sign_ticket(
    key: bytes,
    identity: Identity,
    *,
    now: float,
    ticket_id: str,
    ttl: float = TICKET_TTL,
    reusable: bool = False,
) -> str:
    """A short-lived proof of identity for the relay: ``v2.<payload>.<mac>``. ``ticket_id`` must
    be unpredictable and never reused (``common.secretfiles.mint_ticket`` makes one)."""
    if not 0 < len(ticket_id) <= TICKET_ID_MAX:
        raise ValueError(f"a ticket id has 1 to {TICKET_ID_MAX} characters")
    payload: dict[str, object] = {
        "sub": identity.user_id,
        "name": identity.name,
        "perms": sorted(identity.permissions),
        "iat": int(now * 1000),
        "exp": int((now + ttl) * 1000),
        "jti": ticket_id,
    }
    if reusable:
        payload["reuse"] = True
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    signed = f"{TICKET_VERSION}.{body}"
    mac = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(mac)}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_ticket(key: bytes, ticket: str, *, now: float) -> Ticket:
    """The ticket's claims once its signature, shape and lifetime are checked; TicketError if not.
    Whether it was used before or issued before a sign-out is the relay's to check."""
    parts = ticket.split(".")
    if len(parts) != 3 or parts[0] != TICKET_VERSION:
        raise TicketError("ticket has an unknown format")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(parts[2])):
        raise TicketError("ticket signature does not match")
    try:
        payload = json.loads(_unb64(parts[1]))
        sub, name, perms = payload["sub"], payload["name"], payload["perms"]
        iat, exp, jti = payload["iat"], payload["exp"], payload["jti"]
        reuse = payload.get("reuse", False)
        valid = (
            isinstance(sub, str)
            and isinstance(name, str)
            and isinstance(perms, list)
            and all(isinstance(p, str) for p in perms)
            and _is_int(iat)
            and _is_int(exp)
            and isinstance(jti, str)
            and 0 < len(jti) <= TICKET_ID_MAX
            and isinstance(reuse, bool)
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise TicketError("ticket payload is malformed")
    if exp < now * 1000:
        raise TicketError("ticket has expired")
    if exp - iat > TICKET_MAX_TTL * 1000:
        raise TicketError(f"ticket lives longer than {TICKET_MAX_TTL} s")
    identity = Identity(
        user_id=sub,
        name=clean_name(name),
        permissions=frozenset(perms) & KNOWN_PERMISSIONS,
        source="ticket",
    )
    return Ticket(identity, jti, iat / 1000, exp / 1000, reuse)


def verify_ticket(key: bytes, ticket: str, *, now: float) -> Identity:
    """The identity a ticket names (signature, shape and lifetime checked)."""
    return read_ticket(key, ticket, now=now).identity
