"""Who may see and do what on the host-facing pages, decided on the server for every request.

Sandstorm mode: the bridge builds ``X-Sandstorm-Permissions`` from scratch (docs/sandstorm.md
§Request headers), so it is trusted; ``host`` opens the dashboard and its actions, ``play`` the player page.
Any route may be reached with any token (an API token can be opened as a sharing link,
docs/sandstorm.md §API tokens), so nothing relies on which links a page shows.

Standalone mode: the front door strips ``X-Sandstorm-*``. The host proves themself once with the
host key (``/?key=...``), which becomes an HttpOnly, SameSite=Strict cookie; everyone else is a
visitor who may read the player page.

Requests that change something must also carry ``X-Requested-With: soiree``: a header no form
can send and no other site can add without a CORS preflight, which is never granted. Sandstorm's
bridge passes exactly this header through (docs/sandstorm.md §Request headers).

Every route in ``app.web`` goes through one of the guards below, or decides with ``viewer``
itself (the home page, which leads each visitor somewhere else).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from app import links, templates
from app.errors import api_error
from app.services import services
from common.config import Config
from common.identity import from_sandstorm_headers

HOST_COOKIE = "soiree_host"
ACTION_HEADER = "X-Requested-With"
ACTION_HEADER_VALUE = "soiree"

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Viewer:
    is_host: bool
    can_play: bool


def viewer(request: Request, cfg: Config) -> Viewer:
    if cfg.mode == "sandstorm":
        identity = from_sandstorm_headers(request.headers.items())
        if identity is None:
            return Viewer(is_host=False, can_play=False)
        return Viewer(is_host=identity.is_host, can_play=identity.can_play)
    is_host = links.is_host_key(cfg, request.cookies.get(HOST_COOKIE, ""))
    return Viewer(is_host=is_host, can_play=True)


def is_action_request(request: Request) -> bool:
    """True when the request carries the header only this site's own scripts send."""
    return request.headers.get(ACTION_HEADER, "").lower() == ACTION_HEADER_VALUE


def _viewer(request: Request) -> Viewer:
    return viewer(request, services(request).cfg)


# -- guards: every route of the page API goes through one of these three ----------------------


def for_players(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if not _viewer(request).can_play:
            return api_error(403, "only people invited to this party may see this")
        return await handler(request)

    return guarded


def for_host(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if not _viewer(request).is_host:
            return api_error(403, "only the host of this party may do this")
        return await handler(request)

    return guarded


def for_host_action(handler: Handler) -> Handler:
    """The host's requests that change something: they must also come from the dashboard."""

    @functools.wraps(handler)
    async def from_dashboard(request: Request) -> Response:
        if not is_action_request(request):
            return api_error(
                403, f"this request must come from the dashboard ({ACTION_HEADER}: {ACTION_HEADER_VALUE})"
            )
        return await handler(request)

    return for_host(from_dashboard)


# -- pages ---------------------------------------------------------------------------------------


def no_access() -> Response:
    return templates.message(
        "No access",
        "You can't see this party. Ask its host to share it with you as a player.",
        403,
    )


def page_for_players(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if not _viewer(request).can_play:
            return no_access()
        return await handler(request)

    return guarded


def host_login(request: Request) -> Response | None:
    """Standalone: ``?key=`` swaps the host key for a cookie, so it leaves the address bar."""
    cfg = services(request).cfg
    key = request.query_params.get("key")
    if key is None or cfg.mode != "standalone":
        return None
    if not links.is_host_key(cfg, key):
        return templates.message("Host dashboard", "This host link is not valid.", 403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(HOST_COOKIE, key, httponly=True, samesite="strict", path="/")
    return response
