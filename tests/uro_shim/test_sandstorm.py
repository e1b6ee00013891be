"""Sandstorm mode: identity from the bridge's headers, no passwords, roles as privileges.

The headers are those of docs/sandstorm.md §Request headers."""

from __future__ import annotations

import time

from common.identity import PERM_HOST, PERM_PLAY, sandstorm_user_id, verify_ticket
from common.secretfiles import ticket_key
from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import GodotUro
from tests.uro_shim.test_content import avatar_fields, scene
from tests.uro_shim.test_shards import SHARD


def bridge_headers(tab: str, permissions: str, name: str = "Anonymous%20User") -> dict[str, str]:
    """What sandstorm-http-bridge sends for an API-token request: Host sandbox, no Authorization."""
    return {
        "Host": "sandbox",
        "X-Sandstorm-Tab-Id": tab,
        "X-Sandstorm-Permissions": permissions,
        "X-Sandstorm-Username": name,
        "X-Sandstorm-Session-Type": "normal",
    }


def player(uro: UroServer, tab: str, permissions: str = "play", name: str = "Zo%C3%AB") -> GodotUro:
    return GodotUro(uro.client(headers=bridge_headers(tab, permissions, name)))


def test_a_player_is_created_on_first_request_and_keyed_by_tab_id(sandstorm_uro: UroServer) -> None:
    zoe = player(sandstorm_uro, "a" * 32)
    response = zoe.profile()
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["user"]["id"] == sandstorm_user_id("tab:" + "a" * 32)
    assert data["user"]["display_name"] == "Zoë"
    assert data["user_privilege_ruleset"] == {
        "is_admin": False,
        "can_upload_avatars": True,
        "can_upload_maps": False,
        "can_upload_props": False,
    }
    # Sign-in needs no password: the client's stock flow gets the Sandstorm account.
    signed_in = zoe.keep_session(zoe.sign_in("anything", "anything"))
    assert signed_in["user"]["id"] == data["user"]["id"] and signed_in["access_token"] == "sandstorm"
    assert zoe.renew().json()["data"]["user"]["id"] == data["user"]["id"]
    assert zoe.sign_out().json() == {"data": {}}
    # The player names themself; the name sticks, whatever the bridge says later.
    assert zoe.request("PATCH", "/profile", {"user[display_name]": "Zoë the Great"}).status_code == 200
    assert player(sandstorm_uro, "a" * 32, name="Other").profile().json()["data"]["user"]["display_name"] == (
        "Zoë the Great"
    )
    other = player(sandstorm_uro, "b" * 32).profile().json()["data"]["user"]
    assert other["id"] != data["user"]["id"]


def test_host_role_is_admin_and_roles_follow_sandstorm(sandstorm_uro: UroServer) -> None:
    host = player(sandstorm_uro, "h" * 32, "host,play", "Hostess")
    assert all(host.profile().json()["data"]["user_privilege_ruleset"].values())
    assert host.upload("maps", avatar_fields(scene(100))).status_code == 200
    assert host.request("GET", "/users").status_code == 200
    # The same token without the host role (the owner changed its role) is an ordinary player again.
    demoted = player(sandstorm_uro, "h" * 32, "play")
    assert demoted.profile().json()["data"]["user_privilege_ruleset"]["is_admin"] is False
    assert demoted.request("GET", "/users").status_code == 403
    # No permissions at all: may look, may not play.
    viewer = player(sandstorm_uro, "v" * 32, "")
    assert viewer.request("GET", "/shards", token=None).status_code == 200
    assert viewer.request("POST", "/tickets").status_code == 403
    assert viewer.create_shard(SHARD).status_code == 403
    assert viewer.upload("avatars", avatar_fields(scene(100))).status_code == 403


def test_tickets_carry_the_sandstorm_identity(sandstorm_uro: UroServer) -> None:
    zoe = player(sandstorm_uro, "c" * 32)
    response = zoe.request("POST", "/tickets")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["relay_url"] == "/relay"  # Host: sandbox → root-relative
    identity = verify_ticket(ticket_key(sandstorm_uro.config), data["ticket"], now=time.time())
    assert identity.user_id == sandstorm_user_id("tab:" + "c" * 32)
    assert identity.permissions == {PERM_PLAY} and identity.name == "Zoë"
    host = player(sandstorm_uro, "h" * 32, "host,play")
    ticket = host.request("POST", "/tickets").json()["data"]["ticket"]
    key = ticket_key(sandstorm_uro.config)
    assert verify_ticket(key, ticket, now=time.time()).permissions == {PERM_HOST, PERM_PLAY}


def test_standalone_only_routes_say_why_they_refuse(sandstorm_uro: UroServer) -> None:
    zoe = player(sandstorm_uro, "d" * 32, "host,play")
    for method, path, payload, words in (
        ("POST", "/registration", {"user[username]": "x"}, "Sandstorm accounts"),
        ("POST", "/invites", None, "Sandstorm's sharing"),
        ("GET", "/invites", None, "Sandstorm's sharing"),
        ("POST", "/invites/redeem", {"code": "x"}, "Sandstorm's sharing"),
        ("POST", "/host/session", {"key": "x"}, "host role"),
    ):
        response = zoe.request(method, path, payload)
        assert response.status_code == 403, (path, response.text)
        assert words in response.json()["error"]["message"]


def test_standalone_ignores_sandstorm_headers(uro: UroServer) -> None:
    """The front door strips them in standalone mode; the API does not trust them either."""
    forged = GodotUro(uro.client(headers=bridge_headers("e" * 32, "host,play")))
    assert forged.profile().status_code == 401
    assert forged.request("GET", "/users").status_code == 401
