"""The dashboard inside a grain, in a real browser: the package runs in the grain-faithful sandbox
behind the stand-in bridge, framed by a stand-in for Sandstorm's shell that answers the offer
template requests (tests/support/shell.py). A player joins with the key the host made."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from app.database import build_template
from relay.client import open_relay
from relay.protocol import Rule
from tests.app.dashboard import (
    GRAIN,
    PHONE,
    make_key,
    map_object,
    member_names,
    member_row,
    no_horizontal_scroll,
    open_in_shell,
    screenshot,
)
from tests.support.browser import open_browser
from tests.support.grain import HOST_USER_ID, Grain
from tests.support.shell import Shell, grain_in_shell

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def grain() -> Iterator[tuple[Grain, Shell]]:
    build_template()
    var = Path(tempfile.mkdtemp(prefix="soiree-var-"))
    try:
        with grain_in_shell(var / "var") as running:
            yield running
    finally:
        shutil.rmtree(var, ignore_errors=True)


async def test_the_host_makes_keys_through_sandstorm_and_a_player_joins_with_one(
    grain: tuple[Grain, Shell],
) -> None:
    g, shell = grain
    async with open_browser() as page:
        await open_in_shell(page, shell.url)
        await make_key(page, "Ada", 1)

        # What the dashboard asked of Sandstorm: a webkey template, the player role, for sharing.
        [request] = await page.evaluate("window.shellRequests")
        assert request["template"] == "http://$API_HOST#$API_TOKEN"
        assert request["roleAssignment"] == {"roleId": 1}
        assert request["forSharing"] is True and request["clipboardButton"] == "left"
        assert request["petname"].startswith("Ada (player, ") and request["rpcId"]
        ada_key = shell.offers[0]
        assert ada_key.permissions == ("play",)  # the player role, not the host's full access
        assert ada_key.text == f"{g.url}#{ada_key.token}"  # what Ada pastes: a Sandstorm webkey
        # The dashboard shows Sandstorm's rendering of the key (an iframe from Sandstorm's origin).
        src = await page.evaluate("document.querySelector('#invite-results iframe.offer').src", iframe=GRAIN)
        assert src == f"{shell.url}/offer/0"
        assert ada_key.text in (await trio.to_thread.run_sync(lambda: httpx.get(src, trust_env=False))).text
        assert "Ada" in await page.evaluate(
            "document.querySelector('#invite-results li p').textContent", iframe=GRAIN
        )

        # Every key gets a petname of its own, even for the same name twice, so Sandstorm never
        # hands out a memoized token again and each key can be revoked on its own.
        await make_key(page, "Bo", 2)
        await make_key(page, "Ada", 3)
        requests = await page.evaluate("window.shellRequests")
        assert len({r["petname"] for r in requests}) == 3
        assert len({r["rpcId"] for r in requests}) == 3
        assert len({offer.token for offer in shell.offers}) == 3
        assert all(r["roleAssignment"] == {"roleId": 1} and r["forSharing"] for r in requests)
        await screenshot(page, "sandstorm-dashboard-keys")

        # Ada's client connects with her key: the per-token API host, the token in the path.
        host = urlsplit(g.url).netloc
        bo_key = shell.offers[1]
        async with (
            open_relay(f"ws://{host}/.sandstorm-token/{ada_key.token}/relay") as ada,
            open_relay(f"ws://{host}/.sandstorm-token/{bo_key.token}/relay") as bo,
        ):
            lobby = await ada.join("lobby")
            await bo.join("lobby")
            avatar = await lobby.spawn(b"ada", rule=Rule.DENY, position=(1.0, 0.0, 1.0))
            await page.select("#room-select", "lobby", iframe=GRAIN)
            shown = await page.wait_for(map_object(avatar), iframe=GRAIN, what="Ada's avatar on the map")
            assert shown[:4] == ["1.0", "0.0", "1.0", str(ada.member)]
            await lobby.update(avatar, b"ada", position=(-2.5, 0.0, 4.0))
            await page.wait_for(
                f"(() => {{ const o = {map_object(avatar)};"
                " return o && o[0] === '-2.5' && o[2] === '4.0'; })()",
                iframe=GRAIN,
                what="the avatar to move",
            )
            # Keys made for sharing carry no Sandstorm name: the dashboard tells the two apart.
            shown_names = await page.wait_for(
                member_names(2), iframe=GRAIN, what="both players in the members table"
            )
            assert sorted(shown_names) == sorted(f"Anonymous User #{m}" for m in (ada.member, bo.member))
            await screenshot(page, "sandstorm-dashboard-in-the-shell")
            row = member_row(ada.member)
            await page.click(f"{row} button", iframe=GRAIN)
            await page.click(f"{row} button", iframe=GRAIN)
            with trio.fail_after(30):
                while ada.goodbye is None:
                    await trio.sleep(0.1)
            assert ada.goodbye.code == 4003
            await page.wait_for(
                f"!document.querySelector('{row}') && !{map_object(avatar)}",
                iframe=GRAIN,
                what="Ada to disappear",
            )
        assert page.errors == []


async def test_a_player_in_the_grain_gets_the_player_page_and_no_host_action(
    grain: tuple[Grain, Shell],
) -> None:
    g, _ = grain
    assert g.bridge is not None
    g.add_token("token-pat", ("play",))
    g.bridge.login("fedcba9876543210fedcba9876543210", "Pat", ("play",))  # a player's browser
    try:
        async with open_browser() as page:
            await page.set_viewport(*PHONE, mobile=True)
            await page.navigate(g.url + "/")
            assert await page.evaluate("location.pathname") == "/play"
            await page.wait_for("document.getElementById('rooms-summary').textContent !== 'Looking…'")
            assert "https://api-" in await page.evaluate("document.querySelector('main').textContent")
            assert await page.evaluate("!document.querySelector('#invite-form, #map, #processes')")
            assert await page.evaluate(no_horizontal_scroll())
            await screenshot(page, "sandstorm-player-page-phone")
            assert page.errors == []
            statuses = await page.evaluate(
                """Promise.all([["GET", "/app/api/live"], ["GET", "/app/api/health"],
                  ["POST", "/app/api/rooms/lobby/kick"], ["POST", "/app/api/rooms/lobby/reset"],
                  ["POST", "/app/api/rooms/lobby/objects/1/rule"], ["GET", "/app/api/party"]]
                  .map(([method, path]) => fetch(path, {method,
                    headers: {"X-Requested-With": "soiree", "Content-Type": "application/json"},
                    body: method === "GET" ? undefined : JSON.stringify({member: 1, rule: "allow"})})
                  .then(r => r.status)))"""
            )
            assert statuses == [403, 403, 403, 403, 403, 200]
    finally:
        g.bridge.login(HOST_USER_ID, "Grain Owner", ("host", "play"))

    def with_token(method: str, path: str) -> int:
        headers = {"Authorization": "Bearer token-pat", "X-Requested-With": "soiree"}
        return httpx.request(
            method, g.url + path, headers=headers, json={}, trust_env=False, timeout=30
        ).status_code

    # A player's API token (their Godot client) is no way in either.
    for method, path in (("GET", "/app/api/live"), ("POST", "/app/api/rooms/lobby/reset")):
        assert await trio.to_thread.run_sync(with_token, method, path) == 403, (method, path)
    assert await trio.to_thread.run_sync(with_token, "GET", "/") == 303  # to the player page
    # The relay's admin endpoint is not routed: through the bridge and the front door these
    # addresses reach the pages, which have nothing there.
    for method, path in (("GET", "/stats"), ("GET", "/rooms/lobby"), ("POST", "/rooms/lobby/kick")):
        assert await trio.to_thread.run_sync(with_token, method, path) in (404, 405), (method, path)


async def test_outside_sandstorms_frame_the_dashboard_says_where_keys_come_from(
    grain: tuple[Grain, Shell],
) -> None:
    g, shell = grain
    made = len(shell.offers)
    async with open_browser() as page:
        await page.navigate(g.url + "/")  # the grain's UI, not framed by Sandstorm's shell
        await page.type("#invite-name", "Cy")
        await page.click("#invite-form button[type=submit]")
        message = await page.wait_for(
            "(() => { const e = document.getElementById('invite-error');"
            " return !e.hidden && e.textContent; })()"
        )
        assert "inside its grain" in message
        assert page.errors == []
    assert len(shell.offers) == made
