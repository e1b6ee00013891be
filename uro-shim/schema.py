"""The API's tables, as versioned migrations (``common.db.migrate(conn, "uro", MIGRATIONS)``).

SQL in the subset CockroachDB and PostgreSQL share (docs/architecture.md §Database). Append new
versions; never edit a released one. One statement per version.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from common.db import migrate

COMPONENT = "uro"
# The client's default_map_path (COMPATIBILITY.md §Client habits).
DEFAULT_MAP_ID = "dddf8154-60a3-4c9f-888b-fb70c3e2655f"
# The seeded file's version is its revision; uploads are versioned by timestamp, so they never
# meet. Revision 1 was a placeholder that Godot could not load; 2 is the map of default_map.scn.
DEFAULT_MAP_FILE = f"{DEFAULT_MAP_ID}_2_original.scn"
DEFAULT_MAP_SOURCE = Path(__file__).with_name("default_map.scn")
DEFAULT_MAP_DESCRIPTION = (
    "A 40 m square floor with low walls, a sun and eight spawn points. "
    "The host can replace it by uploading a map with this id."
)
_PLACEHOLDER_MAP_FILE = f"{DEFAULT_MAP_ID}_1_original.scn"
_PLACEHOLDER_MAP_DESCRIPTION = "An empty world. The host can replace it by uploading a map with this id."

MIGRATIONS = [
    # 1: accounts; the privilege ruleset lives on the account (one row per user in Uro)
    """CREATE TABLE IF NOT EXISTS uro_users (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        username TEXT NOT NULL,
        email TEXT,
        display_name TEXT NOT NULL,
        password_hash TEXT,
        kind TEXT NOT NULL,
        invite_id UUID,
        is_admin BOOL NOT NULL DEFAULT false,
        can_upload_avatars BOOL NOT NULL DEFAULT false,
        can_upload_maps BOOL NOT NULL DEFAULT false,
        can_upload_props BOOL NOT NULL DEFAULT false,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS uro_users_username ON uro_users (username)",
    "CREATE UNIQUE INDEX IF NOT EXISTS uro_users_email ON uro_users (email)",
    "CREATE UNIQUE INDEX IF NOT EXISTS uro_users_invite ON uro_users (invite_id)",
    # 5: token pairs, stored as SHA-256 digests
    """CREATE TABLE IF NOT EXISTS uro_sessions (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID NOT NULL REFERENCES uro_users (id) ON DELETE CASCADE,
        access_hash BYTEA NOT NULL UNIQUE,
        renewal_hash BYTEA NOT NULL UNIQUE,
        access_expires_at TIMESTAMPTZ NOT NULL,
        renewal_expires_at TIMESTAMPTZ NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS uro_sessions_user ON uro_sessions (user_id)",
    # 7: standalone invite links
    """CREATE TABLE IF NOT EXISTS uro_invites (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        code TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL DEFAULT '',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        revoked_at TIMESTAMPTZ
    )""",
    # 8: game servers; updated_at is the heartbeat (COMPATIBILITY.md §Client calls)
    """CREATE TABLE IF NOT EXISTS uro_shards (
        id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id UUID REFERENCES uro_users (id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        port BIGINT NOT NULL,
        map TEXT NOT NULL,
        name TEXT NOT NULL,
        current_users BIGINT NOT NULL DEFAULT 0,
        max_users BIGINT NOT NULL DEFAULT 32,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS uro_shards_updated ON uro_shards (updated_at)",
    # 10: avatars, maps and props share one shape (COMPATIBILITY.md §Storage); kind tells them apart
    """CREATE TABLE IF NOT EXISTS uro_content (
        id UUID PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        uploader_id UUID REFERENCES uro_users (id) ON DELETE SET NULL,
        is_public BOOL NOT NULL DEFAULT false,
        data_file TEXT NOT NULL,
        preview_file TEXT,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS uro_content_public ON uro_content (kind, is_public, created_at)",
    "CREATE INDEX IF NOT EXISTS uro_content_uploader ON uro_content (uploader_id, kind, created_at)",
    # 13: the map every stock client asks for first; seeded once, so a host may replace or delete it
    f"""INSERT INTO uro_content (id, kind, name, description, is_public, data_file)
        VALUES ('{DEFAULT_MAP_ID}', 'maps', 'Default map',
                '{_PLACEHOLDER_MAP_DESCRIPTION}',
                true, '{_PLACEHOLDER_MAP_FILE}')
        ON CONFLICT (id) DO NOTHING""",
    # 14: the seeded placeholder becomes the real map, unless the host replaced it already
    f"""UPDATE uro_content
        SET data_file = '{DEFAULT_MAP_FILE}', updated_at = now(),
            description = CASE WHEN description = '{_PLACEHOLDER_MAP_DESCRIPTION}'
                               THEN '{DEFAULT_MAP_DESCRIPTION}' ELSE description END
        WHERE id = '{DEFAULT_MAP_ID}' AND data_file = '{_PLACEHOLDER_MAP_FILE}'""",
    # 15: a relay on another machine registers its rooms as shards with the URL that joins them
    # (docs/architecture.md §Relays on other machines)
    "ALTER TABLE uro_shards ADD COLUMN IF NOT EXISTS url TEXT",
]


def prepare(conn: psycopg.Connection, uploads_dir: Path) -> None:
    """Bring the schema up to date and put seeded files in place (idempotent)."""
    migrate(conn, COMPONENT, MIGRATIONS)
    row = conn.execute("SELECT data_file FROM uro_content WHERE id = %s", (DEFAULT_MAP_ID,)).fetchone()
    if row and row[0] == DEFAULT_MAP_FILE and not (uploads_dir / DEFAULT_MAP_FILE).exists():
        uploads_dir.mkdir(parents=True, exist_ok=True)
        tmp = uploads_dir / f".{DEFAULT_MAP_FILE}.seed"
        shutil.copyfile(DEFAULT_MAP_SOURCE, tmp)
        tmp.replace(uploads_dir / DEFAULT_MAP_FILE)
    if not row or row[0] != _PLACEHOLDER_MAP_FILE:  # an older party's placeholder, now unused
        (uploads_dir / _PLACEHOLDER_MAP_FILE).unlink(missing_ok=True)
