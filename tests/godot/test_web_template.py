"""Fetching the engine: pinned, cached outside the repository, clear when it cannot be done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import godot_web_template
from tests.support.godot_web_template import TEMPLATE_FILES, TemplateUnavailable, ensure_web_template


def test_the_cached_engine_is_godot_4_6(godot_engine: Path) -> None:
    assert sorted(p.name for p in godot_engine.iterdir()) == sorted(TEMPLATE_FILES)
    assert b"Godot Engine v4.6.stable.official" in (godot_engine / "index.wasm").read_bytes()
    assert "startGame" in (godot_engine / "index.js").read_text()


def test_the_cache_is_reused_without_npm(
    godot_engine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = godot_web_template.template_dir(tmp_path)
    cached.mkdir(parents=True)
    for name in TEMPLATE_FILES:
        (cached / name).symlink_to(godot_engine / name)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ensure_web_template(tmp_path) == cached


def test_without_npm_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TemplateUnavailable, match="apt-get install npm"):
        ensure_web_template(tmp_path)


def test_a_tarball_that_does_not_match_the_pin_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(godot_web_template, "TARBALL_SHA256", "0" * 64)
    with pytest.raises(TemplateUnavailable, match="refusing"):
        ensure_web_template(tmp_path)
    assert not godot_web_template.template_dir(tmp_path).exists()
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]


def test_the_cache_lives_outside_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert godot_web_template.cache_root() == tmp_path / "soiree" / "godot-web"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert godot_web_template.cache_root() == tmp_path / "home" / ".cache" / "soiree" / "godot-web"
