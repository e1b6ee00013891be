"""Who is calling: Sandstorm's headers in a grain, a Uro token on a laptop (docs/architecture.md §Identity).

Public routes never reject a bad or empty token (COMPATIBILITY.md §Client habits): the caller is
just anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from starlette.requests import Request
from uro_shim.accounts import Account, account_for_access_token, ensure_sandstorm_account
from uro_shim.errors import forbidden, not_authenticated
from uro_shim.services import services

from common.identity import bearer_credential, from_sandstorm_headers

_UNSET = object()


def request_token(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """``Authorization: <token>`` (the client's style), ``Bearer <token>``, or a ``session`` cookie."""
    value = bearer_credential(headers.get("authorization", ""))
    if not value:
        value = cookies.get("session", "").strip()
    if not value or len(value) > 512:
        return None
    return value


async def current_account(request: Request) -> Account | None:
    cached = getattr(request.state, "account", _UNSET)
    if cached is not _UNSET:
        return cast("Account | None", cached)
    svc = services(request)
    account: Account | None = None
    if svc.sandstorm:
        identity = from_sandstorm_headers(request.headers.items())
        if identity is not None:
            async with svc.db.connection() as conn:
                account = await ensure_sandstorm_account(conn, identity, svc.settings)
    else:
        token = request_token(request.headers, request.cookies)
        if token is not None:
            async with svc.db.connection() as conn:
                account = await account_for_access_token(conn, token)
    request.state.account = account
    return account


async def require_account(request: Request) -> Account:
    account = await current_account(request)
    if account is None:
        raise not_authenticated()
    return account


async def require_player(request: Request) -> Account:
    account = await require_account(request)
    if not account.can_play:
        raise forbidden("Your role in this party does not include playing.")
    return account


async def require_admin(request: Request) -> Account:
    account = await require_account(request)
    if not account.is_admin:
        raise forbidden("Only the party's host can do that.")
    return account
