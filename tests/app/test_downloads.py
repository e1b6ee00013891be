"""The Godot download: the demo project with the client addon, as a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from app.downloads import GODOT_DIR, ZIP_FOLDER, godot_files, godot_zip


def test_the_zip_holds_the_demo_project_and_the_addon() -> None:
    data = godot_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert f"{ZIP_FOLDER}/project.godot" in names
        assert f"{ZIP_FOLDER}/addons/soiree/plugin.cfg" in names
        plugin = archive.read(f"{ZIP_FOLDER}/addons/soiree/plugin.cfg").decode()
        assert archive.testzip() is None
    assert "[plugin]" in plugin
    assert plugin == (GODOT_DIR / "addons" / "soiree" / "plugin.cfg").read_text()
    assert len(names) == len(godot_files()) and all(n.startswith(f"{ZIP_FOLDER}/") for n in names)


def test_godot_cache_and_hidden_files_stay_out_and_the_bytes_are_stable(tmp_path: Path) -> None:
    (tmp_path / ".godot" / "imported").mkdir(parents=True)
    (tmp_path / ".godot" / "imported" / "big.ctex").write_bytes(b"\0" * 1000)
    (tmp_path / ".gitignore").write_text(".godot/\n")
    (tmp_path / "examples" / "game").mkdir(parents=True)
    (tmp_path / "examples" / ".gdignore").write_text("")  # kept: Godot skips the folder
    (tmp_path / "examples" / "game" / "project.godot").write_text("config_version=5\n")
    (tmp_path / "examples" / "game" / ".godot").mkdir()
    (tmp_path / "examples" / "game" / ".godot" / ".gdignore").write_text("")
    (tmp_path / "addons" / "soiree").mkdir(parents=True)
    (tmp_path / "addons" / "soiree" / "plugin.cfg").write_text("[plugin]\n")
    (tmp_path / "project.godot").write_text("config_version=5\n")
    data = godot_zip.__wrapped__(tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == [
            f"{ZIP_FOLDER}/addons/soiree/plugin.cfg",
            f"{ZIP_FOLDER}/examples/.gdignore",
            f"{ZIP_FOLDER}/examples/game/project.godot",
            f"{ZIP_FOLDER}/project.godot",
        ]
    assert godot_zip.__wrapped__(tmp_path) == data
