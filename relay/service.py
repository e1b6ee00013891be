"""The relay process: the WebSocket server, the admin endpoint and persistence, wired together."""

from __future__ import annotations

import gc
import logging
import signal

import httpx
import trio

from common.config import Config
from relay import policy
from relay.admin import AdminApi
from relay.persistence import Persister, Store
from relay.register import Registrar, Registration
from relay.server import RelayServer
from relay.settings import Settings

log = logging.getLogger("relay")

SHUTDOWN_FLUSH = 5.0


def settings_gc(settings: Settings) -> tuple[int, int, int]:
    return settings.gc_threshold, 20, 100


async def serve(
    config: Config,
    settings: Settings | None = None,
    *,
    database: bool = True,
    restore_wait: float = 20.0,
    handle_signals: bool = False,
    registration: Registration | None = None,
    task_status: trio.TaskStatus[tuple[RelayServer, int, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until cancelled (or, with ``handle_signals``, until SIGTERM/SIGINT).

    Listeners open at once; WebSocket upgrades and ``/healthz`` answer 503 until the saved
    objects are restored, or ``restore_wait`` seconds have passed without a database (then the
    relay serves and restores later, when the database answers).
    """
    server = RelayServer(config, settings)
    default = policy.Policy(server.settings.player_rooms)  # until the host chooses
    chosen = policy.load(policy.policy_path(config), default, server.settings.max_rooms)
    server.core.quotas.player_rooms = chosen.player_rooms
    admin = AdminApi(server)
    async with trio.open_nursery() as nursery:
        relay_port = await nursery.start(server.run)
        admin_port = await nursery.start(admin.run, config.relay_ports(config.relay_index)[1])
        log.info(
            "relay %d of %d on 127.0.0.1:%d (admin on 127.0.0.1:%d), mode %s",
            config.relay_index,
            config.relays,
            relay_port,
            admin_port,
            config.mode,
        )
        if database:
            server.persister = Persister(server.core, Store(config.database_url), holds=server.holds)
            if not await server.persister.restore_within(restore_wait):
                log.warning(
                    "serving without saved objects for now; they are restored when the database answers"
                )
        # Collector pauses delay whole ticks. Everything made so far lives as long as the process
        # (modules, settings, listeners): freeze it out of every collection, and collect the
        # young generation less often (bench/README.md measures the effect).
        gc.freeze()
        gc.set_threshold(*settings_gc(server.settings))
        server.ready.set()
        if server.persister is not None:
            nursery.start_soon(server.persister.run)
        registrar = None
        if registration is not None:  # a relay on another machine: its rooms in the party's list
            registrar = Registrar(server.core, registration, httpx.AsyncClient(trust_env=False))
            nursery.start_soon(registrar.run)
        task_status.started((server, relay_port, admin_port))
        if handle_signals:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("stopping on signal %d", signum)
                    break
            await stop(server)
            if registrar is not None:
                with trio.move_on_after(SHUTDOWN_FLUSH):
                    await registrar.withdraw()
            nursery.cancel_scope.cancel()


async def stop(server: RelayServer) -> None:
    """Goodbye to every client, then one last save of what changed."""
    await server.shutdown()
    if server.persister is not None and server.persister.restored:
        with trio.move_on_after(SHUTDOWN_FLUSH):
            await server.persister.flush()
