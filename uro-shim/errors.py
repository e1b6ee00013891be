"""Errors in the shape every generation of the client can read (COMPATIBILITY.md §Client habits).

The client shows ``error.message`` to the player, so messages are written
for people. The top-level ``message``/``code`` pair serves HEAD-style readers.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """A request that cannot be served; becomes a JSON error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or reason(status)
        self.errors = errors or {}


class Unavailable(ApiError):
    """The database cannot be reached right now; the service recovers by itself."""

    def __init__(
        self, message: str = "The party's database is not reachable right now; try again shortly."
    ) -> None:
        super().__init__(503, message)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_body(
    status: int, message: str, code: str | None = None, errors: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    inner: dict[str, Any] = {"status": status, "code": status, "message": message}
    if errors:
        inner["errors"] = errors
    return {"error": inner, "message": message, "code": code or reason(status)}


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err.status, err.message, err.code, err.errors), status_code=err.status)


def bad_request(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, message, errors={field: [message]} if field else None)


def not_found(what: str = "That") -> ApiError:
    return ApiError(404, f"{what} was not found.")


def not_authenticated() -> ApiError:
    return ApiError(401, "Not authenticated: sign in first.")


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def ok(data: dict[str, Any]) -> JSONResponse:
    """Success is always 200 with a JSON object in the ``data`` envelope (COMPATIBILITY.md §Client habits)."""
    return JSONResponse({"data": data})
