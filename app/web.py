"""The host-facing front: the host's dashboard at ``/``, the player page, invite pages, the Godot
download, static files, and the JSON API the pages use under ``/app/api/*``.

Permissions are checked here, on the server, for every route (app/access.py): the pages' own
links and buttons are a convenience, never the protection.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import links, pages
from app.access import HOST_COOKIE, is_action_request, viewer
from app.downloads import ZIP_NAME, godot_zip
from app.health import Health
from app.invites import ApiUnavailable, InviteApi, error_message
from app.traffic import TrafficHistory
from common.config import Config
from relay.admin_client import RelayAdmin, RelayUnavailable, valid_room_name

__all__ = ["HOST_COOKIE", "STATIC_DIR", "build_app"]

STATIC_DIR = Path(__file__).with_name("static")
INVITE_CODE = re.compile(r"[A-Za-z0-9_-]{8,128}")
RULES = ("ask", "deny", "allow")
MAX_LABEL = 40

BASE_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# Standalone pages are never framed. In a grain, Sandstorm's shell frames them, and the bridge
# replaces this header with its own policy anyway (docs/sandstorm.md §UI Content-Security-Policy).
SECURITY_HEADERS = {
    "standalone": {
        "Content-Security-Policy": BASE_POLICY + "; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    },
    "sandstorm": {
        "Content-Security-Policy": BASE_POLICY + "; frame-src 'self' http: https:",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    },
}


def api_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "error": message}, status_code=status)


class Backends:
    """What the pages' API talks to; created lazily so that tests can build the app bare."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._client: httpx.AsyncClient | None = None
        self._invites: InviteApi | None = None
        self.health = Health(cfg)
        self.traffic = TrafficHistory()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False)
        return self._client

    @property
    def relay(self) -> RelayAdmin:
        return RelayAdmin(self.cfg.relay_admin_port, self.client)

    @property
    def invites(self) -> InviteApi:
        if self._invites is None:
            self._invites = InviteApi(self.cfg, self.client)
        return self._invites

    async def sample_traffic(self) -> None:
        """Keeps the traffic history filled while the app runs."""
        while True:
            try:
                stats: dict[str, Any] | None = await self.relay.stats()
            except RelayUnavailable:
                stats = None
            self.traffic.add(time.time(), stats)
            await asyncio.sleep(self.traffic.interval)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


Handler = Callable[[Request], Awaitable[Response]]


def build_app(cfg: Config) -> Starlette:
    backends = Backends(cfg)

    # -- permission wrappers: every API route goes through exactly one of these ---------------

    def for_host(handler: Handler, *, action: bool = False) -> Handler:
        async def guarded(request: Request) -> Response:
            if not viewer(request, cfg).is_host:
                return api_error(403, "only the host of this party may do this")
            if action and not is_action_request(request):
                return api_error(403, "this request must come from the dashboard (X-Requested-With: soiree)")
            return await handler(request)

        return guarded

    def for_players(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not viewer(request, cfg).can_play:
                return api_error(403, "only people invited to this party may see this")
            return await handler(request)

        return guarded

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "the body must be a JSON object")
        return body

    # -- pages ---------------------------------------------------------------------------------

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def host_login(request: Request) -> Response | None:
        """Standalone: ``?key=`` swaps the host key for a cookie, so it leaves the address bar."""
        key = request.query_params.get("key")
        if key is None or cfg.mode != "standalone":
            return None
        if not links.is_host_key(cfg, key):
            return pages.message("Host dashboard", "This host link is not valid.", 403)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(HOST_COOKIE, key, httponly=True, samesite="strict", path="/")
        return response

    async def home(request: Request) -> Response:
        login = host_login(request)
        if login is not None:
            return login
        who = viewer(request, cfg)
        if who.is_host:
            return pages.dashboard(cfg.mode)
        if who.can_play:
            return RedirectResponse("/play", status_code=303)
        return no_access()

    async def host(request: Request) -> Response:
        """The address of the first versions' host page: it leads to the dashboard."""
        return host_login(request) or RedirectResponse("/", status_code=303)

    def no_access() -> Response:
        return pages.message(
            "No access",
            "You can't see this party. Ask its host to share it with you as a player.",
            403,
        )

    def address(request: Request) -> str:
        """The party's address as the visitor reached it (the front door says which scheme)."""
        scheme = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return f"{scheme if scheme in ('http', 'https') else request.url.scheme}://{request.url.netloc}"

    async def play(request: Request) -> Response:
        if not viewer(request, cfg).can_play:
            return no_access()
        return pages.player(cfg.mode, address(request))

    async def invite_page(request: Request) -> Response:
        code = request.path_params["code"]
        if cfg.mode != "standalone" or not INVITE_CODE.fullmatch(code):
            return pages.message("Not an invitation", "There is no invitation at this address.", 404)
        return pages.invite(address(request), f"{address(request)}/invite/{code}")

    async def download(request: Request) -> Response:
        if not viewer(request, cfg).can_play:
            return no_access()
        data = await asyncio.to_thread(godot_zip)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{ZIP_NAME}"'},
        )

    # -- the party, live -----------------------------------------------------------------------

    async def live(request: Request) -> Response:
        try:
            since = float(request.query_params.get("since", "0"))
        except ValueError:
            return api_error(400, "since must be a number (unix time)")
        history = backends.traffic.since(since)
        try:
            stats, rooms = await asyncio.gather(backends.relay.stats(), backends.relay.rooms())
        except RelayUnavailable as exc:
            return JSONResponse(
                {"relay": "not answering", "error": str(exc), "stats": None, "rooms": [], "history": history}
            )
        return JSONResponse({"relay": "ok", "stats": stats, "rooms": rooms, "history": history})

    async def party(request: Request) -> Response:
        """What players may know: the rooms and who is in them, by name."""
        try:
            rooms = await backends.relay.rooms()
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

    async def health(request: Request) -> Response:
        return JSONResponse(await backends.health.report())

    # -- moderation ------------------------------------------------------------------------------

    def room_name(request: Request) -> str:
        name = request.path_params["room"]
        if not valid_room_name(name):
            raise HTTPException(404, f"no room named {name!r}")
        return str(name)

    async def relay_action(path: str, body: Any) -> Response:
        try:
            status, answer = await backends.relay.request("POST", path, body)
        except RelayUnavailable as exc:
            return api_error(503, f"the relay is not answering: {exc}")
        if status != 200:
            error = answer.get("error", answer) if isinstance(answer, dict) else answer
            return api_error(status if 400 <= status < 500 else 502, str(error))
        return JSONResponse({"status": "ok", **answer})

    async def kick(request: Request) -> Response:
        name = room_name(request)
        member = (await json_body(request)).get("member")
        if isinstance(member, bool) or not isinstance(member, int) or member <= 0:
            return api_error(400, 'send {"member": <member id>}')
        return await relay_action(f"/rooms/{name}/kick", {"member": member})

    async def set_rule(request: Request) -> Response:
        name = room_name(request)
        object_id = request.path_params["object"]
        rule = (await json_body(request)).get("rule")
        if rule not in RULES:
            return api_error(400, 'send {"rule": "ask" | "deny" | "allow"}')
        return await relay_action(f"/rooms/{name}/objects/{object_id}/rule", {"rule": rule})

    async def reset(request: Request) -> Response:
        return await relay_action(f"/rooms/{room_name(request)}/reset", None)

    # -- standalone invites ----------------------------------------------------------------------

    async def invite_call(request: Request, method: str, path: str, body: Any = None) -> Response:
        if cfg.mode != "standalone":
            return api_error(
                404, "in a grain, friends are invited with Sandstorm's keys (the dashboard's invite form)"
            )
        try:
            status, answer = await backends.invites.call(method, path, request.headers, body)
        except ApiUnavailable as exc:
            return api_error(503, f"the API is not answering: {exc}")
        if status != 200:
            return api_error(status if 400 <= status < 500 else 502, error_message(answer))
        return JSONResponse({"status": "ok", **answer["data"]})

    async def list_invites(request: Request) -> Response:
        return await invite_call(request, "GET", "/invites")

    async def create_invite(request: Request) -> Response:
        label = (await json_body(request)).get("label", "")
        if not isinstance(label, str) or len(label.strip()) > MAX_LABEL:
            return api_error(400, f"a friend's name is text of at most {MAX_LABEL} characters")
        return await invite_call(request, "POST", "/invites", {"label": label.strip()})

    async def revoke_invite(request: Request) -> Response:
        invite_id = request.path_params["invite"]
        if not re.fullmatch(r"[0-9a-fA-F-]{36}", invite_id):
            return api_error(404, "no such invite")
        return await invite_call(request, "DELETE", f"/invites/{invite_id}")

    # -- errors ----------------------------------------------------------------------------------

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "error"
        if request.url.path.startswith("/app/api/"):
            return api_error(status, "not found" if status == 404 and detail == "Not Found" else str(detail))
        if status == 405:
            return pages.message("Not allowed", "This address does not take that kind of request.", 405)
        return pages.message("Not found", "There is nothing at this address.", status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sampler = asyncio.create_task(backends.sample_traffic())
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await backends.close()

    api = "/app/api"
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/", home),
            Route("/host", host),
            Route("/play", play),
            Route("/invite/{code}", invite_page),
            Route(f"/downloads/{ZIP_NAME}", download),
            Route(f"{api}/party", for_players(party)),
            Route(f"{api}/live", for_host(live)),
            Route(f"{api}/health", for_host(health)),
            Route(f"{api}/rooms/{{room}}/kick", for_host(kick, action=True), methods=["POST"]),
            Route(
                f"{api}/rooms/{{room}}/objects/{{object:int}}/rule",
                for_host(set_rule, action=True),
                methods=["POST"],
            ),
            Route(f"{api}/rooms/{{room}}/reset", for_host(reset, action=True), methods=["POST"]),
            Route(f"{api}/invites", for_host(list_invites), methods=["GET"]),
            Route(f"{api}/invites", for_host(create_invite, action=True), methods=["POST"]),
            Route(f"{api}/invites/{{invite}}", for_host(revoke_invite, action=True), methods=["DELETE"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, headers=SECURITY_HEADERS[cfg.mode])],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.backends = backends
    return app


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                static = scope["path"].startswith("/static/")
                headers.setdefault("Cache-Control", "no-cache" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
