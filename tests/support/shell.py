"""A stand-in for Sandstorm's shell: the page that frames a grain and renders offer templates.

It behaves as docs/sandstorm.md §Offer templates describes the real shell:

- its page holds the grain's UI in an iframe (the grain's origin differs from the shell's);
- a ``renderTemplate`` postMessage from the grain (``{rpcId, template, petname, roleAssignment,
  forSharing, clipboardButton}``) mints a fresh API token with the role's permissions, registers
  it with the bridge, substitutes ``$API_HOST`` (a bare host, no scheme) and ``$API_TOKEN``, and
  answers ``{rpcId, uri}``: the address of a small page, on the shell's own origin, that shows
  the text; the grain puts it in an iframe;
- identical requests (same template, petname, role and forSharing) within 2.5 minutes get the
  same token back, as the real shell memoizes them; that is why each invite needs its own petname;
- ``forSharing`` tokens carry no user id (anonymous players: docs/sandstorm.md §API tokens).

Every request is recorded in ``offers`` for tests to inspect.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.bridge import Bridge
from tests.support.grain import HOST_USER_ID, Grain
from tests.support.pkgdef import load_pkgdef
from tests.support.waiting import wait_until

MEMO_SECONDS = 150.0

SHELL_SCRIPT = """
const grain = document.getElementById("grain");
const grainOrigin = new URL(grain.src).origin;
window.shellRequests = [];
window.addEventListener("message", async (event) => {
  if (event.origin !== grainOrigin || !event.data || !event.data.renderTemplate) return;
  const request = event.data.renderTemplate;
  window.shellRequests.push(request);
  const response = await fetch("/offer", { method: "POST", body: JSON.stringify(request) });
  const answer = await response.json();
  event.source.postMessage({ rpcId: request.rpcId, ...answer }, event.origin);
});
"""


@dataclass
class Offer:
    request: dict[str, Any]
    token: str
    text: str
    permissions: tuple[str, ...]


def role_permissions(role_id: int) -> tuple[str, ...]:
    """The permission names of a role of the package, by its index (as ``roleAssignment`` names it)."""
    view = load_pkgdef()["bridgeConfig"]["viewInfo"]
    names = [p["name"] for p in view["permissions"]]
    flags = view["roles"][role_id]["permissions"]
    return tuple(name for name, granted in zip(names, flags, strict=False) if granted)


class Shell:
    def __init__(self, bridge: Bridge | None = None) -> None:
        self.bridge = bridge  # set before the grain asks for an offer
        self.offers: list[Offer] = []
        self._memo: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Shell:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def page(self, grain_url: str) -> str:
        return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Sandstorm</title><link rel="icon" href="data:,"></head>
<body>
<div id="topbar">Sandstorm · Soirée</div>
<iframe id="grain" src="{html.escape(grain_url)}/" width="1240" height="1800"></iframe>
<script src="/shell.js"></script>
</body></html>"""

    def offer(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.bridge is not None, "the shell needs the grain's bridge to register tokens"
        assignment = request.get("roleAssignment") or {"allAccess": None}
        if "roleId" in assignment:
            permissions = role_permissions(int(assignment["roleId"]))
        else:
            permissions = role_permissions(0)  # allAccess, the default: everything the owner has
        key = json.dumps(
            [request.get("template"), request.get("petname"), assignment, bool(request.get("forSharing"))]
        )
        with self._lock:
            memo = self._memo.get(key)
            if memo is not None and time.monotonic() - memo[0] < MEMO_SECONDS:
                index = memo[1]
                self.offers.append(
                    Offer(request, self.offers[index].token, self.offers[index].text, permissions)
                )
                return {"uri": f"{self.url}/offer/{index}"}
            token = secrets.token_urlsafe(24)
            host = urlsplit(self.bridge.url).netloc
            text = str(request["template"]).replace("$API_HOST", host).replace("$API_TOKEN", token)
            sharing = bool(request.get("forSharing"))
            self.bridge.add_token(
                token,
                permissions,
                user_id=None if sharing else HOST_USER_ID,
                username="" if sharing else "Grain Owner",
            )
            self.offers.append(Offer(request, token, text, permissions))
            index = len(self.offers) - 1
            self._memo[key] = (time.monotonic(), index)
        return {"uri": f"{self.url}/offer/{index}"}

    def offer_page(self, index: int) -> str:
        offer = self.offers[index]
        return f"""<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body><button id="copy">Copy</button> <code id="offer-text">{html.escape(offer.text)}</code></body></html>"""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        shell = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def reply(self, status: int, body: str, kind: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/":
                    assert shell.bridge is not None
                    self.reply(200, shell.page(shell.bridge.url), "text/html; charset=utf-8")
                elif path == "/shell.js":
                    self.reply(200, SHELL_SCRIPT, "text/javascript")
                elif path.startswith("/offer/") and path[7:].isdigit() and int(path[7:]) < len(shell.offers):
                    self.reply(200, shell.offer_page(int(path[7:])), "text/html; charset=utf-8")
                else:
                    self.reply(404, "not found", "text/plain")

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/offer":
                    self.reply(404, "not found", "text/plain")
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.reply(200, json.dumps(shell.offer(body)), "application/json")

        return Handler


@contextmanager
def grain_in_shell(var: Path) -> Iterator[tuple[Grain, Shell]]:
    """A grain on `var` framed by a stand-in shell, once its API and relay answer; SIGKILLed after."""
    shell = Shell().start()
    grain = Grain(var)
    grain.shell_url = shell.url
    try:
        grain.start().wait_ready()
        shell.bridge = grain.bridge
        wait_until(
            lambda: grain.part_ready("api") and grain.part_ready("relay"), 180, "the API and the relay"
        )
        yield grain, shell
    finally:
        grain.kill()
        shell.stop()
