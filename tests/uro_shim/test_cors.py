"""A Godot web export on another origin can redeem an invite and fetch a relay ticket."""

from __future__ import annotations

from tests.support.uro import UroServer

ORIGIN = "http://game.example:8060"


def test_preflight_allows_the_authorization_header(uro: UroServer) -> None:
    client = uro.client()
    for path in ("/api/v1/tickets", "/api/v1/invites/redeem", "/api/v1/session"):
        r = client.options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert r.status_code == 200, (path, r.text)
        assert r.headers["access-control-allow-origin"] == "*"
        allowed = r.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "POST" in r.headers["access-control-allow-methods"]


def test_answers_and_errors_carry_the_allow_origin_header(uro: UroServer) -> None:
    client = uro.client()
    ok = client.get("/api/v1/shards", headers={"Origin": ORIGIN})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "*"
    refused = client.post(
        "/api/v1/invites/redeem", data={"code": "no-such-invite"}, headers={"Origin": ORIGIN}
    )
    assert 400 <= refused.status_code < 500
    assert refused.headers["access-control-allow-origin"] == "*"
    assert refused.json()["error"]["message"]  # the message a web client shows the player
