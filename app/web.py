"""The host-facing pages: landing page, player page, host page, static files.

Everything is served from this origin only: a Sandstorm grain's UI runs under a strict
Content-Security-Policy (research/sandstorm.md §4.6), so there are no external assets, no inline
scripts and no inline styles anywhere.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import httpx
import psycopg
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import links
from app.config import LOOPBACK, Config
from app.identity import from_sandstorm_headers

STATIC_DIR = Path(__file__).with_name("static")
HOST_COOKIE = "soiree_host"
PART_TIMEOUT = 2.0

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Soirée</title>
<link rel="stylesheet" href="/static/soiree.css">
<link rel="icon" href="/static/soiree.svg" type="image/svg+xml">
</head>
<body>
<header><a class="brand" href="/">
<img src="/static/soiree.svg" alt="" width="32" height="32">Soirée</a></header>
<main>
{body}
</main>
</body>
</html>
"""
    return HTMLResponse(document, status_code=status_code)


def is_host(request: Request, cfg: Config) -> bool:
    if cfg.mode == "sandstorm":
        identity = from_sandstorm_headers(request.headers.items())
        return identity is not None and identity.is_host
    return links.is_host_key(cfg, request.cookies.get(HOST_COOKIE, ""))


async def http_part(port: int) -> str:
    try:
        async with httpx.AsyncClient(timeout=PART_TIMEOUT, trust_env=False) as client:
            response = await client.get(f"http://{LOOPBACK}:{port}/healthz")
    except httpx.HTTPError:
        return "not answering"
    if response.status_code == 200:
        return "ok"
    try:
        return str(response.json().get("status", response.status_code))
    except ValueError:
        return f"HTTP {response.status_code}"


async def database_part(url: str) -> str:
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=int(PART_TIMEOUT))
    except psycopg.Error:
        return "not answering"
    await conn.close()
    return "ok"


def build_app(cfg: Config) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def landing(request: Request) -> Response:
        return page(
            "A private V-Sekai party",
            """<h1>A private V-Sekai party</h1>
<p>This server hosts one party for V-Sekai, the open-source social VR platform built on Godot:
accounts and content for the guests, and a relay that keeps everyone's world in sync.</p>
<ul class="links">
<li><a href="/play">Join the party</a>: how to connect your V-Sekai client.</li>
<li><a href="/host">Host page</a>: for the person running this party.</li>
</ul>""",
        )

    async def play(request: Request) -> Response:
        if cfg.mode == "sandstorm":
            how = """<p>Ask the host for your personal link. Paste it into your V-Sekai client's
server field: it contains both the address of this party and your key.</p>"""
        else:
            base = html.escape(f"{request.url.scheme}://{request.url.netloc}")
            how = f"""<p>Paste this address into your V-Sekai client's server field:</p>
<p><code class="address">{base}</code></p>
<p>Your host gives you an invitation link to sign in with.</p>"""
        return page("Join the party", f"<h1>Join the party</h1>\n{how}")

    async def host(request: Request) -> Response:
        key = request.query_params.get("key")
        if key is not None and cfg.mode == "standalone":
            if not links.is_host_key(cfg, key):
                return page("Host page", "<h1>Host page</h1><p>This host link is not valid.</p>", 403)
            # Swap the key in the address bar for a cookie, so the key does not linger in history.
            response = RedirectResponse("/host", status_code=303)
            response.set_cookie(HOST_COOKIE, key, httponly=True, samesite="strict", path="/")
            return response
        if not is_host(request, cfg):
            return page(
                "Host page",
                "<h1>Host page</h1><p>Only the host of this party can see this page.</p>",
                403,
            )
        names = ("API", "Relay", "Database")
        states = await asyncio.gather(
            http_part(cfg.api_port), http_part(cfg.relay_port), database_part(cfg.database_url)
        )
        rows = "\n".join(
            f'<tr><th>{name}</th><td class="state-{html.escape(state.split()[0])}">'
            f"{html.escape(state)}</td></tr>"
            for name, state in zip(names, states, strict=True)
        )
        return page(
            "Host page",
            f"""<h1>Host page</h1>
<p>The parts of this party server:</p>
<table class="parts">
{rows}
</table>""",
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if request.url.path.startswith("/app/api/"):
            return JSONResponse({"status": "error", "error": "not found"}, status_code=status)
        return page("Not found", "<h1>Not found</h1><p>There is nothing at this address.</p>", status)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/", landing),
            Route("/play", play),
            Route("/host", host),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: not_found},
    )


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
