"""The host-facing pages: landing, player page, host page and its login, security headers."""

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
from app.config import Config
from app.web import HOST_COOKIE, STATIC_DIR, build_app
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
async def test_landing_page_links_and_headers(standalone: Config) -> None:
    async with client(standalone) as c:
        r = await c.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'href="/play"' in r.text and 'href="/host"' in r.text
    assert 'href="/static/soiree.css"' in r.text and "<script" not in r.text and "style=" not in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@on_asyncio
async def test_static_files_are_served_and_nothing_is_external(standalone: Config) -> None:
    async with client(standalone) as c:
        css = await c.get("/static/soiree.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        pages = [(await c.get(path)).text for path in ("/", "/play", "/host", "/nowhere")]
    for text in [*pages, *(p.read_text() for p in STATIC_DIR.iterdir())]:
        assert not EXTERNAL.search(text), EXTERNAL.search(text)


@on_asyncio
async def test_player_page_shows_the_address_to_paste(standalone: Config) -> None:
    async with client(standalone) as c:
        r = await c.get("/play")
    assert r.status_code == 200 and "http://party.test" in r.text


@on_asyncio
async def test_host_page_needs_the_host_key(standalone: Config) -> None:
    key = links.host_key(standalone)
    async with client(standalone) as c:
        assert (await c.get("/host")).status_code == 403
        assert (await c.get("/host", params={"key": "nope"})).status_code == 403
        login = await c.get("/host", params={"key": key})
        assert login.status_code == 303 and login.headers["location"] == "/host"
        cookie = login.headers["set-cookie"]
        assert f"{HOST_COOKIE}={key}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = await c.get("/host")  # the client keeps the cookie
    assert page.status_code == 200
    assert "<th>Database</th>" in page.text and "not answering" in page.text  # nothing runs here


@on_asyncio
async def test_host_key_link_matches_what_run_prints(standalone: Config) -> None:
    url = links.host_url(standalone)
    assert url == f"http://127.0.0.1:9400/host?key={links.host_key(standalone)}"
    assert links.player_url(standalone) == "http://127.0.0.1:9400/play"
    assert links.is_host_key(standalone, links.host_key(standalone))
    assert not links.is_host_key(standalone, "") and not links.is_host_key(standalone, "x")


@on_asyncio
async def test_in_sandstorm_the_bridge_decides_who_is_host(tmp_path: Path) -> None:
    cfg = Config.from_env({"SOIREE_VAR": str(tmp_path), "SANDSTORM": "1"})
    host = {
        "X-Sandstorm-User-Id": "u1",
        "X-Sandstorm-Base-Path": "https://ui.example",
        "X-Sandstorm-Tab-Id": "t",
    }
    async with client(cfg) as c:
        assert (
            await c.get("/host", headers={**host, "X-Sandstorm-Permissions": "host,play"})
        ).status_code == 200
        assert (await c.get("/host", headers={**host, "X-Sandstorm-Permissions": "play"})).status_code == 403
        # A host key means nothing inside a grain.
        assert (await c.get("/host", params={"key": links.host_key(cfg)})).status_code == 403
        assert "personal link" in (await c.get("/play")).text


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
    base = free_port_block(7)
    env = stack_env(tmp_path, base)
    program = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{base + 4}/healthz"
        wait_until(lambda: http_status(url) == 200, 60, "the app's /healthz")
        assert httpx.get(url, trust_env=False).json() == {"status": "ok"}
    finally:
        program.terminate()
        program.wait(timeout=30)
