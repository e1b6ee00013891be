"""The demo project (godot/): self-contained, and playable by two scripted players in real
engines against live relays: avatars, the ball (Allow), the lamp (Ask), the portal; with a
Sandstorm key, the name the player typed is the one the party shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

from common.identity import sandstorm_user_id
from tests.godot.addon import DEMO
from tests.godot.live import live_relay, sandstorm_party, start_and_wait_for
from tests.support.bridge import tab_id_for_token
from tests.support.godot_engine import GodotResult, project_run, run_godot_project, run_godot_project_async
from tests.support.godot_project import project_files

RES_PATH = re.compile(r'res://[^"\s)]+')


def demo_lines(result: GodotResult) -> list[str]:
    return [line.removeprefix("demo: ") for line in result.stdout if line.startswith("demo: ")]


def test_the_demo_folder_is_self_contained() -> None:
    files = project_files(DEMO)
    assert "addons/soiree/plugin.cfg" in files and "addons/soiree/README.md" in files
    for name, data in files.items():
        if name.endswith((".gd", ".tscn", ".godot", ".cfg")):
            for path in RES_PATH.findall(data.decode()):
                assert path.removeprefix("res://") in files, f"{name} names {path}, which is not in godot/"


@pytest.mark.usefixtures("godot_engine")
def test_a_link_that_is_not_one_is_explained_to_the_player() -> None:
    result = run_godot_project(DEMO, args=["link=hello there", "name=Ada", "steps=quit"], timeout=60)
    assert result.exit_code == 0 and not result.parse_errors, result.describe()
    assert "That is not a link. A party link starts with https://, http:// or wss://." in demo_lines(result)


@pytest.mark.slow
@pytest.mark.usefixtures("godot_engine")
async def test_two_players_ball_lamp_and_portal(tmp_path: Path) -> None:
    with live_relay(tmp_path / "a") as party_a, live_relay(tmp_path / "b") as party_b:
        ada = project_run(
            DEMO,
            [
                f"link={party_a.url('Ada')}",
                f"portal={party_b.url('Ada')}",
                "name=Ada",
                "ask=grant",
                "steps=see:Bo:120,heard:asked for the lamp,portal,quit",  # Bo's engine starts after hers
            ],
            timeout=240,
        )
        focuses: dict[str, object] = {}

        async def watch_focus() -> None:  # the demo tells the relay where each player looks from
            while True:
                lobby = await trio.to_thread.run_sync(party_a.admin, "/rooms/lobby")
                focuses.update({m["name"]: m["focus"] for m in lobby["members"] if m["focus"]})
                await trio.sleep(0.3)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_focus)
            # Ada arrives first and places the ball and the lamp: she is the lamp's Master.
            held = await start_and_wait_for(ada, "demo: placed the lamp", nursery)
            bo = await run_godot_project_async(
                DEMO, [f"link={party_a.url('Bo')}", "name=Bo", "steps=see:Ada,ball,lamp,gone:Ada,quit"]
            )
            while "result" not in held:
                await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
    ada_result = held["result"]
    for result in (ada_result, bo):
        assert result.exit_code == 0, result.describe()
        assert not any(line.endswith("FAILED") for line in demo_lines(result)), result.describe()
    ada_said, bo_said = demo_lines(ada_result), demo_lines(bo)
    assert "placed the ball" in ada_said and "Bo is here" in ada_said
    assert "Ada is here" in bo_said
    assert "ball: GRANTED" in bo_said  # Allow: granted at once
    assert "lamp: GRANTED" in bo_said
    assert "Bo asked for the lamp: granted" in ada_said  # Ask: the Master was asked
    assert "Ada left" in bo_said  # her avatar went through the portal...
    assert any(line.startswith("arrived in the other party as member ") for line in ada_said)  # ...to B
    assert set(focuses) == {"Ada", "Bo"}, focuses


@pytest.mark.slow
@pytest.mark.usefixtures("godot_engine")
async def test_with_a_sandstorm_key_the_party_shows_the_name_the_player_typed(
    tmp_path: Path, database_url: str
) -> None:
    with sandstorm_party(tmp_path / "grain", database_url) as party:
        run = project_run(
            DEMO, [f"link={party.webkey('zoes-key')}", "name=Zoë Liddell", "steps=wait:120,quit"]
        )
        async with trio.open_nursery() as nursery:
            await start_and_wait_for(run, "demo: joined lobby as member 1", nursery)
            lobby = await trio.to_thread.run_sync(party.relay.admin, "/rooms/lobby")
            accounts = await trio.to_thread.run_sync(party.display_names)
            nursery.cancel_scope.cancel()  # the engine is torn down
    # The key was made for sharing: Sandstorm calls its holder "Anonymous User".
    assert [m["name"] for m in lobby["members"]] == ["Zoë Liddell"]
    assert accounts[sandstorm_user_id("tab:" + tab_id_for_token("zoes-key"))] == "Zoë Liddell"
