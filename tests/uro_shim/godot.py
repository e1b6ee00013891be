"""Requests composed exactly as the V-Sekai Godot client composes them.

The client's habits and their sources: uro-shim/COMPATIBILITY.md §Client habits.

- Form bodies: Godot's ``HTTPClient.query_string_from_dict``: ``key.uri_encode()=value.uri_encode()``
  joined by ``&``, where ``uri_encode`` keeps only ``A-Z a-z 0-9 _ . - ~`` and writes every other
  UTF-8 byte as upper-case ``%XX``; so ``user[password]`` travels as ``user%5Bpassword%5D``.
- Multipart bodies (``_compose_multipart_body``): for each key, ``\\r\\n--<boundary>\\r\\n``, the part
  headers, a blank line and the value; then ``\\r\\n--<boundary>--\\r\\n``. The body therefore
  starts with a CRLF before the first boundary. The boundary is ``UroFileUpload`` + 32 characters.
- ``Authorization: <token>`` with the raw token (no "Bearer"), sent even when the token is empty.
- An empty payload sends no body and no Content-Type.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import httpx

_UNRESERVED = frozenset((string.ascii_letters + string.digits + "_.-~").encode())


def uri_encode(text: str) -> str:
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_string_from_dict(payload: dict[str, Any]) -> str:
    return "&".join(f"{uri_encode(k)}={uri_encode(_value_text(v))}" for k, v in payload.items())


def godot_boundary() -> str:
    alphabet = string.ascii_letters + string.digits
    return "UroFileUpload" + "".join(secrets.choice(alphabet) for _ in range(32))


def compose_multipart_body(payload: dict[str, Any], boundary: str) -> bytes:
    """Byte for byte what godot_uro_requester.gd ``_compose_multipart_body`` builds."""
    buffer = bytearray()
    for key, value in payload.items():
        buffer += f"\r\n--{boundary}\r\n".encode()
        if isinstance(value, dict):  # a file: {"filename", "content_type", "data"}
            buffer += (
                f'Content-Disposition: form-data; name="{key}"; filename="{value["filename"]}"\r\n'
                f"Content-Type: {value['content_type']}\r\n\r\n"
            ).encode()
            buffer += value["data"]
        else:
            buffer += f'Content-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
            buffer += _value_text(value).encode()
    buffer += f"\r\n--{boundary}--\r\n".encode()
    return bytes(buffer)


def populate_query(entity: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {f"{entity}[{k}]": v for k, v in fields.items()}


class GodotUro:
    """A client that speaks like ``godot_uro_api.gd`` and keeps its tokens like ``GodotUroData``."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.access_token = ""
        self.renewal_token = ""

    def request(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = "access",
        encoding: str = "form",
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers: list[tuple[str, str]] = []
        if token == "access":
            headers.append(("Authorization", self.access_token))
        elif token == "renewal":
            headers.append(("Authorization", self.renewal_token))
        body = b""
        if payload:
            if encoding == "form":
                headers.append(("Content-Type", "application/x-www-form-urlencoded"))
                body = query_string_from_dict(payload).encode("utf-8")
            elif encoding == "multipart":
                boundary = godot_boundary()
                headers.append(("Content-Type", f"multipart/form-data; boundary={boundary}"))
                body = compose_multipart_body(payload, boundary)
            else:
                raise ValueError(encoding)
        headers += list((extra_headers or {}).items())
        return self.http.request(method, "/api/v1" + path, headers=headers, content=body)

    def keep_session(self, response: httpx.Response) -> dict[str, Any]:
        """``process_session_json``: tokens are taken when present, kept otherwise."""
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert isinstance(data, dict)
        self.access_token = data.get("access_token", self.access_token)
        self.renewal_token = data.get("renewal_token", self.renewal_token)
        return data

    # The calls of godot_uro_api.gd
    def register(self, username: str, email: str, password: str, api_key: str) -> httpx.Response:
        payload = {
            "user[username]": username,
            "user[email]": email,
            "user[password]": password,
            "user[password_confirmation]": password,
            "user[email_notifications]": False,
            "apiKey": api_key,
        }
        return self.request("POST", "/registration", payload, token=None)

    def sign_in(self, username_or_email: str, password: str) -> httpx.Response:
        payload = {"user[username_or_email]": username_or_email, "user[password]": password}
        return self.request("POST", "/session", payload, token=None)

    def renew(self) -> httpx.Response:
        return self.request("POST", "/session/renew", token="renewal")

    def sign_out(self) -> httpx.Response:
        return self.request("DELETE", "/session")

    def profile(self) -> httpx.Response:
        return self.request("GET", "/profile")

    def create_shard(self, fields: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.request("POST", "/shards", populate_query("shard", fields), **kw)

    def update_shard(self, shard_id: str, fields: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", f"/shards/{shard_id}", populate_query("shard", fields or {}), **kw)

    def delete_shard(self, shard_id: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", f"/shards/{shard_id}", **kw)

    def shards(self) -> httpx.Response:
        return self.request("GET", "/shards", token=None)

    def upload(self, kind: str, fields: dict[str, Any], content_id: str | None = None) -> httpx.Response:
        singular = kind[:-1]
        path = f"/dashboard/{kind}" + (f"/{content_id}" if content_id else "")
        method = "PUT" if content_id else "POST"
        return self.request(method, path, populate_query(singular, fields), encoding="multipart")
