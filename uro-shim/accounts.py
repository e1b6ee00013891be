"""Accounts, their privileges and their token pairs: the SQL and the JSON shapes.

Tokens are random, handed out once and stored only as SHA-256 digests, each pair with its
own expiry (access 30 minutes, renewal 30 days by default; COMPATIBILITY.md §Identity). Renewing rotates
both tokens (classic Uro), so a stolen renewal token works at most once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import psycopg
from uro_shim.settings import CONTENT_KINDS, Settings

from common.identity import PERM_HOST, PERM_PLAY, Identity

KIND_REGISTERED = "registered"  # standalone: username + password
KIND_HOST = "host"  # standalone: the host key's account
KIND_INVITE = "invite"  # standalone: bound to one invite link
KIND_SANDSTORM = "sandstorm"  # a grain: identity from the bridge's headers

HOST_USERNAME = "host"
RESERVED_USERNAMES = frozenset({HOST_USERNAME, "admin", "root", "system"})

USER_COLUMNS = (
    "u.id, u.username, u.display_name, u.email, u.kind, u.is_admin, "
    "u.can_upload_avatars, u.can_upload_maps, u.can_upload_props"
)


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    display_name: str
    email: str | None
    kind: str
    is_admin: bool
    uploads: frozenset[str]  # content kinds this account may upload
    permissions: frozenset[str]  # what the relay is told (tickets)

    def can_upload(self, kind: str) -> bool:
        return kind in self.uploads

    @property
    def can_play(self) -> bool:
        return PERM_PLAY in self.permissions or PERM_HOST in self.permissions

    def user_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "display_name": self.display_name}

    def ruleset_json(self) -> dict[str, bool]:
        return {
            "is_admin": self.is_admin,
            "can_upload_avatars": "avatars" in self.uploads,
            "can_upload_maps": "maps" in self.uploads,
            "can_upload_props": "props" in self.uploads,
        }

    def identity(self) -> Identity:
        return Identity(self.id, self.display_name, self.permissions, source="token")


def account_from_row(row: tuple[Any, ...], sandstorm: Identity | None = None) -> Account:
    """Effective privileges: stored flags, raised by the host's role, cut by a missing ``play``."""
    uid, username, display_name, email, kind, is_admin, up_avatars, up_maps, up_props = row
    uploads = {k for k, flag in zip(CONTENT_KINDS, (up_avatars, up_maps, up_props), strict=True) if flag}
    if sandstorm is not None:
        perms = sandstorm.permissions
        if sandstorm.is_host:
            is_admin, uploads = True, set(CONTENT_KINDS)
        elif not sandstorm.can_play:
            is_admin, uploads = False, set()
    elif kind == KIND_HOST:
        is_admin, uploads = True, set(CONTENT_KINDS)
        perms = frozenset({PERM_HOST, PERM_PLAY})
    else:
        perms = frozenset({PERM_HOST, PERM_PLAY}) if is_admin else frozenset({PERM_PLAY})
    return Account(
        id=str(uid),
        username=username,
        display_name=display_name,
        email=email,
        kind=kind,
        is_admin=bool(is_admin),
        uploads=frozenset(uploads),
        permissions=perms,
    )


# -- passwords and tokens ---------------------------------------------------------------------
def _prehash(password: str) -> bytes:
    # bcrypt reads at most 72 bytes; a digest first lets every character of a long password count.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


async def hash_password(password: str, rounds: int) -> str:
    salt = bcrypt.gensalt(rounds)
    hashed = await asyncio.to_thread(bcrypt.hashpw, _prehash(password), salt)
    return hashed.decode("ascii")


# Compared against when no account matches, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(4))


async def check_password(password: str, hashed: str | None) -> bool:
    target = hashed.encode("ascii") if hashed else _DUMMY_HASH
    ok = await asyncio.to_thread(bcrypt.checkpw, _prehash(password), target)
    return ok and hashed is not None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_content_id() -> str:
    """A UUID not starting with ``a``: the client's ``lstrip`` eats it (COMPATIBILITY.md §Client habits)."""
    while True:
        value = str(uuid.uuid4())
        if value[0] != "a":
            return value


def session_block(account: Account, access: str | None, renewal: str | None) -> dict[str, Any]:
    """The block login, renew and registration answer with (COMPATIBILITY.md §Session block)."""
    block: dict[str, Any] = {}
    if access is not None and renewal is not None:
        block["access_token"] = access
        block["renewal_token"] = renewal
        block["token_type"] = "Bearer"
    block["user"] = account.user_json()
    block["user_privilege_ruleset"] = account.ruleset_json()
    return block


# -- SQL --------------------------------------------------------------------------------------
async def create_session(conn: psycopg.AsyncConnection, user_id: str, settings: Settings) -> tuple[str, str]:
    access, renewal = new_token(), new_token()
    now = now_utc()
    await conn.execute(
        "DELETE FROM uro_sessions WHERE user_id = %s AND renewal_expires_at < %s", (user_id, now)
    )
    await conn.execute(
        """INSERT INTO uro_sessions
               (user_id, access_hash, renewal_hash, access_expires_at, renewal_expires_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (
            user_id,
            token_digest(access),
            token_digest(renewal),
            now + timedelta(seconds=settings.access_ttl),
            now + timedelta(seconds=settings.renewal_ttl),
        ),
    )
    return access, renewal


_SESSION_JOIN = f"""SELECT s.id, {USER_COLUMNS} FROM uro_sessions s
    JOIN uro_users u ON u.id = s.user_id
    LEFT JOIN uro_invites i ON i.id = u.invite_id
    WHERE i.revoked_at IS NULL AND """


async def sign_in_where(
    conn: psycopg.AsyncConnection, where: str, params: tuple[Any, ...], settings: Settings
) -> tuple[Account, str, str] | None:
    """Open a session for the one account ``where`` selects (a trusted SQL condition on ``u``)."""
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM uro_users u WHERE {where}", params)
    row = await cur.fetchone()
    if row is None:
        return None
    account = account_from_row(row)
    access, renewal = await create_session(conn, account.id, settings)
    return account, access, renewal


async def account_for_access_token(conn: psycopg.AsyncConnection, token: str) -> Account | None:
    cur = await conn.execute(
        _SESSION_JOIN + "s.access_hash = %s AND s.access_expires_at > %s", (token_digest(token), now_utc())
    )
    row = await cur.fetchone()
    return account_from_row(row[1:]) if row else None


async def rotate_session(
    conn: psycopg.AsyncConnection, renewal: str, settings: Settings
) -> tuple[Account, str, str] | None:
    cur = await conn.execute(
        _SESSION_JOIN + "s.renewal_hash = %s AND s.renewal_expires_at > %s",
        (token_digest(renewal), now_utc()),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    deleted = await conn.execute("DELETE FROM uro_sessions WHERE id = %s", (row[0],))
    if deleted.rowcount != 1:  # a concurrent renew won the race
        return None
    account = account_from_row(row[1:])
    access, new_renewal = await create_session(conn, account.id, settings)
    return account, access, new_renewal


async def delete_session(conn: psycopg.AsyncConnection, token: str) -> list[str]:
    """Forget the token's session; the accounts it belonged to (none for an unknown token)."""
    digest = token_digest(token)
    cur = await conn.execute(
        "DELETE FROM uro_sessions WHERE access_hash = %s OR renewal_hash = %s RETURNING user_id",
        (digest, digest),
    )
    return [str(row[0]) for row in await cur.fetchall()]


async def account_by_id(
    conn: psycopg.AsyncConnection, user_id: str, sandstorm: Identity | None = None
) -> Account | None:
    cur = await conn.execute(f"SELECT {USER_COLUMNS} FROM uro_users u WHERE u.id = %s", (user_id,))
    row = await cur.fetchone()
    return account_from_row(row, sandstorm) if row else None


def player_flags(settings: Settings) -> tuple[bool, bool, bool]:
    """A new player's upload flags, one per content kind (one column each in uro_users)."""
    avatars, maps, props = (kind in settings.player_uploads for kind in CONTENT_KINDS)
    return avatars, maps, props


async def insert_account(
    conn: psycopg.AsyncConnection,
    *,
    username: str,
    display_name: str,
    kind: str,
    flags: tuple[bool, bool, bool],
    is_admin: bool = False,
    user_id: str | None = None,
    email: str | None = None,
    password_hash: str | None = None,
    invite_id: str | None = None,
) -> bool:
    """Insert unless an account with this id, username, e-mail or invite already exists."""
    cur = await conn.execute(
        """INSERT INTO uro_users (id, username, display_name, email, password_hash, kind, invite_id,
               is_admin, can_upload_avatars, can_upload_maps, can_upload_props)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT DO NOTHING""",
        (
            user_id or str(uuid.uuid4()),
            username,
            display_name,
            email,
            password_hash,
            kind,
            invite_id,
            is_admin,
            *flags,
        ),
    )
    return cur.rowcount == 1


async def ensure_sandstorm_account(
    conn: psycopg.AsyncConnection, identity: Identity, settings: Settings
) -> Account:
    account = await account_by_id(conn, identity.user_id, identity)
    if account is not None:
        return account
    await insert_account(
        conn,
        user_id=identity.user_id,
        username="p_" + uuid.UUID(identity.user_id).hex[:14],
        display_name=identity.name,
        kind=KIND_SANDSTORM,
        flags=player_flags(settings),
    )
    account = await account_by_id(conn, identity.user_id, identity)
    if account is None:  # only if a username collided, which 56 random bits make unlikely
        raise RuntimeError("could not create the Sandstorm account")
    return account
