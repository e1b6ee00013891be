"""Sign-up, sign-in, renew, sign-out, profile (COMPATIBILITY.md §Client calls), host key, relay tickets.

In a grain the bridge has already authenticated the player (docs/sandstorm.md §Request headers): sign-in and
renew answer with the Sandstorm identity's account and placeholder tokens, which the client
stores and sends back, and which the bridge drops before they reach us.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from uro_shim import accounts
from uro_shim.accounts import Account, session_block
from uro_shim.auth import current_account, request_token, require_account, require_player
from uro_shim.body import read_fields
from uro_shim.errors import ApiError, forbidden, ok
from uro_shim.forms import Fields
from uro_shim.forwarded import public_url
from uro_shim.relay_sessions import SIGNED_OUT, end_relay_sessions
from uro_shim.services import Services, services

from common.config import RELAY_PATH
from common.identity import TICKET_TTL, clean_name, host_key_text
from common.secretfiles import mint_ticket

SANDSTORM_TOKEN = "sandstorm"  # placeholder: inside a grain the bridge authenticates every request
USERNAME = re.compile(r"^[a-z0-9_]{3,16}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def invalid_token() -> ApiError:
    return ApiError(401, "Invalid token: sign in again.")


async def _fields(request: Request) -> dict[str, Any]:
    return await read_fields(request, services(request).settings.config.tmp_dir)


async def _sandstorm_session(request: Request) -> JSONResponse:
    account = await current_account(request)
    if account is None:
        raise ApiError(401, "This request carries no Sandstorm identity.")
    return ok(session_block(account, SANDSTORM_TOKEN, SANDSTORM_TOKEN))


async def register(request: Request) -> JSONResponse:
    svc = services(request)
    if svc.sandstorm:
        raise forbidden("This party uses Sandstorm accounts: no registration is needed, just sign in.")
    body = await _fields(request)
    if not svc.settings.signup_api_key:
        raise forbidden("Registration is closed on this party: ask the host for an invite link.")
    api_key = Fields(body).text("apiKey", max_len=256) or ""
    if not hmac.compare_digest(api_key.encode(), svc.settings.signup_api_key.encode()):
        raise forbidden("This client may not register accounts here.")
    user = Fields(body, "user")
    username = (user.text("username", required=True, max_len=64) or "").strip().lower()
    if not USERNAME.match(username):
        raise ApiError(
            400,
            "A username is 3 to 16 lowercase letters, digits or underscores.",
            errors={"username": ["has an invalid format"]},
        )
    if username in accounts.RESERVED_USERNAMES:
        raise ApiError(409, "That username is reserved.", errors={"username": ["is reserved"]})
    email = (user.text("email", max_len=254) or "").strip().lower() or None
    if email is not None and not EMAIL.match(email):
        raise ApiError(
            400, "That e-mail address does not look right.", errors={"email": ["has an invalid format"]}
        )
    password = user.text("password", required=True, max_len=4096, min_len=8) or ""
    confirmation = user.text("password_confirmation", max_len=4096)
    if confirmation is not None and confirmation != password:
        raise ApiError(
            400,
            "The password confirmation does not match.",
            errors={"password_confirmation": ["does not match"]},
        )
    hashed = await accounts.hash_password(password, svc.settings.bcrypt_rounds)

    async def create(conn: psycopg.AsyncConnection) -> tuple[Account, str, str]:
        cur = await conn.execute(
            "SELECT username, email FROM uro_users WHERE username = %s OR email = %s", (username, email)
        )
        for taken_username, taken_email in await cur.fetchall():
            if taken_username == username:
                raise ApiError(
                    409, "That username is taken.", errors={"username": ["has already been taken"]}
                )
            if email is not None and taken_email == email:
                raise ApiError(
                    409, "That e-mail address is taken.", errors={"email": ["has already been taken"]}
                )
        inserted = await accounts.insert_account(
            conn,
            username=username,
            display_name=username,
            email=email,
            password_hash=hashed,
            kind=accounts.KIND_REGISTERED,
            flags=accounts.player_flags(svc.settings),
        )
        session = await accounts.sign_in_where(conn, "u.username = %s", (username,), svc.settings)
        if not inserted or session is None:
            raise ApiError(409, "That username or e-mail address is taken.")
        return session

    account, access, renewal = await svc.db.transaction(create)
    return ok(session_block(account, access, renewal))


async def login(request: Request) -> JSONResponse:
    svc = services(request)
    if svc.sandstorm:
        return await _sandstorm_session(request)
    user = Fields(await _fields(request), "user")
    identifier = (
        (
            user.text("username_or_email", max_len=254)
            or user.text("username", max_len=254)
            or user.text("email", max_len=254)
            or ""
        )
        .strip()
        .lower()
    )
    password = user.text("password", required=True, max_len=4096) or ""
    async with svc.db.connection() as conn:
        cur = await conn.execute(
            f"SELECT {accounts.USER_COLUMNS}, u.password_hash FROM uro_users u"
            " WHERE u.username = %s OR u.email = %s",
            (identifier, identifier),
        )
        row = await cur.fetchone() if identifier else None
    stored_hash = row[-1] if row else None
    if not await accounts.check_password(password, stored_hash) or row is None:
        raise ApiError(401, "Invalid username or password.")
    account = accounts.account_from_row(row[:-1])

    async def start(conn: psycopg.AsyncConnection) -> tuple[str, str]:
        return await accounts.create_session(conn, account.id, svc.settings)

    access, renewal = await svc.db.transaction(start)
    return ok(session_block(account, access, renewal))


async def renew(request: Request) -> JSONResponse:
    svc = services(request)
    if svc.sandstorm:
        return await _sandstorm_session(request)
    await _fields(request)  # the client sends none; read anything sent so the connection stays clean
    token = request_token(request.headers, request.cookies)
    if token is None:
        raise invalid_token()

    async def rotate(conn: psycopg.AsyncConnection) -> tuple[Account, str, str] | None:
        return await accounts.rotate_session(conn, token, svc.settings)

    rotated = await svc.db.transaction(rotate)
    if rotated is None:
        raise invalid_token()
    account, access, renewal = rotated
    return ok(session_block(account, access, renewal))


async def logout(request: Request) -> JSONResponse:
    """Always 200 with an empty object, as classic Uro did (COMPATIBILITY.md §Client calls). The
    account's relay sessions end too, and the relay tickets it was given stop working."""
    svc = services(request)
    token = request_token(request.headers, request.cookies)
    if token is not None and not svc.sandstorm:

        async def forget(conn: psycopg.AsyncConnection) -> list[str]:
            return await accounts.delete_session(conn, token)

        await end_relay_sessions(svc, await svc.db.transaction(forget), SIGNED_OUT)
    return ok({})


async def profile(request: Request) -> JSONResponse:
    """No tokens: a wrong one would overwrite the client's renewal token (COMPATIBILITY.md §Session block)."""
    account = await require_account(request)
    return ok(session_block(account, None, None))


async def update_profile(request: Request) -> JSONResponse:
    """Soirée extension: a player sets the name others see."""
    svc = services(request)
    account = await require_account(request)
    user = Fields(await _fields(request), "user")
    raw = user.text("display_name", required=True, max_len=256) or ""
    name = clean_name(raw, fallback="")
    if not name:
        raise ApiError(
            400, "A display name needs at least one visible character.", errors={"display_name": ["is blank"]}
        )

    async def rename(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(
            "UPDATE uro_users SET display_name = %s, updated_at = now() WHERE id = %s", (name, account.id)
        )

    await svc.db.transaction(rename)
    return ok(session_block(dataclasses.replace(account, display_name=name), None, None))


async def host_session(request: Request) -> JSONResponse:
    """Soirée extension: the standalone host signs in with the host key."""
    svc = services(request)
    if svc.sandstorm:
        raise forbidden("In a grain the host is whoever Sandstorm gives the host role; no key is needed.")
    fields = Fields(await _fields(request))
    given = (fields.text("key", max_len=256) or fields.text("host_key", max_len=256) or "").strip()
    if not given or not hmac.compare_digest(given.encode(), host_key_text(svc.host_key).encode()):
        raise forbidden("That host key is not right.")

    async def start(conn: psycopg.AsyncConnection) -> tuple[Account, str, str]:
        await accounts.insert_account(
            conn,
            username=accounts.HOST_USERNAME,
            display_name="Host",
            kind=accounts.KIND_HOST,
            flags=(True, True, True),
            is_admin=True,
        )
        session = await accounts.sign_in_where(
            conn,
            "u.username = %s AND u.kind = %s",
            (accounts.HOST_USERNAME, accounts.KIND_HOST),
            svc.settings,
        )
        if session is None:
            raise ApiError(409, "The host account's name is taken by another account.")
        return session

    account, access, renewal = await svc.db.transaction(start)
    return ok(session_block(account, access, renewal))


def _relay_url(request: Request) -> str:
    return public_url(request.headers, RELAY_PATH, websocket=True, default_scheme=request.url.scheme)


async def ticket(request: Request) -> JSONResponse:
    """Soirée extension: a short-lived proof of identity the relay checks offline."""
    svc: Services = services(request)
    account = await require_player(request)
    signed = mint_ticket(svc.ticket_key, account.identity(), ttl=TICKET_TTL)
    return ok({"ticket": signed, "expires_in": TICKET_TTL, "relay_url": _relay_url(request)})
