"""A real browser for page tests: Debian's chromium, headless, driven over the DevTools protocol.

``load_page(url, expressions)`` opens a page, waits for it to load, evaluates JavaScript
expressions in it and reports what the console said, including Content-Security-Policy
violations and failed loads, so a test can insist that a page loads cleanly.

``open_browser()`` gives a :class:`Page` to drive: navigate, evaluate (in the page or in one of
its iframes), wait for a condition, click and type with real input events, resize the viewport,
download files and take screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
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


class PageError(RuntimeError):
    """JavaScript evaluated in the page threw."""


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
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def wait_for(self, method: str, after: int = 0) -> dict[str, Any]:
        """The first event named ``method`` among those received from index ``after`` on."""
        for event in self.events[after:]:
            if event.get("method") == method:
                return event
        while True:
            message: dict[str, Any] = json.loads(await self.ws.get_message())
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
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description", "")
            lines.append(f"error: [exception] {details.get('text')} {description}".rstrip())
    return lines


class Page:
    """One browser tab."""

    def __init__(self, tools: _DevTools) -> None:
        self.tools = tools

    @property
    def console(self) -> list[str]:
        return _console_lines(self.tools.events)

    @property
    def errors(self) -> list[str]:
        return [line for line in self.console if line.startswith("error:")]

    async def navigate(self, url: str) -> None:
        mark = len(self.tools.events)
        await self.tools.call("Page.navigate", url=url)
        await self.tools.wait_for("Page.loadEventFired", after=mark)

    async def frame_context(self, iframe: str) -> int:
        """The JavaScript context of the document inside the ``iframe`` element (a CSS selector)."""
        root = (await self.tools.call("DOM.getDocument", depth=0))["root"]["nodeId"]
        node = (await self.tools.call("DOM.querySelector", nodeId=root, selector=iframe))["nodeId"]
        if not node:
            raise PageError(f"no iframe matches {iframe!r}")
        frame_id = (await self.tools.call("DOM.describeNode", nodeId=node))["node"].get("frameId")
        contexts: dict[int, str] = {}
        for event in self.tools.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.executionContextCreated":
                context = params["context"]
                aux = context.get("auxData", {})
                if aux.get("isDefault"):
                    contexts[context["id"]] = aux.get("frameId", "")
            elif event.get("method") == "Runtime.executionContextDestroyed":
                contexts.pop(params["executionContextId"], None)
            elif event.get("method") == "Runtime.executionContextsCleared":
                contexts.clear()
        found = [cid for cid, fid in contexts.items() if fid == frame_id]
        if not found:
            raise PageError(f"the iframe {iframe!r} has no document yet")
        return max(found)

    async def evaluate(self, expression: str, *, iframe: str | None = None) -> Any:
        """The value of a JavaScript expression (promises are awaited), in the page or an iframe."""
        params: dict[str, Any] = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        if iframe is not None:
            params["contextId"] = await self.frame_context(iframe)
        result = await self.tools.call("Runtime.evaluate", **params)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise PageError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    async def wait_for(
        self, expression: str, *, timeout: float = 60.0, what: str = "", iframe: str | None = None
    ) -> Any:
        """Evaluate ``expression`` until it is truthy; returns that value."""
        with trio.move_on_after(timeout):
            while True:
                try:
                    value = await self.evaluate(expression, iframe=iframe)
                except PageError as exc:
                    if str(exc).startswith("SyntaxError"):
                        raise  # waiting will not mend the expression
                    value = None
                if value:
                    return value
                await trio.sleep(0.2)
        console = "\n".join(self.console[-10:])
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or expression}\n{console}")

    async def center_of(self, selector: str, iframe: str | None = None) -> tuple[float, float]:
        """Where to click on an element, in the top page's coordinates (scrolled into view)."""
        find = f"""(() => {{
            const node = document.querySelector({json.dumps(selector)});
            if (!node) return null;
            node.scrollIntoView({{block: "center", inline: "center", behavior: "instant"}});
            const r = node.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width * r.height];
        }})()"""
        found = await self.evaluate(find, iframe=iframe)
        if not found or not found[2]:
            raise PageError(f"nothing visible matches {selector!r}")
        x, y = found[0], found[1]
        if iframe is not None:
            offset = await self.evaluate(
                f"""(() => {{ const f = document.querySelector({json.dumps(iframe)});
                const r = f.getBoundingClientRect();
                return [r.left + f.clientLeft, r.top + f.clientTop]; }})()"""
            )
            x, y = x + offset[0], y + offset[1]
        return x, y

    async def click(self, selector: str, *, iframe: str | None = None, attempts: int = 5) -> None:
        """A real mouse click in the middle of the element. Live pages move things about: if the
        press lands on something else (the layout shifted meanwhile), the click is tried again."""
        target = json.dumps(selector)
        for _ in range(attempts):
            x, y = await self.center_of(selector, iframe)
            await self.evaluate(
                "window.__pressed = null; document.addEventListener('mousedown',"
                " e => { window.__pressed = e.target; }, {capture: true, once: true})",
                iframe=iframe,
            )
            await self.tools.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
            await self.tools.call(
                "Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", clickCount=1
            )
            hit = await self.evaluate(
                f"(() => {{ const n = document.querySelector({target});"
                " return !!(n && window.__pressed && n.contains(window.__pressed)); })()",
                iframe=iframe,
            )
            if not hit:  # release elsewhere, harmlessly, and aim again
                await self.tools.call(
                    "Input.dispatchMouseEvent", type="mouseReleased", x=0, y=0, button="left"
                )
                await trio.sleep(0.2)
                continue
            await self.tools.call(
                "Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", clickCount=1
            )
            return
        raise PageError(f"could not click {selector!r}: something else kept being under the pointer")

    async def type(self, selector: str, text: str, *, iframe: str | None = None) -> None:
        """Click into a field, select what is in it, and type over it."""
        await self.click(selector, iframe=iframe)
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).select()", iframe=iframe)
        await self.tools.call("Input.insertText", text=text)

    async def select(self, selector: str, value: str, *, iframe: str | None = None) -> None:
        """Choose an option of a <select> (focus it, pick the value, and the page hears "change")."""
        await self.evaluate(
            f"""(() => {{ const s = document.querySelector({json.dumps(selector)});
            if (![...s.options].some(o => o.value === {json.dumps(value)})) throw new Error("no such option");
            s.focus(); s.value = {json.dumps(value)};
            s.dispatchEvent(new Event("input", {{bubbles: true}}));
            s.dispatchEvent(new Event("change", {{bubbles: true}})); }})()""",
            iframe=iframe,
        )

    async def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.tools.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                text="\r" if kind == "keyDown" else "",
            )

    async def accessibility_tree(self) -> list[tuple[str, str]]:
        """(role, accessible name) of every node chromium exposes to assistive technology."""
        await self.tools.call("Accessibility.enable")
        nodes = (await self.tools.call("Accessibility.getFullAXTree"))["nodes"]
        return [
            (str(n.get("role", {}).get("value", "")), str(n.get("name", {}).get("value", "")))
            for n in nodes
            if not n.get("ignored")
        ]

    async def set_viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.tools.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = (await self.tools.call("Page.getLayoutMetrics"))["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = (await self.tools.call("Page.captureScreenshot", **params))["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    async def allow_downloads(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        await self.tools.call("Page.setDownloadBehavior", behavior="allow", downloadPath=str(directory))


@asynccontextmanager
async def open_browser(timeout: float = 90.0) -> AsyncIterator[Page]:
    """Headless chromium with one tab; ``Page``, ``Runtime``, ``Log`` and ``DOM`` are enabled."""
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
            "--hide-scrollbars",
            "--window-size=1280,900",
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
            while not (found := re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", buffered)):
                chunk = await process.stderr.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"chromium exited: {buffered.decode(errors='replace')[-2000:]}")
                buffered += chunk
            port = int(found.group(1))
            targets = await trio.to_thread.run_sync(
                lambda: httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False, timeout=30).json()
            )
            target = next(t for t in targets if t["type"] == "page")
        async with open_websocket_url(
            target["webSocketDebuggerUrl"], max_message_size=256 * 1024 * 1024
        ) as ws:
            tools = _DevTools(ws)
            for domain in ("Page", "Runtime", "Log", "DOM"):
                await tools.call(f"{domain}.enable")
            yield Page(tools)
    finally:
        process.kill()
        await process.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def load_page(url: str, expressions: Sequence[str] = (), timeout: float = 90.0) -> PageReport:
    async with open_browser(timeout) as page:
        with trio.fail_after(timeout):
            await page.navigate(url)
            await trio.sleep(0.5)  # late console reports (CSP violations are asynchronous)
            values = []
            for expression in expressions:
                result = await page.tools.call("Runtime.evaluate", expression=expression, returnByValue=True)
                values.append(result["result"].get("value"))
            await page.tools.call("Runtime.evaluate", expression="0")  # flush pending events
            return PageReport(values=values, console=page.console)
