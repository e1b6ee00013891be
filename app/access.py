"""Who may see and do what on the host-facing pages, decided on the server for every request.

Sandstorm mode: the bridge builds ``X-Sandstorm-Permissions`` from scratch (docs/sandstorm.md
§Request headers), so it is trusted; ``host`` opens the dashboard and its actions, ``play`` the player page.
Any route may be reached with any token (an API token can be opened as a sharing link,
docs/sandstorm.md §API tokens), so nothing relies on which links a page shows.

Standalone mode: the front door strips ``X-Sandstorm-*``. The host proves themself once with the
host key (``/?key=...``), which becomes an HttpOnly, SameSite=Strict cookie; everyone else is a
visitor who may read the player page.

Requests that change something must also carry ``X-Requested-With: soiree``: a header no form
can send and no other site can add without a CORS preflight, which is never granted. Sandstorm's
bridge passes exactly this header through (docs/sandstorm.md §Request headers).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from app import links
from common.config import Config
from common.identity import from_sandstorm_headers

HOST_COOKIE = "soiree_host"
ACTION_HEADER = "x-requested-with"
ACTION_HEADER_VALUE = "soiree"


@dataclass(frozen=True)
class Viewer:
    is_host: bool
    can_play: bool
    name: str = ""


def viewer(request: Request, cfg: Config) -> Viewer:
    if cfg.mode == "sandstorm":
        identity = from_sandstorm_headers(request.headers.items())
        if identity is None:
            return Viewer(is_host=False, can_play=False)
        return Viewer(is_host=identity.is_host, can_play=identity.can_play, name=identity.name)
    is_host = links.is_host_key(cfg, request.cookies.get(HOST_COOKIE, ""))
    return Viewer(is_host=is_host, can_play=True, name="Host" if is_host else "")


def is_action_request(request: Request) -> bool:
    """True when the request carries the header only this site's own scripts send."""
    return request.headers.get(ACTION_HEADER, "").lower() == ACTION_HEADER_VALUE
