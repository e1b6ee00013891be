"""Text the API cannot store or compare: every request shape answers a JSON 400 naming the field.

A lone surrogate (JSON ``"\\ud800"``) is valid JSON but not Unicode text that UTF-8, bcrypt or
PostgreSQL can take; a NUL cannot be stored in a PostgreSQL text column; CESU-8 surrogates and
other invalid UTF-8 arrive through forms, multipart bodies and query strings. Each request shape
below once reached a handler (and a 500) with such text; now the body parser refuses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import compose_multipart_body
from tests.uro_shim.test_content import avatar_fields, scene
from tests.uro_shim.test_sessions import PASSWORD, host_client, register
from uro_shim.settings import STOCK_CLIENT_SIGNUP_KEY

SURROGATE = "\ud800"
BOUNDARY = "UroFileUploadTEXTTEXTTEXTTEXTTEXTTEXTTEXTTEXT"


@dataclass(frozen=True)
class Shape:
    """One request that carries a text field: who sends it, where, a valid body, the field to spoil."""

    who: str  # "anyone", "player" or "host"
    method: str
    path: str
    body: dict[str, Any]
    target: tuple[str, ...]

    @property
    def label(self) -> str:
        head, *rest = self.target
        return head + "".join(f"[{part}]" for part in rest)

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.label} ({self.who})"


REGISTRATION: dict[str, Any] = {
    "apiKey": STOCK_CLIENT_SIGNUP_KEY,
    "user": {"username": "zed", "email": "zed@example.org", "password": PASSWORD},
}
SIGN_IN = {"user": {"username_or_email": "alice", "password": PASSWORD}}
SHARD = {"shard": {"port": 7777, "map": "uro://map", "name": "Party"}}

SHAPES = [
    *(Shape("anyone", "POST", "/registration", REGISTRATION, t) for t in [("apiKey",), ("user", "email")]),
    *(Shape("anyone", "POST", "/registration", REGISTRATION, ("user", f)) for f in ["username", "password"]),
    Shape(
        "anyone",
        "POST",
        "/registration",
        {**REGISTRATION, "user": {**REGISTRATION["user"], "password_confirmation": PASSWORD}},
        ("user", "password_confirmation"),
    ),
    *(Shape("anyone", "POST", "/session", SIGN_IN, ("user", f)) for f in ["username_or_email", "password"]),
    Shape("anyone", "POST", "/host/session", {"key": "k"}, ("key",)),
    *(Shape("anyone", "POST", "/invites/redeem", {"code": "{code}"}, (f,)) for f in ["code", "display_name"]),
    *(Shape("anyone", "POST", "/shards", SHARD, ("shard", f)) for f in ["address", "map", "name"]),
    *(Shape("anyone", "PUT", "/shards/{shard}", SHARD, ("shard", f)) for f in ["address", "map", "name"]),
    Shape("player", "PUT", "/profile", {"user": {"display_name": "Zoë"}}, ("user", "display_name")),
    Shape("host", "POST", "/invites", {"invite": {"label": "Zoë"}}, ("invite", "label")),
    *(
        Shape("player", "PUT", "/dashboard/avatars/{avatar}", {"avatar": {"name": "A"}}, ("avatar", f))
        for f in ["name", "description"]
    ),
    Shape("player", "POST", "/dashboard/avatars", {"avatar": {"name": "A"}}, ("avatar", "name")),
    Shape(
        "host",
        "PUT",
        "/users/{player_id}/privileges",
        {"user_privilege_ruleset": {"is_admin": "false"}},
        ("user_privilege_ruleset", "is_admin"),
    ),
]


def spoiled(body: dict[str, Any], target: tuple[str, ...], value: str) -> dict[str, Any]:
    """The body with ``value`` appended to the target field, so that nothing else is wrong with it."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node = copy
    for part in target[:-1]:
        node = node.setdefault(part, {})
    old = node.get(target[-1])
    node[target[-1]] = (old if isinstance(old, str) else "") + value
    return copy


def flat(body: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Bracket keys, every value a string, as the Godot client writes them."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs += flat(value, name)
        else:
            pairs.append((name, str(value)))
    return pairs


class Party:
    """A party with one of everything a shape needs: accounts, an invite, a shard, an avatar."""

    def __init__(self, uro: UroServer) -> None:
        self.uro = uro
        self.http = uro.client()
        self.player = register(uro)
        self.host = host_client(uro)
        invite = self.host.http.post(
            "/api/v1/invites", data={"label": "x"}, headers={"Authorization": self.host.access_token}
        )
        shard = self.http.post("/api/v1/shards", data={k: str(v) for k, v in flat(SHARD)})
        avatar = self.player.upload("avatars", avatar_fields(scene(1000)))
        profile = self.player.profile().json()["data"]
        self.values = {
            "code": invite.json()["data"]["invite"]["code"],
            "shard": shard.json()["data"]["id"],
            "avatar": avatar.json()["data"]["id"],
            "player_id": profile["user"]["id"],
        }

    def fill(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def send(
        self, shape: Shape, *, content: bytes, content_type: str | None, query: str = ""
    ) -> httpx.Response:
        headers = {}
        if shape.who != "anyone":
            headers["Authorization"] = (self.player if shape.who == "player" else self.host).access_token
        if content_type:
            headers["Content-Type"] = content_type
        url = "/api/v1" + self.fill(shape.path) + (f"?{query}" if query else "")
        # One keep-alive connection throughout: a refusal must leave it usable for the next request.
        return self.http.request(shape.method, url, content=content, headers=headers)

    def body(self, shape: Shape) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.fill(json.dumps(shape.body)))
        return body


@pytest.fixture
def party(uro: UroServer) -> Iterator[Party]:
    yield Party(uro)
    assert uro.client().get("/healthz").status_code == 200


def refusal(response: httpx.Response, shape: Shape, *, named: bool = True) -> str | None:
    """Why the answer is not a JSON 400 in the API's error shape naming the field, or None."""
    if response.status_code != 400:
        return f"{shape}: {response.status_code} {response.text[:160]}"
    body = response.json()
    error = body["error"]
    if not (error["status"] == 400 and error["message"] and body["message"] == error["message"]):
        return f"{shape}: bad error shape {body}"
    if body["code"] != "bad_request":
        return f"{shape}: code {body['code']!r}"
    if named and shape.label not in error.get("errors", {}):
        return f"{shape}: the field is not named: {body}"
    return None


def test_a_lone_surrogate_in_any_json_text_field_is_a_400_naming_the_field(party: Party) -> None:
    found = []
    for shape in SHAPES:
        content = json.dumps(spoiled(party.body(shape), shape.target, SURROGATE)).encode()
        assert b"\\ud800" in content
        response = party.send(shape, content=content, content_type="application/json")
        found.append(refusal(response, shape))
    failures = [f for f in found if f]
    assert not failures, f"{len(failures)} of {len(SHAPES)}:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("what", "json_text"),
    [
        ("a lone low surrogate", '"\\udc00"'),
        ("a reversed pair", '"\\ude00\\ud83d"'),
        ("an escaped NUL", '"a\\u0000b"'),
        ("a raw NUL", '"a\x00b"'),
        ("a surrogate in a key", '{"\\ud800": "x"}'),
        ("a surrogate deep in a list", '[["x", {"y": "\\udfff"}]]'),
    ],
)
def test_json_text_is_checked_everywhere_in_the_body(party: Party, what: str, json_text: str) -> None:
    shape = SHAPES[0]
    body = json.dumps(party.body(shape))
    content = (body[:-1] + ', "extra": ' + json_text + "}").encode()
    response = party.send(shape, content=content, content_type="application/json")
    assert refusal(response, shape, named=False) is None, what


def test_a_properly_paired_surrogate_is_just_an_emoji(party: Party) -> None:
    shape = Shape("player", "PUT", "/profile", {}, ("user", "display_name"))
    content = b'{"user": {"display_name": "Zo\\u00eb \\ud83d\\ude00"}}'
    response = party.send(shape, content=content, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["data"]["user"]["display_name"] == "Zoë 😀"


# Bytes that are not UTF-8 text or cannot be stored: CESU-8 (a surrogate written as UTF-8), a stray
# continuation byte, an overlong encoding, and a NUL.
BAD_BYTES = [b"ab\xed\xa0\x80", b"\x80ab", b"\xc0\xaf", b"a\x00b"]


def _encodings(party: Party, shape: Shape, bad: bytes) -> Iterator[tuple[str, bytes, str | None, str]]:
    label = shape.label
    pairs = [(k, v) for k, v in flat(party.body(shape)) if k != label] + [(label, "\x01MARK\x01")]
    form = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).replace(quote("\x01MARK\x01"), quote(bad))
    yield "form", form.encode(), "application/x-www-form-urlencoded", ""
    yield "query string", b"", None, form
    multipart = compose_multipart_body(dict(pairs), BOUNDARY).replace(b"\x01MARK\x01", bad)
    yield "multipart", multipart, f"multipart/form-data; boundary={BOUNDARY}", ""


def test_bad_bytes_in_forms_query_strings_and_multipart_are_a_400_naming_the_field(party: Party) -> None:
    failures = []
    seen = 0
    for shape in SHAPES:
        for bad in BAD_BYTES:
            for encoding, content, content_type, query in _encodings(party, shape, bad):
                seen += 1
                response = party.send(shape, content=content, content_type=content_type, query=query)
                failure = refusal(response, shape)
                if failure:
                    failures.append(f"[{encoding} {bad!r}] {failure}")
    assert not failures, f"{len(failures)} of {seen}:\n" + "\n".join(failures[:60])


def test_bad_bytes_in_field_names_and_file_names_are_a_400(party: Party) -> None:
    shape = Shape("player", "POST", "/dashboard/avatars", {}, ("avatar", "name"))
    for bad in BAD_BYTES:
        form = b"user%5B" + quote(bad).encode() + b"%5D=x"
        response = party.send(shape, content=form, content_type="application/x-www-form-urlencoded")
        assert refusal(response, shape, named=False) is None, bad
        fields = avatar_fields(scene(100))
        fields["user_content_data"]["filename"] = "\x01MARK\x01"
        body = compose_multipart_body({f"avatar[{k}]": v for k, v in fields.items()}, BOUNDARY)
        body = body.replace(b"\x01MARK\x01", bad)
        response = party.send(shape, content=body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
        assert refusal(response, shape, named=False) is None, bad


def test_text_over_the_bound_is_a_400_before_any_handler(party: Party) -> None:
    from common.bodies import MAX_TEXT

    shape = Shape("anyone", "POST", "/session", SIGN_IN, ("user", "password"))
    content = json.dumps(spoiled(party.body(shape), shape.target, "p" * (MAX_TEXT + 1))).encode()
    response = party.send(shape, content=content, content_type="application/json")
    assert refusal(response, shape) is None
    assert "too long" in response.json()["error"]["message"]
