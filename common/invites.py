"""A standalone party's invitation: its code and the path of its link.

The API makes the code and answers the link (``uro_shim.invites``); the host's pages show the
invitation to whoever opens that link in a browser (``app.pages``). Both read the format here, so
the pages accept every code the API makes.
"""

from __future__ import annotations

import re
import secrets

INVITE_CODE_BYTES = 18  # random bytes in a new code: 24 characters of URL-safe base64
INVITE_CODE_MAX_LEN = 128  # the longest code the API reads back
# URL-safe base64, what secrets.token_urlsafe writes; shorter codes than the API's are accepted
INVITE_CODE = re.compile(rf"[A-Za-z0-9_-]{{8,{INVITE_CODE_MAX_LEN}}}")
INVITE_PATH = "/invite/"  # the link is this path and the code, on the party's address


def new_invite_code() -> str:
    return secrets.token_urlsafe(INVITE_CODE_BYTES)


def invite_path(code: str) -> str:
    return INVITE_PATH + code
