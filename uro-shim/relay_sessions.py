"""Ending an account's relay sessions when it signs out or its invite is revoked: the relay's
loopback admin endpoint ``POST /users/<user id>/end`` (relay/ADMIN.md §Shares and sessions) closes
its connections and refuses every relay ticket issued to it until then.

Best effort, after the database has committed the change: a relay that does not answer within
``relay_timeout`` is logged, and the tickets it may still take live at most 60 s
(COMPATIBILITY.md §Soirée extensions).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from itertools import product
from urllib.parse import quote

import httpx
from uro_shim.services import Services

from common.config import LOOPBACK

log = logging.getLogger("uro_shim.relay")

SIGNED_OUT = "signed out"
INVITE_REVOKED = "the host revoked this player's invite link"


async def end_relay_sessions(svc: Services, user_ids: Iterable[str], reason: str) -> None:
    # Every relay process: each holds its own sessions and takes tickets on its own.
    for user_id, port in product(user_ids, svc.settings.config.relay_admin_ports):
        url = f"http://{LOOPBACK}:{port}/users/{quote(str(user_id), safe='')}/end"
        try:
            answer = await svc.http.post(url, json={"reason": reason}, timeout=svc.settings.relay_timeout)
            if answer.status_code != 200:
                log.warning("the relay refused to end %s's sessions: HTTP %d", user_id, answer.status_code)
        except httpx.HTTPError as exc:
            log.warning("could not end %s's relay sessions: %s", user_id, str(exc) or type(exc).__name__)
