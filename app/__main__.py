"""``python -m app``: the host-facing pages on 127.0.0.1:<app port>."""

from __future__ import annotations

import uvicorn

from app.web import build_app
from common.config import LOOPBACK, Config


def main() -> None:
    cfg = Config.from_env()
    uvicorn.run(
        build_app(cfg),
        host=LOOPBACK,
        port=cfg.app_port,
        log_level="info",  # start and stop lines only: access_log is off
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="on",  # the traffic sampler runs for the app's lifetime
        http="h11",  # httpx loads h11 anyway; httptools would be one more library for a few pages
        ws="none",  # no WebSocket is served here: no WebSocket library to load
    )


if __name__ == "__main__":
    main()
