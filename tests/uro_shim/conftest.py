"""uro-shim fixtures: a real server process against the real PostgreSQL server of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.uro import UroServer, server_env

__all__ = ["UroServer", "server_env"]


@pytest.fixture
def make_uro(tmp_path: Path) -> Iterator[Callable[..., UroServer]]:
    servers: list[UroServer] = []

    def make(
        database_url: str, *, start: bool = True, wait_healthy: bool = True, **overrides: str
    ) -> UroServer:
        var = tmp_path / f"var{len(servers)}"
        env = server_env(var, database_url, **overrides)
        server = UroServer(
            f"http://127.0.0.1:{env['SOIREE_API_PORT']}", var, env, tmp_path / f"uro{len(servers)}.log"
        )
        servers.append(server)
        if start:
            server.start(wait_healthy=wait_healthy)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def uro(make_uro: Callable[..., UroServer], database_url: str) -> UroServer:
    return make_uro(database_url)


@pytest.fixture
def sandstorm_uro(make_uro: Callable[..., UroServer], database_url: str) -> UroServer:
    return make_uro(database_url, SOIREE_MODE="sandstorm")
