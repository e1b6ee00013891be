"""Every GDScript file in the repository parses and passes the linter (gdtoolkit, Godot 4 syntax)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_FOLDERS = {"var", "node_modules", "__pycache__"}
TOOLS = Path(sys.executable).parent


def gdscript_files() -> list[Path]:
    return sorted(
        path
        for path in ROOT.rglob("*.gd")
        if not any(part.startswith(".") or part in SKIPPED_FOLDERS for part in path.relative_to(ROOT).parts)
    )


def gdtool(name: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOOLS / name, *map(str, files)], capture_output=True, text=True, timeout=300)


def test_the_repository_has_gdscript_to_check() -> None:
    assert any(path.match("tests/godot/projects/*/main.gd") for path in gdscript_files())


@pytest.mark.parametrize("tool", ["gdparse", "gdlint"])
def test_every_gdscript_file_passes(tool: str) -> None:
    proc = gdtool(tool, *gdscript_files())
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("tool", "source"),
    [
        ("gdparse", "extends Node\n\n\nfunc _ready() -> void:\n\tvar total := 1 +\n"),
        ("gdlint", "extends Node\n\n\nfunc BadName() -> void:\n\tpass\n"),
    ],
)
def test_the_checks_catch_problems(tmp_path: Path, tool: str, source: str) -> None:
    script = tmp_path / "broken.gd"
    script.write_text(source)
    assert gdtool(tool, script).returncode != 0
