"""The host's moderation, passed to the relay's admin endpoint (relay/ADMIN.md): kick a member,
change an object's rule, reset a room; each account's share of the party, removing what an account
left behind, removing a player from the party, and how many rooms each player may create."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.body import json_object
from app.errors import api_error, upstream_error
from app.services import services
from relay.admin_client import RULE_NAMES, RelayUnavailable, valid_room_name, valid_user_id


def room_name(request: Request) -> str:
    name = request.path_params["room"]
    if not valid_room_name(name):
        raise HTTPException(404, f"no room named {name!r}")
    return str(name)


async def relay_action(request: Request, path: str, body: Any) -> Response:
    try:
        status, answer = await services(request).relay.request("POST", path, body)
    except RelayUnavailable as exc:
        return api_error(503, f"the relay is not answering: {exc}")
    if status != 200:
        error = answer.get("error", answer) if isinstance(answer, dict) else answer
        return upstream_error(status, str(error))
    return JSONResponse({"status": "ok", **answer})


async def kick(request: Request) -> Response:
    name = room_name(request)
    member = (await json_object(request)).get("member")
    if isinstance(member, bool) or not isinstance(member, int) or member <= 0:
        return api_error(400, 'send {"member": <member id>}')
    return await relay_action(request, f"/rooms/{name}/kick", {"member": member})


async def set_rule(request: Request) -> Response:
    name = room_name(request)
    object_id = request.path_params["object"]
    rule = (await json_object(request)).get("rule")
    # checked here too, so that a bad request gets its 400 even while the relay is down
    if rule not in RULE_NAMES:
        return api_error(400, 'send {"rule": "ask" | "deny" | "allow"}')
    return await relay_action(request, f"/rooms/{name}/objects/{object_id}/rule", {"rule": rule})


async def reset(request: Request) -> Response:
    return await relay_action(request, f"/rooms/{room_name(request)}/reset", None)


# --- accounts ----------------------------------------------------------------------------------


def user_path(request: Request, action: str) -> str:
    user_id = request.path_params["user"]
    if not valid_user_id(user_id):
        raise HTTPException(404, "no such account")
    return f"/users/{quote(user_id, safe='')}/{action}"


async def accounts(request: Request) -> Response:
    """Each account's share (objects, saved objects and bytes, rooms created), the party's totals,
    the limits and the host's setting."""
    try:
        status, answer = await services(request).relay.request("GET", "/users")
    except RelayUnavailable as exc:
        return api_error(503, f"the relay is not answering: {exc}")
    if status != 200 or not isinstance(answer, dict):
        return upstream_error(status if status != 200 else 502, "the relay could not list the accounts")
    return JSONResponse({"status": "ok", **answer})


async def clear_account(request: Request) -> Response:
    """Everything the account spawned goes, saved objects included; its players stay."""
    return await relay_action(request, user_path(request, "clear"), None)


async def remove_account(request: Request) -> Response:
    """The player leaves the party now: every session ends and no ticket issued before is taken
    (with the relay's own reason, "removed by the host")."""
    return await relay_action(request, user_path(request, "end"), None)


async def set_policy(request: Request) -> Response:
    rooms = (await json_object(request)).get("player_rooms")
    if isinstance(rooms, bool) or not isinstance(rooms, int) or rooms < 0:
        return api_error(400, 'send {"player_rooms": <a number from 0>}')
    return await relay_action(request, "/policy", {"player_rooms": rooms})
