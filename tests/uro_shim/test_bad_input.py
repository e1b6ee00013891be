"""A corpus of bad requests thrown at every route: each gets 200 or a JSON 4xx with a message, never a 5xx."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.support.uro import UroServer
from tests.support.waiting import wait_until
from tests.uro_shim.godot import compose_multipart_body
from tests.uro_shim.test_sessions import host_client, register
from uro_shim.app import ROUTES

SQLISH = "' OR 1=1; DROP TABLE uro_users; --"
BOUNDARY = "UroFileUploadBADBADBADBADBADBADBADBADBADBADBA"
MP = f"multipart/form-data; boundary={BOUNDARY}"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

TEXT_FIELDS = {
    "apiKey": None,
    "key": None,
    "host_key": None,
    "code": None,
    "display_name": None,
    "label": None,
    "user": ["username_or_email", "username", "email", "password", "password_confirmation", "display_name"],
    "invite": ["label", "code", "display_name"],
    "shard": ["address", "map", "name", "port"],
    "avatar": ["name", "description", "is_public"],
    "map": ["name", "description"],
    "prop": ["name", "description"],
    "user_privilege_ruleset": ["is_admin", "can_upload_avatars"],
}


def everywhere(text: str) -> dict[str, Any]:
    """``text`` in every text field any route reads (a valid password length, so it is read)."""
    value = text + "-" * 8
    return {k: value if names is None else {n: value for n in names} for k, names in TEXT_FIELDS.items()}


BODIES: list[tuple[str, str | None, bytes]] = [
    ("form: bad percent escapes", FORM, b"%ZZ&&==&%"),
    ("form: invalid UTF-8", FORM, b"user%5Busername%5D=%FF%FE&user%5Bpassword%5D=\xff"),
    ("form: broken brackets", FORM, b"a[b=1&c]]=2&[]=3&d[][x]=4"),
    ("form: conflicting keys", FORM, b"shard=1&shard[port]=2&user[x]=1&user[x][y]=2"),
    ("form: deep nesting", FORM, b"a" + b"[x]" * 50 + b"=1"),
    (
        "form: SQL-looking values",
        FORM,
        f"user[username_or_email]={SQLISH}&user[password]={SQLISH}&code={SQLISH}"
        f"&shard[name]={SQLISH}&shard[port]=1&shard[map]={SQLISH}".encode(),
    ),
    (
        "form: wrong types",
        FORM,
        b"shard[port][]=1&shard[port][]=2&user[password][x]=1&user[display_name][]=x",
    ),
    ("form: NUL bytes", FORM, b"user[display_name]=a%00b&shard[name]=%00&shard[port]=1&shard[map]=m"),
    (
        "form: huge numbers",
        FORM,
        b"shard[port]=99999999999999999999&shard[max_users]=1e308&shard[map]=m&shard[name]=n",
    ),
    ("form: too big", FORM, b"x=" + b"y" * (1024 * 1024 + 10)),
    ("form: many fields", FORM, b"&".join(b"f%d=1" % i for i in range(2000))),
    ("json: truncated", JSON, b'{"user": {"username_or_email": '),
    ("json: not an object", JSON, b"[1, 2, 3]"),
    ("json: a string", JSON, b'"hello"'),
    ("json: null", JSON, b"null"),
    (
        "json: wrong shapes",
        JSON,
        b'{"user": "x", "shard": [1], "invite": 5, "user_privilege_ruleset": "yes"}',
    ),
    (
        "json: wrong types",
        JSON,
        b'{"user": {"username_or_email": ["x"], "password": {"a": 1}, "display_name": 5.5},'
        b' "shard": {"port": true, "map": null, "name": {}}, "code": []}',
    ),
    ("json: deep nesting", JSON, b"[" * 100_000 + b"]" * 100_000),
    ("json: invalid UTF-8", JSON, b'{"user": {"display_name": "\xff\xfe"}}'),
    ("json: NaN and huge", JSON, b'{"shard": {"port": NaN, "max_users": 1e999, "map": "m", "name": "n"}}'),
    ("json: lone surrogates in every text field", JSON, json.dumps(everywhere("x\ud800")).encode()),
    ("json: escaped NUL in every text field", JSON, json.dumps(everywhere("x\x00y")).encode()),
    ("json: surrogate keys", JSON, b'{"\\ud800": "x", "user": {"\\udfff": "y", "password": "p"}}'),
    (
        "form: CESU-8 surrogates",
        FORM,
        b"user[username_or_email]=%ED%A0%80&user[password]=%ED%B0%80xxxxxxxx&key=%ED%A0%80&code=%ED%A0%80",
    ),
    ("multipart: no boundary", "multipart/form-data", b"--x\r\n\r\n"),
    ("multipart: garbage", MP, b"this is not multipart at all"),
    (
        "multipart: unterminated",
        MP,
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\nxx'.encode(),
    ),
    (
        "multipart: no name",
        MP,
        f"\r\n--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    (
        "multipart: huge header",
        MP,
        f"\r\n--{BOUNDARY}\r\nX-Big: {'h' * 20000}\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
    ),
    ("multipart: too many parts", MP, compose_multipart_body({f"f{i}": "x" for i in range(100)}, BOUNDARY)),
    (
        "multipart: invalid UTF-8 name",
        MP,
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="'.encode()
        + b"\xff\xfe"
        + f'"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'.encode(),
    ),
    (
        "multipart: file where text belongs",
        MP,
        compose_multipart_body(
            {
                "user[display_name]": {"filename": "x.png", "content_type": "image/png", "data": b"\x89PNG"},
                "shard[port]": {"filename": "p", "content_type": "text/plain", "data": b"7777"},
                "code": {"filename": "c", "content_type": "text/plain", "data": b"x"},
                "avatar[name]": {"filename": "n", "content_type": "text/plain", "data": b"x"},
            },
            BOUNDARY,
        ),
    ),
    ("unknown content type", "text/xml", b"<user><password>x</password></user>"),
    ("no content type", None, b"\x00\x01\x02 binary"),
    ("empty", None, b""),
]

IDS = [
    str(uuid.uuid4()),
    "not-a-uuid",
    "%27%20OR%201%3D1%20--",
    "%00",
    "%FF%FE",
    "..%2F..%2Fetc%2Fpasswd",
    "x" * 3000,
]


def concrete_paths(path: str) -> list[str]:
    if "{" not in path:
        return [path]
    return [re.sub(r"\{[a-z]+\}", value, path) for value in IDS]


def test_every_route_survives_the_corpus(uro: UroServer) -> None:
    player = register(uro).access_token
    host = host_client(uro).access_token
    http = uro.client()
    seen = 0
    failures: list[str] = []
    for route in ROUTES:
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            for path in concrete_paths(route.path):
                for token in ("", "garbage-token", player, host):
                    for label, content_type, body in BODIES:
                        headers = {"Authorization": token}
                        if content_type:
                            headers["Content-Type"] = content_type
                        response = http.request(method, path, content=body, headers=headers)
                        seen += 1
                        where = f"{method} {path[:60]} [{label}] token={token[:8]!r}"
                        if response.status_code >= 500:
                            failures.append(f"{where}: {response.status_code} {response.text[:200]}")
                        elif response.status_code != 200:
                            try:
                                message = response.json()["error"]["message"]
                            except (ValueError, KeyError, TypeError):
                                failures.append(
                                    f"{where}: non-JSON {response.status_code} {response.text[:100]}"
                                )
                                continue
                            if not (isinstance(message, str) and message):
                                failures.append(f"{where}: no message")
    assert not failures, f"{len(failures)} of {seen}:\n" + "\n".join(failures[:40])
    assert seen > 10_000
    assert http.get("/healthz").status_code == 200
    assert list((uro.var / "tmp").glob("upload-*")) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing-here"),
        ("GET", "/api/v2/shards"),
        ("POST", "/api/v1/health"),
        ("PATCH", "/api/v1/shards"),
        ("GET", "/api/v1/shards/"),
        ("GET", "/uploads/../secrets/host.key"),
        ("GET", "/uploads/%2e%2e%2fsecrets%2fhost.key"),
        ("GET", "/uploads/" + "0" * 300),
        ("GET", "/"),
        ("OPTIONS", "/api/v1/session"),
        ("BREW", "/api/v1/session"),
    ],
)
def test_unknown_routes_and_methods_are_json_4xx(uro: UroServer, method: str, path: str) -> None:
    response = uro.client().request(method, path)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


def test_a_client_that_disconnects_mid_upload_leaves_nothing(uro: UroServer) -> None:
    import socket

    client = register(uro)
    port = int(uro.base_url.rsplit(":", 1)[1])
    head = (
        f"POST /api/v1/dashboard/avatars HTTP/1.1\r\nHost: x\r\nAuthorization: {client.access_token}\r\n"
        f"Content-Type: {MP}\r\nContent-Length: 10000000\r\n\r\n"
        f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="avatar[user_content_data]"; '
        'filename="a.scn"\r\nContent-Type: application/octet-stream\r\n\r\nRSCC'
    ).encode() + b"x" * 200_000
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head)
    http = uro.client()

    def clean() -> bool:
        return not list((uro.var / "tmp").glob("upload-*"))

    wait_until(clean, timeout=30, what="the upload temp files to be cleaned up")
    assert http.get("/healthz").status_code == 200
