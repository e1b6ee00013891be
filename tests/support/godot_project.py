"""A Godot 4 project folder (text `project.godot`, `.gd`, `.tscn`, ...) packed into a `.pck`.

The release web template loads plain-text scripts and scenes as they are: no import step, no
`.gdc` or `.remap` files. It does need `.godot/global_script_class_cache.cfg` for `class_name`
to resolve (`tests/godot/README.md` §Formats) and prints an error when it is
missing; it is generated here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tests.support.godot_pck import normalize_path, write_pck

CLASS_CACHE = ".godot/global_script_class_cache.cfg"
_MAIN_SCENE = re.compile(r'^\s*run/main_scene\s*=\s*"([^"]*)"', re.MULTILINE)
_CLASS_NAME = re.compile(r"^class_name\s+(\w+)(?:\s+extends\s+(\S+))?", re.MULTILINE)
_EXTENDS = re.compile(r"^extends\s+(\S+)", re.MULTILINE)


class ProjectError(ValueError):
    """A project folder the engine could not run; the message names the problem."""


def project_files(project_dir: Path, extra: Mapping[str, Path] | None = None) -> dict[str, bytes]:
    """Resource path -> content for a project folder, plus `extra` folders mounted at given paths.

    `extra` maps a resource folder to a folder on disk, e.g. `{"addons/soiree": repo / "addons/soiree"}`,
    so test projects can use code that lives elsewhere in the repository. Hidden entries (`.godot/`,
    `.git`, ...) are left out: the editor's cache is regenerated here as needed. So are folders
    holding a `.gdignore` file, which Godot leaves out of a project too
    (<https://docs.godotengine.org/en/stable/tutorials/best_practices/project_organization.html>).
    """
    files: dict[str, bytes] = {}
    for prefix, folder in [("", project_dir), *sorted((extra or {}).items())]:
        if not folder.is_dir():
            raise ProjectError(f"{folder} is not a folder")
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_dir() or any(part.startswith(".") for part in rel.parts):
                continue
            if any((folder / parent / ".gdignore").exists() for parent in rel.parents):
                continue
            res = normalize_path(f"{prefix}/{rel.as_posix()}")
            if res in files:
                raise ProjectError(f"res://{res} is given twice")
            files[res] = path.read_bytes()
    _check_main_scene(files)
    files[CLASS_CACHE] = global_class_cache(files)
    return files


def build_project_pck(project_dir: Path, extra: Mapping[str, Path] | None = None) -> bytes:
    return write_pck(project_files(project_dir, extra))


def _check_main_scene(files: Mapping[str, bytes]) -> None:
    # Without a loadable main scene the engine starts, shows nothing and never quits.
    if "project.godot" not in files:
        raise ProjectError("the project has no project.godot")
    match = _MAIN_SCENE.search(files["project.godot"].decode())
    if match is None:
        raise ProjectError('project.godot sets no run/main_scene (e.g. run/main_scene="res://main.tscn")')
    scene = match.group(1)
    if not scene.startswith("res://"):
        raise ProjectError(f"run/main_scene must be a res:// path, not {scene!r}")
    if normalize_path(scene) not in files:
        raise ProjectError(f"the main scene {scene} is not in the project")


def global_class_cache(files: Mapping[str, bytes]) -> bytes:
    """The editor's list of `class_name` scripts (the engine complains when it is missing)."""
    extends_of: dict[str, str | None] = {}
    declared: dict[str, tuple[str, bool]] = {}  # path -> (class name, is a tool script)
    for res, data in files.items():
        if not res.endswith(".gd"):
            continue
        source = data.decode("utf-8", errors="replace")
        named = _CLASS_NAME.search(source)
        extends = _EXTENDS.search(source)
        extends_of[res] = (named and named.group(2)) or (extends and extends.group(1))
        if named:
            declared[res] = (named.group(1), re.search(r"^@tool\b", source, re.MULTILINE) is not None)

    def base_of(res: str, seen: frozenset[str] = frozenset()) -> str:
        # As the engine records it: no `extends` is RefCounted, `extends Name` is Name, and
        # `extends "res://parent.gd"` takes the parent script's own base.
        extends = extends_of.get(res)
        if extends is None or res in seen:
            return "RefCounted"
        if not extends.startswith(('"', "'")):
            return extends
        return base_of(normalize_path(extends.strip("\"'")), seen | {res})

    entries = [
        "{\n"
        f'"base": &"{base_of(res)}",\n'
        f'"class": &"{name}",\n'
        '"icon": "",\n'
        '"is_abstract": false,\n'
        f'"is_tool": {"true" if is_tool else "false"},\n'
        '"language": &"GDScript",\n'
        f'"path": "res://{res}"\n'
        "}"
        for res, (name, is_tool) in sorted(declared.items())
    ]
    return ("list=[" + ", ".join(entries) + "]\n").encode()
