"""The host's moderation, passed to the relay's admin endpoint (relay/ADMIN.md): kick a member,
change an object's rule, reset a room."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.body import json_object
from app.errors import api_error, upstream_error
from app.services import services
from relay.admin_client import RULE_NAMES, RelayUnavailable, valid_room_name


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
