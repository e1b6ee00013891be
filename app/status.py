"""The page API's views of the party: who is in it (for players), the relay live and the server's
health (for the host's dashboard)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.errors import api_error
from app.services import services
from relay.admin_client import RelayUnavailable


async def party(request: Request) -> Response:
    """What players may know: the rooms and who is in them, by name."""
    try:
        rooms = await services(request).relay.rooms()
    except RelayUnavailable:
        return JSONResponse({"relay": "not answering", "rooms": []})
    return JSONResponse(
        {
            "relay": "ok",
            "rooms": [
                {
                    "name": room["name"],
                    "max_members": room.get("max_members"),
                    "members": sorted(m["name"] for m in room.get("members", [])),
                }
                for room in rooms
            ],
        }
    )


async def live(request: Request) -> Response:
    """The dashboard's refresh: the relay's stats, every room in detail, traffic after ``since``."""
    try:
        since = float(request.query_params.get("since", "0"))
    except ValueError:
        return api_error(400, "since must be a number (unix time)")
    running = services(request)
    history = running.traffic.since(since)
    relay = running.relay
    try:
        stats, rooms = await asyncio.gather(relay.stats(), relay.rooms())
    except RelayUnavailable as exc:
        return JSONResponse(
            {"relay": "not answering", "error": str(exc), "stats": None, "rooms": [], "history": history}
        )
    return JSONResponse({"relay": "ok", "stats": stats, "rooms": rooms, "history": history})


async def health(request: Request) -> Response:
    return JSONResponse(await services(request).health.report())
