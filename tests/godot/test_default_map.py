"""The party's default map (uro-shim/default_map.scn) in the real engine: it loads as a PackedScene,
instances, has a floor and walls that bodies collide with, a sun, a sky and eight spawn points,
and holds only what V-Sekai's client accepts in a map. Regenerating it gives the same scene, and a
party serves it to the engine the way V-Sekai's client downloads it (tests/godot/default_map.py)."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest
from uro_shim.schema import DEFAULT_MAP_ID, DEFAULT_MAP_SOURCE

from tests.godot import default_map
from tests.godot.live import standalone_party
from tests.support.godot_engine import GodotResult, run_godot_project_async
from tests.support.matching import fullmatch

pytestmark = pytest.mark.usefixtures("godot_engine")

# What V-Sekai's client requires of a map (uro-shim/COMPATIBILITY.md, "The default map"): its map
# definition script on the root, its spawn script on Marker3D spawn points, no saved node groups,
# node classes from its validator's list.
VSEKAI_MAP_SCRIPT = "res://addons/vsk_map/vsk_map_definition_runtime.gd"
VSEKAI_SPAWN_SCRIPT = "res://addons/network_manager/network_spawn.gd"
VSEKAI_NODE_CLASSES = {
    "Node3D",
    "StaticBody3D",
    "CollisionShape3D",
    "MeshInstance3D",
    "DirectionalLight3D",
    "WorldEnvironment",
    "Marker3D",
}
SPAWN_POINTS = [f"./SpawnPoints/SpawnPoint{i}" for i in range(1, 9)]
NUMBER = r"(-?\d+\.\d+)"
SPAWN = re.compile(
    rf"spawn (\w+) Marker3D at \({NUMBER}, {NUMBER}, {NUMBER}\) facing \({NUMBER}, {NUMBER}, {NUMBER}\) "
    rf"ground (\w+) at {NUMBER} \({NUMBER}, {NUMBER}, {NUMBER}\)"
)
COMMITTED = DEFAULT_MAP_SOURCE.read_bytes()


@pytest.fixture(scope="module")
def committed() -> GodotResult:
    """The committed file, loaded and probed with V-Sekai's script paths present."""
    return default_map.check_map(COMMITTED)


@pytest.fixture(scope="module")
def regenerated() -> GodotResult:
    return default_map.generate()


def nodes(result: GodotResult) -> dict[str, tuple[str, list[str], dict[str, str]]]:
    """Node path -> (class, groups, stored properties), from the run's description."""
    found: dict[str, tuple[str, list[str], dict[str, str]]] = {}
    properties: dict[str, str] = {}
    for line in default_map.description(result):
        if line.startswith("node "):
            path, kind, groups = fullmatch(r"node (\S+) type=(\w+) groups=\[(.*)\]", line).groups()
            properties = {}
            found[path] = (kind, [g for g in groups.split(", ") if g], properties)
        else:
            name, _, value = line.strip().partition(" = ")
            properties[name] = value
    return found


def lines(result: GodotResult, prefix: str) -> list[str]:
    return [line for line in result.stdout if line.startswith(prefix)]


def test_the_committed_map_is_a_compressed_binary_scene_of_a_few_kib() -> None:
    assert COMMITTED[:4] == b"RSCC"  # what ResourceSaver writes with FLAG_COMPRESS
    assert len(COMMITTED) < 8 * 1024


def test_the_committed_map_loads_and_holds_a_floor_walls_light_sky_and_spawn_points(
    committed: GodotResult,
) -> None:
    assert default_map.passed(committed), committed.describe()
    assert f"sha256 {hashlib.sha256(COMMITTED).hexdigest()}" in committed.stdout
    assert f"root DefaultMap script={VSEKAI_MAP_SCRIPT}" in committed.stdout
    tree = nodes(committed)
    assert set(tree) == {
        ".",
        *("./Floor", "./Floor/Shape", "./Floor/Shape/Mesh", "./Floor/Centre"),
        "./Walls",
        *(f"./Walls/{side}{mesh}" for side in ("North", "South", "East", "West") for mesh in ("", "/Mesh")),
        *("./Sun", "./Environment", "./SpawnPoints"),
        *SPAWN_POINTS,
    }
    assert tree["."][2]["script"] == f"ExtResource({VSEKAI_MAP_SCRIPT})"
    # A 40 m square slab whose top face is at y = 0, with the same box as its mesh.
    floor_kind, _, floor = tree["./Floor/Shape"]
    assert floor_kind == "CollisionShape3D"
    assert floor["shape"].startswith("BoxShape3D#FloorShape(size=(40.0000, 1.0000, 40.0000))")
    assert floor["transform"].endswith("(0.0000, -0.5000, 0.0000))")
    assert "size=(40.0000, 1.0000, 40.0000)" in tree["./Floor/Shape/Mesh"][2]["mesh"]
    sun_kind, _, sun = tree["./Sun"]
    assert sun_kind == "DirectionalLight3D" and sun["shadow_enabled"] == "true"
    environment = tree["./Environment"][2]["environment"]
    assert "sky=Sky#Sky(sky_material=ProceduralSkyMaterial#SkyMaterial(" in environment
    for path in SPAWN_POINTS:
        assert tree[path][0] == "Marker3D"
        assert tree[path][2]["script"] == f"ExtResource({VSEKAI_SPAWN_SCRIPT})"


def test_the_map_holds_only_what_vsekai_accepts(committed: GodotResult) -> None:
    tree = nodes(committed)
    assert {kind for kind, _, _ in tree.values()} <= VSEKAI_NODE_CLASSES
    # V-Sekai's validator refuses a map with saved node groups: its spawn script joins one at run time.
    assert all(groups == [] for _, groups, _ in tree.values())
    scripts = {props["script"] for _, _, props in tree.values() if "script" in props}
    assert scripts == {f"ExtResource({VSEKAI_MAP_SCRIPT})", f"ExtResource({VSEKAI_SPAWN_SCRIPT})"}


def test_bodies_stand_on_the_floor_at_every_spawn_point_and_meet_the_walls(committed: GodotResult) -> None:
    spawns = [fullmatch(SPAWN, line) for line in lines(committed, "spawn ")]
    assert len(spawns) == 8, lines(committed, "spawn ")
    angles = set()
    for match in spawns:
        x, y, z, fx, fy, fz = (float(v) for v in match.groups()[1:7])
        ground, distance, gx, gy, gz = match.group(8), *(float(v) for v in match.groups()[8:])
        assert math.isclose(math.hypot(x, z), 4.0, abs_tol=1e-3) and y == 0.0
        # Facing the centre: a node looks along its -Z.
        assert math.isclose(fx, -x / 4, abs_tol=1e-3) and math.isclose(fz, -z / 4, abs_tol=1e-3) and fy == 0
        # A ray from 2 m above meets the floor's collision right under the marker.
        assert (ground, distance, gx, gy, gz) == ("Floor", 2.0, x, 0.0, z)
        angles.add(round(math.degrees(math.atan2(x, z))) % 360)
    assert angles == set(range(0, 360, 45))  # evenly around the circle
    walls = lines(committed, "wall ")
    assert len(walls) == 4 and all(" Walls at 19.500 " in line for line in walls), walls
    assert lines(committed, "outside ") == ["outside none"]  # the floor ends at 20 m


def test_without_vsekais_scripts_the_map_still_loads_with_plain_nodes(committed: GodotResult) -> None:
    # What a Godot game that is not V-Sekai's client gets: two errors, and nodes without scripts.
    plain = default_map.check_map(COMMITTED, scripts=False)
    assert default_map.passed(plain), plain.describe()
    assert "root DefaultMap script=none" in plain.stdout
    assert lines(plain, "spawn ") == lines(committed, "spawn ")
    assert lines(plain, "wall ") == lines(committed, "wall ")
    for script in (VSEKAI_MAP_SCRIPT, VSEKAI_SPAWN_SCRIPT):
        assert f"ERROR: Failed loading resource: {script}." in plain.errors, plain.describe()


def test_regenerating_gives_the_same_scene(committed: GodotResult, regenerated: GodotResult) -> None:
    assert default_map.passed(regenerated), regenerated.describe()
    data = default_map.saved_bytes(regenerated)
    assert data[:4] == b"RSCC" and f"saved {len(data)} bytes" in regenerated.stdout
    # Not byte for byte: Godot 4.6 gives every saved node a random id (the packed scene's
    # `node_ids`). Everything a loader sees is the same.
    assert default_map.description(regenerated) == default_map.description(committed)
    for probe in ("root ", "spawn ", "wall ", "outside "):
        assert lines(regenerated, probe) == lines(committed, probe)


@pytest.mark.slow
async def test_a_party_serves_the_map_the_way_vsekais_client_downloads_it(
    tmp_path: Path, database_url: str, committed: GodotResult
) -> None:
    with standalone_party(tmp_path / "party", database_url) as party:
        result = await run_godot_project_async(
            default_map.PROJECT,
            args=["mode=download", f"url={party.front_url}", f"id={DEFAULT_MAP_ID}"],
            extra=default_map.WITH_SCRIPTS,
        )
    assert default_map.passed(result), result.describe()
    assert f"user_content_data /uploads/{DEFAULT_MAP_ID}_2_original.scn?v=2" in result.stdout
    assert f"downloaded {len(COMMITTED)} bytes" in result.stdout
    assert f"sha256 {hashlib.sha256(COMMITTED).hexdigest()}" in result.stdout
    assert default_map.description(result) == default_map.description(committed)
    assert lines(result, "spawn ") == lines(committed, "spawn ")
