"""Reading a request's fields: query string, form, JSON or multipart, into one nested dict.

Every text in them is checked here, once (``common.bodies``: UTF-8, no lone surrogates, no NUL,
bounded), so handlers only ever see text they can compare, hash and store; whatever cannot be
read is an ``ApiError`` (a JSON 4xx) before any handler runs.

Multipart uploads stream to temp files in the var directory, so no upload is ever held in
memory, and the size limit is enforced while the bytes arrive. The caller moves the files it
keeps into place (``uploads.place``, which marks them committed) and ``Body.discard`` deletes the rest.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from starlette.requests import ClientDisconnect, Request
from uro_shim.errors import ApiError, bad_request
from uro_shim.forms import FormError, nest, parse_urlencoded
from uro_shim.multipart import FieldPart, FileData, FileEnd, FileStart, MultipartReader, boundary_of

from common.bodies import InputError, parse_json

MAX_SMALL_BODY = 1024 * 1024  # form and JSON bodies
HEAD_BYTES = 16  # kept for magic-byte checks


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    path: Path
    size: int = 0
    head: bytes = b""
    committed: bool = False


@dataclass
class Body:
    fields: dict[str, Any]
    uploads: list[Upload] = field(default_factory=list)

    def discard(self) -> None:
        for upload in self.uploads:
            if not upload.committed:
                with contextlib.suppress(FileNotFoundError):
                    upload.path.unlink()


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request is too large (at most {limit // 1_000_000 or 1} MB).")


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise bad_request("Content-Length is not a number.")
    return int(raw)


async def _read_small(request: Request) -> bytes:
    declared = _declared_length(request)
    if declared is not None and declared > MAX_SMALL_BODY:
        raise too_large(MAX_SMALL_BODY)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_SMALL_BODY:
            raise too_large(MAX_SMALL_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, *, max_upload: int, tmp_dir: Path) -> Body:
    """All fields of the request, query string first, body fields overriding."""
    pairs: list[tuple[str, Any]] = parse_urlencoded(request.scope.get("query_string", b""), "query string")
    content_type = request.headers.get("content-type", "")
    main_type = content_type.split(";")[0].strip().lower()
    body = Body(fields={})
    try:
        if main_type == "multipart/form-data":
            pairs += await _read_multipart(request, content_type, max_upload, tmp_dir, body.uploads)
        elif main_type == "application/x-www-form-urlencoded":
            pairs += parse_urlencoded(await _read_small(request))
        elif main_type == "application/json":
            raw = await _read_small(request)
            if raw.strip():
                try:
                    parsed = parse_json(raw)
                except InputError as error:
                    raise FormError.of(error) from None
                if not isinstance(parsed, dict):
                    raise bad_request("The JSON body must be an object.")
                body.fields = {k: v for k, v in nest(pairs).items() if k not in parsed}
                body.fields.update(parsed)
                return body
        elif await _read_small(request):
            raise ApiError(
                415, "Send the body as application/x-www-form-urlencoded, multipart/form-data or JSON."
            )
        body.fields = nest(pairs)
        return body
    except ClientDisconnect:
        body.discard()
        raise ApiError(400, "The request body ended early.") from None
    except BaseException:
        body.discard()
        raise


async def _read_multipart(
    request: Request, content_type: str, limit: int, tmp_dir: Path, uploads: list[Upload]
) -> list[tuple[str, Any]]:
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise too_large(limit)
    reader = MultipartReader(boundary_of(content_type))
    pairs: list[tuple[str, Any]] = []
    current: Upload | None = None
    handle: IO[bytes] | None = None
    total = 0

    def apply(events: list[Any]) -> None:
        nonlocal current, handle
        for event in events:
            if isinstance(event, FieldPart):
                pairs.append((event.name, event.value))
            elif isinstance(event, FileStart):
                tmp_dir.mkdir(parents=True, exist_ok=True)
                path = tmp_dir / f"upload-{secrets.token_hex(8)}.part"
                current = Upload(event.name, event.filename, event.content_type, path)
                uploads.append(current)
                handle = open(path, "wb")  # noqa: SIM115 - closed at FileEnd or below
            elif isinstance(event, FileData) and current is not None and handle is not None:
                if len(current.head) < HEAD_BYTES:
                    current.head += event.data[: HEAD_BYTES - len(current.head)]
                current.size += len(event.data)
                handle.write(event.data)
            elif isinstance(event, FileEnd) and current is not None and handle is not None:
                handle.close()
                handle = None
                if current.filename or current.size:  # an empty, unnamed file part means "no file"
                    pairs.append((current.field, current))
                current = None

    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            apply(reader.feed(chunk))
        apply(reader.close())
    finally:
        if handle is not None:
            handle.close()
    return pairs


async def read_fields(request: Request, tmp_dir: Path) -> dict[str, Any]:
    """The fields of a request that takes no files (files sent anyway are dropped)."""
    body = await read_body(request, max_upload=MAX_SMALL_BODY, tmp_dir=tmp_dir)
    body.discard()
    return body.fields
