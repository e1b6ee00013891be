"""The port (godot/examples/port): Arena, a small game written for ENetMultiplayerPeer in the style
of Godot's networking demos, plays through a party once its `party.patch` has changed the lines
that create the peer, and nothing else; the addon's README shows that very patch.

The ported game runs in three real engines through a real relay: the host spawns the players at
the arena's spawn points with its MultiplayerSpawner (the last of them joining late), each
player's keys reach the host through a MultiplayerSynchronizer and every engine sees every disc
move, and a pulse (an RPC to the host, which tells everyone by RPC) reaches every engine. The
ENet original cannot play here: the web engine has ENet's classes but no UDP, so its Host and
Join buttons fail with ENet's own error, which is as far as the original gets on the web.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import trio

from tests.godot.addon import ADDON, DEMO
from tests.godot.live import live_relay, start_and_wait_for
from tests.support.godot_engine import GodotResult, GodotRun, project_run, run_godot_project

PORT = DEMO / "examples" / "port"
PATCH = PORT / "party.patch"
DRIVER = Path(__file__).with_name("projects") / "port_driver" / "driver.gd"
GUIDE = ADDON / "README.md"


def changed_lines(patch: str) -> list[str]:
    return [line for line in patch.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def arena(into: Path, *, ported: bool = True) -> Path:
    """The example as a developer ports it, the ENet game with `party.patch` applied (`git apply`,
    from the repository's root), or as it was; plus the test's driver as an autoload. The addon
    is mounted into the pack, as the developer copies it into the game."""
    project = into / PORT.relative_to(DEMO.parent)
    shutil.copytree(PORT, project)
    if ported:
        applied = subprocess.run(
            ["git", "apply", "--verbose", str(PATCH)], cwd=into, capture_output=True, text=True
        )
        assert applied.returncode == 0, applied.stderr
    shutil.copy(DRIVER, project / "port_driver.gd")
    with open(project / "project.godot", "a") as settings:
        settings.write('\n[autoload]\n\nPortDriver="*res://port_driver.gd"\n')
    return project


def test_the_patch_changes_only_the_lines_that_create_the_peer() -> None:
    patch = PATCH.read_text()
    assert re.findall(r"^\+\+\+ b/(\S+)$", patch, re.MULTILINE) == ["godot/examples/port/lobby.gd"]
    removed = [line[1:].strip() for line in changed_lines(patch) if line.startswith("-")]
    added = [line[1:].strip() for line in changed_lines(patch) if line.startswith("+")]
    assert removed == [
        "var peer := ENetMultiplayerPeer.new()",
        "var error := peer.create_server(PORT, MAX_PLAYERS)",
        "var peer := ENetMultiplayerPeer.new()",
        "var error := peer.create_client(address.text, PORT)",
    ]
    assert added == [
        "var peer := SoireeMultiplayerPeer.new()",
        'var error := peer.create_host(address.text, "arena")',
        "var peer := SoireeMultiplayerPeer.new()",
        'var error := peer.create_client(address.text, "arena")',
    ]


def test_the_porting_guide_shows_the_real_patch() -> None:
    blocks = re.findall(r"```diff\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert PATCH.read_text() in blocks


def test_the_patch_applies_to_the_enet_original(tmp_path: Path) -> None:
    project = arena(tmp_path)
    ported = (project / "lobby.gd").read_text()
    assert "ENetMultiplayerPeer" in (PORT / "lobby.gd").read_text() and "ENetMultiplayerPeer" not in ported
    original = {p.relative_to(PORT) for p in PORT.rglob("*") if p.is_file()}
    for name in original - {Path("lobby.gd"), Path("project.godot")}:
        assert (project / name).read_bytes() == (PORT / name).read_bytes(), name


@pytest.mark.usefixtures("godot_engine")
@pytest.mark.parametrize(
    ("role", "status", "enet_says"),
    [
        ("host", "Could not host: Can't create", "ERROR: Couldn't create an ENet host."),
        ("join", "Could not connect.", "WARNING: Sending failed!"),
    ],
)
def test_the_enet_original_cannot_play_in_a_web_engine(
    tmp_path: Path, role: str, status: str, enet_says: str
) -> None:
    project = arena(tmp_path, ported=False)
    args = ["link=127.0.0.1", f"role={role}", f"steps=status:{status},quit"]
    result = run_godot_project(project, args=args, timeout=150)
    assert result.exit_code == 0 and not result.parse_errors, result.describe()
    assert enet_says in result.errors, result.describe()  # no UDP in a browser


def port_lines(result: GodotResult) -> list[str]:
    return [line.removeprefix("port: ") for line in result.stdout if line.startswith("port: ")]


@pytest.mark.slow
@pytest.mark.usefixtures("godot_engine")
async def test_the_ported_game_plays_through_a_party_in_three_engines(tmp_path: Path) -> None:
    project = arena(tmp_path / "game")
    mounts = {"addons/soiree": ADDON}
    with live_relay(tmp_path / "relay") as relay:

        def player(name: str, role: str, steps: str) -> GodotRun:
            args = [f"link={relay.url(name)}", f"role={role}", f"steps={steps}"]
            return project_run(project, args, extra=mounts, timeout=150)

        # Cy joins last and walks first; the others walk once they have seen Cy move, so every
        # engine sees every disc at its spawn point, then moving. Cy's pulse goes to the host,
        # which tells everyone. The host leaves once the others have.
        ada = player("Ada", "host", "players:3,moved:1,walk:ui_down,moved:3,pulses:1,players:1,quit")
        bo = player("Bo", "join", "players:3,moved:1,walk:ui_right,moved:3,pulses:1,quit")
        cy = player("Cy", "join", "players:3,walk:ui_left,moved:3,pulse,pulses:1,quit")
        async with trio.open_nursery() as nursery:
            held = {"Ada": await start_and_wait_for(ada, "port: peer 1 appeared at spawn point 1", nursery)}
            held["Bo"] = await start_and_wait_for(bo, "port: in the game", nursery)
            held["Cy"] = await start_and_wait_for(cy, "port: in the game", nursery)
            while not all("result" in run for run in held.values()):
                await trio.sleep(0.2)
    results: dict[str, GodotResult] = {name: run["result"] for name, run in held.items()}
    for name, result in results.items():
        assert result.exit_code == 0 and not result.parse_errors, f"{name}: {result.describe()}"
    lines = {name: port_lines(result) for name, result in results.items()}
    ids = {
        name: int(next(line for line in said if line.startswith("this is peer ")).split()[-1])
        for name, said in lines.items()
    }
    assert ids["Ada"] == 1 and len(set(ids.values())) == 3, ids  # the host is peer 1, as with ENet
    # The host placed each player at a free spawn point, in the order they came; every engine,
    # the late joiner's too, saw each disc there before it moved.
    spots = {"Ada": 1, "Bo": 2, "Cy": 3}
    for name, said in lines.items():
        for other, spot in spots.items():
            assert f"peer {ids[other]} appeared at spawn point {spot}" in said, (name, said)
            assert f"peer {ids[other]} moved" in said, (name, said)  # keys -> host -> everyone
        assert f"pulse from {ids['Cy']}" in said, (name, said)  # Cy's RPC, through the host, to all
        assert not any(line.startswith("pulse from") and line != f"pulse from {ids['Cy']}" for line in said)
    assert "step players:1 done" in lines["Ada"]  # the host saw both players leave
