"""User content files: checks, durable placement under ``uploads/``, and serving them.

A file is written to a temp file in the var directory while it arrives (``body.py``), checked
here by extension and magic bytes (COMPATIBILITY.md §Client calls), fsynced, renamed into
``uploads/`` and only then recorded in the database. Names carry a version, so a replaced file
never changes under a URL a client has cached (the client caches by URL, COMPATIBILITY.md
§Client habits).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from uro_shim.body import Upload
from uro_shim.errors import bad_request, not_found
from uro_shim.services import services

DATA_MAGIC = {".scn": b"RSCC", ".glb": b"glTF", ".vrm": b"glTF"}
PREVIEW_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
}
MEDIA_TYPES = {
    ".scn": "application/octet-stream",
    ".glb": "model/gltf-binary",
    ".vrm": "model/gltf-binary",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
STORED_NAME = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_\d{1,20}_(original|preview)(\.[a-z]{3,4})$"
)


def extension(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def check_data(upload: Upload, label: str) -> str:
    ext = extension(upload.filename)
    magic = DATA_MAGIC.get(ext)
    if magic is None:
        raise bad_request(f"{label} must be a .scn, .glb or .vrm file.", label)
    if not upload.head.startswith(magic):
        what = "a compressed Godot scene (RSCC)" if ext == ".scn" else "binary glTF"
        raise bad_request(f"{label} does not look like {what}: its first bytes are wrong.", label)
    return ext


def check_preview(upload: Upload, label: str) -> str:
    ext = extension(upload.filename)
    magics = PREVIEW_MAGIC.get(ext)
    if magics is None:
        raise bad_request(f"{label} must be a .png, .jpg, .jpeg or .gif image.", label)
    if not upload.head.startswith(magics):
        raise bad_request(f"{label} is not the image its name says.", label)
    return ext


def stored_name(content_id: str, version: int, role: str, ext: str) -> str:
    return f"{content_id}_{version}_{role}{ext}"


def url_for(name: str | None) -> str:
    """Root-relative, as the client prepends its base URL (COMPATIBILITY.md §Client habits); ``?v=``
    is the file's version."""
    if not name:
        return ""
    parts = name.split("_")
    return f"/uploads/{name}?v={parts[1] if len(parts) > 2 else 0}"


def _place(upload: Upload, target: Path) -> None:
    with open(upload.path, "rb+") as f:
        os.fsync(f.fileno())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(upload.path, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    upload.committed = True


async def place(upload: Upload, uploads_dir: Path, name: str) -> Path:
    """fsync the temp file, rename it into place, fsync the directory."""
    target = uploads_dir / name
    await asyncio.to_thread(_place, upload, target)
    return target


def remove(uploads_dir: Path, *names: str | None) -> None:
    for name in names:
        if name and STORED_NAME.match(name):
            with contextlib.suppress(FileNotFoundError):
                (uploads_dir / name).unlink()


async def serve(request: Request) -> Response:
    name = request.path_params["name"]
    match = STORED_NAME.match(name)
    if not match:
        raise not_found("That file")
    path = services(request).settings.config.uploads_dir / name
    if not path.is_file():
        raise not_found("That file")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(match.group(2), "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )
