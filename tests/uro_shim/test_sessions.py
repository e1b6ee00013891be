"""Accounts and sessions in standalone mode, spoken the way the Godot client speaks."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from common.identity import PERM_HOST, PERM_PLAY, host_key_text, verify_ticket
from common.secretfiles import host_key, ticket_key
from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import GodotUro
from uro_shim.accounts import token_digest
from uro_shim.settings import STOCK_CLIENT_SIGNUP_KEY

PASSWORD = "correct horse battery"


def register(uro: UroServer, username: str = "alice", email: str = "alice@example.org") -> GodotUro:
    client = GodotUro(uro.client())
    data = client.keep_session(client.register(username, email, PASSWORD, STOCK_CLIENT_SIGNUP_KEY))
    assert data["user"]["username"] == username
    return client


def host_client(uro: UroServer) -> GodotUro:
    key = host_key_text(host_key(uro.config))
    client = GodotUro(uro.client())
    client.keep_session(client.http.post("/api/v1/host/session", data={"key": key}))
    return client


def test_registration_signs_in_and_answers_the_full_session_block(uro: UroServer) -> None:
    client = GodotUro(uro.client())
    response = client.register("alice", "Alice@Example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY)
    assert response.status_code == 200
    data = client.keep_session(response)
    assert set(data) >= {"access_token", "renewal_token", "user", "user_privilege_ruleset"}
    assert data["access_token"] != data["renewal_token"]
    assert isinstance(data["user"]["id"], str)
    assert data["user"] == {"id": data["user"]["id"], "username": "alice", "display_name": "alice"}
    # New players may upload avatars (the default), nothing else.
    assert data["user_privilege_ruleset"] == {
        "is_admin": False,
        "can_upload_avatars": True,
        "can_upload_maps": False,
        "can_upload_props": False,
    }
    profile = client.profile()
    assert profile.status_code == 200
    body = profile.json()["data"]
    assert body["user"]["username"] == "alice" and "access_token" not in body


def test_registration_refusals_carry_a_message_the_client_shows(uro: UroServer) -> None:
    register(uro)
    client = GodotUro(uro.client())
    cases = [
        (client.register("bob", "bob@example.org", PASSWORD, "wrong key"), 403, "may not register"),
        (
            client.register("alice", "other@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY),
            409,
            "username is taken",
        ),
        (client.register("carol", "ALICE@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY), 409, "e-mail"),
        (client.register("x", "x@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY), 400, "username"),
        (client.register("dave", "dave@example.org", "short", STOCK_CLIENT_SIGNUP_KEY), 400, "too short"),
        (client.register("host", "h@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY), 409, "reserved"),
        (client.register("erin", "not-an-email", PASSWORD, STOCK_CLIENT_SIGNUP_KEY), 400, "e-mail"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert words in body["error"]["message"], body
        assert body["error"]["status"] == status and body["message"] == body["error"]["message"]


def test_closed_registration(make_uro: Callable[..., UroServer], database_url: str) -> None:
    uro = make_uro(database_url, SOIREE_SIGNUP_API_KEY="")
    client = GodotUro(uro.client())
    response = client.register("alice", "a@example.org", PASSWORD, STOCK_CLIENT_SIGNUP_KEY)
    assert response.status_code == 403 and "invite" in response.json()["error"]["message"]


def test_login_by_username_or_email_case_folded_and_wrong_password(uro: UroServer) -> None:
    register(uro)
    client = GodotUro(uro.client())
    for identifier in ("alice", "ALICE", "alice@example.org", "Alice@Example.ORG"):
        data = client.keep_session(client.sign_in(identifier, PASSWORD))
        assert data["user"]["username"] == "alice"
    for identifier, password in (("alice", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD)):
        response = client.sign_in(identifier, password)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid username or password."


def test_renew_rotates_both_tokens_and_the_old_pair_dies(uro: UroServer, database_url: str) -> None:
    client = register(uro)
    old_access, old_renewal = client.access_token, client.renewal_token
    data = client.keep_session(client.renew())
    assert data["user"]["username"] == "alice"
    assert client.access_token != old_access and client.renewal_token != old_renewal
    stale = GodotUro(uro.client())
    stale.access_token, stale.renewal_token = old_access, old_renewal
    assert stale.renew().status_code == 401
    assert stale.renew().json()["error"]["message"].startswith("Invalid token")
    assert stale.profile().status_code == 401
    assert client.profile().status_code == 200
    # Only digests are stored.
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT access_hash, renewal_hash FROM uro_sessions").fetchall()
    assert (token_digest(client.access_token), token_digest(client.renewal_token)) in [
        (bytes(a), bytes(r)) for a, r in rows
    ]
    assert all(client.access_token.encode() not in bytes(a) for a, _ in rows)


def test_logout_ends_the_session_and_is_lenient(uro: UroServer) -> None:
    client = register(uro)
    response = client.sign_out()
    assert response.status_code == 200 and response.json() == {"data": {}}
    assert client.profile().status_code == 401
    assert client.renew().status_code == 401  # the renewal token went with it
    assert client.sign_out().json() == {"data": {}}  # a dead token still signs out


def test_bearer_prefix_and_empty_authorization(uro: UroServer) -> None:
    client = register(uro)
    http = uro.client()
    assert (
        http.get("/api/v1/profile", headers={"Authorization": f"Bearer {client.access_token}"}).status_code
        == 200
    )
    assert http.get("/api/v1/profile", headers={"Authorization": client.access_token}).status_code == 200
    # An empty or bad header is anonymous: public routes still answer, private ones say 401.
    for value in ("", "garbage", "Bearer"):
        assert http.get("/api/v1/shards", headers={"Authorization": value}).status_code == 200
        assert http.get("/api/v1/avatars", headers={"Authorization": value}).status_code == 200
        response = http.get("/api/v1/profile", headers={"Authorization": value})
        assert response.status_code == 401 and response.json()["error"]["message"]


def test_tokens_expire(make_uro: Callable[..., UroServer], database_url: str) -> None:
    # Lifetimes long enough for a loaded machine to make the "still valid" calls in time.
    uro = make_uro(database_url, SOIREE_ACCESS_TOKEN_TTL="4", SOIREE_RENEWAL_TOKEN_TTL="10")
    client = register(uro)
    assert client.profile().status_code == 200
    time.sleep(4.5)
    assert client.profile().status_code == 401  # access token expired
    client.keep_session(client.renew())  # the renewal token still works and rotates the pair
    assert client.profile().status_code == 200
    time.sleep(10.5)
    assert client.renew().status_code == 401  # the new renewal token expired too


def test_display_name_can_be_set(uro: UroServer) -> None:
    client = register(uro)
    response = client.request("PUT", "/profile", {"user[display_name]": "  Alice 🎉 "})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["user"]["display_name"] == "Alice 🎉"
    assert client.profile().json()["data"]["user"]["display_name"] == "Alice 🎉"
    blank = client.request("PUT", "/profile", {"user[display_name]": "\u200b\n"})
    assert blank.status_code == 400


def test_host_key_login_and_tickets(uro: UroServer) -> None:
    http = uro.client()
    assert http.post("/api/v1/host/session", data={"key": "nope"}).status_code == 403
    assert http.post("/api/v1/host/session").status_code == 403
    host = host_client(uro)
    profile = host.profile().json()["data"]
    assert profile["user"]["username"] == "host"
    assert all(profile["user_privilege_ruleset"].values())
    again = host_client(uro)  # the same account on every use
    assert again.profile().json()["data"]["user"]["id"] == profile["user"]["id"]

    response = host.request(
        "POST", "/tickets", extra_headers={"Host": "party.example:8443", "X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["expires_in"] == 60 and data["relay_url"] == "wss://party.example:8443/relay"
    key = ticket_key(uro.config)
    identity = verify_ticket(key, data["ticket"], now=time.time())
    assert identity.user_id == profile["user"]["id"] and identity.permissions == {PERM_HOST, PERM_PLAY}

    player = register(uro)
    ticket = player.request("POST", "/tickets", extra_headers={"Host": "sandbox"}).json()["data"]
    assert ticket["relay_url"] == "/relay"
    assert verify_ticket(key, ticket["ticket"], now=time.time()).permissions == {PERM_PLAY}
    assert GodotUro(uro.client()).request("POST", "/tickets").status_code == 401


def test_host_manages_privileges(uro: UroServer) -> None:
    player = register(uro)
    player_id = player.profile().json()["data"]["user"]["id"]
    assert player.request("GET", "/users").status_code == 403
    host = host_client(uro)
    listing = host.request("GET", "/users").json()["data"]["users"]
    assert {u["username"] for u in listing} == {"alice", "host"}
    response = host.request(
        "PUT", f"/users/{player_id}/privileges", {"user_privilege_ruleset[can_upload_maps]": "true"}
    )
    assert response.status_code == 200, response.text
    ruleset = player.profile().json()["data"]["user_privilege_ruleset"]
    assert ruleset["can_upload_maps"] and ruleset["can_upload_avatars"] and not ruleset["is_admin"]
    host_id = host.profile().json()["data"]["user"]["id"]
    assert (
        host.request(
            "PUT", f"/users/{host_id}/privileges", {"user_privilege_ruleset[is_admin]": "false"}
        ).status_code
        == 409
    )
