"""SQL plumbing shared by the services: database creation, migrations, transaction retries.

Everything here runs unchanged on CockroachDB and PostgreSQL: plain types (TEXT, BIGINT,
BOOL, TIMESTAMPTZ, UUID with gen_random_uuid()), no advisory locks, no PostgreSQL-only DDL.
CockroachDB asks clients to retry transactions that fail with SQLSTATE 40001; PostgreSQL
raises the same code under SERIALIZABLE, so one retry loop serves both.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql
from psycopg.rows import TupleRow

T = TypeVar("T")

MAX_ATTEMPTS = 8
MAINTENANCE_DB = "postgres"  # exists in both PostgreSQL and CockroachDB


def _backoff(attempt: int) -> float:
    return min(0.005 * 2.0**attempt, 0.5) * (0.5 + random.random())


def run_transaction(
    conn: psycopg.Connection, fn: Callable[[psycopg.Connection], T], attempts: int = MAX_ATTEMPTS
) -> T:
    """Run ``fn(conn)`` in a transaction, retrying on serialization failures (40001)."""
    for attempt in range(attempts):
        try:
            with conn.transaction():
                return fn(conn)
        except errors.SerializationFailure:
            if attempt == attempts - 1:
                raise
            time.sleep(_backoff(attempt))
    raise AssertionError("unreachable")


async def run_transaction_async(
    conn: psycopg.AsyncConnection,
    fn: Callable[[psycopg.AsyncConnection], Awaitable[T]],
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """The asyncio twin of :func:`run_transaction`."""
    for attempt in range(attempts):
        try:
            async with conn.transaction():
                return await fn(conn)
        except errors.SerializationFailure:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(_backoff(attempt))
    raise AssertionError("unreachable")


async def fetch_row(cur: psycopg.AsyncCursor[TupleRow]) -> TupleRow:
    """The row a statement cannot fail to yield: ``INSERT ... RETURNING``, or a row this
    transaction has just written or locked. None here would be a broken invariant, not input."""
    row = await cur.fetchone()
    if row is None:
        raise LookupError("the statement yielded no row")
    return row


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def ensure_database(url: str, connect_timeout: float = 5.0) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    name = database_name(url)
    if not name:
        raise ValueError("the database URL names no database")
    maintenance = with_database(url, MAINTENANCE_DB)
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=int(connect_timeout)) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        # Another process may create it first.
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


def migrate(conn: psycopg.Connection, component: str, migrations: Sequence[str]) -> int:
    """Apply the migrations of one component that have not run yet; return how many ran.

    ``migrations[i]`` is version ``i + 1``. Append new versions; never edit a released one.
    Each version runs in its own transaction together with its bookkeeping row.
    """
    for attempt in range(3):
        try:
            with conn.transaction():
                conn.execute(_MIGRATIONS_TABLE)
            break
        except (errors.UniqueViolation, errors.DuplicateTable):
            if attempt == 2:  # two services creating the table at once: the loser retries
                raise
    applied = 0
    for version, statement in enumerate(migrations, start=1):

        def apply(c: psycopg.Connection, version: int = version, statement: str = statement) -> bool:
            done = c.execute(
                "SELECT 1 FROM schema_migrations WHERE component = %s AND version = %s",
                (component, version),
            ).fetchone()
            if done:
                return False
            c.execute(statement)  # migrations are trusted literals
            c.execute(
                "INSERT INTO schema_migrations (component, version) VALUES (%s, %s)",
                (component, version),
            )
            return True

        if run_transaction(conn, apply):
            applied += 1
    return applied
