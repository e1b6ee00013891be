"""The host-facing pages: who lands where, the host's login, the player and invitation pages, headers."""

from __future__ import annotations

import asyncio
import functools
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import links
from app.access import HOST_COOKIE
from app.web import STATIC_DIR, build_app
from common.config import STACK_PORTS, Config
from tests.support.net import free_port_block
from tests.support.stack import ROOT, http_status, stack_env
from tests.support.waiting import wait_until

# Anything that would load from another origin: src/href attributes and CSS url()s with a scheme.
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.I
)


def client(cfg: Config) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(cfg)), base_url="http://party.test")


def on_asyncio(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """The app runs on asyncio (uvicorn); the suite's default async runner is trio."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def standalone(tmp_path: Path) -> Config:
    return Config.from_env({"SOIREE_VAR": str(tmp_path), "SOIREE_PORT": "9400"})


@on_asyncio
async def test_visitors_land_on_the_player_page_with_security_headers(standalone: Config) -> None:
    async with client(standalone) as c:
        home = await c.get("/")
        r = await c.get("/play")
    assert home.status_code == 303 and home.headers["location"] == "/play"
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'href="/static/soiree.css"' in r.text and 'src="/static/player.js"' in r.text
    assert "<script>" not in r.text and "style=" not in r.text  # no inline code under a strict CSP
    assert 'id="main"' in r.text and 'role="status"' in r.text and '<html lang="en">' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


@on_asyncio
async def test_static_files_are_served_and_nothing_is_external(standalone: Config) -> None:
    key = links.host_key(standalone)
    async with client(standalone) as c:
        css = await c.get("/static/soiree.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        script = await c.get("/static/dashboard.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        paths = ("/", "/play", "/invite/abcdefghijkl", "/nowhere", f"/?key={key}")
        pages = [(await c.get(path, follow_redirects=True)).text for path in paths]
    assert 'src="/static/dashboard.js"' in pages[-1]  # the host's dashboard is among them
    for text in [*pages, *(p.read_text() for p in STATIC_DIR.iterdir() if p.suffix != ".svg")]:
        assert not EXTERNAL.search(text), EXTERNAL.search(text)
        assert not re.search(r"\bimport\s*\(?\s*[\"']https?:", text)  # no remote modules


@on_asyncio
async def test_static_files_are_revalidated_and_pages_never_stored(standalone: Config) -> None:
    async with client(standalone) as c:
        static = await c.get("/static/soiree.css")
        page = await c.get("/play")
        api = await c.get("/app/api/party")
    assert static.headers["cache-control"] == "no-cache"
    assert page.headers["cache-control"] == api.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in static.headers["content-security-policy"]


@on_asyncio
async def test_player_page_shows_the_address_and_the_download(standalone: Config) -> None:
    async with client(standalone) as c:
        r = await c.get("/play")
    assert r.status_code == 200 and "http://party.test/invite/" in r.text
    assert 'href="/downloads/soiree-godot-demo.zip"' in r.text
    # Games made with Godot's own multiplayer join too, through the addon's peer.
    assert "<code>SoireeMultiplayerPeer</code>" in r.text


@on_asyncio
async def test_the_dashboard_needs_the_host_key(standalone: Config) -> None:
    key = links.host_key(standalone)
    async with client(standalone) as c:
        assert (await c.get("/")).headers["location"] == "/play"
        assert (await c.get("/", params={"key": "nope"})).status_code == 403
        login = await c.get("/", params={"key": key})
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert f"{HOST_COOKIE}={key}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = await c.get("/")  # the client keeps the cookie
        # The first versions' host page address still logs in and leads to the dashboard.
        c.cookies.clear()
        old = await c.get("/host", params={"key": key})
    assert page.status_code == 200 and 'data-mode="standalone"' in page.text
    assert 'id="invite-form"' in page.text and 'id="map"' in page.text and 'id="processes"' in page.text
    assert (
        old.status_code == 303 and old.headers["location"] == "/" and HOST_COOKIE in old.headers["set-cookie"]
    )


@on_asyncio
async def test_host_key_link_matches_what_run_prints(standalone: Config) -> None:
    url = links.host_url(standalone)
    assert url == f"http://127.0.0.1:9400/?key={links.host_key(standalone)}"
    assert links.player_url(standalone) == "http://127.0.0.1:9400/play"
    assert links.is_host_key(standalone, links.host_key(standalone))
    assert not links.is_host_key(standalone, "") and not links.is_host_key(standalone, "x")


@on_asyncio
async def test_in_sandstorm_the_bridge_decides_who_is_host(tmp_path: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(tmp_path), "SANDSTORM": "1"})
    browser = {
        "X-Sandstorm-User-Id": "u1",
        "X-Sandstorm-Base-Path": "https://ui.example",
        "X-Sandstorm-Tab-Id": "t",
    }
    async with client(cfg) as c:
        host = await c.get("/", headers={**browser, "X-Sandstorm-Permissions": "host,play"})
        player = await c.get("/", headers={**browser, "X-Sandstorm-Permissions": "play"})
        nobody = await c.get("/", headers=browser)
        # A host key means nothing inside a grain.
        keyed = await c.get("/", params={"key": links.host_key(cfg)}, headers=browser)
        play = await c.get("/play", headers={**browser, "X-Sandstorm-Permissions": "play"})
        anonymous_play = await c.get("/play")
    assert host.status_code == 200 and 'data-mode="sandstorm"' in host.text
    assert 'data-role-id="1"' in host.text  # the player role, for Sandstorm's offer template
    assert player.status_code == 303 and player.headers["location"] == "/play"
    assert nobody.status_code == 403 and keyed.status_code == 403
    assert play.status_code == 200 and "https://api-" in play.text and "/invite/" not in play.text
    assert anonymous_play.status_code == 403
    assert "frame-ancestors" not in host.headers["content-security-policy"]  # Sandstorm frames it


@on_asyncio
async def test_the_invitation_page_explains_and_redeems_nothing(standalone: Config, tmp_path: Path) -> None:
    async with client(standalone) as c:
        page = await c.get("/invite/Ab3_-xyz12345678")
        bad = await c.get("/invite/no")
    sandstorm = Config.from_env({"SOIREE_VAR": str(tmp_path), "SANDSTORM": "1"})
    async with client(sandstorm) as c:
        in_grain = await c.get("/invite/Ab3_-xyz12345678")
    assert page.status_code == 200
    assert 'value="http://party.test/invite/Ab3_-xyz12345678"' in page.text and "Join" in page.text
    assert 'src="/static/invite.js"' in page.text
    assert bad.status_code == 404 and in_grain.status_code == 404


@on_asyncio
async def test_unknown_addresses_get_404s_of_the_right_kind(standalone: Config) -> None:
    async with client(standalone) as c:
        api = await c.get("/app/api/nothing")
        page = await c.get("/nothing")
        wrong_method = await c.post("/healthz")
    assert api.status_code == 404 and api.json() == {"status": "error", "error": "not found"}
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert wrong_method.status_code == 405


def test_app_program_serves_healthz_on_its_port(tmp_path: Path) -> None:
    base = free_port_block(STACK_PORTS)
    env = stack_env(tmp_path, base)
    program = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{Config.from_env(env).app_port}/healthz"
        wait_until(lambda: http_status(url) == 200, 60, "the app's /healthz")
        assert httpx.get(url, trust_env=False).json() == {"status": "ok"}
    finally:
        program.terminate()
        program.wait(timeout=30)
