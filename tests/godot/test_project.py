"""Packing a project folder: what goes in, what is generated, and which projects are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.godot_pck import read_pck
from tests.support.godot_project import (
    CLASS_CACHE,
    ProjectError,
    build_project_pck,
    global_class_cache,
    project_files,
)

PROJECT_GODOT = 'config_version=5\n\n[application]\n\nrun/main_scene="res://main.tscn"\n'


def make_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_files_hidden_folders_and_mounted_folders(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "game",
        {"project.godot": PROJECT_GODOT, "main.tscn": "[gd_scene]\n", "lib/x.gd": "", ".godot/old.cfg": ""},
    )
    addon = make_project(tmp_path / "addon", {"plugin.cfg": "[plugin]\n", "net/peer.gd": "extends Node\n"})
    files = read_pck(build_project_pck(project, {"addons/soiree": addon}))
    assert sorted(files) == [
        CLASS_CACHE,
        "addons/soiree/net/peer.gd",
        "addons/soiree/plugin.cfg",
        "lib/x.gd",
        "main.tscn",
        "project.godot",
    ]
    assert files["addons/soiree/net/peer.gd"] == b"extends Node\n"


def test_folders_with_a_gdignore_file_are_left_out_as_godot_does(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "game",
        {
            "project.godot": PROJECT_GODOT,
            "main.tscn": "[gd_scene]\n",
            "examples/.gdignore": "",
            "examples/other/project.godot": PROJECT_GODOT,
            "examples/other/main.gd": "extends Node\n",
            "lib/x.gd": "",
        },
    )
    assert sorted(project_files(project)) == [CLASS_CACHE, "lib/x.gd", "main.tscn", "project.godot"]


def test_a_mount_over_a_project_file_is_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path / "game", {"project.godot": PROJECT_GODOT, "main.tscn": "", "a/b.gd": ""})
    other = make_project(tmp_path / "other", {"b.gd": ""})
    with pytest.raises(ProjectError, match=r"res://a/b\.gd"):
        project_files(project, {"a": other})


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"main.tscn": ""}, "no project.godot"),
        ({"project.godot": "config_version=5\n", "main.tscn": ""}, "no run/main_scene"),
        ({"project.godot": PROJECT_GODOT.replace("res://main.tscn", "uid://b1")}, "res:// path"),
        ({"project.godot": PROJECT_GODOT}, "not in the project"),
    ],
)
def test_projects_the_engine_could_not_start_are_refused(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    with pytest.raises(ProjectError, match=problem):
        project_files(make_project(tmp_path, files))


def test_class_cache_lists_named_scripts_with_their_bases() -> None:
    sources = {
        "a.gd": "class_name Alpha\nextends Node3D\n",
        "b.gd": 'class_name Beta extends "res://a.gd"\n',
        "tools/c.gd": "@tool\nclass_name Gamma\n",
        "d.gd": 'extends "res://b.gd"\n',
        "e.gd": 'class_name Epsilon\nextends "res://d.gd"\n',
        "f.gd": "extends Alpha\nclass_name Phi\n",
        "plain.gd": "extends Node\n",
        "notes.txt": "class_name NotScript\n",
    }
    cache = global_class_cache({path: text.encode() for path, text in sources.items()}).decode()
    entries = {block.split('"class": &"')[1].split('"')[0]: block for block in cache.split("}, {")}
    assert sorted(entries) == ["Alpha", "Beta", "Epsilon", "Gamma", "Phi"]
    bases = {"Alpha": "Node3D", "Beta": "Node3D", "Gamma": "RefCounted", "Epsilon": "Node3D", "Phi": "Alpha"}
    for name, base in bases.items():
        assert f'"base": &"{base}",' in entries[name]
    assert '"is_tool": true' in entries["Gamma"] and '"path": "res://tools/c.gd"' in entries["Gamma"]
    assert '"is_tool": false' in entries["Alpha"]
    assert cache.startswith("list=[{") and cache.endswith("}]\n")


def test_a_project_without_named_classes_still_gets_an_empty_cache() -> None:
    assert global_class_cache({"main.gd": b"extends Node\n"}) == b"list=[]\n"
