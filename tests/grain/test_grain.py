"""End to end through a grain-faithful sandbox and the stand-in bridge: the package as Sandstorm runs it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import trio

from common.identity import sandstorm_user_id
from common.secretfiles import HOST_KEY
from relay.client import open_relay
from relay.protocol import Lifetime, Rule, Status
from tests.support.bridge import tab_id_for_token
from tests.support.browser import load_page
from tests.support.grain import Grain
from tests.support.waiting import wait_until
from tests.uro_shim.godot import GodotUro
from tests.uro_shim.test_content import avatar_fields, scene

pytestmark = pytest.mark.slow


@pytest.fixture
def grain(var_dir: Path, postgres_template: Path) -> Iterator[Grain]:
    g = Grain(var_dir / "var")
    yield g
    g.kill()


def test_a_new_grain_comes_up_and_keeps_to_its_var_directory(grain: Grain) -> None:
    grain.start().wait_ready()
    wait_until(grain.database_ready, 120, "the database, as the host page reports it")
    landing = grain.get("/")
    assert landing.status_code == 200 and "Host dashboard" in landing.text  # the owner is the host
    assert grain.get("/app/api/health").status_code == 200
    grain.add_token("player-token", ("play",))
    assert grain.get("/healthz", token="player-token").json() == {"status": "ok"}
    assert grain.get("/app/api/health", token="player-token").status_code == 403  # players are not hosts
    # Everything the grain wrote is in its var directory, in the documented layout.
    layout = {p.name for p in grain.var.iterdir()}
    assert {"run", "log", "tmp", "secrets", "uploads", "db"} <= layout
    assert (grain.var / "db" / "postgres" / "PG_VERSION").exists()
    for program in ("supervisord", "database", "app", "frontdoor"):
        assert (grain.var / "log" / f"{program}.log").stat().st_size > 0


def test_without_network_namespaces_the_grain_shares_this_machines_network(
    var_dir: Path, postgres_template: Path
) -> None:
    """The fallback for runs that may not enter a network namespace (not root): free ports instead."""
    grain = Grain(var_dir / "shared", isolated_network=False)
    try:
        grain.start().wait_ready()
        assert grain.sandbox is not None and grain.sandbox.port != 8000
        assert grain.get("/").status_code == 200
        wait_until(grain.database_ready, 120, "the database")
    finally:
        grain.kill()


def test_the_host_page_loads_cleanly_in_a_browser_under_sandstorms_policy(grain: Grain) -> None:
    grain.start().wait_ready()
    wait_until(grain.database_ready, 120, "the database")
    checks = [
        "getComputedStyle(document.body).backgroundColor",  # the stylesheet applied
        "document.querySelector('header img').naturalWidth > 0",  # the icon loaded
        "document.title",
        "[...document.querySelectorAll('main section.card')].map((card) => card.id).join(' ')",
    ]
    report = trio.run(load_page, grain.url + "/", checks)
    assert report.values == [
        "rgb(247, 244, 238)",
        True,
        "Host dashboard · Soirée",
        "invite party shares traffic health",
    ]
    assert report.errors == []
    assert not [line for line in report.console if "Content Security Policy" in line]


def test_sigkill_mid_traffic_then_continue_on_the_same_var(grain: Grain) -> None:
    grain.start().wait_ready()
    wait_until(grain.database_ready, 120, "the database")
    assert grain.sandbox is not None
    url = grain.config.database_url
    sandbox = grain.sandbox

    def create_table() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE guestbook (n BIGINT PRIMARY KEY, note TEXT NOT NULL)")

    sandbox.in_network(create_table)
    acknowledged: list[int] = []
    writing = threading.Event()

    def write_until_killed() -> None:
        sandbox.enter_network()
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                for n in range(1_000_000):
                    conn.execute("INSERT INTO guestbook VALUES (%s, %s)", (n, "x" * 200))
                    acknowledged.append(n)  # committed: the server said so
                    if n == 50:
                        writing.set()
        except psycopg.Error:
            pass  # the grain died under us

    writer = threading.Thread(target=write_until_killed)
    writer.start()
    assert writing.wait(timeout=60)
    host_key = (grain.var / "secrets" / HOST_KEY).read_bytes()
    grain.kill()  # mid-traffic
    writer.join(timeout=60)
    assert len(acknowledged) > 50

    grain.start().wait_ready()  # continue the grain
    wait_until(grain.database_ready, 120, "the database after SIGKILL")
    assert grain.sandbox is not None

    def read_back() -> list[int]:
        with psycopg.connect(url) as conn:
            conn.execute("SELECT 1 FROM guestbook WHERE note <> %s", ("x" * 200,)).fetchall()
            return [n for (n,) in conn.execute("SELECT n FROM guestbook ORDER BY n")]

    stored = grain.sandbox.in_network(read_back)
    assert stored[: len(acknowledged)] == acknowledged  # every acknowledged write survived
    assert stored == list(range(len(stored)))  # and nothing is torn or out of order
    assert (grain.var / "secrets" / HOST_KEY).read_bytes() == host_key
    assert grain.get("/").status_code == 200


def player_client(grain: Grain, token: str) -> GodotUro:
    """A V-Sekai client holding a Sandstorm API token (the path form: its own Authorization is dropped)."""
    return GodotUro(
        httpx.Client(base_url=f"{grain.url}/.sandstorm-token/{token}", trust_env=False, timeout=60)
    )


def test_players_reach_the_api_and_their_accounts_and_uploads_survive_sigkill(grain: Grain) -> None:
    grain.start().wait_ready()
    grain.add_token("token-zoe", ("play",))
    zoe = player_client(grain, "token-zoe")
    wait_until(lambda: zoe.profile().status_code == 200, 120, "the API through the bridge")
    me = zoe.profile().json()["data"]
    assert me["user"]["id"] == sandstorm_user_id("tab:" + tab_id_for_token("token-zoe"))
    assert me["user_privilege_ruleset"]["is_admin"] is False
    assert zoe.request("PATCH", "/profile", {"user[display_name]": "Zoë"}).status_code == 200
    data = scene(300_000)
    uploaded = zoe.upload("avatars", avatar_fields(data))
    assert uploaded.status_code == 200, uploaded.text
    avatar_id = uploaded.json()["data"]["id"]
    data_path = urlsplit(uploaded.json()["data"]["avatar"]["user_content_data"]).path
    assert zoe.http.get(data_path).content == data
    ticket = zoe.request("POST", "/tickets").json()["data"]
    assert ticket["relay_url"] == "/relay" and ticket["ticket"].startswith("v2.")

    grain.kill()
    grain.start().wait_ready()  # continue: a new bridge, the same tokens
    zoe = player_client(grain, "token-zoe")
    wait_until(lambda: zoe.profile().status_code == 200, 120, "the API after SIGKILL")
    again = zoe.profile().json()["data"]["user"]
    assert (again["id"], again["display_name"]) == (me["user"]["id"], "Zoë")
    avatar = zoe.request("GET", f"/avatars/{avatar_id}").json()["data"]["avatar"]
    assert urlsplit(avatar["user_content_data"]).path == data_path
    assert zoe.http.get(data_path).content == data
    # The grain's owner, in the browser, is the admin and sees the player.
    users = grain.get("/api/v1/users")
    assert users.status_code == 200 and "Zoë" in users.text


def relay_url(grain: Grain, token: str) -> str:
    """The relay as a Godot client reaches it: the per-token API host, token in the path."""
    return f"ws://127.0.0.1:{urlsplit(grain.url).port}/.sandstorm-token/{token}/relay"


def saved_state(grain: Grain, room: str, oid: int) -> bytes | None:
    """What the relay has saved to the grain's database for one persistent object."""
    assert grain.sandbox is not None

    def read() -> bytes | None:
        with psycopg.connect(grain.config.database_url) as conn:
            row = conn.execute(
                "SELECT state FROM relay_objects WHERE room = %s AND object_id = %s", (room, oid)
            )
            found = row.fetchone()
            return bytes(found[0]) if found else None

    return grain.sandbox.in_network(read)


async def test_two_players_sync_an_object_and_it_survives_sigkill(grain: Grain) -> None:
    await trio.to_thread.run_sync(lambda: grain.start().wait_ready())
    grain.add_token("token-ana", ("play",))
    grain.add_token("token-bo", ("play",))
    ana_api = player_client(grain, "token-ana")
    await trio.to_thread.run_sync(
        lambda: wait_until(lambda: ana_api.profile().status_code == 200, 120, "API")
    )
    ana_id = (await trio.to_thread.run_sync(ana_api.profile)).json()["data"]["user"]["id"]
    await trio.to_thread.run_sync(lambda: wait_until(lambda: grain.part_ready("relay"), 120, "relay"))

    async with (
        open_relay(relay_url(grain, "token-ana")) as ana,
        open_relay(relay_url(grain, "token-bo")) as bo,
    ):
        room_a, room_b = await ana.join("garden"), await bo.join("garden")
        # The API and the relay agree on who Ana is, without talking to each other.
        await room_b.wait_for(lambda v: ana.member in v.members)
        assert room_b.view.members[ana.member].user_id == ana_id
        lantern = await room_a.spawn(b"off", rule=Rule.ALLOW, lifetime=Lifetime.PERSISTENT)
        for n in range(10):
            await room_a.update(lantern, b"dim %d" % n)
        await room_b.wait_for(lambda v: lantern in v.objects and v.objects[lantern].state == b"dim 9")
        assert await room_b.request(lantern) == Status.GRANTED
        await room_b.update(lantern, b"bright")
        await room_a.wait_for(lambda v: v.objects[lantern].state == b"bright")
        assert room_a.view.objects[lantern].owner == bo.member
        await trio.to_thread.run_sync(
            lambda: wait_until(
                lambda: saved_state(grain, "garden", lantern) == b"bright", 30, "the relay to save"
            )
        )
        await trio.to_thread.run_sync(grain.kill)  # mid-session: both players are connected

    await trio.to_thread.run_sync(lambda: grain.start().wait_ready())
    await trio.to_thread.run_sync(lambda: wait_until(lambda: grain.part_ready("relay"), 120, "relay"))
    async with open_relay(relay_url(grain, "token-bo")) as bo:
        room_b = await bo.join("garden")
        await room_b.wait_for(lambda v: lantern in v.objects)
        assert room_b.view.objects[lantern].state == b"bright"
