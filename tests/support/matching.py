"""Reading lines that a test expects in a given shape."""

from __future__ import annotations

import re


def fullmatch(pattern: str | re.Pattern[str], line: str) -> re.Match[str]:
    """``re.fullmatch`` that fails the test, naming the line and the pattern, when it does not match."""
    match = re.fullmatch(pattern, line)
    assert match is not None, f"{line!r} does not match {pattern!r}"
    return match
