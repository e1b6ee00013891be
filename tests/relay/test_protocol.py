"""The codec: every record round-trips, malformed input raises ProtocolError, the doc's examples hold."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from relay import protocol as p
from tests.relay.sim import Sim

SAMPLES: list[p.Record] = [
    p.Hello(1, 1),
    p.Hello(1, 3, bytes(range(16))),
    p.Ping(7),
    p.Pong(0xFFFFFFFF),
    p.Join(1, "lobby"),
    p.Join(2, "é" * 100),
    p.Leave(3, 1),
    p.Focus(4, 1, None),
    p.Focus(5, 2, (1.5, -2.0, 1e6)),
    p.Spawn(6, 1, p.Rule.ASK, p.Lifetime.PERSISTENT, None, b""),
    p.Spawn(7, 1, p.Rule.ALLOW, p.Lifetime.WITH_MASTER, (0.0, 1.0, 2.0), b"\x00" * 300),
    p.Update(1, 3, 9, None, b"state"),
    p.Update(1, 3, 9, (1.0, 2.0, 3.0), b""),
    p.Despawn(8, 1, 3),
    p.Request(9, 1, 3),
    p.Release(10, 1, 3),
    p.Give(11, 1, 3, 42),
    p.SetMaster(12, 1, 3, 42),
    p.SetRule(13, 1, 3, p.Rule.DENY),
    p.Answer(14, 1, 3, 5, 1),
    p.Event(1, (), b"bang"),
    p.Event(1, (2, 3, 4), b""),
    p.Game(15, 1, p.GameRole.HOST),
    p.Packet(1, p.PACKET_RELIABLE | p.PACKET_MORE, 0, 0, (), b"\x06" * 70),
    p.Packet(1, p.PACKET_UNRELIABLE | p.PACKET_EXCEPT, 2, 7, (3, 4), b"sync"),
    p.WelcomeV1(
        1, 5, 0, b"t" * 16, 1_700_000_000_000, 30, 15, 60, 30, 2000, 500, 65535, 16384, 16384, 300, 600
    ),
    p.Welcome(2, 5, 1, b"t" * 16, 1_700_000_000_000, ((p.Limit.TICK_HZ, 30), (p.Limit.GRACE_MS, 30_000))),
    p.Welcome(2, 6, 0, b"u" * 16, 0, ()),
    p.MemberPresence(1, 2, 0),
    p.Goodbye(4000, "bad things"),
    p.ServerPing(1, 2),
    p.ServerPong(1, 2),
    p.Result(1, p.Status.GRANTED, 4),
    p.Notice(p.Status.TOO_LARGE, 0x30, 1),
    p.Snapshot(1, 2, 3, "lobby"),
    p.Synced(1),
    p.Left(1, p.LeaveReason.KICKED),
    p.MemberJoined(1, 2, sum(p.PERMISSION_BITS.values()), "user-id", "Bob"),
    p.MemberLeft(1, 2, p.LeaveReason.DISCONNECTED),
    p.ObjectInfo(1, 2, 3, 4, 5, p.Rule.ALLOW, p.Lifetime.WITH_MASTER, (1.0, 2.0, 3.0), b"s"),
    p.State(1, 2, 3, None, b"abc"),
    p.Despawned(1, 2, p.DespawnReason.RESET),
    p.Owner(1, 2, 3, 4),
    p.Master(1, 2, 0),
    p.RuleChanged(1, 2, p.Rule.ASK),
    p.Refused(1, 2, 3, p.Status.STALE_EPOCH),
    p.Ask(1, 2, 3, 4),
    p.AskCancelled(1, 2, 3, p.Status.TIMEOUT),
    p.EventFrom(1, 2, b"payload"),
    p.GamePeer(1, 2, p.GameRole.PEER),
    p.PacketFrom(1, 2, p.PACKET_UNRELIABLE_ORDERED | p.PACKET_MORE, 1, b"rpc"),
]


@pytest.mark.parametrize("rec", SAMPLES, ids=lambda r: type(r).__name__)
def test_every_record_round_trips(rec: p.Record) -> None:
    data = rec.encode()
    type_, length = p.HEADER.unpack_from(data)
    assert type_ == rec.TYPE and length == len(data) - 3
    if rec.TYPE < 0x80:
        assert p.decode_client_message(data, version=rec.VERSION) == [rec]
    else:
        assert p.decode_server_message(data) == [rec]


def test_every_type_is_covered_by_the_samples() -> None:
    covered = {type(r) for r in SAMPLES}
    assert covered == set(p.CLIENT_RECORDS.values()) | set(p.SERVER_RECORDS.values())


def test_several_records_in_one_message_keep_their_order() -> None:
    recs = [p.Ping(1), p.Join(2, "a"), p.Update(1, 1, 1, None, b"x"), p.Ping(3)]
    assert p.decode_client_message(b"".join(r.encode() for r in recs)) == recs


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x02\x04", "truncated record header"),
        (b"\x02\x04\x00\x01\x00", "runs past the end"),
        (b"\x7f\x00\x00", "unknown record type"),
        (
            p.WelcomeV1(1, 5, 0, b"t" * 16, 1, 30, 15, 60, 30, 2000, 500, 1, 1, 1, 1, 1).encode(),
            "unknown record type",
        ),
        (b"\x02\x05\x00\x01\x00\x00\x00\x00", "trailing"),
        (b"\x02\x03\x00\x01\x00\x00", "too short"),
        (p.HEADER.pack(0x10, 6) + struct.pack("<IB", 1, 1) + b"\xff", "UTF-8"),
        (p.HEADER.pack(0x10, 5) + struct.pack("<IB", 1, 3), "too short"),
        (p.HEADER.pack(0x27, 11) + struct.pack("<IHIB", 1, 1, 1, 3), "not a valid rule"),
        (p.HEADER.pack(0x20, 9) + struct.pack("<IHBBB", 1, 1, 0, 2, 0), "not a valid lifetime"),
        (p.HEADER.pack(0x21, 11) + struct.pack("<HIIB", 1, 1, 1, 2), "flag bits"),
        (p.HEADER.pack(0x21, 11) + struct.pack("<HIIB", 1, 1, 1, 1), "too short"),
        (p.HEADER.pack(0x21, 23) + struct.pack("<HIIB3f", 1, 1, 1, 1, 0, float("nan"), 0), "finite"),
        (p.HEADER.pack(0x12, 19) + struct.pack("<IHB3f", 1, 1, 1, 0, 0, float("inf")), "finite"),
        (p.HEADER.pack(0x28, 15) + struct.pack("<IHIIB", 1, 1, 1, 1, 2), "out of range"),
        (p.HEADER.pack(0x01, 6) + struct.pack("<HHB", 1, 1, 1) + b"x", "0 or 16"),
        (p.HEADER.pack(0x30, 3) + struct.pack("<HB", 1, 2), "too short"),
        (b"\x02\x04\x00" + b"\x00" * (p.MAX_MESSAGE - 3 + 1), "over the"),
        (p.HEADER.pack(0x13, 7) + struct.pack("<IHB", 1, 1, 3), "not a valid gamerole"),
        (p.HEADER.pack(0x31, 7) + struct.pack("<HBBHB", 1, 3, 0, 0, 0), "transfer mode 3"),
        (p.HEADER.pack(0x31, 7) + struct.pack("<HBBHB", 1, 0x10, 0, 0, 0), "flag bits"),
        (p.HEADER.pack(0x31, 7) + struct.pack("<HBBHB", 1, 0, 0, 9, 0), "reliable packet has lane 0"),
        (p.HEADER.pack(0x31, 7) + struct.pack("<HBBHB", 1, 1, 0, 9, 1), "too short"),
    ],
)
def test_malformed_client_input_raises_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(p.ProtocolError, match=message):
        p.decode_client_message(data, version=2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (p.HEADER.pack(0xB1, 8) + struct.pack("<HIBB", 1, 2, p.PACKET_EXCEPT, 0), "flag bits"),
        (p.HEADER.pack(0xB1, 8) + struct.pack("<HIBB", 1, 2, 3, 0), "transfer mode 3"),
        (p.HEADER.pack(0x95, 7) + struct.pack("<HIB", 1, 2, 3), "not a valid gamerole"),
    ],
)
def test_malformed_relay_input_raises_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(p.ProtocolError, match=message):
        p.decode_server_message(data)


def test_version_2_records_are_refused_on_a_version_1_session() -> None:
    for rec, name in ((p.Packet(1, 0, 0, 0, (), b"x"), "PACKET"), (p.Game(1, 1, p.GameRole.PEER), "GAME")):
        data = p.Ping(1).encode() + rec.encode()
        with pytest.raises(p.ProtocolError, match=f"{name} needs protocol version 2"):
            p.decode_client_message(data)
        assert p.decode_client_message(data, version=2) == [p.Ping(1), rec]
    assert p.SUPPORTED_VERSIONS == (1, 2)


def test_a_version_1_session_sending_a_packet_is_closed_with_4000() -> None:
    sim = Sim()
    c = sim.client()
    room = c.join()
    c.send(p.Packet(room, p.PACKET_RELIABLE, 0, 0, (), b"\x03hi"))
    c.read()
    goodbye = c.goodbye()
    assert goodbye == p.Goodbye(p.Close.PROTOCOL_ERROR, "PACKET needs protocol version 2")
    assert c.conn.closing is not None and c.conn.closing[0] == p.Close.PROTOCOL_ERROR


def test_packet_flags_and_lanes_encode_as_documented() -> None:
    rec = p.Packet(1, p.PACKET_UNRELIABLE | p.PACKET_EXCEPT, 2, 7, (3,), b"s")
    assert rec.encode().hex() == "310c00" + "0100" + "05" + "02" + "0700" + "01" + "03000000" + "73"
    with pytest.raises(p.ProtocolError):
        p.Packet(1, p.PACKET_RELIABLE, 0, 1, (), b"").encode()
    assert (
        p.PacketFrom(1, 9, p.PACKET_MORE, 0, b"ab").encode().hex()
        == "b10a00" + "0100" + "09000000" + "08" + "00" + "6162"
    )


def test_client_skips_server_record_types_it_does_not_know() -> None:
    data = p.HEADER.pack(0xBF, 2) + b"zz" + p.Synced(4).encode()
    assert p.decode_server_message(data) == [p.Synced(4)]


def test_encoding_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(p.ProtocolError):
        p.Join(1, "x" * 256).encode()
    with pytest.raises(p.ProtocolError):
        p.Update(1, 1, 1, (float("nan"), 0.0, 0.0)).encode()
    with pytest.raises(p.ProtocolError):
        p.Hello(1, 1, b"short").encode()
    with pytest.raises(p.ProtocolError):
        p.Event(1, tuple(range(256))).encode()


def test_update_fast_path_agrees_with_the_generic_decoder() -> None:
    for rec in (p.Update(3, 9, 2, None, b"abc"), p.Update(1, 1, 1, (1.0, 2.0, 3.0), b"")):
        body = rec.encode()[3:]
        room, obj, epoch, pos, off = p.parse_update(body)
        assert (room, obj, epoch, pos, body[off:]) == (
            rec.room,
            rec.object,
            rec.epoch,
            rec.position,
            rec.state,
        )
        state = p.decode_server_message(p.state_record(body))[0]
        assert state == p.State(rec.room, rec.object, rec.epoch, rec.position, rec.state)


def test_pack_messages_never_exceeds_the_limit_and_keeps_order() -> None:
    recs = [p.State(1, i, 1, None, bytes(1000 + i)).encode() for i in range(200)]
    messages = p.pack_messages(recs)
    assert len(messages) > 1
    assert all(len(m) <= p.MAX_MESSAGE for m in messages)
    decoded = [r for m in messages for r in p.decode_server_message(m)]
    states = [r for r in decoded if isinstance(r, p.State)]
    assert states == decoded and [r.object for r in states] == list(range(200))
    assert p.pack_messages([]) == []
    with pytest.raises(ValueError):
        p.pack_messages([b"x" * 11], limit=10)


def _doc_examples() -> list[tuple[str, bytes]]:
    text = (Path(__file__).parents[2] / "relay" / "PROTOCOL.md").read_text()
    section = text.split("## 13. Examples", 1)[1].split("## 14.", 1)[0]
    found = re.findall(r"\n([^\n]+):\n\n```\n([0-9a-f ]+)\n```", section)
    return [(title, bytes.fromhex(hexes)) for title, hexes in found]


def test_the_examples_in_protocol_md_decode_as_described() -> None:
    examples = _doc_examples()
    decoded = [
        (p.decode_client_message(data, version=2) if data[0] < 0x80 else p.decode_server_message(data))
        for _title, data in examples
    ]
    assert all(len(recs) == 1 for recs in decoded)
    assert [recs[0] for recs in decoded] == [
        p.Hello(1, 1),
        p.Join(7, "lobby"),
        p.Result(7, p.Status.OK, 1),
        p.Spawn(8, 1, p.Rule.DENY, p.Lifetime.WITH_MASTER, (1.0, 2.0, 3.0), b"hi"),
        p.Update(1, 3, 1, None, b"hey"),
        p.State(1, 3, 1, None, b"hey"),
        p.Owner(1, 3, 5, 2),
        p.Event(1, (), b"bang"),
        p.Hello(2, 2),
        p.Game(9, 1, p.GameRole.HOST),
        p.GamePeer(1, 5, p.GameRole.HOST),
        p.Packet(1, p.PACKET_RELIABLE, 0, 0, (6, 7), b"rpc"),
        p.PacketFrom(1, 5, p.PACKET_RELIABLE, 0, b"rpc"),
        p.Packet(1, p.PACKET_UNRELIABLE | p.PACKET_EXCEPT, 2, 7, (3,), b"s"),
    ]
    for (title, data), recs in zip(examples, decoded, strict=True):
        named = title.split(" ")[0].strip("`").replace("_", "")  # the doc's name for the record
        assert named in (type(recs[0]).__name__.upper(), "The", "Version"), title
        assert recs[0].encode() == data


def test_the_packet_examples_go_through_the_relay_as_described() -> None:
    """The relay turns the documented PACKET into the documented PACKET_FROM."""
    examples = dict(_doc_examples())
    packet = next(d for t, d in examples.items() if t.startswith("`PACKET` in room 1: reliable"))
    delivered = next(d for t, d in examples.items() if t.startswith("`PACKET_FROM`"))
    body = packet[3:]
    room, flags, channel, _lane, targets, off = p.parse_packet(body)
    assert targets == (6, 7)
    assert p.packet_from_record(room, 5, flags & ~p.PACKET_EXCEPT, channel, body[off:]) == delivered


def test_welcome_v1_layout_matches_the_offsets_in_protocol_md() -> None:
    w = p.WelcomeV1(
        1, 5, 1, bytes(range(16)), 123456789, 30, 15, 60, 30, 2000, 500, 65535, 16384, 8192, 300, 600
    )
    body = w.encode()[3:]
    assert len(body) == 59
    assert struct.unpack_from("<HIB", body, 0) == (1, 5, 1) and body[7:23] == bytes(range(16))
    assert struct.unpack_from("<Q", body, 23) == (123456789,)
    assert struct.unpack_from("<6H", body, 31) == (30, 15, 60, 30, 2000, 500)
    assert struct.unpack_from("<3I2H", body, 43) == (65535, 16384, 8192, 300, 600)
