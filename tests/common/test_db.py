from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from psycopg import errors

from common.db import ensure_database, fetch_row, migrate, run_transaction, with_database
from tests.support.postgres import PostgresServer

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS things (id UUID PRIMARY KEY DEFAULT gen_random_uuid(), n BIGINT NOT NULL)",
    "ALTER TABLE things ADD COLUMN IF NOT EXISTS label TEXT",
]


def test_ensure_database_creates_once(pg_server: PostgresServer) -> None:
    url = with_database(pg_server.url, "ensure_me")
    ensure_database(url)
    ensure_database(url)  # idempotent
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("ensure_me",)


def test_migrations_apply_once_in_order(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert migrate(conn, "demo", MIGRATIONS[:1]) == 1
        assert migrate(conn, "demo", MIGRATIONS) == 1  # only the new version runs
        assert migrate(conn, "demo", MIGRATIONS) == 0
        assert migrate(conn, "other", MIGRATIONS[:1]) == 1  # components are independent
        conn.execute("INSERT INTO things (n, label) VALUES (1, 'x')")
        rows = conn.execute(
            "SELECT component, version FROM schema_migrations ORDER BY component, version"
        ).fetchall()
    assert rows == [("demo", 1), ("demo", 2), ("other", 1)]


def test_a_failing_migration_leaves_nothing_half_applied(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        with pytest.raises(errors.SyntaxError):
            migrate(conn, "bad", ["CREATE TABLE good (x BIGINT)", "CREATE TABLE oops ("])
        assert migrate(conn, "bad", ["CREATE TABLE good (x BIGINT)"]) == 0
        count = conn.execute("SELECT count(*) FROM schema_migrations WHERE component='bad'").fetchone()
        assert count == (1,)


def test_run_transaction_retries_serialization_failures(database_url: str) -> None:
    """Two SERIALIZABLE writers collide; both still commit thanks to the 40001 retry."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        conn.execute("INSERT INTO counter VALUES (1, 0)")
    barrier = threading.Barrier(2)
    attempts: list[int] = []
    failures: list[BaseException] = []

    def bump() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                tries = 0

                def body(c: psycopg.Connection) -> None:
                    nonlocal tries
                    tries += 1
                    row = c.execute("SELECT n FROM counter WHERE id = 1").fetchone()
                    assert row is not None
                    (n,) = row
                    if tries == 1:
                        barrier.wait(timeout=10)  # both have read: one write must conflict
                    c.execute("UPDATE counter SET n = %s WHERE id = 1", (n + 1,))

                run_transaction(conn, body)
                attempts.append(tries)
        except BaseException as e:  # surfaced below
            failures.append(e)

    threads = [threading.Thread(target=bump) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert sorted(attempts) == [1, 2]  # exactly one writer had to retry
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT n FROM counter WHERE id = 1").fetchone() == (2,)


def test_fetch_row_returns_the_row_and_refuses_a_statement_that_yields_none(database_url: str) -> None:
    async def check() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS fetched (id BIGINT PRIMARY KEY, label TEXT)")
            cur = await conn.execute("INSERT INTO fetched (id, label) VALUES (7, 'x') RETURNING id, label")
            assert await fetch_row(cur) == (7, "x")
            cur = await conn.execute("SELECT id FROM fetched WHERE id = 8")
            with pytest.raises(LookupError):
                await fetch_row(cur)

    asyncio.run(check())
