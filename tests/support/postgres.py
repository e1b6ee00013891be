"""A real PostgreSQL server for tests, started exactly as the party server starts it."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import psycopg

from app.database import initdb_command, postgres_command
from common.db import with_database
from tests.support.net import free_port


class PostgresServer:
    """One PostgreSQL server in its own data directory; tests may stop and restart it."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "sock"
        self.port = free_port()
        self.fsync = fsync
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://root@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def url_for(self, database: str) -> str:
        return with_database(self.url, database)

    def start(self, timeout: float = 30.0) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(initdb_command(self.data_dir), check=True, capture_output=True)
        overrides = {} if self.fsync else {"fsync": "off", "synchronous_commit": "off"}
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            postgres_command(self.data_dir, self.port, self.socket_dir, overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"postgres exited with {self.process.returncode}: "
                        + self.log_path.read_text(errors="replace")[-2000:]
                    ) from None
                if time.monotonic() > deadline:
                    raise TimeoutError("postgres did not become ready") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT), as an operator or a crash-free restart would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(2)
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as Sandstorm does to an idle grain."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)
