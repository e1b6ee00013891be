"""A real browser for page tests: Debian's chromium, headless, driven over the DevTools protocol.

``load_page(url, expressions)`` opens a page, waits for it to load, evaluates JavaScript
expressions in it and reports what the console said, including Content-Security-Policy
violations and failed loads, so a test can insist that a page loads cleanly.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


@dataclass
class PageReport:
    values: list[Any]
    console: list[str] = field(default_factory=list)  # errors and warnings, from every source

    @property
    def errors(self) -> list[str]:
        return [line for line in self.console if line.startswith("error:")]


def find_chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("chromium is missing: apt-get install chromium (./soiree test does)")


class _DevTools:
    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        await self.ws.send_message(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.get_message())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self.events.append(message)

    async def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            message = json.loads(await self.ws.get_message())
            self.events.append(message)
            if message.get("method") == method:
                return message


def _console_lines(events: list[dict[str, Any]]) -> list[str]:
    lines = []
    for event in events:
        params = event.get("params", {})
        if event.get("method") == "Log.entryAdded":
            entry = params["entry"]
            if entry["level"] in ("error", "warning"):
                lines.append(
                    f"{entry['level']}: [{entry.get('source')}] {entry['text']} {entry.get('url', '')}"
                )
        elif event.get("method") == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning"):
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
            lines.append(f"{'error' if params['type'] == 'error' else 'warning'}: [console] {text}")
        elif event.get("method") == "Runtime.exceptionThrown":
            lines.append(f"error: [exception] {params['exceptionDetails'].get('text')}")
    return lines


async def load_page(url: str, expressions: Sequence[str] = (), timeout: float = 90.0) -> PageReport:
    profile = tempfile.mkdtemp(prefix="soiree-chromium-")
    process = await trio.lowlevel.open_process(
        [
            find_chromium(),
            "--headless=new",
            "--no-sandbox",  # chromium's own sandbox needs privileges a test run may not have
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-proxy-server",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with trio.fail_after(timeout):
            assert process.stderr is not None
            buffered = b""
            while not (found := re.search(rb"DevTools listening on (ws://\S+)", buffered)):
                chunk = await process.stderr.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"chromium exited: {buffered.decode(errors='replace')[-2000:]}")
                buffered += chunk
            port = int(re.search(rb"127\.0\.0\.1:(\d+)", found.group(1)).group(1))  # type: ignore[union-attr]
            targets = await trio.to_thread.run_sync(
                lambda: httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False, timeout=30).json()
            )
            page = next(t for t in targets if t["type"] == "page")
            async with open_websocket_url(
                page["webSocketDebuggerUrl"], max_message_size=64 * 1024 * 1024
            ) as ws:
                tools = _DevTools(ws)
                for domain in ("Page", "Runtime", "Log"):
                    await tools.call(f"{domain}.enable")
                await tools.call("Page.navigate", url=url)
                await tools.wait_for("Page.loadEventFired")
                await trio.sleep(0.5)  # late console reports (CSP violations are asynchronous)
                values = []
                for expression in expressions:
                    result = await tools.call("Runtime.evaluate", expression=expression, returnByValue=True)
                    values.append(result["result"].get("value"))
                await tools.call("Runtime.evaluate", expression="0")  # flush pending events
                return PageReport(values=values, console=_console_lines(tools.events))
    finally:
        process.kill()
        await process.wait()
        shutil.rmtree(profile, ignore_errors=True)
