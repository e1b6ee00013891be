"""Fixtures shared by every suite. Tests talk to real servers on loopback, never to mocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test gets its own database."""
    server = PostgresServer(tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database_url(pg_server: PostgresServer) -> str:
    """A fresh, empty database on the shared server."""
    return pg_server.create_database()


@pytest.fixture
def make_pg_server(tmp_path: Path) -> Iterator[Callable[..., PostgresServer]]:
    """A dedicated server, for tests that stop, kill or restart the database."""
    servers: list[PostgresServer] = []

    def make(**kwargs: bool) -> PostgresServer:
        server = PostgresServer(tmp_path / f"pg{len(servers)}", **kwargs)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.kill()
