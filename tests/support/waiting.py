"""Waiting for things to happen, with generous timeouts: the machine is shared and slow at times."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float = 60.0, what: str = "condition", poll: float = 0.1
) -> T:
    """Call ``check`` until it returns something truthy; return that, or raise TimeoutError.
    (A check that has nothing to return yet may return None.)"""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)
