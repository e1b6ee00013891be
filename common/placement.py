"""Which relay process holds a room, computed from the room's name and the number of processes.

Every part computes it the same way and nothing is stored (docs/architecture.md §Several relay
processes on one machine). Rendezvous hashing: each process scores the name, the highest score
wins, so changing the number of processes moves only the rooms whose winner changed.
"""

from __future__ import annotations

import hashlib

from common.config import RELAY_PATH

HOME_ROOM = "lobby"  # the room every relay answers for: on process 0, where /relay leads
HOME = 0


def score(index: int, room: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{index}:{room}".encode()).digest()[:8], "big")


def place(room: str, count: int) -> int:
    """The index of the process that holds ``room`` among ``count`` processes."""
    if count < 1:
        raise ValueError(f"there must be at least one relay process, not {count}")
    if count == 1 or room == HOME_ROOM:
        return HOME
    return max(range(count), key=lambda index: score(index, room))


def relay_path(index: int) -> str:
    """The path behind the front door that leads to process ``index``."""
    return RELAY_PATH if index == HOME else f"{RELAY_PATH}/{index}"


def index_of_path(path: str, count: int) -> int | None:
    """The process a relay path names (``/relay`` is process 0), or None for any other path."""
    if path == RELAY_PATH:
        return HOME
    prefix = RELAY_PATH + "/"
    if path.startswith(prefix):
        tail = path[len(prefix) :]
        if tail.isdigit() and tail == str(int(tail)) and 0 <= int(tail) < count:
            return int(tail)
    return None
