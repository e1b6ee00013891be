"""Every ``# type: ignore`` names the error it silences and says why, in a comment on its line.

mypy (``./soiree lint``) already refuses an ignore without an error code, or one that silences
nothing; the reason is for the next reader, who should not have to guess whether it still holds.
"""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Python reads a comment as an ignore when it starts so (a later `# type: ignore` is text).
IGNORE = re.compile(r"#\s*type:\s*ignore\b")
# The error codes in brackets, then a comment of its own with the reason.
EXPLAINED = re.compile(r"#\s*type:\s*ignore\[[\w-]+(?:,\s*[\w-]+)*\]\s*#\s*\w")


def unexplained(source: str, name: str = "<source>") -> list[str]:
    """``name:line: comment`` for each ignore comment in ``source`` without codes and a reason."""
    comments = [
        token
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT and IGNORE.match(token.string)
    ]
    return [f"{name}:{c.start[0]}: {c.string}" for c in comments if not EXPLAINED.match(c.string)]


def python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [ROOT / p for p in sorted(listed.split("\0")) if p and (ROOT / p).is_file()]


def test_every_type_ignore_in_the_tree_names_its_error_and_its_reason() -> None:
    files = python_files()
    assert ROOT / "relay" / "core.py" in files and ROOT / "uro-shim" / "app.py" in files
    found = [line for path in files for line in unexplained(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("line", "explained"),
    [
        ("x = f()  # type: ignore[arg-type]  # out of range on purpose\n", True),
        ("x = f()  # type: ignore[arg-type, union-attr]  # the stub is wrong\n", True),
        ("x = f()  # type: ignore[arg-type]\n", False),
        ("x = f()  # type: ignore\n", False),
        ("x = f()  # type: ignore  # no code\n", False),
        ("x = f()  #type:ignore[misc]#why\n", True),
        ('x = "# type: ignore in a string is no comment"\n', True),
        ("x = f()  # see `# type: ignore` in the guide\n", True),
    ],
)
def test_the_check_tells_an_explained_ignore_from_a_bare_one(line: str, explained: bool) -> None:
    assert (unexplained(line) == []) is explained
