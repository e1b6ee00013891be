"""The stand-in for sandstorm-http-bridge, checked against a real server before it fronts a grain."""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from tests.support.bridge import Bridge, map_status, tab_id_for_token
from tests.support.net import free_port
from tests.support.upstream import Upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream("app", free_port()).start()
    yield up
    up.stop()


@pytest.fixture
def bridge(upstream: Upstream) -> Iterator[Bridge]:
    b = Bridge(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM), app_port=upstream.port).start()
    yield b
    b.stop()


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, trust_env=False, timeout=30, **kwargs)


def test_tab_id_is_stable_per_token_and_follows_the_shells_formula() -> None:
    token = "w1Yv5dUq0wEYxkQfs3F3f2V8m0p7pJ3lF2J1tZ0q1aE"
    inner = base64.b64encode(hashlib.sha256(token.encode()).digest()).decode()
    assert tab_id_for_token(token) == hashlib.sha256(f"tab:{inner}".encode()).hexdigest()[:32]
    assert tab_id_for_token(token) == tab_id_for_token(token) != tab_id_for_token(token + "x")
    assert len(tab_id_for_token(token)) == 32


def test_api_requests_carry_only_what_the_bridge_builds(bridge: Bridge) -> None:
    bridge.add_token("tok-1", ("play",))
    seen = get(
        bridge.url + "/api/v1/profile?x=1",
        headers={
            "Authorization": "Bearer tok-1",
            "X-Sandstorm-Permissions": "host,play",  # a client trying to promote itself
            "X-Sandstorm-User-Id": "someone-else",
            "X-Sandstorm-App-Client": "godot",
            "Cookie": "session=abc",
            "Origin": "https://evil.example",
            "X-Custom": "dropped",
            "Accept": "application/json",
        },
    ).json()
    headers = seen["headers"]
    assert seen["path"] == "/api/v1/profile" and seen["query"] == "x=1"
    assert headers["host"] == "sandbox"
    assert headers["x-sandstorm-permissions"] == "play"
    assert headers["x-sandstorm-tab-id"] == tab_id_for_token("tok-1")
    assert headers["x-sandstorm-username"] == "Anonymous%20User"
    assert "x-sandstorm-user-id" not in headers  # a token made for sharing is anonymous
    assert headers["x-sandstorm-app-client"] == "godot" and headers["accept"] == "application/json"
    for dropped in ("authorization", "cookie", "origin", "x-custom", "user-agent"):
        assert dropped not in headers, dropped


def test_the_token_may_come_as_a_path_prefix(bridge: Bridge) -> None:
    bridge.add_token("tok-2", ("host", "play"), user_id="f" * 32, username="Ada Lovelace")
    seen = get(bridge.url + "/.sandstorm-token/tok-2/api/v1/whoami").json()
    assert seen["path"] == "/api/v1/whoami"
    assert seen["headers"]["x-sandstorm-permissions"] == "host,play"
    assert seen["headers"]["x-sandstorm-user-id"] == "f" * 32
    assert seen["headers"]["x-sandstorm-username"] == "Ada%20Lovelace"
    assert seen["headers"]["x-sandstorm-tab-id"] == tab_id_for_token("tok-2")


def test_unknown_tokens_and_anonymous_requests_are_refused(bridge: Bridge) -> None:
    assert get(bridge.url + "/", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert get(bridge.url + "/").status_code == 403  # no token and nobody logged in


def test_browser_sessions_keep_cookies_and_get_the_strict_policy(bridge: Bridge) -> None:
    bridge.login("a" * 32, "Host Person", ("host", "play"))
    response = get(
        bridge.url + "/page", headers={"Cookie": "sandstorm-sid=secret; mine=1", "User-Agent": "ua"}
    )
    headers = response.json()["headers"]
    assert headers["cookie"] == "mine=1" and headers["user-agent"] == "ua"
    assert headers["x-sandstorm-base-path"] == bridge.url and headers["x-sandstorm-user-id"] == "a" * 32
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("app_status", "client_status"), [(200, 200), (418, 418), (401, 400), (429, 400), (503, 500), (501, 500)]
)
def test_status_codes_are_mapped_like_sandstorms(bridge: Bridge, app_status: int, client_status: int) -> None:
    bridge.add_token("tok", ("play",))
    response = get(f"{bridge.url}/status/{app_status}", headers={"Authorization": "Bearer tok"})
    assert response.status_code == client_status
    assert response.json()["status"] == app_status  # the body still arrives
    assert response.headers["x-sandstorm-app-version"] == "7"
    assert "x-internal" not in response.headers and "set-cookie" not in response.headers
    assert response.headers["access-control-allow-origin"] == "*"
    assert map_status(302) == 302 and map_status(203) == 500


def test_cors_preflights_on_api_sessions_are_answered_by_the_bridge(bridge: Bridge) -> None:
    bridge.add_token("tok-cors", ("play",))
    response = httpx.request(
        "OPTIONS",
        bridge.url + "/.sandstorm-token/tok-cors/api/v1/profile",
        headers={
            "Origin": "http://game.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
        trust_env=False,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "PUT" in response.headers["access-control-allow-methods"].split(", ")
    assert response.headers["access-control-allow-headers"] == "content-type"
    assert response.content == b""  # answered by the bridge itself, not by the app (which has no OPTIONS)


def test_request_bodies_reach_the_app(bridge: Bridge) -> None:
    bridge.add_token("tok", ("play",))
    response = httpx.post(
        bridge.url + "/api/v1/upload",
        content=b"z" * 300_000,
        headers={"Authorization": "Bearer tok", "Content-Type": "application/octet-stream"},
        trust_env=False,
        timeout=30,
    )
    seen = response.json()
    assert seen["body_size"] == 300_000 and seen["headers"]["content-type"] == "application/octet-stream"


async def test_websockets_are_forwarded_for_both_token_forms(bridge: Bridge) -> None:
    bridge.add_token("tok-ws", ("play",))
    url = f"ws://127.0.0.1:{bridge.port}/relay"
    async with open_websocket_url(url, extra_headers=[(b"Authorization", b"Bearer tok-ws")]) as ws:
        await ws.send_message("one")
        assert await ws.get_message() == "app:/relay:one"
    prefixed = f"ws://127.0.0.1:{bridge.port}/.sandstorm-token/tok-ws/relay"
    async with open_websocket_url(prefixed) as ws:
        for n in range(3):
            await ws.send_message(f"m{n}")
            assert await ws.get_message() == f"app:/relay:m{n}"
    with pytest.raises(Exception):  # noqa: B017 - a refused handshake, whatever the library calls it
        with trio.fail_after(30):
            async with open_websocket_url(url, extra_headers=[(b"Authorization", b"Bearer wrong")]):
                pass
