"""What errors look like: under the page API ``{"status": "error", "error": "<message for people>"}``
with a 4xx or 5xx, everywhere else a page that says what happened."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import templates

API_PREFIX = "/app/api"
SERVER_ERROR = "something went wrong on the server"


def api_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "error": message}, status_code=status)


def upstream_error(status: int, message: str) -> JSONResponse:
    """A refusal from the relay or the API: its 4xx is the caller's to fix, anything else is a 502."""
    return api_error(status if 400 <= status < 500 else 502, message)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, wrong method, a handler's HTTPException)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    if request.url.path.startswith(API_PREFIX + "/"):
        return api_error(status, "not found" if status == 404 and detail == "Not Found" else str(detail))
    if status == 405:
        return templates.message("Not allowed", "This address does not take that kind of request.", 405)
    return templates.message("Not found", "There is nothing at this address.", status)
