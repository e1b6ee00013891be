"""The host's settings for the relay, kept in the var directory so that they survive a restart:
``<var>/relay/policy.json`` (docs/architecture.md §The var directory). Today one setting: how many
rooms each player may have created at once (PROTOCOL.md §12.4); the host changes it on the
dashboard, through the admin endpoint (ADMIN.md §Shares).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.config import Config

log = logging.getLogger("relay.policy")

POLICY_FILE = "policy.json"


@dataclass(frozen=True)
class Policy:
    player_rooms: int

    def to_json(self) -> dict[str, Any]:
        return {"player_rooms": self.player_rooms}


def policy_path(config: Config) -> Path:
    return config.relay_dir / POLICY_FILE


def parse(body: Any, max_rooms: int) -> Policy:
    """A policy from JSON, or ValueError saying what is wrong (safe to show)."""
    value = body.get("player_rooms") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= max_rooms:
        raise ValueError(f'send {{"player_rooms": <0 to {max_rooms}>}}')
    return Policy(value)


def load(path: Path, default: Policy, max_rooms: int) -> Policy:
    """The saved policy, or ``default`` when there is none or it cannot be read."""
    try:
        return parse(json.loads(path.read_text()), max_rooms)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return default


def save(path: Path, policy: Policy) -> None:
    """Written whole or not at all: a SIGKILL mid-write leaves the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(policy.to_json(), f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
