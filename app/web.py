"""The host-facing front as an ASGI application: the route table, the security headers, and the
state the handlers share (``app.services``).

Each route names its handler's module and the guard that checks who may reach it (``app.access``),
so this table is the map; what each module is: docs/architecture.md §The host-facing pages.
The pages' own links and buttons are a convenience, never the protection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from app import downloads, invites, moderation, pages, status
from app.access import for_host, for_host_action, for_players, page_for_players
from app.errors import API_PREFIX, SERVER_ERROR, http_error
from app.headers import SECURITY_HEADERS, SecurityHeaders
from app.services import Services
from common.config import Config
from common.invites import INVITE_PATH
from common.lastresort import LastResort

log = logging.getLogger("app")

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PATH = "/static"

ROUTES = [
    Route("/healthz", pages.healthz),
    Route("/", pages.home),  # by who is asking: the dashboard, a redirect to /play, or no access
    Route("/host", pages.old_host_page),
    Route("/play", page_for_players(pages.play)),
    Route(INVITE_PATH + "{code}", pages.invitation),
    Route(downloads.DOWNLOAD_PATH, page_for_players(downloads.download)),
    Route(f"{API_PREFIX}/party", for_players(status.party)),
    Route(f"{API_PREFIX}/live", for_host(status.live)),
    Route(f"{API_PREFIX}/health", for_host(status.health)),
    Route(f"{API_PREFIX}/rooms/{{room}}/kick", for_host_action(moderation.kick), methods=["POST"]),
    Route(
        f"{API_PREFIX}/rooms/{{room}}/objects/{{object:int}}/rule",
        for_host_action(moderation.set_rule),
        methods=["POST"],
    ),
    Route(f"{API_PREFIX}/rooms/{{room}}/reset", for_host_action(moderation.reset), methods=["POST"]),
    Route(f"{API_PREFIX}/accounts", for_host(moderation.accounts)),
    Route(
        f"{API_PREFIX}/accounts/{{user}}/clear", for_host_action(moderation.clear_account), methods=["POST"]
    ),
    Route(
        f"{API_PREFIX}/accounts/{{user}}/remove", for_host_action(moderation.remove_account), methods=["POST"]
    ),
    Route(f"{API_PREFIX}/policy", for_host_action(moderation.set_policy), methods=["POST"]),
    Route(f"{API_PREFIX}/invites", for_host(invites.index), methods=["GET"]),
    Route(f"{API_PREFIX}/invites", for_host_action(invites.create), methods=["POST"]),
    Route(f"{API_PREFIX}/invites/{{invite}}", for_host_action(invites.revoke), methods=["DELETE"]),
    Mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static"),
]


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    running: Services = app.state.services
    sampler = asyncio.create_task(running.sample_traffic())
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await running.close()


def build_app(cfg: Config) -> Starlette:
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(SecurityHeaders, headers=SECURITY_HEADERS[cfg.mode], static_path=STATIC_PATH),
            # innermost: an unexpected exception is this request's JSON 500, never the next one's
            Middleware(LastResort, body={"status": "error", "error": SERVER_ERROR}, log=log),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.services = Services(cfg)
    return app
