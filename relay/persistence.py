"""Persistent objects in the database: saved a moment after they change, restored at start.

The SQL runs unchanged on CockroachDB and PostgreSQL (docs/architecture.md). psycopg is used
synchronously from worker threads; the trio side batches changes once per ``persist_interval``
(debounce), so the database holds each object's state at most about that long after it
changed. When the database is unreachable the relay keeps serving and keeps the pending
changes in memory, newest first, until a write succeeds.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

import psycopg
import trio

from common.db import ensure_database, migrate, run_transaction
from relay.core import RelayCore
from relay.protocol import Position, Rule
from relay.room import PersistedObject

log = logging.getLogger("relay.persistence")

MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS relay_objects (
        room TEXT NOT NULL,
        object_id BIGINT NOT NULL,
        rule BIGINT NOT NULL,
        epoch BIGINT NOT NULL,
        position BYTEA,
        state BYTEA NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (room, object_id)
    )
    """,
    # 2-4: the account that spawned each object (its share, PROTOCOL.md §12.4), its name then, and
    # the account that created the object's room; "" for rows saved before accounts were kept.
    "ALTER TABLE relay_objects ADD COLUMN IF NOT EXISTS account TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE relay_objects ADD COLUMN IF NOT EXISTS account_name TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE relay_objects ADD COLUMN IF NOT EXISTS room_creator TEXT NOT NULL DEFAULT ''",
]

_POS = struct.Struct("<3f")
UPSERT = """
INSERT INTO relay_objects
    (room, object_id, rule, epoch, position, state, account, account_name, room_creator, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (room, object_id) DO UPDATE SET
    rule = excluded.rule, epoch = excluded.epoch, position = excluded.position,
    state = excluded.state, account = excluded.account, account_name = excluded.account_name,
    room_creator = excluded.room_creator, updated_at = excluded.updated_at
"""
DELETE = "DELETE FROM relay_objects WHERE room = %s AND object_id = %s"
SELECT = """SELECT room, object_id, rule, epoch, position, state, account, account_name, room_creator
    FROM relay_objects ORDER BY room, object_id"""

DB_ERRORS = (psycopg.Error, OSError)


def _pack(pos: Position | None) -> bytes | None:
    return None if pos is None else _POS.pack(*pos)


def _unpack(raw: bytes | None) -> Position | None:
    if raw is None or len(raw) != _POS.size:
        return None
    pos: Position = _POS.unpack(raw)
    return pos


class Store:
    """The relay's table. Synchronous: call it from a worker thread."""

    def __init__(self, url: str, connect_timeout: int = 5) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            ensure_database(self.url, connect_timeout=self.connect_timeout)
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout)
            try:
                migrate(conn, "relay", MIGRATIONS)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _run(self, fn: Callable[[psycopg.Connection], object]) -> object:
        try:
            return run_transaction(self._connection(), fn)
        except DB_ERRORS:
            self.close()  # reconnect next time
            raise

    def load(self) -> list[PersistedObject]:
        def fetch(conn: psycopg.Connection) -> list[PersistedObject]:
            rows = conn.execute(SELECT).fetchall()
            out = []
            for room, oid, rule, epoch, position, state, account, account_name, creator in rows:
                try:
                    saved = PersistedObject(
                        room,
                        int(oid),
                        Rule(rule),
                        int(epoch),
                        _unpack(position),
                        bytes(state),
                        account,
                        account_name,
                        creator,
                    )
                    out.append(saved)
                except ValueError:
                    log.warning("skipping unreadable saved object %s/%s", room, oid)
            return out

        result = self._run(fetch)
        assert isinstance(result, list)
        return result

    def save(self, upserts: list[PersistedObject], deletes: list[tuple[str, int]]) -> None:
        def write(conn: psycopg.Connection) -> None:
            with conn.cursor() as cur:
                if upserts:
                    rows = [
                        (
                            o.room,
                            o.object,
                            int(o.rule),
                            o.epoch,
                            _pack(o.position),
                            o.state,
                            o.account,
                            o.account_name,
                            o.room_creator,
                        )
                        for o in upserts
                    ]
                    cur.executemany(UPSERT, rows)
                if deletes:
                    cur.executemany(DELETE, deletes)

        self._run(write)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class Persister:
    """The trio side: restore at start, then save what changed, debounced, retrying when down."""

    def __init__(
        self,
        core: RelayCore,
        store: Store,
        interval: float | None = None,
        *,
        holds: Callable[[str], bool] = lambda room: True,
    ) -> None:
        self.core = core
        self.holds = holds  # the rooms placed on this relay process: the only ones it restores
        self.store = store
        self.interval = core.settings.persist_interval if interval is None else interval
        self.pending: dict[tuple[str, int], PersistedObject | None] = {}  # None: delete
        self.restored = False
        self.reachable: bool | None = None

    @property
    def status(self) -> str:
        return {None: "unknown", True: "ok", False: "unreachable"}[self.reachable]

    async def restore(self) -> bool:
        try:
            saved = await trio.to_thread.run_sync(self.store.load)
        except DB_ERRORS as exc:
            self._down(exc)
            return False
        self.reachable = True
        saved = [obj for obj in saved if self.holds(obj.room)]  # the other processes restore theirs
        self.core.restore(saved)
        self.restored = True
        log.info("restored %d saved objects", len(saved))
        return True

    async def restore_within(self, seconds: float) -> bool:
        with trio.move_on_after(seconds):
            while not await self.restore():
                await trio.sleep(0.5)
        return self.restored

    def collect(self) -> None:
        upserts, deletes = self.core.take_persistence()
        for key in deletes:
            self.pending[key] = None
        for obj in upserts:
            self.pending[(obj.room, obj.object)] = obj

    async def flush(self) -> bool:
        self.collect()
        if not self.pending:
            return True
        batch = dict(self.pending)
        upserts = [o for o in batch.values() if o is not None]
        deletes = [k for k, o in batch.items() if o is None]
        try:
            await trio.to_thread.run_sync(self.store.save, upserts, deletes)
        except DB_ERRORS as exc:
            self._down(exc)
            return False
        for key, value in batch.items():
            if self.pending.get(key) is value:
                del self.pending[key]
        if self.reachable is False:
            log.info("database reachable again; saved %d pending changes", len(batch))
        self.reachable = True
        return True

    def _down(self, exc: BaseException) -> None:
        if self.reachable is not False:
            log.warning("database unreachable, will retry: %s", exc)
        self.reachable = False

    async def run(self) -> None:
        backoff = self.interval
        while True:
            await trio.sleep(backoff)
            if not self.restored:
                await self.restore()
                if not self.restored:
                    backoff = min(backoff * 2, 5.0)
                    continue
            ok = await self.flush()
            backoff = self.interval if ok else min(backoff * 2, 5.0)
