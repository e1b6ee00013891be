"""The URLs people are given (the host's dashboard link, the players' page) and the host key in them;
also where each part answers its health check on loopback."""

from __future__ import annotations

import hmac

from common.config import LOOPBACK, Config
from common.identity import host_key_text
from common.secretfiles import host_key as host_key_bytes


def host_key(cfg: Config) -> str:
    """The standalone host's login key, created on first use (``secrets/host.key``)."""
    return host_key_text(host_key_bytes(cfg))


def is_host_key(cfg: Config, candidate: str) -> bool:
    return bool(candidate) and hmac.compare_digest(candidate.encode(), host_key(cfg).encode())


def base_url(cfg: Config, host: str = LOOPBACK) -> str:
    return f"http://{host}:{cfg.port}"


def host_url(cfg: Config, host: str = LOOPBACK) -> str:
    return f"{base_url(cfg, host)}/?key={host_key(cfg)}"


def player_url(cfg: Config, host: str = LOOPBACK) -> str:
    return f"{base_url(cfg, host)}/play"


def healthz_url(port: int) -> str:
    """Every HTTP part answers ``GET /healthz`` on its loopback port (docs/architecture.md §Health)."""
    return f"http://{LOOPBACK}:{port}/healthz"
