"""What the handlers talk to, kept in ``app.state.services``: the configuration, the relay's admin
endpoint, the Uro-compatible API, the health panel's gatherer and the traffic history.

The HTTP client is created on first use, so that tests can build the app and call it without
running its lifespan.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from starlette.requests import Request

from app.api_client import ApiClient
from app.health import Health
from app.traffic import TrafficHistory
from common.config import Config
from relay.admin_client import RelayAdmin, RelayUnavailable


class Services:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._http: httpx.AsyncClient | None = None
        self._api: ApiClient | None = None
        self.health = Health(cfg)
        self.traffic = TrafficHistory()

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(trust_env=False)
        return self._http

    @property
    def relay(self) -> RelayAdmin:
        return RelayAdmin(self.cfg.relay_admin_ports, self.http)

    @property
    def api(self) -> ApiClient:
        if self._api is None:  # it keeps the host's session between calls
            self._api = ApiClient(self.cfg, self.http)
        return self._api

    async def sample_traffic(self) -> None:
        """Keeps the traffic history filled while the app runs."""
        while True:
            try:
                stats: dict[str, Any] | None = await self.relay.stats()
            except RelayUnavailable:
                stats = None
            self.traffic.add(time.time(), stats)
            await asyncio.sleep(self.traffic.interval)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
