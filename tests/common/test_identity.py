from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from common.identity import (
    PERM_HOST,
    PERM_PLAY,
    Identity,
    TicketError,
    from_sandstorm_headers,
    sign_ticket,
    verify_ticket,
)
from common.secretfiles import TICKET_KEY, load_secret

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
    ticket = sign_ticket(KEY, ident, now=1000.0, ttl=60)
    back = verify_ticket(KEY, ticket, now=1030.0)
    assert (back.user_id, back.name, back.permissions) == (ident.user_id, "Bob", ident.permissions)
    assert back.source == "ticket"
    with pytest.raises(TicketError, match="expired"):
        verify_ticket(KEY, ticket, now=1061.0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0],
        lambda t: "v1.%%%.%%%",
        lambda t: "",
    ],
)
def test_forged_or_malformed_tickets_raise_ticket_error(mangle: Callable[[str], str]) -> None:
    ticket = sign_ticket(KEY, Identity("u", "n", frozenset(), "token"), now=0, ttl=60)
    with pytest.raises(TicketError):
        verify_ticket(KEY, mangle(ticket), now=1)


def test_ticket_signed_with_another_key_is_refused() -> None:
    ticket = sign_ticket(b"x" * 32, Identity("u", "n", frozenset(), "token"), now=0, ttl=60)
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
