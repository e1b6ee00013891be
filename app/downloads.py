"""The Godot download on the player page: the Soirée demo project with the client addon, as a zip.

Built in memory from the ``godot/`` folder on first request and kept (the package is
read-only, so it cannot change while the app runs). Godot's own cache (``.godot/``) and other
hidden files are left out, except ``.gdignore``: it keeps the example projects under
``examples/`` out of the demo's project when Godot opens it.
"""

from __future__ import annotations

import asyncio
import functools
import io
import zipfile
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

GODOT_DIR = Path(__file__).resolve().parents[1] / "godot"
ZIP_NAME = "soiree-godot-demo.zip"
DOWNLOAD_PATH = f"/downloads/{ZIP_NAME}"
ZIP_FOLDER = "soiree-godot-demo"
# The one hidden file the zip keeps: Godot skips a folder holding it.
KEPT_HIDDEN = ".gdignore"
# A fixed timestamp: the same files give the same bytes (and ETag-friendly downloads).
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def godot_files(root: Path = GODOT_DIR) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        hidden = [part for part in relative.parts if part.startswith(".")]
        if path.is_file() and (not hidden or hidden == [KEPT_HIDDEN] == [path.name]):
            files.append(path)
    return files


@functools.cache
def godot_zip(root: Path = GODOT_DIR) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in godot_files(root):
            name = f"{ZIP_FOLDER}/{path.relative_to(root).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


async def download(request: Request) -> Response:
    data = await asyncio.to_thread(godot_zip)
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{ZIP_NAME}"'},
    )
