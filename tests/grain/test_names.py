"""Players' names in a grain, end to end: the package in the grain-faithful sandbox, the
stand-in bridge and shell, the host's dashboard in a real browser. Keys the dashboard makes
are for sharing, so Sandstorm calls everyone who holds one "Anonymous User"
(docs/sandstorm.md §API tokens); a player who gives a name through their key shows under it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from relay.client import open_relay
from tests.app.dashboard import GRAIN, make_key, member_names, open_in_shell, screenshot
from tests.support.browser import open_browser
from tests.support.grain import Grain
from tests.support.shell import Shell, grain_in_shell

pytestmark = pytest.mark.slow


@pytest.fixture
def grain(var_dir: Path, postgres_template: Path) -> Iterator[tuple[Grain, Shell]]:
    with grain_in_shell(var_dir / "var") as running:
        yield running


def name_through_key(g: Grain, token: str, name: str) -> httpx.Response:
    """What the Godot addon does with a webkey and a name (on a web export: the token in the path)."""
    return httpx.put(
        f"{g.url}/.sandstorm-token/{token}/api/v1/profile",
        data={"display_name": name},
        trust_env=False,
        timeout=60,
    )


async def test_a_player_who_gives_a_name_shows_under_it_on_the_hosts_dashboard(
    grain: tuple[Grain, Shell],
) -> None:
    g, shell = grain
    async with open_browser() as page:
        await open_in_shell(page, shell.url)
        await make_key(page, "Ada", 1)
        await make_key(page, "Bo", 2)
        ada_key, bo_key = shell.offers
        assert ada_key.request["forSharing"] and bo_key.request["forSharing"]

        named = await trio.to_thread.run_sync(name_through_key, g, ada_key.token, "Ada Lovelace")
        assert named.status_code == 200, named.text
        assert named.json()["data"]["user"]["display_name"] == "Ada Lovelace"

        host = urlsplit(g.url).netloc
        async with (
            open_relay(f"ws://{host}/.sandstorm-token/{bo_key.token}/relay") as bo,
            open_relay(f"ws://{host}/.sandstorm-token/{ada_key.token}/relay") as ada,
        ):
            bo_lobby = await bo.join("lobby")
            await ada.join("lobby")
            # Bo's client is told Ada's name (MEMBER_JOINED); Bo gave none.
            await bo_lobby.wait_for(lambda v: ada.member in v.members)
            assert bo_lobby.view.members[ada.member].name == "Ada Lovelace"
            assert bo_lobby.view.members[bo.member].name == "Anonymous User"

            await page.select("#room-select", "lobby", iframe=GRAIN)
            shown = await page.wait_for(
                member_names(2), iframe=GRAIN, what="both players in the members table"
            )
            assert sorted(shown) == ["Ada Lovelace", "Anonymous User"]  # no "#n": nobody to tell apart
            await screenshot(page, "sandstorm-dashboard-named-player")

            # The player page lists her by name too, for everyone with a key.
            party = await trio.to_thread.run_sync(lambda: g.get("/app/api/party", token=bo_key.token))
            lobby = next(r for r in party.json()["rooms"] if r["name"] == "lobby")
            assert lobby["members"] == ["Ada Lovelace", "Anonymous User"]
        assert page.errors == []
