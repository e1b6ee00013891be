"""The database connection pool, kept alive across outages.

While the database is unreachable every request that needs it gets a 503 at once (no hang);
a keeper task retries in the background, re-applies migrations when the database answers
again (it may have been recreated), then swaps in a fresh pool. Failures seen by requests
trigger a probe, so a restarted database is noticed without waiting for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import psycopg
from psycopg import errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from uro_shim.errors import Unavailable

from common.db import ensure_database, run_transaction_async

log = logging.getLogger("uro_shim.db")
T = TypeVar("T")

CONNECT_TIMEOUT = 3  # seconds; psycopg takes whole seconds
OPERATION_TIMEOUT = 15.0
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)


class Database:
    def __init__(
        self,
        url: str,
        prepare: Callable[[psycopg.Connection], None],
        *,
        min_size: int = 1,
        max_size: int = 8,
    ) -> None:
        self.url = url
        self._prepare = prepare
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool | None = None
        self._up = False
        self._went_down = asyncio.Event()
        self._probing = False
        self.last_error = "connecting to the database"
        self._keeper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def up(self) -> bool:
        return self._up

    async def start(self) -> None:
        self._keeper = asyncio.create_task(self._keep(), name="uro-db-keeper")

    async def wait_up(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not self._up:
                    await asyncio.sleep(0.05)
        return self._up

    async def stop(self) -> None:
        if self._keeper:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        for task in list(self._background):
            task.cancel()
        if self._pool is not None:
            await self._pool.close(timeout=2)
            self._pool = None

    # -- the keeper -------------------------------------------------------------------------
    def _connect_and_prepare(self) -> None:
        ensure_database(self.url, connect_timeout=CONNECT_TIMEOUT)
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            self._prepare(conn)

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection) -> None:
        # Server-side guard against runaway statements; both databases know this setting.
        await conn.execute("SET statement_timeout = '10s'")

    async def _keep(self) -> None:
        attempt = 0
        while True:
            if self._up:
                await self._went_down.wait()
                self._went_down.clear()
                continue
            try:
                await asyncio.to_thread(self._connect_and_prepare)
                pool = AsyncConnectionPool(
                    self.url,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    open=False,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
                    configure=self._configure,
                    timeout=5.0,
                    reconnect_timeout=10.0,
                    name="uro",
                )
                await pool.open(wait=True, timeout=10.0)
            except Exception as exc:  # any failure means "not yet": keep trying
                self.last_error = f"database unreachable: {exc}".strip()[:300]
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                if attempt in (1, 10) or attempt % 60 == 0:
                    log.warning("database not ready (attempt %d): %s", attempt, exc)
                await asyncio.sleep(delay)
                continue
            old, self._pool = self._pool, pool
            self._up, attempt = True, 0
            self.last_error = ""
            log.info("database ready")
            if old is not None:
                self._spawn(old.close(timeout=2))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _mark_down(self, reason: str) -> None:
        if self._up:
            log.warning("database lost: %s", reason)
        self._up = False
        self.last_error = f"database unreachable: {reason}"[:300]
        self._went_down.set()

    def _suspect(self, reason: str) -> None:
        """A request saw a failure: probe the server directly and react."""
        if self._probing or not self._up:
            return
        self._probing = True

        async def probe() -> None:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                )
                async with conn:
                    await conn.execute("SELECT 1")
                if self._pool is not None:  # the server is back: flush broken idle connections
                    await self._pool.check()
            except Exception as exc:
                self._mark_down(f"{reason}; probe: {exc}")
            finally:
                self._probing = False

        self._spawn(probe())

    # -- what requests use --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        pool = self._pool
        if not self._up or pool is None:
            raise Unavailable()
        conn: psycopg.AsyncConnection | None = None
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT), pool.connection(timeout=5.0) as conn:
                yield conn
        except errors.TransactionRollback:
            raise Unavailable("The party's database is busy; try again.") from None
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, TimeoutError) as exc:
            if conn is not None and not conn.broken and isinstance(exc, errors.QueryCanceled):
                raise Unavailable("The party's database took too long to answer; try again.") from None
            self._suspect(f"{type(exc).__name__}: {exc}")
            raise Unavailable() from None

    async def transaction(self, fn: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        async with self.connection() as conn:
            return await run_transaction_async(conn, fn)

    async def ping(self) -> bool:
        try:
            async with self.connection() as conn:
                await conn.execute("SELECT 1")
            return True
        except Unavailable:
            return False
