"""The relay's WebSocket frame decoder against wsproto as the reference client."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from relay.wsframes import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ClientFrames,
    FrameError,
    close_frame,
    parse_close,
    server_frame,
)

LIMIT = 65535


def client() -> Connection:
    return Connection(ConnectionType.CLIENT)


messages = st.lists(
    st.one_of(
        st.tuples(st.just("binary"), st.binary(max_size=70_000).filter(lambda b: len(b) <= LIMIT)),
        st.tuples(st.just("fragments"), st.lists(st.binary(max_size=300), min_size=2, max_size=5)),
        st.tuples(st.just("ping"), st.binary(max_size=125)),
        st.tuples(st.just("pong"), st.binary(max_size=125)),
        st.tuples(st.just("text"), st.text(max_size=50)),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(messages, st.integers(1, 4096))
def test_what_wsproto_clients_send_decodes_the_same(items: list[tuple[str, Any]], chunk: int) -> None:
    ws = client()
    wire = b""
    expected: list[tuple[int, bytes]] = []
    for kind, value in items:
        if kind == "binary":
            wire += ws.send(BytesMessage(value))
            expected.append((OP_BINARY, value))
        elif kind == "fragments":  # a message in several frames, with a ping in the middle
            for i, part in enumerate(value):
                wire += ws.send(BytesMessage(part, message_finished=i == len(value) - 1))
                if i == 0:
                    wire += ws.send(Ping(b"mid"))
                    expected.append((OP_PING, b"mid"))
            expected.append((OP_BINARY, b"".join(value)))
        elif kind == "ping":
            wire += ws.send(Ping(value))
            expected.append((OP_PING, value))
        elif kind == "pong":
            wire += ws.send(Pong(value))
            expected.append((OP_PONG, value))
        else:
            wire += ws.send(TextMessage(value))
            expected.append((OP_TEXT, value.encode()))
    wire += ws.send(CloseConnection(code=1000, reason="bye"))
    expected.append((OP_CLOSE, struct.pack("!H", 1000) + b"bye"))
    decoder = ClientFrames(LIMIT)
    got: list[tuple[int, bytes]] = []
    for i in range(0, len(wire), chunk):  # bytes arrive in arbitrary pieces
        got += decoder.feed(wire[i : i + chunk])
    assert got == expected


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64))
def test_random_bytes_give_frames_or_frame_error_only(data: bytes, chunk: int) -> None:
    decoder = ClientFrames(1000)
    try:
        for i in range(0, len(data), chunk):
            decoder.feed(data[i : i + chunk])
    except FrameError:
        pass


def masked(first: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    n = len(payload)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if n < 126:
        return bytes((first, 0x80 | n)) + mask + body
    return struct.pack("!BBH", first, 0x80 | 126, n) + mask + body


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (server_frame(OP_BINARY, b"x"), "masked"),
        (masked(0xC2, b"x"), "reserved"),
        (masked(0x83, b"x"), "unknown opcode"),
        (masked(0x89, b"x" * 126), "control"),
        (masked(0x09, b"x"), "control"),
        (masked(0x80, b"x"), "continuation"),
        (masked(0x02, b"x") + masked(0x82, b"y"), "previous one"),
        (masked(0x82, b"x" * 1001), "over 1000"),
        (masked(0x02, b"x" * 600) + masked(0x80, b"x" * 600), "over 1000"),
        (bytes((0x82, 0xFF)) + b"\xff" * 8, "top bit"),
    ],
)
def test_broken_framing_raises_frame_error(wire: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        ClientFrames(1000).feed(wire)


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    with pytest.raises(FrameError, match="over"):
        ClientFrames(1000).feed(struct.pack("!BBH", 0x82, 0x80 | 126, 5000))  # no payload sent yet


def test_close_frames_parse_and_build() -> None:
    assert parse_close(b"") == (None, "")
    assert parse_close(struct.pack("!H", 4001) + "ok ✓".encode()) == (4001, "ok ✓")
    for bad in (b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999), struct.pack("!H", 1000) + b"\xff"):
        with pytest.raises(FrameError):
            parse_close(bad)
    frame = close_frame(4000, "é" * 100)  # the reason is cut to fit a control frame, on a character boundary
    ws = client()
    ws.receive_data(frame)
    (event,) = list(ws.events())
    assert isinstance(event, CloseConnection) and event.code == 4000 and len(frame) <= 127


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_server_frames_are_what_wsproto_clients_read(size: int) -> None:
    ws = client()
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    ws.receive_data(server_frame(OP_BINARY, payload))
    events = list(ws.events())
    frames = [e for e in events if isinstance(e, BytesMessage)]
    assert frames == events and b"".join(e.data for e in frames) == payload and frames[-1].message_finished
