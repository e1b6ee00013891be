"""Soirée extension: invite links for a standalone party (docs/architecture.md §Identity).

The host creates a link per friend; redeeming it signs the friend into an account bound to
that invite. The link stays the friend's credential (as a Sandstorm API token would be): using
it again signs into the same account. Revoking it ends that account's sessions, in the API and
in the relay, and the link stops working. In a grain, invites are Sandstorm's own sharing links,
so these routes refuse.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from uro_shim import accounts
from uro_shim.accounts import session_block
from uro_shim.auth import require_admin
from uro_shim.body import read_fields
from uro_shim.errors import ApiError, forbidden, not_found, ok
from uro_shim.forms import Fields, parse_uuid
from uro_shim.forwarded import public_url
from uro_shim.relay_sessions import INVITE_REVOKED, end_relay_sessions
from uro_shim.services import services

from common.db import fetch_row
from common.identity import clean_name
from common.invites import INVITE_CODE_MAX_LEN, invite_path, new_invite_code

_SELECT = """SELECT i.id, i.code, i.label, i.created_at, i.revoked_at, u.id, u.display_name
    FROM uro_invites i LEFT JOIN uro_users u ON u.invite_id = i.id"""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def invite_json(row: tuple[Any, ...], request: Request) -> dict[str, Any]:
    invite_id, code, label, created_at, revoked_at, user_id, display_name = row
    return {
        "id": str(invite_id),
        "code": code,
        "label": label,
        "link": public_url(request.headers, invite_path(code), default_scheme=request.url.scheme),
        "created_at": _iso(created_at),
        "revoked": revoked_at is not None,
        "revoked_at": _iso(revoked_at),
        "redeemed_by": {"id": str(user_id), "display_name": display_name} if user_id else None,
    }


def _standalone_only(request: Request) -> None:
    if services(request).sandstorm:
        raise forbidden(
            "In a grain, invite friends with Sandstorm's sharing (the host dashboard's invite button)."
        )


async def create(request: Request) -> JSONResponse:
    _standalone_only(request)
    await require_admin(request)
    svc = services(request)
    fields = Fields(await read_fields(request, svc.settings.config.tmp_dir), "invite")
    label = clean_name(fields.text("label", max_len=256) or "", fallback="")
    code = new_invite_code()

    async def insert(conn: psycopg.AsyncConnection) -> tuple[Any, ...]:
        await conn.execute("INSERT INTO uro_invites (code, label) VALUES (%s, %s)", (code, label))
        cur = await conn.execute(_SELECT + " WHERE i.code = %s", (code,))
        return await fetch_row(cur)

    row = await svc.db.transaction(insert)
    return ok({"invite": invite_json(row, request)})


async def index(request: Request) -> JSONResponse:
    _standalone_only(request)
    await require_admin(request)
    async with services(request).db.connection() as conn:
        cur = await conn.execute(_SELECT + " ORDER BY i.created_at DESC LIMIT 1000")
        rows = await cur.fetchall()
    return ok({"invites": [invite_json(row, request) for row in rows]})


async def revoke(request: Request) -> JSONResponse:
    _standalone_only(request)
    await require_admin(request)
    invite_id = parse_uuid(request.path_params["id"], "That invite")

    async def apply(conn: psycopg.AsyncConnection) -> list[str] | None:
        cur = await conn.execute("SELECT revoked_at FROM uro_invites WHERE id = %s", (invite_id,))
        if await cur.fetchone() is None:
            return None
        await conn.execute(
            "UPDATE uro_invites SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (invite_id,)
        )
        cur = await conn.execute("SELECT id FROM uro_users WHERE invite_id = %s", (invite_id,))
        holders = [str(row[0]) for row in await cur.fetchall()]
        await conn.execute(
            "DELETE FROM uro_sessions WHERE user_id IN (SELECT id FROM uro_users WHERE invite_id = %s)",
            (invite_id,),
        )
        return holders

    svc = services(request)
    holders = await svc.db.transaction(apply)
    if holders is None:
        raise not_found("That invite")
    await end_relay_sessions(svc, holders, INVITE_REVOKED)
    return ok({"id": invite_id})


async def redeem(request: Request) -> JSONResponse:
    _standalone_only(request)
    svc = services(request)
    fields = Fields(await read_fields(request, svc.settings.config.tmp_dir), "invite")
    code = (fields.text("code", required=True, max_len=INVITE_CODE_MAX_LEN) or "").strip()
    wanted = clean_name(fields.text("display_name", max_len=256) or "", fallback="")

    async def sign_in(conn: psycopg.AsyncConnection) -> tuple[accounts.Account, str, str]:
        cur = await conn.execute("SELECT id, label, revoked_at FROM uro_invites WHERE code = %s", (code,))
        invite = await cur.fetchone()
        if invite is None:
            raise ApiError(404, "That invite link is not valid: ask the host for a new one.")
        invite_id, label, revoked_at = invite
        if revoked_at is not None:
            raise forbidden("That invite was revoked by the host.")
        await accounts.insert_account(
            conn,
            username="guest_" + secrets.token_hex(5),
            display_name=wanted or label or "Guest",
            kind=accounts.KIND_INVITE,
            invite_id=str(invite_id),
            flags=accounts.player_flags(svc.settings),
        )
        if wanted:
            await conn.execute(
                "UPDATE uro_users SET display_name = %s, updated_at = now() WHERE invite_id = %s",
                (wanted, invite_id),
            )
        session = await accounts.sign_in_where(conn, "u.invite_id = %s", (invite_id,), svc.settings)
        if session is None:
            raise ApiError(409, "That invite could not be used right now; try again.")
        return session

    account, access, renewal = await svc.db.transaction(sign_in)
    return ok(session_block(account, access, renewal))
