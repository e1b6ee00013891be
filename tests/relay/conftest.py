"""A real relay on loopback for each test that asks for one: real sockets, real WebSockets."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from common.config import Config
from common.identity import Identity
from common.secretfiles import mint_ticket, ticket_key
from relay.client import RelayClient, open_relay
from relay.server import RelayServer
from relay.service import serve, stop
from relay.settings import Settings
from tests.relay.sim import identity
from tests.support.net import free_port_block


@dataclass
class RunningRelay:
    server: RelayServer
    config: Config
    port: int
    admin_port: int
    scope: trio.CancelScope

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/relay"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def ticket(
        self, name: str, *, host: bool = False, perms: frozenset[str] | None = None, ttl: float = 60
    ) -> str:
        ident = identity(name, host)
        if perms is not None:
            ident = Identity(ident.user_id, ident.name, perms, ident.source)
        key = ticket_key(self.config)
        return mint_ticket(key, ident, ttl=ttl)

    def drop(self, member: int) -> None:
        """Cut a member's TCP connection without a WebSocket close, as a network failure would."""
        for conn, wire in list(self.server.wires.items()):
            if conn.session is not None and conn.session.id == member:
                assert isinstance(wire.stream, trio.SocketStream)
                wire.stream.socket.shutdown(socket.SHUT_RDWR)

    def tickets(self, name: str) -> Callable[[], Awaitable[str]]:
        """A fresh ticket for every (re)connection, as a real client would fetch."""

        async def fetch() -> str:
            return self.ticket(name)

        return fetch

    def connect(self, name: str, **kwargs: Any) -> AbstractAsyncContextManager[RelayClient]:
        return open_relay(self.url, ticket=self.tickets(name), **kwargs)

    async def stop(self) -> None:
        await stop(self.server)
        self.scope.cancel()


StartRelay = Callable[..., Awaitable[RunningRelay]]


@pytest.fixture
async def start_relay(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[StartRelay]:
    """Start relays (several if needed); each gets its own ports, the same var directory."""

    async def start(
        *,
        database_url: str | None = None,
        mode: str = "standalone",
        restore_wait: float = 10.0,
        env: dict[str, str] | None = None,
        **settings: Any,
    ) -> RunningRelay:
        base = free_port_block(8)
        env = {
            "SOIREE_VAR": str(tmp_path / "var"),
            "SOIREE_PORT": str(base),
            "SOIREE_MODE": mode,
            **(env or {}),
        }
        if database_url:
            env["SOIREE_DATABASE_URL"] = database_url
        config = Config.from_env(env)
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await serve(
                    config,
                    Settings().with_overrides(**settings),
                    database=database_url is not None,
                    restore_wait=restore_wait,
                    task_status=task_status,
                )

        server, port, admin_port = await nursery.start(run)
        return RunningRelay(server, config, port, admin_port, scope)

    yield start


@pytest.fixture
async def relay(start_relay: StartRelay) -> RunningRelay:
    return await start_relay()
