"""The demo's second scene (godot/demo/multiplayer/): a game written the plain Godot 4 way, played
through a party with SoireeMultiplayerPeer, in three real engines against a real relay, in host
mode and in mesh mode: each player's character appears at one of the default map's spawn points
(spawned by a MultiplayerSpawner, seen there by every engine, the late joiner's too), moves and is
seen moving by the others (MultiplayerSynchronizer), the chat (an @rpc) reaches everyone, and the
ball's authority follows the relay's Owner on every engine as players grab it under Allow. In
host mode the game ends for the others when the host leaves; in mesh mode it goes on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from uro_shim.schema import DEFAULT_MAP_SOURCE

from tests.godot.addon import DEMO
from tests.godot.live import LiveRelay, live_relay
from tests.godot.test_demo import demo_lines
from tests.support.godot_engine import GodotResult, GodotRun, project_run, run_godot_project

MAP_COPY = DEMO / "demo" / "multiplayer" / "default_map.scn"
APPEARED = re.compile(r"you appeared at (SpawnPoint[1-8])")
NAMES = ("Ada", "Bo", "Cy")
# Seconds an engine has to show its character, and then to play its steps. The engines start one
# after another, so each one's run, and its first step (all three players here), also spans the
# starts of those after it: on a loaded machine (headless Chromium and the engine's load are slow
# there) those starts take most of it.
APPEAR_WITHIN = 120.0
PLAY_WITHIN = 180.0


def test_the_scene_plays_on_the_partys_default_map() -> None:
    # A copy, so that it works with every kind of link and offline (godot/README.md), kept equal
    # to the party's by tests/godot/default_map.py, which writes both.
    assert MAP_COPY.read_bytes() == DEFAULT_MAP_SOURCE.read_bytes()
    scene = (DEMO / "demo" / "multiplayer" / "game.tscn").read_text()
    assert 'path="res://demo/multiplayer/default_map.scn"' in scene


@pytest.mark.usefixtures("godot_engine")
def test_a_link_that_is_not_one_is_explained_before_the_game_starts() -> None:
    result = run_godot_project(DEMO, args=["play=host", "link=hello there", "steps=quit"], timeout=60)
    assert result.exit_code == 0 and not result.parse_errors, result.describe()
    assert "That is not a link. A party link starts with https://, http:// or wss://." in demo_lines(result)
    assert not any(line.startswith("connecting to the game") for line in demo_lines(result))


async def play_three(relay: LiveRelay, plays: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """Starts one engine per player (name -> (mode, steps)), each once the one before it has its
    character; each first waits for all the players, then plays its steps. Returns each player's
    demo lines once all have quit."""
    held: dict[str, dict[str, GodotResult]] = {}

    async def go(name: str, run: GodotRun) -> None:
        held[name]["result"] = await run.run_async()

    async with trio.open_nursery() as nursery:
        for index, (name, (mode, steps)) in enumerate(plays.items()):
            later = len(plays) - 1 - index
            steps = f"players:{len(plays)}:{APPEAR_WITHIN * (later + 1):.0f},{steps}"
            args = [f"play={mode}", f"link={relay.url(name)}", f"name={name}", f"steps={steps}"]
            run = project_run(DEMO, args, timeout=PLAY_WITHIN + APPEAR_WITHIN * later)
            held[name] = {}
            nursery.start_soon(go, name, run)
            with trio.fail_after(APPEAR_WITHIN):
                while not any(APPEARED.search(line) for _, line in run.output()):
                    assert "result" not in held[name], held[name]["result"].describe()
                    await trio.sleep(0.2)
    results: dict[str, GodotResult] = {name: run["result"] for name, run in held.items()}
    everything = "\n".join(f"{name}: {result.describe()}" for name, result in results.items())
    for result in results.values():
        assert result.exit_code == 0 and not result.parse_errors, everything
        assert not any(line.endswith("FAILED") for line in demo_lines(result)), everything
    return {name: demo_lines(result) for name, result in results.items()}


def assert_spawned_and_seen(said: dict[str, list[str]]) -> dict[str, str]:
    """Each character appeared at its own spawn point of the map, and every engine saw each of
    the others' there (none had moved yet when the last one came). Returns name -> spawn point."""
    spots = {
        name: next(m.group(1) for line in lines if (m := APPEARED.search(line)))
        for name, lines in said.items()
    }
    assert len(set(spots.values())) == 3, spots
    for name, lines in said.items():
        for other in NAMES:
            if other != name:
                assert f"{other} is here, at {spots[other]}" in lines, (name, lines)
    return spots


def assert_chat_and_ball(said: dict[str, list[str]]) -> None:
    for name, lines in said.items():
        for other in NAMES:
            assert f"{other}: hello from {other}" in lines, (name, lines)  # the @rpc, sender vouched
        # Authority follows the relay's Owner on every engine: Bo's grab, then Cy's.
        assert lines.index("the ball is Bo's") < lines.index("the ball is Cy's"), (name, lines)
    assert "ball: GRANTED" in said["Bo"] and "ball: GRANTED" in said["Cy"]  # Allow


@pytest.mark.slow
@pytest.mark.usefixtures("godot_engine")
async def test_host_mode_three_players(tmp_path: Path) -> None:
    with live_relay(tmp_path / "relay") as relay:
        said = await play_three(
            relay,
            {
                # Ada hosts; she sees Bo carry the ball to (6, 6), then Cy take it to (-6, 6).
                "Ada": (
                    "host",
                    "say:hello from Ada,heard:Bo: hello from Bo,heard:Cy: hello from Cy,"
                    "ball:Bo,sees:Bo:6:6,ballnear:6:6,ball:Cy,sees:Cy:-6:6,ballnear:-6:6,"
                    "heard:Bo: done,heard:Cy: done,quit",
                ),
                "Bo": (
                    "join",
                    "heard:Cy: hello from Cy,say:hello from Bo,grab,walk:6:6,ball:Cy,"
                    "heard:Ada: hello from Ada,say:done,ended,quit",
                ),
                "Cy": (
                    "join",
                    "say:hello from Cy,heard:Ada: hello from Ada,heard:Bo: hello from Bo,"
                    "sees:Bo:6:6,grab,walk:-6:6,say:done,ended,quit",
                ),
            },
        )
    spots = assert_spawned_and_seen(said)
    assert spots["Ada"] == "SpawnPoint1"  # the host is Godot peer 1
    assert_chat_and_ball(said)
    for name in ("Bo", "Cy"):
        assert "joined the game hosted by Ada" in said[name]
        assert "game over: The host left the game." in said[name]  # no host migration


@pytest.mark.slow
@pytest.mark.usefixtures("godot_engine")
async def test_mesh_mode_three_players(tmp_path: Path) -> None:
    with live_relay(tmp_path / "relay") as relay:
        said = await play_three(
            relay,
            {
                # Nobody hosts: Ada leaves first, and the game goes on for Bo and Cy.
                "Ada": (
                    "mesh",
                    "say:hello from Ada,heard:Bo: hello from Bo,heard:Cy: hello from Cy,"
                    "ball:Bo,sees:Bo:6:6,ballnear:6:6,ball:Cy,sees:Cy:-6:6,ballnear:-6:6,quit",
                ),
                "Bo": (
                    "mesh",
                    "heard:Cy: hello from Cy,say:hello from Bo,grab,walk:6:6,ball:Cy,"
                    "heard:Ada: hello from Ada,gone:Ada,say:done,heard:Cy: done,quit",
                ),
                "Cy": (
                    "mesh",
                    "say:hello from Cy,heard:Ada: hello from Ada,heard:Bo: hello from Bo,"
                    "sees:Bo:6:6,grab,walk:-6:6,gone:Ada,say:done,heard:Bo: done,quit",
                ),
            },
        )
    spots = assert_spawned_and_seen(said)
    assert "SpawnPoint1" not in spots.values()  # nobody is peer 1
    assert_chat_and_ball(said)
    for name in ("Bo", "Cy"):
        lines = said[name]
        assert "Ada left" in lines  # her character went with her, on every engine
        assert not any(line.startswith("joined the game hosted") for line in lines)
        # The game went on without her: it ended for each only when they left themselves.
        game_over = [line for line in lines if line.startswith("game over")]
        assert game_over in ([], ["game over: you left the game"]), lines
        assert lines.index("Ada left") < lines.index("step say:done done")
