"""Fixtures for the grain's tests: short var directories and the PostgreSQL template."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.database import build_template


@pytest.fixture
def var_dir() -> Iterator[Path]:
    """A var directory with a short path (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="soiree-var-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template() -> Path:
    """The initialised cluster a party server copies on its first start (./soiree setup builds it)."""
    return build_template()
