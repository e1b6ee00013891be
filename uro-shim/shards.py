"""The game-server list (COMPATIBILITY.md §Client calls), with the relay's rooms merged in.

A registered shard is listed while its heartbeat (any PUT, even without a body) is under 30 s
old. The relay's rooms come from its loopback admin endpoint, each as a shard with a ``url`` a
client joins with; if the relay does not answer quickly, only registered shards are listed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import psycopg
from starlette.requests import Request
from starlette.responses import JSONResponse
from uro_shim.accounts import Account, now_utc
from uro_shim.auth import current_account, require_player
from uro_shim.body import read_fields
from uro_shim.errors import forbidden, not_found, ok
from uro_shim.forms import Fields, FormError, parse_uuid
from uro_shim.forwarded import client_address, host_and_port, relay_room_url
from uro_shim.schema import DEFAULT_MAP_ID
from uro_shim.services import services

from common.config import LOOPBACK
from common.db import fetch_row

log = logging.getLogger("uro_shim.shards")

FRESH = timedelta(seconds=30)  # shard_freshness_time_in_seconds
FORGET = timedelta(minutes=10)  # rows older than this are deleted
DEFAULT_MAP = f"uro://{DEFAULT_MAP_ID}"
MAX_USERS = 100_000

_COLUMNS = (
    "s.id, s.user_id, s.address, s.port, s.map, s.name, s.current_users, s.max_users, u.display_name, s.url"
)
ROOM_URL_SCHEMES = ("ws://", "wss://")
MAX_URL = 2048


def shard_json(row: tuple[Any, ...]) -> dict[str, Any]:
    shard_id, _user_id, address, port, map_, name, current, maximum, owner_name, url = row
    shard = {
        "id": str(shard_id),
        # The client reads ``user`` only as a string (godot_uro_helper.gd process_shards_json).
        "user": owner_name or "",
        "address": address,
        "port": int(port),
        "map": map_,
        "name": name,
        "current_users": int(current),
        "max_users": int(maximum),
    }
    if url is not None:  # a relay room on another machine: the URL that joins it
        shard["url"] = url
    return shard


def room_shard(room: dict[str, Any], headers: Any, default_scheme: str) -> dict[str, Any]:
    """A relay room in the classic shard shape, plus the URL that joins it."""
    address, port = host_and_port(headers, default_scheme)
    return {
        "id": f"relay:{room['name']}",
        "user": "",
        "address": address,
        "port": port,
        "map": DEFAULT_MAP,
        "name": room["name"],
        "current_users": room["members"],
        "max_users": room["max_members"],
        "objects": room["objects"],
        "url": relay_room_url(headers, room["name"], default_scheme, room.get("relay", 0)),
    }


def valid_rooms(payload: Any) -> list[dict[str, Any]]:
    """The rooms of a ``GET /rooms`` answer that have the documented shape; others are skipped."""
    rooms = payload.get("rooms") if isinstance(payload, dict) else None
    if not isinstance(rooms, list):
        return []
    good = []
    for room in rooms:
        if (
            isinstance(room, dict)
            and isinstance(room.get("name"), str)
            and 0 < len(room["name"]) <= 128
            and all(type(room.get(k)) is int and room[k] >= 0 for k in ("members", "max_members", "objects"))
        ):
            good.append(room)
    return good


async def relay_rooms(http: httpx.AsyncClient, ports: Sequence[int], timeout: float) -> list[dict[str, Any]]:
    """The rooms of every relay process (``ports``: their admin ports, by index), each with the
    ``relay`` index of the process that holds it; a process that does not answer adds none."""

    async def one(index: int, port: int) -> list[dict[str, Any]]:
        try:
            response = await http.get(f"http://{LOOPBACK}:{port}/rooms", timeout=timeout)
            if response.status_code != 200:
                return []
            return [{**room, "relay": index} for room in valid_rooms(response.json())]
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("relay %d rooms unavailable: %s", index, exc)
            return []

    found = await asyncio.gather(*(one(index, port) for index, port in enumerate(ports)))
    return [room for rooms in found for room in rooms]


async def index(request: Request) -> JSONResponse:
    svc = services(request)
    async with svc.db.connection() as conn:
        cur = await conn.execute(
            f"""SELECT {_COLUMNS} FROM uro_shards s LEFT JOIN uro_users u ON u.id = s.user_id
                WHERE s.updated_at > %s ORDER BY s.created_at LIMIT 500""",
            (now_utc() - FRESH,),
        )
        rows = await cur.fetchall()
    shards = [shard_json(row) for row in rows]
    rooms = await relay_rooms(svc.http, svc.settings.config.relay_admin_ports, svc.settings.relay_timeout)
    shards += [room_shard(room, request.headers, request.url.scheme) for room in rooms]
    return ok({"shards": shards})


def _peer(request: Request) -> str:
    return client_address(request.headers, request.client.host if request.client else None)


async def _caller(request: Request) -> Account | None:
    # In a grain everyone is someone, and only players may announce servers.
    if services(request).sandstorm:
        return await require_player(request)
    return await current_account(request)


def _shard_values(fields: Fields, *, creating: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "address": fields.text("address", max_len=255),
        "port": fields.integer("port", required=creating, low=1, high=65535),
        # A relay room on another machine (it has a url) may leave the map to the default.
        "map": fields.text("map", required=creating and fields.raw("url") is None, max_len=1024),
        "name": fields.text("name", required=creating, max_len=128),
        "current_users": fields.integer("current_users", default=0 if creating else None, high=MAX_USERS),
        "max_users": fields.integer("max_users", default=32 if creating else None, high=MAX_USERS),
        "url": fields.text("url", max_len=MAX_URL),
    }
    url = values["url"]
    if url is not None and not url.startswith(ROOM_URL_SCHEMES):
        raise FormError("The shard's url must be a ws:// or wss:// URL.", fields.label("url"))
    return {k: v for k, v in values.items() if v is not None}


async def create(request: Request) -> JSONResponse:
    svc = services(request)
    account = await _caller(request)
    values = _shard_values(
        Fields(await read_fields(request, svc.settings.config.tmp_dir), "shard"), creating=True
    )
    values.setdefault("address", _peer(request))
    values.setdefault("map", DEFAULT_MAP)
    now = now_utc()

    async def insert(conn: psycopg.AsyncConnection) -> str:
        await conn.execute("DELETE FROM uro_shards WHERE updated_at < %s", (now - FORGET,))
        cur = await conn.execute(
            """INSERT INTO uro_shards
                   (user_id, address, port, map, name, current_users, max_users, updated_at, url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                account.id if account else None,
                values["address"],
                values["port"],
                values["map"],
                values["name"],
                values["current_users"],
                values["max_users"],
                now,
                values.get("url"),
            ),
        )
        return str((await fetch_row(cur))[0])

    return ok({"id": await svc.db.transaction(insert)})


def may_change(
    owner_id: str | None, shard_address: str, account: Account | None, caller_address: str
) -> bool:
    """Uro's rule: the owning user, or the same address for anonymous shards. Admins moderate."""
    if account is not None and account.is_admin:
        return True
    if owner_id is not None:
        return account is not None and account.id == owner_id
    return shard_address == caller_address


async def _change(request: Request, delete: bool) -> JSONResponse:
    svc = services(request)
    shard_id = parse_uuid(request.path_params["id"], "That shard")
    account = await _caller(request)
    values = (
        {}
        if delete
        else _shard_values(
            Fields(await read_fields(request, svc.settings.config.tmp_dir), "shard"), creating=False
        )
    )
    caller_address = _peer(request)

    async def apply(conn: psycopg.AsyncConnection) -> None:
        cur = await conn.execute("SELECT user_id, address FROM uro_shards WHERE id = %s", (shard_id,))
        row = await cur.fetchone()
        if row is None:
            raise not_found("That shard")
        owner = str(row[0]) if row[0] is not None else None
        if not may_change(owner, row[1], account, caller_address):
            raise forbidden("Only whoever announced this shard may change it.")
        if delete:
            await conn.execute("DELETE FROM uro_shards WHERE id = %s", (shard_id,))
            return
        # Any PUT is a heartbeat, even without fields (COMPATIBILITY.md §Client calls).
        sets = ", ".join(f"{column} = %s" for column in values)
        params = [*values.values(), now_utc(), shard_id]
        await conn.execute(
            f"UPDATE uro_shards SET {sets + ', ' if sets else ''}updated_at = %s WHERE id = %s", params
        )

    await svc.db.transaction(apply)
    return ok({"id": shard_id})


async def update(request: Request) -> JSONResponse:
    return await _change(request, delete=False)


async def delete(request: Request) -> JSONResponse:
    return await _change(request, delete=True)
