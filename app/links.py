"""The URLs people are given: the host's dashboard link and the players' page."""

from __future__ import annotations

import base64
import hmac

from app.config import Config
from app.identity import load_secret

HOST_KEY_FILE = "host.key"


def host_key(cfg: Config) -> str:
    """The standalone host's login key, created on first use (``secrets/host.key``)."""
    raw = load_secret(cfg.secrets_dir, HOST_KEY_FILE)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def is_host_key(cfg: Config, candidate: str) -> bool:
    return bool(candidate) and hmac.compare_digest(candidate.encode(), host_key(cfg).encode())


def base_url(cfg: Config, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{cfg.port}"


def host_url(cfg: Config, host: str = "127.0.0.1") -> str:
    return f"{base_url(cfg, host)}/?key={host_key(cfg)}"


def player_url(cfg: Config, host: str = "127.0.0.1") -> str:
    return f"{base_url(cfg, host)}/play"
