from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from common.identity import (
    PERM_HOST,
    PERM_PLAY,
    Identity,
    TicketError,
    from_sandstorm_headers,
    read_ticket,
    sign_ticket,
    verify_ticket,
)
from common.secretfiles import TICKET_KEY, load_secret, mint_ticket

KEY = b"k" * 32


def test_api_token_is_keyed_by_tab_id_and_permissions_are_parsed() -> None:
    headers = {
        "X-Sandstorm-Tab-Id": "abc123",
        "X-Sandstorm-Permissions": "play, bogus",
        "X-Sandstorm-Username": "Anonymous%20User",
    }
    ident = from_sandstorm_headers(headers)
    assert ident is not None
    assert ident.permissions == frozenset({PERM_PLAY})  # unknown permissions are dropped
    assert ident.name == "Anonymous User"
    assert ident.can_play and not ident.is_host
    # The same token always maps to the same account; another token to another.
    assert from_sandstorm_headers(headers) == ident
    other = from_sandstorm_headers({**headers, "X-Sandstorm-Tab-Id": "zzz"})
    assert other is not None and other.user_id != ident.user_id


def test_ui_session_is_keyed_by_user_id_not_by_browser_tab() -> None:
    base = {
        "x-sandstorm-base-path": "https://ui-1.example",
        "x-sandstorm-user-id": "u1",
        "x-sandstorm-permissions": "host,play",
        "x-sandstorm-username": "Al%C3%AFce",
    }
    first = from_sandstorm_headers({**base, "x-sandstorm-tab-id": "tab-a"})
    second = from_sandstorm_headers({**base, "x-sandstorm-tab-id": "tab-b"})
    assert first is not None and second is not None
    assert first.user_id == second.user_id
    assert first.is_host and first.name == "Alïce"


def test_without_sandstorm_headers_there_is_no_identity() -> None:
    assert from_sandstorm_headers({"Authorization": "Bearer x"}) is None
    assert from_sandstorm_headers([("x-sandstorm-permissions", "host")]) is None


def test_ticket_round_trip_and_expiry() -> None:
    ident = Identity("11111111-2222-3333-4444-555555555555", "Bob", frozenset({PERM_HOST}), "token")
    ticket = sign_ticket(KEY, ident, now=1000.0, ttl=60, ticket_id="t-1")
    back = verify_ticket(KEY, ticket, now=1030.0)
    assert (back.user_id, back.name, back.permissions) == (ident.user_id, "Bob", ident.permissions)
    assert back.source == "ticket"
    claims = read_ticket(KEY, ticket, now=1030.0)
    assert (claims.id, claims.issued_at, claims.expires_at, claims.reusable) == ("t-1", 1000.0, 1060.0, False)
    with pytest.raises(TicketError, match="expired"):
        verify_ticket(KEY, ticket, now=1061.0)


def test_the_ticket_format_is_what_protocol_md_documents() -> None:
    """relay/PROTOCOL.md §1.1: v2.<payload>.<mac>, base64url without padding, HMAC-SHA256 over
    "v2.<payload>", the payload's JSON with these names and units."""
    ident = Identity("u-1", "Ada", frozenset({PERM_PLAY}), "token")
    ticket = sign_ticket(KEY, ident, now=1000.25, ttl=60, ticket_id="abc", reusable=True)
    version, payload, mac = ticket.split(".")
    assert version == "v2"
    expected = hmac.new(KEY, f"v2.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == mac
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims == {
        "sub": "u-1",
        "name": "Ada",
        "perms": ["play"],
        "iat": 1000250,
        "exp": 1060250,
        "jti": "abc",
        "reuse": True,
    }


def test_minted_tickets_have_ids_nobody_can_guess() -> None:
    ident = Identity("u", "n", frozenset({PERM_PLAY}), "token")
    ids = {read_ticket(KEY, mint_ticket(KEY, ident), now=time.time()).id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 20 for i in ids)


def _signed(payload: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    mac = hmac.new(KEY, f"v2.{body}".encode(), hashlib.sha256).digest()
    return f"v2.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


GOOD = {"sub": "u", "name": "n", "perms": ["play"], "iat": 0, "exp": 60_000, "jti": "x"}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({k: v for k, v in GOOD.items() if k != "jti"}, "malformed"),  # a v1 payload
        ({**GOOD, "jti": ""}, "malformed"),
        ({**GOOD, "jti": "x" * 65}, "malformed"),
        ({**GOOD, "iat": "0"}, "malformed"),
        ({**GOOD, "exp": True}, "malformed"),
        ({**GOOD, "reuse": "yes"}, "malformed"),
        ({**GOOD, "exp": 3_600_001}, "longer than"),
        (["not", "an", "object"], "malformed"),
    ],
)
def test_signed_but_malformed_payloads_are_refused(payload: object, error: str) -> None:
    with pytest.raises(TicketError, match=error):
        read_ticket(KEY, _signed(payload), now=1)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("v2.", "v3.", 1),
        lambda t: t.replace("v2.", "v1.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0],
        lambda t: "v2.%%%.%%%",
        lambda t: "",
    ],
)
def test_forged_or_malformed_tickets_raise_ticket_error(mangle: Callable[[str], str]) -> None:
    ticket = sign_ticket(KEY, Identity("u", "n", frozenset(), "token"), now=0, ttl=60, ticket_id="t")
    with pytest.raises(TicketError):
        verify_ticket(KEY, mangle(ticket), now=1)


def test_ticket_signed_with_another_key_is_refused() -> None:
    ticket = sign_ticket(b"x" * 32, Identity("u", "n", frozenset(), "token"), now=0, ttl=60, ticket_id="t")
    with pytest.raises(TicketError, match="signature"):
        verify_ticket(KEY, ticket, now=1)


def test_load_secret_is_stable_and_race_free(tmp_path: Path) -> None:
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_secret(tmp_path / "s", TICKET_KEY)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results[0]) == 32
    assert load_secret(tmp_path / "s", TICKET_KEY) == results[0]
    assert [p.name for p in (tmp_path / "s").iterdir()] == [TICKET_KEY]  # no temp files left
