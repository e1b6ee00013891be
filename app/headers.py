"""The security headers every response carries, per mode, and the middleware that adds them."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
# Standalone pages are never framed. In a grain, Sandstorm's shell frames them, and the bridge
# replaces this header with its own policy anyway (docs/sandstorm.md §UI Content-Security-Policy).
SECURITY_HEADERS = {
    "standalone": {
        "Content-Security-Policy": BASE_POLICY + "; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    },
    "sandstorm": {
        "Content-Security-Policy": BASE_POLICY + "; frame-src 'self' http: https:",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    },
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set them itself. Files under
    ``static_path`` may be cached but are revalidated; nothing else is stored."""

    def __init__(self, app: ASGIApp, headers: dict[str, str], static_path: str) -> None:
        self.app = app
        self.headers = headers
        self.static_prefix = static_path.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                static = scope["path"].startswith(self.static_prefix)
                headers.setdefault("Cache-Control", "no-cache" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
