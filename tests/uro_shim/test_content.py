"""Avatars, maps and props: multipart uploads as the Godot client composes them, round trips, checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from common.db import migrate
from tests.uro_shim.conftest import UroServer
from tests.uro_shim.godot import GodotUro, compose_multipart_body
from tests.uro_shim.test_sessions import host_client, register
from uro_shim import schema
from uro_shim.schema import DEFAULT_MAP_DESCRIPTION, DEFAULT_MAP_ID, DEFAULT_MAP_SOURCE

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


def scene(size: int = 300_000) -> bytes:
    # "RSCC" then bytes that include CRLFs and things that look like boundaries.
    return b"RSCC" + b"\r\n--UroFileUpload\r\n" + os.urandom(size)


def avatar_fields(data: bytes, **extra: object) -> dict[str, Any]:
    fields = {
        "name": "My avatar",
        "description": "Blue, with a hat",
        "is_public": True,
        "user_content_data": {
            "filename": "autogen.scn",
            "content_type": "application/octet-stream",
            "data": data,
        },
        "user_content_preview": {"filename": "autogen.png", "content_type": "image/png", "data": PNG},
    }
    fields.update(extra)
    return fields


def download(uro: UroServer, path: str) -> httpx.Response:
    assert path.startswith("/uploads/"), path  # root-relative: the client prepends its base URL
    return uro.client().get(path)


def test_upload_round_trips_byte_for_byte(uro: UroServer) -> None:
    client = register(uro)
    data = scene()
    response = client.upload("avatars", avatar_fields(data))
    assert response.status_code == 200, response.text
    body = response.json()["data"]
    avatar_id = body["id"]
    assert isinstance(avatar_id, str) and avatar_id[0] != "a"
    item = body["avatar"]
    assert item["name"] == "My avatar" and item["is_public"] is True
    assert download(uro, item["user_content_data"]).content == data
    assert download(uro, item["user_content_preview"]).content == PNG
    assert download(uro, item["user_content_data"]).headers["content-type"] == "application/octet-stream"

    public = GodotUro(uro.client())
    shown = public.request("GET", f"/avatars/{avatar_id}").json()["data"]["avatar"]
    assert shown == item
    assert [a["id"] for a in public.request("GET", "/avatars", token=None).json()["data"]["avatars"]] == [
        avatar_id
    ]
    mine = client.request("GET", "/dashboard/avatars").json()["data"]["avatars"]
    assert [a["id"] for a in mine] == [avatar_id]
    assert (
        client.request("GET", f"/dashboard/avatars/{avatar_id}").json()["data"]["avatar"]["id"] == avatar_id
    )
    # Nothing is left behind in the scratch directory.
    assert list((uro.var / "tmp").glob("upload-*")) == []


def test_update_replaces_the_file_under_a_new_url_and_removes_the_old(uro: UroServer) -> None:
    client = register(uro)
    first = client.upload("avatars", avatar_fields(scene(1000))).json()["data"]
    avatar_id, old = first["id"], first["avatar"]
    new_data = scene(2000)
    fields = {
        "name": "Renamed",
        "user_content_data": {
            "filename": "autogen.scn",
            "content_type": "application/octet-stream",
            "data": new_data,
        },
        "uploader_id": "00000000-0000-0000-0000-000000000000",  # never taken from the client
    }
    response = client.upload("avatars", fields, content_id=avatar_id)
    assert response.status_code == 200, response.text
    new = response.json()["data"]["avatar"]
    assert response.json()["data"]["id"] == avatar_id
    assert new["name"] == "Renamed" and new["description"] == "Blue, with a hat"
    assert new["uploader_id"] == old["uploader_id"]
    assert new["user_content_data"] != old["user_content_data"]
    assert new["user_content_preview"] == old["user_content_preview"]  # not re-sent: kept
    assert download(uro, new["user_content_data"]).content == new_data
    assert download(uro, old["user_content_data"]).status_code == 404
    # Fields only, no files.
    renamed = client.upload("avatars", {"is_public": False}, content_id=avatar_id).json()["data"]["avatar"]
    assert renamed["is_public"] is False and renamed["user_content_data"] == new["user_content_data"]
    assert GodotUro(uro.client()).request("GET", "/avatars").json()["data"]["avatars"] == []


def test_magic_bytes_and_extensions_are_checked(uro: UroServer) -> None:
    client = register(uro)
    bad = [
        (
            {
                "filename": "autogen.scn",
                "content_type": "application/octet-stream",
                "data": b"RSRC" + b"x" * 100,
            },
            "RSCC",
        ),
        (
            {"filename": "avatar.glb", "content_type": "model/gltf-binary", "data": b"RSCC" + b"x" * 100},
            "glTF",
        ),
        (
            {
                "filename": "avatar.exe",
                "content_type": "application/octet-stream",
                "data": b"MZ" + b"x" * 100,
            },
            ".scn",
        ),
        ("just text", "must be a file"),
    ]
    for data, words in bad:
        response = client.upload("avatars", avatar_fields(b"", user_content_data=data))
        assert response.status_code == 400, response.text
        assert words in response.json()["error"]["message"]
    gif_named_png = {"filename": "p.png", "content_type": "image/png", "data": b"GIF89a" + b"x" * 10}
    response = client.upload("avatars", avatar_fields(scene(100), user_content_preview=gif_named_png))
    assert response.status_code == 400 and "image" in response.json()["error"]["message"]
    glb = {"filename": "Avatar.VRM", "content_type": "model/gltf-binary", "data": b"glTF" + os.urandom(500)}
    assert client.upload("avatars", avatar_fields(b"", user_content_data=glb)).status_code == 200
    missing = client.upload("avatars", {"name": "no file"})
    assert missing.status_code == 400 and "required" in missing.json()["error"]["message"]
    assert list((uro.var / "tmp").glob("upload-*")) == []
    assert len(list((uro.var / "uploads").iterdir())) == 3  # the default map and the .vrm with its preview


def test_oversized_uploads_are_refused_while_streaming(
    make_uro: Callable[..., UroServer], database_url: str
) -> None:
    uro = make_uro(database_url, SOIREE_MAX_UPLOAD_BYTES="100000")
    client = register(uro)
    response = client.upload("avatars", avatar_fields(scene(150_000)))
    assert response.status_code == 413 and "too large" in response.json()["error"]["message"]

    # Without a Content-Length the limit still holds: the body is counted as it streams.
    boundary = "UroFileUploadAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    big = {"filename": "a.scn", "content_type": "application/octet-stream", "data": scene(300_000)}
    body = compose_multipart_body({"avatar[name]": "x", "avatar[user_content_data]": big}, boundary)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 16384):
            yield body[i : i + 16384]

    response = client.http.post(
        "/api/v1/dashboard/avatars",
        content=chunks(),
        headers={
            "Authorization": client.access_token,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert response.status_code == 413
    assert list((uro.var / "tmp").glob("upload-*")) == []
    assert client.upload("avatars", avatar_fields(scene(50_000))).status_code == 200  # under the limit


def test_privileges_gate_uploads_and_ownership_gates_changes(uro: UroServer) -> None:
    alice = register(uro)
    map_fields = avatar_fields(scene(100))
    response = alice.upload("maps", map_fields)
    assert response.status_code == 403 and "ask the host" in response.json()["error"]["message"]
    host = host_client(uro)
    map_id = host.upload("maps", map_fields).json()["data"]["id"]
    prop_id = host.upload("props", map_fields).json()["data"]["id"]
    assert GodotUro(uro.client()).request("GET", f"/props/{prop_id}").json()["data"]["prop"]["id"] == prop_id

    bob = register(uro, "bob", "bob@example.org")
    avatar_id = alice.upload("avatars", avatar_fields(scene(100))).json()["data"]["id"]
    assert bob.upload("avatars", {"name": "mine now"}, content_id=avatar_id).status_code == 403
    assert bob.request("DELETE", f"/dashboard/avatars/{avatar_id}").status_code == 403
    assert bob.request("GET", f"/dashboard/avatars/{avatar_id}").status_code == 404
    assert GodotUro(uro.client()).upload("avatars", avatar_fields(scene(100))).status_code == 401

    deleted = host.request("DELETE", f"/dashboard/maps/{map_id}")
    assert deleted.status_code == 200 and deleted.json() == {"data": {"id": map_id}}
    assert host.request("GET", f"/maps/{map_id}").status_code == 404
    data_url = alice.request("GET", f"/avatars/{avatar_id}").json()["data"]["avatar"]["user_content_data"]
    assert alice.request("DELETE", f"/dashboard/avatars/{avatar_id}").status_code == 200
    assert download(uro, data_url).status_code == 404  # the file went with it


def test_the_default_map_exists_in_a_new_party_and_the_host_can_replace_it(
    uro: UroServer, database_url: str
) -> None:
    client = GodotUro(uro.client())
    response = client.request("GET", f"/maps/{DEFAULT_MAP_ID}")  # empty Authorization, as the client sends
    assert response.status_code == 200
    item = response.json()["data"]["map"]
    assert item["id"] == DEFAULT_MAP_ID and item["is_public"]
    assert item["name"] == "Default map" and item["description"] == DEFAULT_MAP_DESCRIPTION
    # Then base URL + user_content_data, as the client downloads it: the engine-made scene that
    # tests/godot/test_default_map.py loads and instances.
    assert item["user_content_data"] == f"/uploads/{DEFAULT_MAP_ID}_2_original.scn?v=2"
    served = download(uro, item["user_content_data"])
    assert served.content == DEFAULT_MAP_SOURCE.read_bytes() and served.content.startswith(b"RSCC")
    assert served.headers["content-type"] == "application/octet-stream"
    assert DEFAULT_MAP_ID in [m["id"] for m in client.request("GET", "/maps").json()["data"]["maps"]]

    host = host_client(uro)
    assert DEFAULT_MAP_ID in [m["id"] for m in host.request("GET", "/dashboard/maps").json()["data"]["maps"]]
    real = scene(5000)
    response = host.upload(
        "maps",
        {
            "user_content_data": {
                "filename": "map.scn",
                "content_type": "application/octet-stream",
                "data": real,
            }
        },
        content_id=DEFAULT_MAP_ID,
    )
    assert response.status_code == 200, response.text
    new_url = client.request("GET", f"/maps/{DEFAULT_MAP_ID}").json()["data"]["map"]["user_content_data"]
    assert download(uro, new_url).content == real
    # Deleted maps stay deleted across restarts: the seed runs once.
    assert host.request("DELETE", f"/dashboard/maps/{DEFAULT_MAP_ID}").status_code == 200
    uro.stop()
    uro.start()
    assert GodotUro(uro.client()).request("GET", f"/maps/{DEFAULT_MAP_ID}").status_code == 404
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM uro_content").fetchone() == (0,)


@pytest.mark.parametrize("replaced_by_host", [False, True])
def test_an_older_party_gets_the_real_default_map_unless_the_host_replaced_it(
    make_uro: Callable[..., UroServer], database_url: str, replaced_by_host: bool
) -> None:
    # A party from before the real map: the migrations up to the seed (13), the placeholder file.
    host_file = f"{DEFAULT_MAP_ID}_1700000000000000_original.scn"
    with psycopg.connect(database_url, autocommit=True) as conn:
        migrate(conn, schema.COMPONENT, schema.MIGRATIONS[:13])
        if replaced_by_host:
            conn.execute(
                "UPDATE uro_content SET data_file = %s, description = 'My world' WHERE id = %s",
                (host_file, DEFAULT_MAP_ID),
            )
    uro = make_uro(database_url, start=False)
    uploads = uro.var / "uploads"
    uploads.mkdir(parents=True)
    host_map = scene(500)
    if replaced_by_host:
        (uploads / host_file).write_bytes(host_map)
    else:
        (uploads / f"{DEFAULT_MAP_ID}_1_original.scn").write_bytes(b"RSCC" + bytes(60))

    uro.start()
    item = GodotUro(uro.client()).request("GET", f"/maps/{DEFAULT_MAP_ID}").json()["data"]["map"]
    if replaced_by_host:
        assert item["description"] == "My world"
        assert download(uro, item["user_content_data"]).content == host_map
        assert sorted(p.name for p in uploads.iterdir()) == [host_file]
    else:
        assert item["description"] == DEFAULT_MAP_DESCRIPTION
        assert download(uro, item["user_content_data"]).content == DEFAULT_MAP_SOURCE.read_bytes()
        # The placeholder's file goes; the new one is under a new name, so no client's cache is stale.
        assert sorted(p.name for p in uploads.iterdir()) == [f"{DEFAULT_MAP_ID}_2_original.scn"]


def test_generated_ids_never_start_with_a() -> None:
    from uro_shim.accounts import new_content_id

    ids = [new_content_id() for _ in range(5000)]
    assert len(set(ids)) == 5000 and not any(i.startswith("a") for i in ids)
