"""A real HTTP + WebSocket server standing where a party server's program would listen.

Used to test the front door on its own: it reports what it received (path, headers, body size),
echoes WebSocket messages, and its /healthz can be switched between healthy and not.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Upstream:
    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.healthy = True
        app = Starlette(
            routes=[
                Route("/healthz", self.healthz),
                Route("/status/{code:int}", self.status),
                WebSocketRoute("/{path:path}", self.echo),
                Route("/{path:path}", self.report, methods=["GET", "POST", "PUT", "DELETE"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="wsproto", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def healthz(self, request: Request) -> Response:
        if self.healthy:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    async def status(self, request: Request) -> Response:
        """Answers with the status in the path and a few response headers, some not allowed through."""
        return JSONResponse(
            {"upstream": self.name, "status": request.path_params["code"]},
            status_code=request.path_params["code"],
            headers={"X-Sandstorm-App-Version": "7", "X-Internal": "secret", "Set-Cookie": "s=1"},
        )

    async def report(self, request: Request) -> Response:
        body = await request.body()
        return JSONResponse(
            {
                "upstream": self.name,
                "path": request.url.path,
                "query": request.url.query,
                "method": request.method,
                "headers": dict(request.headers),
                "body_size": len(body),
            }
        )

    async def echo(self, websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive_text()
                await websocket.send_text(f"{self.name}:{websocket.url.path}:{message}")
        except WebSocketDisconnect:
            pass

    def start(self) -> Upstream:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError(f"upstream {self.name} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
