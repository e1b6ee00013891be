"""The I/O-free pieces driven directly: bracket-key forms, the multipart reader, forwarded headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.uro_shim.godot import compose_multipart_body, query_string_from_dict
from uro_shim.errors import ApiError
from uro_shim.forms import Fields, FormError, nest, parse_urlencoded
from uro_shim.forwarded import client_address, host_and_port, public_url, relay_room_url
from uro_shim.multipart import Event, FieldPart, FileData, FileEnd, FileStart, MultipartReader
from uro_shim.shards import may_change, valid_rooms


def test_godot_form_body_parses_into_nested_fields() -> None:
    body = query_string_from_dict(
        {"user[username_or_email]": "zoë@example.org", "user[password]": "p&ss=w rd+", "apiKey": "k"}
    )
    assert body.startswith("user%5Busername_or_email%5D=zo%C3%AB%40example.org&")
    fields = nest(parse_urlencoded(body.encode()))
    assert fields == {
        "user": {"username_or_email": "zoë@example.org", "password": "p&ss=w rd+"},
        "apiKey": "k",
    }


def test_plug_style_nesting_and_conflicts() -> None:
    assert nest([("a[b][c]", "1"), ("a[b][d]", "2"), ("l[]", "x"), ("l[]", "y"), ("flag", "")]) == {
        "a": {"b": {"c": "1", "d": "2"}},
        "l": ["x", "y"],
        "flag": "",
    }
    for pairs in ([("a", "1"), ("a[b]", "2")], [("a[b]", "1"), ("a", "2")], [("a[", "1")], [("a[][b]", "1")]):
        with pytest.raises(FormError):
            nest(pairs)
    with pytest.raises(FormError, match="UTF-8"):
        parse_urlencoded(b"a=%ff")


def test_fields_coerce_the_clients_strings() -> None:
    f = Fields(
        nest(parse_urlencoded(b"shard[port]=7777.0&shard[max_users]=16&shard[on]=true&top=1")), "shard"
    )
    assert f.integer("port", low=1, high=65535) == 7777
    assert f.integer("max_users") == 16 and f.boolean("on") is True
    assert f.text("top") == "1"  # un-nested fields are read too, as HEAD Uro does
    assert f.label("port") == "shard[port]"
    with pytest.raises(FormError, match=r"shard\[port\] must be between"):
        Fields({"shard": {"port": "0"}}, "shard").integer("port", low=1, high=65535)
    with pytest.raises(FormError, match="whole number"):
        Fields({"port": True}).integer("port")
    with pytest.raises(FormError, match="true or false"):
        Fields({"b": "maybe"}).boolean("b")
    with pytest.raises(FormError, match="must be text"):
        Fields({"t": ["x"]}).text("t")
    assert Fields({"t": 5}).text("t") == "5"


STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")  # text PostgreSQL can hold (common.bodies)


@given(
    st.dictionaries(
        st.text(STORABLE, min_size=1, max_size=10).filter(lambda k: "[" not in k and "]" not in k),
        st.text(STORABLE, max_size=30),
        max_size=8,
    )
)
def test_any_godot_form_round_trips(payload: dict[str, str]) -> None:
    assert dict(parse_urlencoded(query_string_from_dict(payload).encode())) == payload


@given(st.text(max_size=10), st.text(max_size=10), st.booleans())
def test_a_nul_anywhere_in_a_form_is_refused(before: str, after: str, in_key: bool) -> None:
    spoiled = before + "\x00" + after
    payload = {spoiled: "v"} if in_key else {"k": spoiled}
    with pytest.raises(FormError, match="NUL"):
        parse_urlencoded(query_string_from_dict(payload).encode())


def _read(body: bytes, boundary: str, step: int) -> list[Event]:
    reader = MultipartReader(boundary.encode())
    events = []
    for i in range(0, len(body), step):
        events += reader.feed(body[i : i + step])
    events += reader.close()
    # Merge file data chunks for comparison.
    merged: list[Event] = []
    for e in events:
        if isinstance(e, FileData) and merged and isinstance(merged[-1], FileData):
            merged[-1] = FileData(merged[-1].data + e.data)
        else:
            merged.append(e)
    return merged


@pytest.mark.parametrize("step", [1, 7, 64, 100_000])
def test_multipart_reader_takes_the_godot_body_with_its_leading_crlf(step: int) -> None:
    boundary = "UroFileUpload0123456789abcdefghijABCDEFGHIJ01"
    data = b"RSCC\r\n--UroFileUpload\r\n\x00\xff" * 50
    body = compose_multipart_body(
        {
            "avatar[name]": "Zoë",
            "avatar[is_public]": True,
            "avatar[user_content_data]": {
                "filename": "autogen.scn",
                "content_type": "application/octet-stream",
                "data": data,
            },
        },
        boundary,
    )
    assert body.startswith(b"\r\n--" + boundary.encode() + b"\r\n")
    assert _read(body, boundary, step) == [
        FieldPart("avatar[name]", "Zoë"),
        FieldPart("avatar[is_public]", "true"),
        FileStart("avatar[user_content_data]", "autogen.scn", "application/octet-stream"),
        FileData(data),
        FileEnd(),
    ]


def test_multipart_reader_refuses_broken_bodies() -> None:
    boundary = "B" * 20
    with pytest.raises(ApiError, match="closing boundary"):
        _read(b"\r\n--" + b"B" * 20 + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\nx', boundary, 5)
    with pytest.raises(ApiError):
        _read(b"garbage without boundaries", boundary, 5)
    with pytest.raises(ApiError, match="no form-data name"):
        _read(
            compose_multipart_body({"a": "x"}, boundary).replace(b"form-data; name", b"attachment; x"),
            boundary,
            9,
        )


def test_forwarded_headers() -> None:
    assert client_address({"x-forwarded-for": "10.0.0.1, 203.0.113.9"}, "127.0.0.1") == "203.0.113.9"
    assert (
        client_address({"x-forwarded-for": "10.0.0.1"}, "192.0.2.1") == "192.0.2.1"
    )  # not from the front door
    assert client_address({}, "127.0.0.1") == "127.0.0.1"
    headers = {"host": "party.example", "x-forwarded-proto": "https"}
    assert public_url(headers, "/invite/x") == "https://party.example/invite/x"
    assert relay_room_url(headers, "a b") == "wss://party.example/relay?room=a%20b"
    assert host_and_port(headers) == ("party.example", 443)
    assert host_and_port({"host": "[::1]:8000"}) == ("::1", 8000)
    assert public_url({"host": "sandbox"}, "/relay", websocket=True) == "/relay"
    assert (
        public_url({"host": "evil.example/\r\nX: y"}, "/relay") == "/relay"
    )  # not a host name: no link to it


def test_shard_ownership_rule_and_room_shapes() -> None:
    from uro_shim.accounts import Account

    def account(uid: str, admin: bool = False) -> Account:
        return Account(uid, "u", "U", None, "registered", admin, frozenset(), frozenset())

    assert may_change("u1", "1.2.3.4", account("u1"), "9.9.9.9")
    assert not may_change("u1", "1.2.3.4", account("u2"), "1.2.3.4")
    assert not may_change("u1", "1.2.3.4", None, "1.2.3.4")
    assert may_change(None, "1.2.3.4", None, "1.2.3.4") and not may_change(None, "1.2.3.4", None, "5.6.7.8")
    assert may_change("u1", "x", account("boss", admin=True), "y")
    rooms = {
        "rooms": [
            {"name": "ok", "members": 1, "max_members": 2, "objects": 0},
            {"name": "", "members": 1, "max_members": 2, "objects": 0},
            {"name": "neg", "members": -1, "max_members": 2, "objects": 0},
            {"name": "bool", "members": True, "max_members": 2, "objects": 0},
        ]
    }
    assert [r["name"] for r in valid_rooms(rooms)] == ["ok"]
    assert valid_rooms({"rooms": "x"}) == [] and valid_rooms(None) == []
