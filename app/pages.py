"""The pages: the host's dashboard at ``/``, the player page, invitation pages, ``/healthz``.

Their HTML is in ``app.templates``; the data arrives later from the page API (``/app/api/*``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app import templates
from app.access import host_login, no_access, viewer
from app.services import services
from common.invites import INVITE_CODE, invite_path


def party_address(request: Request) -> str:
    """The party's address as the visitor reached it (the front door says which scheme)."""
    scheme = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return f"{scheme if scheme in ('http', 'https') else request.url.scheme}://{request.url.netloc}"


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def home(request: Request) -> Response:
    """The host's dashboard; players are sent to their page, strangers are told they have no access."""
    login = host_login(request)
    if login is not None:
        return login
    cfg = services(request).cfg
    who = viewer(request, cfg)
    if who.is_host:
        return templates.dashboard(cfg.mode)
    if who.can_play:
        return RedirectResponse("/play", status_code=303)
    return no_access()


async def old_host_page(request: Request) -> Response:
    """``/host``, the first versions' host page: it leads to the dashboard."""
    return host_login(request) or RedirectResponse("/", status_code=303)


async def play(request: Request) -> Response:
    return templates.player(services(request).cfg.mode, party_address(request))


async def invitation(request: Request) -> Response:
    """What a standalone invite link shows when opened in a browser; it redeems nothing."""
    code = request.path_params["code"]
    if services(request).cfg.mode != "standalone" or not INVITE_CODE.fullmatch(code):
        return templates.message("Not an invitation", "There is no invitation at this address.", 404)
    address = party_address(request)
    return templates.invite(address, address + invite_path(code))
