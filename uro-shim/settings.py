"""The API's own knobs, read from the environment beside the shared ``common.config.Config``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from common.config import DEFAULT_MAX_UPLOAD_BYTES, Config, ConfigError

# The signup key compiled into the stock V-Sekai client (godot_uro_helper.gd SIGNUP_API_KEY,
# COMPATIBILITY.md §Client habits). It is public: it only tells "a stock client" from "anything else".
STOCK_CLIENT_SIGNUP_KEY = "eNoZ4kXHgT0z9ZTYGsq7eE0rQYvR6YBi"
CONTENT_KINDS = ("avatars", "maps", "props")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


@dataclass(frozen=True)
class Settings:
    config: Config
    access_ttl: float = 30 * 60.0  # seconds; the client renews every 600 s (COMPATIBILITY.md §Client habits)
    renewal_ttl: float = 30 * 24 * 3600.0
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    signup_api_key: str = STOCK_CLIENT_SIGNUP_KEY  # "" closes registration
    bcrypt_rounds: int = 12
    player_uploads: frozenset[str] = frozenset({"avatars"})
    relay_timeout: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, config: Config | None = None) -> Settings:
        env = os.environ if env is None else env
        config = config or Config.from_env(env)
        uploads_raw = env.get("SOIREE_PLAYER_UPLOADS")
        if uploads_raw is None:
            player_uploads = cls.player_uploads
        else:
            kinds = {k.strip() for k in uploads_raw.split(",") if k.strip() and k.strip() != "none"}
            unknown = kinds - set(CONTENT_KINDS)
            if unknown:
                raise ConfigError(
                    f"SOIREE_PLAYER_UPLOADS: unknown kinds {sorted(unknown)}; use {CONTENT_KINDS}"
                )
            player_uploads = frozenset(kinds)
        return cls(
            config=config,
            access_ttl=_number(env, "SOIREE_ACCESS_TOKEN_TTL", cls.access_ttl, 1, 365 * 86400),
            renewal_ttl=_number(env, "SOIREE_RENEWAL_TOKEN_TTL", cls.renewal_ttl, 1, 10 * 365 * 86400),
            max_upload_bytes=int(_number(env, "SOIREE_MAX_UPLOAD_BYTES", cls.max_upload_bytes, 1024, 2**40)),
            signup_api_key=env.get("SOIREE_SIGNUP_API_KEY", cls.signup_api_key),
            bcrypt_rounds=int(_number(env, "SOIREE_BCRYPT_ROUNDS", cls.bcrypt_rounds, 4, 16)),
            player_uploads=player_uploads,
            relay_timeout=_number(env, "SOIREE_RELAY_TIMEOUT", cls.relay_timeout, 0.05, 10),
        )
