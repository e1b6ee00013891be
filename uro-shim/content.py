"""Avatars, maps and props: the public lists and the uploader's dashboard (COMPATIBILITY.md §Client calls)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from uro_shim import uploads
from uro_shim.accounts import Account, new_content_id
from uro_shim.auth import require_account
from uro_shim.body import Body, Upload, read_body
from uro_shim.errors import bad_request, forbidden, not_found, ok
from uro_shim.forms import Fields, parse_uuid
from uro_shim.services import services
from uro_shim.settings import CONTENT_KINDS

from common.config import URO_API
from common.db import fetch_row

SINGULAR = {"avatars": "avatar", "maps": "map", "props": "prop"}
_COLUMNS = "id, name, description, uploader_id, is_public, data_file, preview_file, created_at, updated_at"
LIST_LIMIT = 500


def _naive(value: datetime) -> str:
    """Classic Uro's timestamps: ISO 8601 in UTC without a zone suffix."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def item_json(row: tuple[Any, ...]) -> dict[str, Any]:
    content_id, name, description, uploader_id, is_public, data_file, preview_file, created, updated = row
    return {
        "id": str(content_id),
        "name": name,
        "description": description or "",
        "user_content_data": uploads.url_for(data_file),
        "user_content_preview": uploads.url_for(preview_file),
        "uploader_id": str(uploader_id) if uploader_id else None,
        "is_public": bool(is_public),
        "inserted_at": _naive(created),
        "updated_at": _naive(updated),
    }


async def _rows(request: Request, where: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    async with services(request).db.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM uro_content WHERE {where}", params)
        return await cur.fetchall()


async def public_index(request: Request, kind: str) -> JSONResponse:
    rows = await _rows(
        request, "kind = %s AND is_public ORDER BY created_at DESC LIMIT %s", (kind, LIST_LIMIT)
    )
    return ok({kind: [item_json(row) for row in rows]})


async def public_show(request: Request, kind: str) -> JSONResponse:
    """Shown even when not public: a link to it is how players share it (COMPATIBILITY.md §Client calls)."""
    content_id = parse_uuid(request.path_params["id"], f"That {SINGULAR[kind]}")
    rows = await _rows(request, "id = %s AND kind = %s", (content_id, kind))
    if not rows:
        raise not_found(f"That {SINGULAR[kind]}")
    return ok({SINGULAR[kind]: item_json(rows[0])})


def _mine(account: Account) -> tuple[str, tuple[Any, ...]]:
    # The host also sees content nobody uploaded (the seeded default map), to replace it.
    if account.is_admin:
        return "(uploader_id = %s OR uploader_id IS NULL)", (account.id,)
    return "uploader_id = %s", (account.id,)


async def dashboard_index(request: Request, kind: str) -> JSONResponse:
    account = await require_account(request)
    mine, params = _mine(account)
    rows = await _rows(
        request, f"kind = %s AND {mine} ORDER BY created_at DESC LIMIT %s", (kind, *params, LIST_LIMIT)
    )
    return ok({kind: [item_json(row) for row in rows]})


async def dashboard_show(request: Request, kind: str) -> JSONResponse:
    account = await require_account(request)
    content_id = parse_uuid(request.path_params["id"], f"That {SINGULAR[kind]}")
    mine, params = _mine(account)
    rows = await _rows(request, f"id = %s AND kind = %s AND {mine}", (content_id, kind, *params))
    if not rows:
        raise not_found(f"That {SINGULAR[kind]}")
    return ok({SINGULAR[kind]: item_json(rows[0])})


async def _uploader(request: Request, kind: str) -> Account:
    account = await require_account(request)
    if not account.can_upload(kind):
        raise forbidden(f"Your account may not upload {kind} on this party: ask the host.")
    return account


def _file(fields: Fields, name: str, *, required: bool) -> Upload | None:
    value = fields.raw(name)
    label = fields.label(name)
    if value is None:
        if required:
            raise bad_request(f"{label} is required: attach the file.", label)
        return None
    if not isinstance(value, Upload):
        raise bad_request(f"{label} must be a file.", label)
    return value


class _Upload:
    """The checked fields and files of one create or update, and the files it has placed."""

    def __init__(self, body: Body, kind: str, *, creating: bool) -> None:
        singular = SINGULAR[kind]
        fields = Fields(body.fields, singular)
        self.values: dict[str, Any] = {
            "name": fields.text("name", required=creating, max_len=128),
            "description": fields.text("description", default="" if creating else None, max_len=4096),
            "is_public": fields.boolean("is_public", default=False if creating else None),
        }
        self.values = {k: v for k, v in self.values.items() if v is not None}
        self.data = _file(fields, "user_content_data", required=creating)
        self.preview = _file(fields, "user_content_preview", required=False)
        self.data_ext = uploads.check_data(self.data, f"{singular}[user_content_data]") if self.data else ""
        self.preview_ext = (
            uploads.check_preview(self.preview, f"{singular}[user_content_preview]") if self.preview else ""
        )
        self.placed: list[str] = []

    async def place(self, request: Request, content_id: str) -> None:
        uploads_dir = services(request).settings.config.uploads_dir
        version = time.time_ns() // 1000
        if self.data is not None:
            name = uploads.stored_name(content_id, version, "original", self.data_ext)
            await uploads.place(self.data, uploads_dir, name)
            self.placed.append(name)
            self.values["data_file"] = name
        if self.preview is not None:
            name = uploads.stored_name(content_id, version, "preview", self.preview_ext)
            await uploads.place(self.preview, uploads_dir, name)
            self.placed.append(name)
            self.values["preview_file"] = name

    def unplace(self, request: Request) -> None:
        uploads.remove(services(request).settings.config.uploads_dir, *self.placed)


async def _with_upload(
    request: Request, kind: str, creating: bool, run: Callable[[_Upload], Awaitable[JSONResponse]]
) -> JSONResponse:
    settings = services(request).settings
    body = await read_body(request, max_upload=settings.max_upload_bytes, tmp_dir=settings.config.tmp_dir)
    try:
        upload = _Upload(body, kind, creating=creating)
        try:
            return await run(upload)
        except BaseException:
            upload.unplace(request)  # the database never saw these files
            raise
    finally:
        body.discard()


async def dashboard_create(request: Request, kind: str) -> JSONResponse:
    account = await _uploader(request, kind)
    content_id = new_content_id()

    async def run(upload: _Upload) -> JSONResponse:
        await upload.place(request, content_id)
        v = upload.values

        async def insert(conn: psycopg.AsyncConnection) -> tuple[Any, ...]:
            await conn.execute(
                """INSERT INTO uro_content
                       (id, kind, name, description, uploader_id, is_public, data_file, preview_file)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    content_id,
                    kind,
                    v["name"],
                    v["description"],
                    account.id,
                    v["is_public"],
                    v["data_file"],
                    v.get("preview_file"),
                ),
            )
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM uro_content WHERE id = %s", (content_id,))
            return await fetch_row(cur)

        row = await services(request).db.transaction(insert)
        return ok({"id": content_id, SINGULAR[kind]: item_json(row)})

    return await _with_upload(request, kind, True, run)


async def _owned_row(
    conn: psycopg.AsyncConnection, content_id: str, kind: str, account: Account
) -> tuple[Any, ...]:
    cur = await conn.execute(
        "SELECT uploader_id, data_file, preview_file FROM uro_content WHERE id = %s AND kind = %s FOR UPDATE",
        (content_id, kind),
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found(f"That {SINGULAR[kind]}")
    if not account.is_admin and (row[0] is None or str(row[0]) != account.id):
        raise forbidden(f"Only its uploader or the host may change this {SINGULAR[kind]}.")
    return row


async def dashboard_update(request: Request, kind: str) -> JSONResponse:
    """Fields and files present replace the old ones; ``uploader_id`` is never taken from the client."""
    account = await _uploader(request, kind)
    content_id = parse_uuid(request.path_params["id"], f"That {SINGULAR[kind]}")
    svc = services(request)

    async def run(upload: _Upload) -> JSONResponse:
        await upload.place(request, content_id)
        v = upload.values

        async def change(conn: psycopg.AsyncConnection) -> tuple[tuple[Any, ...], list[str]]:
            _, old_data, old_preview = await _owned_row(conn, content_id, kind, account)
            sets = ", ".join(f"{column} = %s" for column in v)
            await conn.execute(
                f"UPDATE uro_content SET {sets + ', ' if sets else ''}updated_at = now() WHERE id = %s",
                (*v.values(), content_id),
            )
            cur = await conn.execute(f"SELECT {_COLUMNS} FROM uro_content WHERE id = %s", (content_id,))
            replaced = [
                old for old, key in ((old_data, "data_file"), (old_preview, "preview_file")) if key in v
            ]
            return await fetch_row(cur), replaced

        row, replaced = await svc.db.transaction(change)
        uploads.remove(svc.settings.config.uploads_dir, *replaced)
        return ok({"id": content_id, SINGULAR[kind]: item_json(row)})

    return await _with_upload(request, kind, False, run)


async def dashboard_delete(request: Request, kind: str) -> JSONResponse:
    account = await _uploader(request, kind)
    content_id = parse_uuid(request.path_params["id"], f"That {SINGULAR[kind]}")
    svc = services(request)

    async def remove(conn: psycopg.AsyncConnection) -> tuple[str | None, str | None]:
        _, data_file, preview_file = await _owned_row(conn, content_id, kind, account)
        await conn.execute("DELETE FROM uro_content WHERE id = %s", (content_id,))
        return data_file, preview_file

    files = await svc.db.transaction(remove)
    uploads.remove(svc.settings.config.uploads_dir, *files)
    return ok({"id": content_id})


def routes() -> list[Route]:
    def bind(
        handler: Callable[[Request, str], Awaitable[JSONResponse]], kind: str
    ) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def endpoint(request: Request) -> JSONResponse:
            return await handler(request, kind)

        return endpoint

    table: list[Route] = []
    for kind in CONTENT_KINDS:
        table += [
            Route(f"{URO_API}/{kind}", bind(public_index, kind), methods=["GET"]),
            Route(f"{URO_API}/{kind}/{{id}}", bind(public_show, kind), methods=["GET"]),
            Route(f"{URO_API}/dashboard/{kind}", bind(dashboard_index, kind), methods=["GET"]),
            Route(f"{URO_API}/dashboard/{kind}", bind(dashboard_create, kind), methods=["POST"]),
            Route(f"{URO_API}/dashboard/{kind}/{{id}}", bind(dashboard_show, kind), methods=["GET"]),
            Route(
                f"{URO_API}/dashboard/{kind}/{{id}}", bind(dashboard_update, kind), methods=["PUT", "PATCH"]
            ),
            Route(f"{URO_API}/dashboard/{kind}/{{id}}", bind(dashboard_delete, kind), methods=["DELETE"]),
        ]
    return table
