"""Every route of the page API checks who is asking, on the server: walked from the app's own
route table, so a route added later without a check fails here."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from app import links
from app.access import HOST_COOKIE
from app.web import build_app
from common.config import Config
from tests.app.test_web import on_asyncio

# What players (and, standalone, every visitor) may read. Everything else is the host's.
PLAYER_ROUTES = {("GET", "/app/api/party")}
PARAMS = {
    "room": "lobby",
    "object": "1",
    "invite": "0b0f6a8e-2d0c-4b7e-9a4e-1c2d3e4f5a6b",
    "user": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
SANDSTORM_BROWSER = {"X-Sandstorm-User-Id": "u1", "X-Sandstorm-Base-Path": "https://ui.example"}
ACTION = {"X-Requested-With": "soiree"}


def api_routes(cfg: Config) -> list[tuple[str, str]]:
    found = []
    for route in build_app(cfg).routes:
        if isinstance(route, Route) and route.path.startswith("/app/api/"):
            path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS[m[1]], route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def client(cfg: Config) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(cfg)), base_url="http://party.test")


@pytest.fixture
def sandstorm(tmp_path: Path) -> Config:
    # Nothing listens on these ports: a request that got past the checks would say so (503).
    return Config.from_env({"SOIREE_VAR": str(tmp_path), "SANDSTORM": "1", "SOIREE_PORT": "9"})


@pytest.fixture
def standalone(tmp_path: Path) -> Config:
    return Config.from_env({"SOIREE_VAR": str(tmp_path), "SOIREE_PORT": "9"})


def test_the_route_table_is_what_this_test_walks(standalone: Config) -> None:
    routes = api_routes(standalone)
    assert len(routes) == 13 and ("POST", "/app/api/rooms/lobby/kick") in routes
    assert set(routes) >= PLAYER_ROUTES


@on_asyncio
async def test_in_a_grain_players_and_strangers_reach_no_host_route(sandstorm: Config) -> None:
    play = {**SANDSTORM_BROWSER, "X-Sandstorm-Permissions": "play", **ACTION}
    token = {"X-Sandstorm-Tab-Id": "t1", "X-Sandstorm-Permissions": "play", **ACTION}  # a Godot client
    nobody = {**SANDSTORM_BROWSER, **ACTION}
    async with client(sandstorm) as c:
        for method, path in api_routes(sandstorm):
            for who, headers in (("player", play), ("player's token", token), ("no permission", nobody)):
                r = await c.request(method, path, headers=headers, json={"member": 1, "rule": "allow"})
                if (method, path) in PLAYER_ROUTES and who != "no permission":
                    assert r.status_code == 200, (who, method, path)
                else:
                    assert r.status_code == 403, (who, method, path, r.text)
                    assert r.json()["status"] == "error"


@on_asyncio
async def test_in_a_grain_the_host_gets_past_the_checks(sandstorm: Config) -> None:
    host = {**SANDSTORM_BROWSER, "X-Sandstorm-Permissions": "host,play", **ACTION}
    async with client(sandstorm) as c:
        statuses = {
            (method, path): (await c.request(method, path, headers=host, json={"member": 1, "rule": "allow"}))
            for method, path in api_routes(sandstorm)
        }
    for (method, path), response in statuses.items():
        assert response.status_code != 403, (method, path, response.text)
    # Nothing runs behind this app: the checks passed and the relay's absence is reported.
    assert statuses[("POST", "/app/api/rooms/lobby/kick")].status_code == 503
    assert statuses[("GET", "/app/api/live")].json()["relay"] == "not answering"
    # Invites belong to Sandstorm inside a grain.
    assert statuses[("POST", "/app/api/invites")].status_code == 404


@on_asyncio
async def test_standalone_visitors_without_the_host_key_reach_no_host_route(standalone: Config) -> None:
    async with client(standalone) as c:
        c.cookies.set(HOST_COOKIE, "not-the-key")
        for method, path in api_routes(standalone):
            r = await c.request(method, path, headers=ACTION, json={"label": "x", "member": 1})
            expected = 200 if (method, path) in PLAYER_ROUTES else 403
            assert r.status_code == expected, (method, path, r.text)
        # Forged Sandstorm headers mean nothing outside a grain (the front door strips them too).
        forged = {**SANDSTORM_BROWSER, "X-Sandstorm-Permissions": "host,play", **ACTION}
        assert (await c.post("/app/api/rooms/lobby/reset", headers=forged)).status_code == 403


@on_asyncio
async def test_actions_need_the_dashboards_own_header(standalone: Config) -> None:
    """A cross-site form can carry the host's cookie but never this header (no CORS preflight passes)."""
    async with client(standalone) as c:
        c.cookies.set(HOST_COOKIE, links.host_key(standalone))
        for method, path in api_routes(standalone):
            if method == "GET":
                continue
            body = {"member": 1, "rule": "allow", "label": "x", "player_rooms": 1}
            r = await c.request(method, path, json=body)
            assert r.status_code == 403 and "X-Requested-With" in r.json()["error"], (method, path)
            r = await c.request(method, path, headers=ACTION, json=body)
            assert r.status_code == 503, (method, path, r.text)  # past the checks; nothing runs here


@on_asyncio
async def test_bad_input_gets_a_json_4xx(standalone: Config) -> None:
    async with client(standalone) as c:
        c.cookies.set(HOST_COOKIE, links.host_key(standalone))
        cases = [
            ("POST", "/app/api/rooms/lobby/kick", b"not json"),
            ("POST", "/app/api/rooms/lobby/kick", b"[1, 2]"),
            ("POST", "/app/api/rooms/lobby/kick", b'{"member": "seven"}'),
            ("POST", "/app/api/rooms/lobby/kick", b'{"member": true}'),
            ("POST", "/app/api/rooms/lobby/objects/1/rule", b'{"rule": "maybe"}'),
            ("POST", "/app/api/rooms/Not A Room/reset", b""),
            ("POST", "/app/api/rooms/lobby/objects/x/rule", b'{"rule": "ask"}'),
            ("POST", "/app/api/invites", b'{"label": 7}'),
            ("POST", "/app/api/invites", b'{"label": "\\ud800"}'),  # a lone surrogate
            ("POST", "/app/api/invites", b'{"label": "a\\u0000b"}'),
            ("POST", "/app/api/rooms/lobby/kick", b"[" * 50_000),  # nested too deep
            ("POST", "/app/api/rooms/lobby/kick", b'{"member": NaN}'),
            ("POST", "/app/api/rooms/lobby/kick", b'{"member": 1, "x": "\xff"}'),  # not UTF-8
            ("POST", "/app/api/invites", b'{"label": "' + b"x" * 41 + b'"}'),
            ("DELETE", "/app/api/invites/not-an-id", b""),
            ("GET", "/app/api/live?since=yesterday", b""),
            ("GET", "/app/api/rooms/lobby/kick", b""),
            ("POST", "/app/api/policy", b'{"player_rooms": -1}'),
            ("POST", "/app/api/policy", b'{"player_rooms": "2"}'),
            ("POST", "/app/api/policy", b'{"player_rooms": true}'),
            ("POST", "/app/api/policy", b"{}"),
            ("POST", "/app/api/accounts/" + "x" * 300 + "/clear", b""),
            ("GET", "/app/api/accounts/u/remove", b""),
        ]
        for method, path, body in cases:
            r = await c.request(
                method, path, headers={**ACTION, "Content-Type": "application/json"}, content=body
            )
            assert 400 <= r.status_code < 500, (method, path, r.status_code)
            assert r.json()["status"] == "error" and r.json()["error"], (method, path)


@on_asyncio
async def test_pages_and_the_download_check_permissions_too(sandstorm: Config) -> None:
    async with client(sandstorm) as c:
        nobody = await c.get("/downloads/soiree-godot-demo.zip", headers=SANDSTORM_BROWSER)
        player = await c.get(
            "/downloads/soiree-godot-demo.zip",
            headers={**SANDSTORM_BROWSER, "X-Sandstorm-Permissions": "play"},
        )
    assert nobody.status_code == 403
    assert player.status_code == 200 and player.headers["content-type"] == "application/zip"
    assert 'filename="soiree-godot-demo.zip"' in player.headers["content-disposition"]
