"""The Uro-compatible API as an ASGI application: routes, error shapes, start and stop."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uro_shim import content, invites, schema, sessions, shards, uploads, users
from uro_shim.errors import ApiError, error_body, error_response
from uro_shim.pool import Database
from uro_shim.services import Services, services
from uro_shim.settings import Settings

from common.config import URO_API
from common.lastresort import LastResort
from common.secretfiles import host_key, ticket_key

log = logging.getLogger("uro_shim")


async def healthz(request: Request) -> JSONResponse:
    db = services(request).db
    if await db.ping():
        return JSONResponse({"status": "ok"})
    return JSONResponse(
        {"status": "unavailable", "error": db.last_error or "database unreachable"}, status_code=503
    )


async def health(request: Request) -> JSONResponse:
    """HEAD Uro's ``GET /api/v1/health`` (COMPATIBILITY.md §Other Uro routes)."""
    db = services(request).db
    if await db.ping():
        return JSONResponse({"services": {"uro": "healthy"}, "status": "ok"})
    body = error_body(503, "The party's database is not reachable right now.")
    return JSONResponse({**body, "services": {"uro": "unhealthy"}, "status": "unavailable"}, status_code=503)


ROUTES = [
    Route("/healthz", healthz, methods=["GET"]),
    Route(f"{URO_API}/health", health, methods=["GET"]),
    Route(f"{URO_API}/registration", sessions.register, methods=["POST"]),
    Route(f"{URO_API}/session", sessions.login, methods=["POST"]),
    Route(f"{URO_API}/session", sessions.profile, methods=["GET"]),
    Route(f"{URO_API}/session", sessions.logout, methods=["DELETE"]),
    Route(f"{URO_API}/session/renew", sessions.renew, methods=["POST"]),
    Route(f"{URO_API}/profile", sessions.profile, methods=["GET"]),
    Route(f"{URO_API}/profile", sessions.update_profile, methods=["PUT", "PATCH"]),
    Route(f"{URO_API}/host/session", sessions.host_session, methods=["POST"]),
    Route(f"{URO_API}/tickets", sessions.ticket, methods=["POST"]),
    Route(f"{URO_API}/invites", invites.index, methods=["GET"]),
    Route(f"{URO_API}/invites", invites.create, methods=["POST"]),
    Route(f"{URO_API}/invites/redeem", invites.redeem, methods=["POST"]),
    Route(f"{URO_API}/invites/{{id}}", invites.revoke, methods=["DELETE"]),
    Route(f"{URO_API}/shards", shards.index, methods=["GET"]),
    Route(f"{URO_API}/shards", shards.create, methods=["POST"]),
    Route(f"{URO_API}/shards/{{id}}", shards.update, methods=["PUT", "PATCH"]),
    Route(f"{URO_API}/shards/{{id}}", shards.delete, methods=["DELETE"]),
    *content.routes(),
    Route(f"{URO_API}/users", users.index, methods=["GET"]),
    Route(f"{URO_API}/users/{{id}}/privileges", users.set_privileges, methods=["PUT", "PATCH"]),
    Route("/uploads/{name}", uploads.serve, methods=["GET"]),
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"There is no {request.url.path[:200]!r} here."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path[:200]!r}."
    else:
        message = exc.detail or "The request was not understood."
    return error_response(ApiError(exc.status_code, message))


SERVER_ERROR = "Something went wrong on the server."


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body(500, SERVER_ERROR), status_code=500)


def _clear_stale_uploads(settings: Settings) -> None:
    # Temp files from a process that died mid-upload; nothing refers to them.
    for stale in settings.config.tmp_dir.glob("upload-*.part"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


# Godot web exports run on another origin and call the API with fetch(). Credentials travel in
# the Authorization header, never in cookies, so any origin may call. Inside a grain the bridge
# answers preflights and adds these headers itself (docs/sandstorm.md §Request headers).
CORS = Middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    allow_headers=["Authorization", "Content-Type"],
    max_age=600,
)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    config = settings.config

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.tmp_dir.mkdir(parents=True, exist_ok=True)
        config.uploads_dir.mkdir(parents=True, exist_ok=True)
        _clear_stale_uploads(settings)
        db = Database(config.database_url, functools.partial(schema.prepare, uploads_dir=config.uploads_dir))
        # Loopback only: never through the proxy a grain's environment names
        # (docs/sandstorm.md §Grain environment).
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=4), trust_env=False)
        app.state.services = Services(
            settings=settings,
            db=db,
            http=http,
            ticket_key=ticket_key(config),
            host_key=host_key(config),
        )
        await db.start()
        await db.wait_up(10.0)  # serve regardless: until the database answers, requests get 503
        try:
            yield
        finally:
            await db.stop()
            await http.aclose()

    application = Starlette(
        routes=ROUTES,
        # LastResort inside CORS, so its 500s carry the CORS headers; _unexpected is for the rest.
        middleware=[CORS, Middleware(LastResort, body=error_body(500, SERVER_ERROR), log=log)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    application.router.redirect_slashes = False  # a JSON 404 beats a redirect the client would not follow
    return application
