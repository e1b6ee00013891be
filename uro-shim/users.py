"""Soirée extension: the host manages the privilege ruleset (COMPATIBILITY.md §Soirée extensions)."""

from __future__ import annotations

from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from uro_shim import accounts
from uro_shim.auth import require_admin
from uro_shim.body import read_fields
from uro_shim.errors import ApiError, not_found, ok
from uro_shim.forms import Fields, parse_uuid
from uro_shim.services import services

RULESET_COLUMNS = ("is_admin", "can_upload_avatars", "can_upload_maps", "can_upload_props")


def user_entry(account: accounts.Account) -> dict[str, Any]:
    return {**account.user_json(), "kind": account.kind, "user_privilege_ruleset": account.ruleset_json()}


async def index(request: Request) -> JSONResponse:
    await require_admin(request)
    async with services(request).db.connection() as conn:
        cur = await conn.execute(
            f"SELECT {accounts.USER_COLUMNS} FROM uro_users u ORDER BY u.created_at LIMIT 1000"
        )
        rows = await cur.fetchall()
    return ok({"users": [user_entry(accounts.account_from_row(row)) for row in rows]})


async def set_privileges(request: Request) -> JSONResponse:
    """``user_privilege_ruleset[is_admin|can_upload_*]`` (form or JSON); fields left out stay as they are."""
    admin = await require_admin(request)
    svc = services(request)
    user_id = parse_uuid(request.path_params["id"], "That account")
    fields = Fields(await read_fields(request, svc.settings.config.tmp_dir), "user_privilege_ruleset")
    changes = {name: fields.boolean(name) for name in RULESET_COLUMNS}
    changes = {k: v for k, v in changes.items() if v is not None}
    if user_id == admin.id and changes.get("is_admin") is False:
        raise ApiError(409, "You cannot take away your own admin rights.")

    async def apply(conn: psycopg.AsyncConnection) -> accounts.Account | None:
        if changes:
            sets = ", ".join(f"{column} = %s" for column in changes)
            await conn.execute(
                f"UPDATE uro_users SET {sets}, updated_at = now() WHERE id = %s", (*changes.values(), user_id)
            )
        return await accounts.account_by_id(conn, user_id)

    account = await svc.db.transaction(apply)
    if account is None:
        raise not_found("That account")
    return ok(user_entry(account))
