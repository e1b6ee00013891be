"""A whole grain under test: the sandbox running the package, and the bridge in front of it."""

from __future__ import annotations

from pathlib import Path

import httpx

from common.config import Config
from tests.support.bridge import Bridge
from tests.support.sandbox import Sandbox
from tests.support.waiting import wait_until

HOST_USER_ID = "0123456789abcdef0123456789abcdef"  # the grain's owner, logged in to Sandstorm


class Grain:
    """Start it, talk to it through the bridge, SIGKILL it, continue it on the same /var."""

    def __init__(self, var: Path, *, isolated_network: bool | None = None) -> None:
        self.var = var
        self.isolated_network = isolated_network
        self.sandbox: Sandbox | None = None
        self.bridge: Bridge | None = None
        self.tokens: dict[str, tuple[str, ...]] = {}
        self.shell_url: str | None = None  # a stand-in for Sandstorm's shell that frames the grain

    def start(self) -> Grain:
        self.sandbox = Sandbox(self.var, isolated_network=self.isolated_network).start()
        self.bridge = Bridge(
            self.sandbox.new_socket, app_port=self.sandbox.port, shell_url=self.shell_url
        ).start()
        self.bridge.login(HOST_USER_ID, "Grain Owner", ("host", "play"))
        for token, permissions in self.tokens.items():
            self.bridge.add_token(token, permissions)
        return self

    def add_token(self, token: str, permissions: tuple[str, ...] = ("play",)) -> None:
        """An API token for a player, as the owner would share one (kept across restarts)."""
        self.tokens[token] = permissions
        assert self.bridge is not None
        self.bridge.add_token(token, permissions)

    @property
    def url(self) -> str:
        assert self.bridge is not None
        return self.bridge.url

    @property
    def config(self) -> Config:
        """The party server's configuration as seen inside the grain."""
        assert self.sandbox is not None
        return Config.from_env(
            {"SOIREE_VAR": "/var", "SOIREE_PORT": str(self.sandbox.port), "SANDSTORM": "1"}
        )

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, headers=headers, trust_env=False, timeout=60)

    def status(self, path: str, token: str | None = None) -> int | None:
        try:
            return self.get(path, token).status_code
        except httpx.HTTPError:
            return None

    def wait_ready(self, timeout: float = 180.0) -> None:
        wait_until(lambda: self.status("/healthz") == 200, timeout, "the grain's front door and app")

    def part_ready(self, part: str) -> bool:
        """Whether the host dashboard reports a part ("api", "relay", "database") as answering."""
        response = self.get("/app/api/health")
        return response.status_code == 200 and response.json()["parts"].get(part) == "ok"

    def database_ready(self) -> bool:
        return self.part_ready("database")

    def kill(self) -> None:
        """SIGKILL everything, as Sandstorm does to an idle grain; the bridge goes with it."""
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
