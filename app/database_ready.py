"""``python -m app.database_ready``: wait until the database answers SQL, create the party's
database, apply the server's settings, and exit (0 when ready).

``app.database`` runs it as a child once it has started the server, so that the supervised
program, which lives as long as the server, never loads the SQL driver. Its output goes to the
database program's log.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import LiteralString

import psycopg

from app.database import COCKROACH_SETTINGS, READY_TIMEOUT, find_cockroach
from common.config import LOOPBACK, Config
from common.db import MAINTENANCE_DB, ensure_database, with_database


def _log(message: str) -> None:
    print(f"database: {message}", file=sys.stderr, flush=True)


def wait_until_ready(url: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the database did not answer within {timeout:.0f}s") from None
            time.sleep(0.1)


def apply_settings(url: str, statements: Sequence[LiteralString]) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            try:
                conn.execute(statement)
            except psycopg.Error as e:
                _log(f"skipped setting ({statement}): {e}")


def main() -> int:
    cfg = Config.from_env()
    maintenance = with_database(cfg.database_url, MAINTENANCE_DB)
    try:
        wait_until_ready(maintenance)
        ensure_database(cfg.database_url)
        if find_cockroach(os.environ) is not None:
            apply_settings(maintenance, COCKROACH_SETTINGS)
    except (TimeoutError, psycopg.Error) as e:
        _log(f"not ready: {e}")
        return 1
    _log(f"ready on {LOOPBACK}:{cfg.db_port}")  # here, the moment it is true: clients may stop us next
    return 0


if __name__ == "__main__":
    sys.exit(main())
