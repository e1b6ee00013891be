"""Helpers for the dashboard's browser tests: a whole standalone party, what the pages show, artifacts."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app import links
from app.database import build_template
from common.config import RELAY_PATH, STACK_PORTS, Config
from tests.support.browser import Page
from tests.support.net import free_port_block
from tests.support.stack import ROOT, Stack, http_status
from tests.support.waiting import wait_until

ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"
PHONE = (390, 844)
DESKTOP = (1280, 900)


async def screenshot(page: Page, name: str) -> Path:
    """Kept under tests/artifacts/dashboard/ for people to look at."""
    return await page.screenshot(ARTIFACTS / f"{name}.png")


def map_object(object_id: int) -> str:
    """JavaScript: what the map shows of one object, or null: [x, y, z, owner, master, rule]."""
    return f"""(() => {{
        const n = document.querySelector('#map g.object[data-id="{object_id}"]');
        const d = n && n.dataset;
        return d && [d.x, d.y, d.z, d.owner, d.master, d.rule];
    }})()"""


def map_point(object_id: int) -> str:
    """JavaScript: where on the screen the map draws one object (the centre of its dot)."""
    return f"""(() => {{
        const n = document.querySelector('#map g.object[data-id="{object_id}"] .dot');
        if (!n) return null;
        const r = n.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2];
    }})()"""


def member_row(member: int) -> str:
    """CSS selector of a member's row in the dashboard's members table."""
    return f'#members tbody tr[data-member="{member}"]'


def text_of(selector: str) -> str:
    found = f"document.querySelector({json.dumps(selector)})"
    return f"(() => {{ const n = {found}; return n && n.textContent; }})()"


def no_horizontal_scroll() -> str:
    return "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


GRAIN = "#grain"  # the iframe holding the grain's UI in the stand-in for Sandstorm's shell


async def open_in_shell(page: Page, shell_url: str) -> None:
    """The host opens the grain in Sandstorm's shell (a desktop window), at the dashboard."""
    await page.set_viewport(*DESKTOP)
    await page.navigate(shell_url + "/")
    await page.wait_for("!!document.querySelector('#processes tbody tr')", iframe=GRAIN, what="the dashboard")


async def make_key(page: Page, name: str, count: int) -> None:
    """The host, in the grain's dashboard framed by the shell, makes a key for a friend; `count`
    is how many keys the page shows afterwards."""
    await page.type("#invite-name", name, iframe=GRAIN)
    await page.click("#invite-form button[type=submit]", iframe=GRAIN)
    await page.wait_for(
        f"document.querySelectorAll('#invite-results iframe.offer').length === {count}",
        iframe=GRAIN,
        what=f"the key for {name}",
    )


def member_names(count: int) -> str:
    """JavaScript: the names in the members table once it lists `count` members, else false."""
    return (
        "(() => { const n = [...document.querySelectorAll('#members tbody .name')]"
        f".map(e => e.textContent); return n.length === {count} && n; }})()"
    )


@dataclass
class StandaloneParty:
    """The whole party server run by launcher.sh (supervisord, Caddy, PostgreSQL, API, relay, app)."""

    stack: Stack

    @property
    def cfg(self) -> Config:
        return Config.from_env(self.stack.env)

    @property
    def url(self) -> str:
        return self.stack.url

    @property
    def host_link(self) -> str:
        """What `./soiree run` prints for the host, pointed at this party's port."""
        return links.host_url(self.cfg).replace(links.base_url(self.cfg), self.url)

    @property
    def relay_url(self) -> str:
        return self.url.replace("http://", "ws://") + RELAY_PATH

    def redeem(self, invite_link: str, name: str | None = None) -> httpx.Response:
        """What the client does with an invite link: POST its code to the API."""
        code = urlsplit(invite_link).path.rsplit("/", 1)[-1]
        data = {"code": code, **({"display_name": name} if name else {})}
        return httpx.post(self.url + "/api/v1/invites/redeem", data=data, trust_env=False, timeout=30)

    async def ticket(self, token: str) -> str:
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            response = await client.post(self.url + "/api/v1/tickets", headers={"Authorization": token})
        response.raise_for_status()
        return str(response.json()["data"]["ticket"])

    def invites(self) -> list[dict[str, Any]]:
        """The invites as the API lists them to the host."""
        with httpx.Client(base_url=self.url, trust_env=False, timeout=30) as http:
            key = links.host_key(self.cfg)
            token = http.post("/api/v1/host/session", data={"key": key}).json()["data"]["access_token"]
            invites: list[dict[str, Any]] = http.get(
                "/api/v1/invites", headers={"Authorization": token}
            ).json()["data"]["invites"]
            return invites


@contextmanager
def standalone_party() -> Iterator[StandaloneParty]:
    build_template()  # the PostgreSQL cluster a new party copies (`./soiree setup` builds it too)
    var = Path(tempfile.mkdtemp(prefix="soiree-var-"))  # short: unix socket paths are limited
    stack = Stack(var / "var", free_port_block(STACK_PORTS)).start()
    try:
        stack.wait_ready()
        cfg = Config.from_env(stack.env)
        wait_until(lambda: http_status(stack.url + "/api/v1/health") == 200, 120, "the API")
        wait_until(lambda: http_status(f"http://127.0.0.1:{cfg.relay_port}/healthz") == 200, 120, "the relay")
        yield StandaloneParty(stack)
    finally:
        stack.stop()
        shutil.rmtree(var, ignore_errors=True)
