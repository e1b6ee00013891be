"""The package definition, compiled by the real Cap'n Proto compiler for tests to read."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PKGDEF = ROOT / ".sandstorm" / "sandstorm-pkgdef.capnp"
SCHEMA_DIR = ROOT / "tests" / "grain" / "sandstorm-schema"


def capnp_eval(name: str, *flags: str) -> bytes:
    """``capnp eval`` of a constant in the package definition, against the offline schema subset."""
    capnp = shutil.which("capnp")
    if capnp is None:
        raise RuntimeError("the capnp compiler is missing: apt-get install capnproto (./soiree test does)")
    result = subprocess.run(
        [capnp, "eval", "--no-standard-import", f"-I{SCHEMA_DIR}", *flags, str(PKGDEF), name],
        capture_output=True,
    )
    if result.returncode != 0:
        raise ValueError(result.stderr.decode(errors="replace"))
    return result.stdout


@functools.cache
def load_pkgdef() -> dict[str, Any]:
    pkgdef: dict[str, Any] = json.loads(capnp_eval("pkgdef", "-ojson"))
    return pkgdef


def grain_command() -> dict[str, Any]:
    """What Sandstorm runs when a grain starts or continues (they are the same command)."""
    command: dict[str, Any] = load_pkgdef()["manifest"]["continueCommand"]
    return command
