"""Standalone invite links: created, listed and revoked by the host, redeemed by friends."""

from __future__ import annotations

from common.invites import INVITE_CODE
from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import GodotUro
from tests.uro_shim.test_sessions import host_client, register


def redeem(uro: UroServer, code: str, **fields: str) -> GodotUro:
    friend = GodotUro(uro.client())
    response = friend.request("POST", "/invites/redeem", {"code": code, **fields}, token=None)
    friend.keep_session(response)
    return friend


def test_invite_lifecycle(uro: UroServer) -> None:
    host = host_client(uro)
    headers = {"Host": "party.example:8000"}
    created = host.request("POST", "/invites", {"invite[label]": "For Sam"}, extra_headers=headers)
    assert created.status_code == 200, created.text
    invite = created.json()["data"]["invite"]
    assert invite["label"] == "For Sam" and invite["revoked"] is False and invite["redeemed_by"] is None
    assert invite["link"] == f"http://party.example:8000/invite/{invite['code']}"
    assert INVITE_CODE.fullmatch(invite["code"])  # the host's pages show this link
    secure = host.request("POST", "/invites", extra_headers={**headers, "X-Forwarded-Proto": "https"})
    assert secure.json()["data"]["invite"]["link"].startswith("https://party.example:8000/invite/")

    sam = redeem(uro, invite["code"], display_name="Sam")
    profile = sam.profile().json()["data"]
    assert profile["user"]["display_name"] == "Sam"
    assert profile["user_privilege_ruleset"]["is_admin"] is False
    # The link stays Sam's credential: using it again signs into the same account.
    again = redeem(uro, invite["code"])
    assert again.profile().json()["data"]["user"]["id"] == profile["user"]["id"]
    assert again.profile().json()["data"]["user"]["display_name"] == "Sam"

    listing = host.request("GET", "/invites").json()["data"]["invites"]
    (entry,) = [i for i in listing if i["id"] == invite["id"]]
    assert entry["redeemed_by"] == {"id": profile["user"]["id"], "display_name": "Sam"}

    revoked = host.request("DELETE", f"/invites/{invite['id']}")
    assert revoked.status_code == 200 and revoked.json() == {"data": {"id": invite["id"]}}
    assert sam.profile().status_code == 401 and again.profile().status_code == 401
    assert sam.renew().status_code == 401
    refused = GodotUro(uro.client()).request("POST", "/invites/redeem", {"code": invite["code"]}, token=None)
    assert refused.status_code == 403 and "revoked" in refused.json()["error"]["message"]
    listing = host.request("GET", "/invites").json()["data"]["invites"]
    assert [i["revoked"] for i in listing if i["id"] == invite["id"]] == [True]
    assert host.request("DELETE", "/invites/00000000-0000-0000-0000-000000000000").status_code == 404


def test_only_the_host_manages_invites_and_bad_codes_are_refused(uro: UroServer) -> None:
    player = register(uro)
    assert player.request("POST", "/invites").status_code == 403
    assert player.request("GET", "/invites").status_code == 403
    assert GodotUro(uro.client()).request("GET", "/invites").status_code == 401
    bad = GodotUro(uro.client()).request("POST", "/invites/redeem", {"code": "nope"}, token=None)
    assert bad.status_code == 404 and "not valid" in bad.json()["error"]["message"]
    missing = GodotUro(uro.client()).request("POST", "/invites/redeem", token=None)
    assert missing.status_code == 400 and "code is required" in missing.json()["error"]["message"]
