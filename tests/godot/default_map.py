"""The party's default map, `uro-shim/default_map.scn`, made and checked by the real engine.

The map is built in GDScript (`projects/default_map/map_builder.gd`) and saved by Godot's own
`ResourceSaver` with `FLAG_COMPRESS`: the compressed binary scene (`RSCC`) that V-Sekai's client
downloads. The engine is the Godot 4.6 web template the Godot tests use (README.md here). The
scene refers to two of V-Sekai's scripts by path; `projects/vsekai_scripts/` stands in for them
while saving and loading. Regenerate after changing the builder with

    .venv/bin/python -m tests.godot.default_map

which prints the size and SHA-256 of what it wrote (the map and the demo's copy of it,
`godot/demo/multiplayer/default_map.scn`); commit the new files with the change.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.godot_engine import GodotResult, GodotRun
from tests.support.godot_pck import write_pck
from tests.support.godot_project import project_files

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "uro-shim" / "default_map.scn"
# The demo's multiplayer scene plays on a copy of the map (godot/README.md); written together.
DEMO_MAP = ROOT / "godot" / "demo" / "multiplayer" / "default_map.scn"
PROJECT = Path(__file__).with_name("projects") / "default_map"
VSEKAI_SCRIPTS = Path(__file__).with_name("projects") / "vsekai_scripts"
WITH_SCRIPTS = {"addons": VSEKAI_SCRIPTS}
PACKED_MAP = "maps/default_map.scn"  # where `check_map` puts the file in the project


def run(args: list[str], *, scripts: bool = True, files: Mapping[str, bytes] | None = None) -> GodotResult:
    """One run of the map project; `files` are added to the pack (resource path -> bytes)."""
    pack = project_files(PROJECT, WITH_SCRIPTS if scripts else None)
    pack.update(files or {})
    return GodotRun(write_pck(pack), args, timeout=120).run()


def generate() -> GodotResult:
    return run(["mode=generate"])


def check_map(data: bytes, *, scripts: bool = True) -> GodotResult:
    """Loads, describes and probes a saved map; `scripts=False` leaves V-Sekai's script paths empty."""
    return run(["mode=check", f"path=res://{PACKED_MAP}"], scripts=scripts, files={PACKED_MAP: data})


def saved_bytes(result: GodotResult) -> bytes:
    """The file a `generate` run saved, from its `scn <base64>` lines."""
    return base64.b64decode("".join(line[4:] for line in result.stdout if line.startswith("scn ")))


def description(result: GodotResult) -> list[str]:
    """The packed scene as the run described it (`node` lines and their properties)."""
    return [line for line in result.stdout if line.startswith(("node ", "  "))]


def passed(result: GodotResult) -> bool:
    return result.exit_code == 0 and not any(line.startswith("FAIL") for line in result.stdout)


def main() -> int:
    result = generate()
    if not passed(result):
        print(result.describe(), file=sys.stderr)
        return 1
    data = saved_bytes(result)
    for path in (MAP, DEMO_MAP):
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
