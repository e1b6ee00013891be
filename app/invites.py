"""Standalone invite links on the dashboard: list, create and revoke them, through the
Uro-compatible API as the host (``app.api_client``). In a grain, Sandstorm's own sharing keys
replace them."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.api_client import ApiUnavailable, error_message
from app.body import json_object
from app.errors import api_error, upstream_error
from app.services import services
from app.templates import MAX_FRIEND_NAME

INVITE_ID = re.compile(r"[0-9a-fA-F-]{36}")


async def call_api(request: Request, method: str, path: str, body: Any = None) -> Response:
    if services(request).cfg.mode != "standalone":
        return api_error(
            404, "in a grain, friends are invited with Sandstorm's keys (the dashboard's invite form)"
        )
    try:
        status, answer = await services(request).api.call(method, path, request.headers, body)
    except ApiUnavailable as exc:
        return api_error(503, f"the API is not answering: {exc}")
    if status != 200:
        return upstream_error(status, error_message(answer))
    return JSONResponse({"status": "ok", **answer["data"]})


async def index(request: Request) -> Response:
    return await call_api(request, "GET", "/invites")


async def create(request: Request) -> Response:
    label = (await json_object(request)).get("label", "")
    if not isinstance(label, str) or len(label.strip()) > MAX_FRIEND_NAME:
        return api_error(400, f"a friend's name is text of at most {MAX_FRIEND_NAME} characters")
    return await call_api(request, "POST", "/invites", {"label": label.strip()})


async def revoke(request: Request) -> Response:
    invite_id = request.path_params["invite"]
    if not INVITE_ID.fullmatch(invite_id):
        return api_error(404, "no such invite")
    return await call_api(request, "DELETE", f"/invites/{invite_id}")
