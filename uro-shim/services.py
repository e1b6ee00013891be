"""What every handler reaches through ``request.app.state``: settings, database, relay client, keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import httpx
from starlette.requests import Request
from uro_shim.pool import Database
from uro_shim.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    http: httpx.AsyncClient  # for the relay's admin endpoint
    ticket_key: bytes
    host_key: bytes

    @property
    def sandstorm(self) -> bool:
        return self.settings.config.mode == "sandstorm"


def services(request: Request) -> Services:
    return cast(Services, request.app.state.services)
