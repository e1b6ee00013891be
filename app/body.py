"""Request bodies of the page API: every handler that reads one goes through here."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from common.bodies import InputError, parse_json


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 (answered as a JSON error under the page API)."""
    try:
        body = parse_json(await request.body())  # text checked, depth and size bounded
    except InputError as error:
        raise HTTPException(400, error.message) from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body
