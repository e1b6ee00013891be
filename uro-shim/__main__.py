"""``python -m uro_shim``: serve the API on 127.0.0.1:<api port> (docs/architecture.md)."""

from __future__ import annotations

import logging
import sys

import uvicorn
from uro_shim.app import create_app
from uro_shim.settings import Settings

from common.config import LOOPBACK, ConfigError

# Seconds an idle connection is kept open. The front door closes its idle connections sooner
# (app/Caddyfile, keepalive), so it never writes a request into one this server is closing.
KEEP_ALIVE = 5


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"uro-shim: {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=LOOPBACK,
            port=settings.config.api_port,
            lifespan="on",
            access_log=False,
            server_header=False,
            proxy_headers=False,  # forwarded.py reads the front door's headers itself
            timeout_keep_alive=KEEP_ALIVE,
            log_level="info",
            ws="none",  # no WebSocket is served here: no WebSocket library to load
        )
    )
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
