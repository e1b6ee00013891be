"""A client for the Uro-compatible API, signed in as the host: the dashboard manages standalone
invite links through it (uro-shim/COMPATIBILITY.md §Soirée extensions).

The app signs in to the API as the host with the host key (``POST /api/v1/host/session``) and
keeps that session; a 401 means it expired, and the app signs in again once. The browser's
``Host`` and ``X-Forwarded-Proto`` are passed on, because the API builds each invite's link from
them: the link must name the address the host's friends use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app import links
from common.config import LOOPBACK, URO_API, Config

TIMEOUT = 10.0
FORWARDED = ("host", "x-forwarded-proto")


class ApiUnavailable(Exception):
    """The API did not answer."""


class ApiClient:
    def __init__(self, cfg: Config, client: httpx.AsyncClient) -> None:
        self.cfg = cfg
        self.base = f"http://{LOOPBACK}:{cfg.api_port}{URO_API}"
        self.client = client
        self._token: str | None = None

    async def _send(self, method: str, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
        try:
            return await self.client.request(
                method, self.base + path, headers=headers, json=body, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise ApiUnavailable(str(exc) or type(exc).__name__) from None

    async def _sign_in(self) -> str:
        response = await self._send("POST", "/host/session", {}, {"key": links.host_key(self.cfg)})
        if response.status_code != 200:
            raise ApiUnavailable(f"the API refused the host key (HTTP {response.status_code})")
        token = str(response.json()["data"]["access_token"])
        self._token = token
        return token

    async def call(
        self, method: str, path: str, forwarded: Mapping[str, str], body: Any = None
    ) -> tuple[int, Any]:
        """(status, JSON body) of an API call made as the host."""
        headers = {k: v for k, v in forwarded.items() if k in FORWARDED}
        for attempt in range(2):
            token = self._token if self._token is not None and attempt == 0 else await self._sign_in()
            response = await self._send(method, path, {**headers, "Authorization": token}, body)
            if response.status_code != 401:
                break
            self._token = None
        try:
            return response.status_code, response.json()
        except ValueError:
            raise ApiUnavailable(f"the API answered HTTP {response.status_code} without JSON") from None


def error_message(body: Any) -> str:
    """The player-facing message of a Uro error body."""
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str):
            return message
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message
    return "the API refused the request"
