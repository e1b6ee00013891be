"""The var directory's secret files: read at the edges of each process, never by pure code.

``secrets/ticket.key`` signs relay tickets (the API signs, the relay verifies); ``secrets/host.key``
is the standalone host's login key. Both are created on first use, by whichever process asks first.
``mint_ticket`` is the edge's half of ``common.identity.sign_ticket``: the clock and a fresh id.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from common.config import Config
from common.identity import TICKET_TTL, Identity, sign_ticket

TICKET_KEY = "ticket.key"
HOST_KEY = "host.key"


def ticket_key(config: Config) -> bytes:
    return load_secret(config.secrets_dir, TICKET_KEY)


def host_key(config: Config) -> bytes:
    return load_secret(config.secrets_dir, HOST_KEY)


def mint_ticket(key: bytes, identity: Identity, *, ttl: float = TICKET_TTL, reusable: bool = False) -> str:
    """A relay ticket issued now, with an id nobody can guess (the relay lets each id in once)."""
    return sign_ticket(
        key, identity, now=time.time(), ticket_id=secrets.token_urlsafe(16), ttl=ttl, reusable=reusable
    )


def load_secret(secrets_dir: Path, name: str, size: int = 32) -> bytes:
    """Read a secret file, creating it on first use. Safe when several processes race."""
    path = secrets_dir / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = secrets_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    with open(tmp, "wb") as f:
        f.write(secrets.token_bytes(size))
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if another process won the race; theirs is kept
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    dir_fd = os.open(secrets_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path.read_bytes()
