"""The last resort of an HTTP service: an exception no handler expected becomes a logged JSON 500.

Starlette's outermost error handler answers, then re-raises so the server can log; uvicorn then
closes the connection. Behind the front door that connection is a pooled keep-alive connection,
and the front door may already have written the next request into it, someone else's: that
request failed (a POST cannot be retried), and its sender saw a 503. Answering here and returning
normally keeps the connection open and one request's failure its own. A response already under
way cannot be finished: that exception is re-raised, and that connection alone closes.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class LastResort:
    """ASGI middleware; put it innermost (inside CORS), so its answer passes the others."""

    def __init__(self, app: ASGIApp, *, body: dict[str, Any], log: logging.Logger) -> None:
        self.app = app
        self.body = body
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            self.log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await JSONResponse(self.body, status_code=500)(scope, receive, send)
