"""Where a request came from and how the player reaches us, as the front door reports it. Pure.

The API listens on loopback behind the front door (docs/architecture.md), which sets ``Host``,
``X-Forwarded-Proto`` and appends the client's address to ``X-Forwarded-For``. Inside a grain
the bridge sends ``Host: sandbox`` for API tokens (docs/sandstorm.md §Request headers), and the client's own
origin is unknown: links are then root-relative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from common.config import LOOPBACK
from common.placement import relay_path

SANDBOX_HOST = "sandbox"
_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


def client_address(headers: Mapping[str, str], peer: str | None) -> str:
    """The last hop the front door vouches for (its appended entry), else the socket's peer."""
    forwarded = headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if hops and peer in (LOOPBACK, "::1", None):
        return hops[-1][:64]
    return peer or ""


def public_scheme(headers: Mapping[str, str], default: str = "http") -> str:
    proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto if proto in ("http", "https") else default


def public_host(headers: Mapping[str, str]) -> str | None:
    host = headers.get("host", "").strip()
    return host if host and _HOST.match(host) else None


def public_url(
    headers: Mapping[str, str], path: str, *, websocket: bool = False, default_scheme: str = "http"
) -> str:
    """``http(s)://host/path`` (or ``ws(s)://``), root-relative when the host is unknown or ``sandbox``."""
    host = public_host(headers)
    if host is None or host.split(":")[0] == SANDBOX_HOST:
        return path
    scheme = public_scheme(headers, default_scheme)
    if websocket:
        scheme = "wss" if scheme == "https" else "ws"
    return f"{scheme}://{host}{path}"


def host_and_port(headers: Mapping[str, str], default_scheme: str = "http") -> tuple[str, int]:
    """The host name and port a player used to reach us (the shard list's ``address``/``port``)."""
    host = public_host(headers)
    scheme = public_scheme(headers, default_scheme)
    default_port = 443 if scheme == "https" else 80
    if host is None:
        return "", default_port
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() and 0 < int(port) < 65536 else default_port


def relay_room_url(
    headers: Mapping[str, str], room: str, default_scheme: str = "http", relay: int = 0
) -> str:
    """The URL that joins ``room`` on relay process ``relay``, the one that holds it."""
    return public_url(
        headers,
        f"{relay_path(relay)}?room=" + quote(room, safe=""),
        websocket=True,
        default_scheme=default_scheme,
    )
