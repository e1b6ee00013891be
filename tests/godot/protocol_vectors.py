"""Golden vectors for the relay's wire format, shared by the Python codec and the Godot addon.

`tests/godot/vectors/protocol.json` is generated from `relay/protocol.py` by this module
(deterministic: a fixed seed) and committed. The Python tests check that the file is what the
codec produces today; the addon's codec, running in the real engine, must decode and encode
every vector to the same fields and bytes. Regenerate after a deliberate protocol change with

    .venv/bin/python -m tests.godot.protocol_vectors
"""

from __future__ import annotations

import json
import random
import struct
from dataclasses import fields
from pathlib import Path
from typing import Any

from relay import protocol as p

VECTORS = Path(__file__).with_name("vectors") / "protocol.json"
SEED = 20240601
# JSON numbers reach GDScript as doubles: integers above 2**53 would not survive the trip.
JSON_INT_LIMIT = 2**53

# Valid examples quoted in PROTOCOL.md §13.
DOC_EXAMPLES = [
    p.Hello(1, 1),
    p.Join(7, "lobby"),
    p.Result(7, p.Status.OK, 1),
    p.Spawn(8, 1, p.Rule.DENY, p.Lifetime.WITH_MASTER, (1.0, 2.0, 3.0), b"hi"),
    p.Update(1, 3, 1, None, b"hey"),
    p.State(1, 3, 1, None, b"hey"),
    p.Owner(1, 3, 5, 2),
    p.Event(1, (), b"bang"),
]
ALL_RECORDS = {**p.CLIENT_RECORDS, **p.SERVER_RECORDS}
# The addon speaks every version: client records are judged as on a session of the newest.
NEWEST = max(cls.VERSION for cls in p.CLIENT_RECORDS.values())


def kinds(cls: type[p.Record]) -> list[tuple[str, p.Kind]]:
    return [(f.name, f.metadata["kind"]) for f in fields(cls)]


def to_json(kind: p.Kind, value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if kind is p.OPT_POS:
        return None if value is None else list(value)
    if kind is p.MEMBERS8:
        return list(value)
    if kind is p.LIMITS:
        return [[int(i), int(v)] for i, v in value]
    if isinstance(value, int):
        return int(value)
    return value


def record_json(record: p.Record) -> dict[str, Any]:
    return {
        "type": record.TYPE,
        "name": type(record).__name__,
        "fields": {name: to_json(kind, getattr(record, name)) for name, kind in kinds(type(record))},
    }


def random_int(rng: random.Random, kind: p._Int) -> int:
    if isinstance(kind, p._PacketFlags):
        return rng.choice(kind.choices)
    if isinstance(kind.valid, type):
        return int(rng.choice(list(kind.valid)))
    low, high = kind.valid if kind.valid is not None else (0, min(2**kind.bits - 1, JSON_INT_LIMIT))
    return rng.choice([low, high, rng.randint(low, high), rng.randint(low, min(high, 1000))])


def random_text(rng: random.Random) -> str:
    alphabet = "abcxyz019._- ÉéßΩж中文🎉\u00a0"
    text = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 20, 60])))
    return text.encode()[:255].decode("utf-8", errors="ignore")


def random_value(rng: random.Random, kind: p.Kind) -> Any:
    if isinstance(kind, p._Int):
        return random_int(rng, kind)
    if kind is p.STR8:
        return rng.choice(["", "lobby", "x" * 255, random_text(rng), random_text(rng)])
    if kind is p.TOKEN8:
        return rng.choice([b"", rng.randbytes(16)])
    if kind is p.TOKEN16:
        return rng.randbytes(16)
    if kind is p.OPT_POS:
        # Multiples of 1/64 well inside f32's exact range: the decimal text is exact both ways.
        return rng.choice([None, tuple(rng.randint(-(2**20), 2**20) / 64 for _ in range(3))])
    if kind is p.MEMBERS8:
        return tuple(rng.randint(0, 2**32 - 1) for _ in range(rng.choice([0, 1, 3, 8])))
    if kind is p.LIMITS:  # distinct ids, known and unknown, values from 0 to the u32 limit
        ids = rng.sample(range(256), rng.choice([0, 1, 5, 32]))
        return tuple((i, rng.choice([0, 2**32 - 1, rng.randint(0, 100_000)])) for i in ids)
    return rng.randbytes(rng.choice([0, 1, 29, 200, 1000]))


def random_record(rng: random.Random, cls: type[p.Record]) -> p.Record:
    """Random field values that pass the record's own rules (a reliable PACKET has lane 0)."""
    while True:
        record = cls(*(random_value(rng, kind) for _, kind in kinds(cls)))
        try:
            record.check()
        except p.ProtocolError:
            continue
        return record


def decodes(data: bytes, from_relay: bool) -> list[p.Record] | None:
    try:
        if from_relay:
            return p.decode_server_message(data)
        return p.decode_client_message(data, NEWEST)
    except p.ProtocolError:
        return None


def mutate(rng: random.Random, original: bytes) -> bytes:
    data = bytearray(original)
    choice = rng.randrange(5)
    if choice == 0 and len(data) > 3:  # flip one byte of a body
        data[rng.randrange(3, len(data))] ^= 1 << rng.randrange(8)
    elif choice == 1:  # drop bytes at the end, keeping the header's length
        del data[max(0, len(data) - rng.randint(1, 4)) :]
    elif choice == 2:  # trailing bytes inside the record
        data += rng.randbytes(rng.randint(1, 3))
        struct.pack_into("<H", data, 1, len(data) - 3)
    elif choice == 3:  # a shorter body, with the length saying so
        cut = rng.randint(1, max(1, len(data) - 3))
        del data[len(data) - cut :]
        if len(data) >= 3:
            struct.pack_into("<H", data, 1, len(data) - 3)
    else:  # a byte in the header
        data[rng.randrange(min(3, len(data)))] = rng.randrange(256)
    return bytes(data)


def message_json(data: bytes, from_relay: bool) -> dict[str, Any]:
    records = decodes(data, from_relay)
    entry: dict[str, Any] = {"hex": data.hex(), "from_relay": from_relay, "valid": records is not None}
    if records is not None:
        entry["records"] = [record_json(r) for r in records]
    return entry


def json_safe(value: Any) -> bool:
    """No integer that JSON would round on its way to GDScript (a mutated u64 can be one)."""
    if isinstance(value, dict):
        return all(json_safe(v) for v in value.values())
    if isinstance(value, list):
        return all(json_safe(v) for v in value)
    return not isinstance(value, int) or abs(value) < JSON_INT_LIMIT


def unencodable() -> list[dict[str, Any]]:
    """Field values the codec must refuse to encode (Python raises ProtocolError or struct.error)."""
    cases: list[tuple[p.Record, str]] = [
        (p.Join(1, "x" * 256), "a str8 of 256 bytes"),
        (p.Hello(1, 1, b"\x01" * 5), "a 5-byte resume token"),
        (p.Spawn(1, 1, 3, 0, None, b""), "rule 3"),  # type: ignore[arg-type]  # out of range on purpose
        (p.Spawn(1, 1, 0, 2, None, b""), "lifetime 2"),  # type: ignore[arg-type]  # out of range on purpose
        (p.Leave(1, 65536), "room 65536"),
        (p.Request(2**32, 1, 1), "req 2**32"),
        (p.Answer(1, 1, 1, 1, 2), "grant 2"),
        (p.Event(1, tuple(range(256)), b""), "256 targets"),
        (p.Result(1, 27, 0), "status 27"),  # type: ignore[arg-type]  # out of range on purpose
        (p.Game(1, 1, 3), "game role 3"),  # type: ignore[arg-type]  # out of range on purpose
        (p.Packet(1, 3, 0, 0, (), b""), "transfer mode 3"),
        (p.Packet(1, 0x10, 0, 0, (), b""), "an unknown packet flag"),
        (p.Packet(1, p.PACKET_RELIABLE, 0, 1, (), b""), "a lane on a reliable packet"),
        (p.Packet(1, 1, 256, 0, (), b""), "channel 256"),
        (p.PacketFrom(1, 2, p.PACKET_EXCEPT, 0, b""), "EXCEPT in PACKET_FROM"),
        (p.Welcome(2, 1, 0, bytes(16), 0, ((1, 30), (1, 31))), "a limit twice"),
        (p.Welcome(2, 1, 0, bytes(16), 0, ((1, 2**32),)), "a limit of 2**32"),
        (p.Welcome(2, 1, 0, bytes(16), 0, ((256, 1),)), "a limit id of 256"),
        (p.MemberPresence(1, 2, 2), "connected 2"),
    ]
    out = []
    for record, why in cases:
        try:
            record.encode()
        except (p.ProtocolError, struct.error):
            out.append({**record_json(record), "why": why})
        else:  # pragma: no cover - a case that no longer holds must be noticed
            raise AssertionError(f"{why} was encoded")
    return out


def generate() -> dict[str, Any]:
    rng = random.Random(SEED)
    records = [*DOC_EXAMPLES]
    for cls in ALL_RECORDS.values():
        records += [random_record(rng, cls) for _ in range(12)]
    record_entries = [{**record_json(r), "hex": r.encode().hex()} for r in records]

    messages = []
    server = [r for r in records if r.TYPE >= 0x80]
    client = [r for r in records if r.TYPE < 0x80]
    for _ in range(40):  # several records per message, plus types a client must skip
        chosen = rng.sample(server, rng.randint(2, 6))
        unknown = p.HEADER.pack(rng.choice([0xC0, 0xFE, 0x8F]), 3) + b"abc"
        parts = [r.encode() for r in chosen]
        parts.insert(rng.randrange(len(parts) + 1), unknown)
        messages.append(message_json(b"".join(parts), True))
    for _ in range(20):
        messages.append(message_json(b"".join(r.encode() for r in rng.sample(client, 3)), False))
    damaged = 0
    while damaged < 400:  # damaged records: the two codecs must agree on every verdict
        record = rng.choice(records)
        data = mutate(rng, record.encode())
        entry = message_json(data, record.TYPE >= 0x80)
        if json_safe(entry):
            messages.append(entry)
            damaged += 1
    handmade = [
        (b"", True),
        (b"\xa1\x0b", True),
        (bytes.fromhex("a10b00") + b"\x00" * 5, True),
        (p.HEADER.pack(0x7F, 0), False),  # unknown type: an error for the relay
        (
            p.WelcomeV1(
                1, 1, 0, b"\x00" * 16, 0, 30, 15, 60, 30, 2000, 500, 65535, 16384, 16384, 300, 600
            ).encode(),
            False,
        ),  # a relay-only type sent by a client
        (p.HEADER.pack(0x7F, 0), True),  # ...but only skipped by a client
        (bytes.fromhex("a50700") + bytes.fromhex("0100 03000000 03"), True),  # rule 3
        (bytes.fromhex("a10b00") + bytes.fromhex("0100 03000000 01000000 02"), True),  # flag bit 1
        (
            bytes.fromhex("a10e00")
            + bytes.fromhex("0100 03000000 01000000 01")
            + b"\x00\x00\xc0\x7f"
            + b"\x00" * 8,
            True,
        ),  # too short for its position
        (
            p.HEADER.pack(0xA1, 23) + bytes.fromhex("0100 03000000 01000000 01 0000c07f 00000000 00000000"),
            True,
        ),  # a NaN position
        (p.HEADER.pack(0x90, 11) + bytes.fromhex("0100 0100 01000000 02 c328"), True),  # bad UTF-8
        (p.HEADER.pack(0x90, 12) + bytes.fromhex("0100 0100 01000000 03 eda080"), True),  # a surrogate
        (p.HEADER.pack(0x90, 11) + bytes.fromhex("0100 0100 01000000 02 c0af"), True),  # overlong
        (p.HEADER.pack(0x90, 13) + bytes.fromhex("0100 0100 01000000 04 f0928080"), True),  # 4 bytes
        (p.HEADER.pack(0x01, 6) + bytes.fromhex("0100 0100 05 00"), False),  # token of 5 bytes
        (p.HEADER.pack(0xA1, 11) + b"\x00" * 11 + bytes.fromhex("a1"), True),  # truncated header
        (p.Event(1, (), b"x" * (p.MAX_MESSAGE - 3 - 3)).encode(), False),  # exactly the limit
        (p.Event(1, (), b"x" * (p.MAX_MESSAGE - 3 - 2)).encode(), False),  # one byte over
        (p.HEADER.pack(0x31, 7) + bytes.fromhex("0100 03 00 0000 00"), False),  # transfer mode 3
        (p.HEADER.pack(0x31, 7) + bytes.fromhex("0100 10 00 0000 00"), False),  # unknown flag
        (p.HEADER.pack(0x31, 7) + bytes.fromhex("0100 08 00 0100 00"), False),  # reliable, lane 1
        (p.HEADER.pack(0x31, 7) + bytes.fromhex("0100 09 00 0100 00"), False),  # unreliable, lane 1
        (p.HEADER.pack(0x31, 8) + bytes.fromhex("0100 04 00 0000 01 00"), False),  # short targets
        (p.HEADER.pack(0x13, 7) + bytes.fromhex("01000000 0100 03"), False),  # game role 3
        (p.HEADER.pack(0xB1, 8) + bytes.fromhex("0100 02000000 04 00"), True),  # EXCEPT from the relay
        (p.HEADER.pack(0xB1, 8) + bytes.fromhex("0100 02000000 0b 00"), True),  # mode 3 and MORE
        (p.HEADER.pack(0x95, 7) + bytes.fromhex("0100 02000000 03"), True),  # game role 3
        (p.HEADER.pack(0x87, 42) + bytes(31) + bytes.fromhex("02 01 1e000000 01 1f000000"), True),  # id twice
        (p.HEADER.pack(0x87, 36) + bytes(31) + bytes.fromhex("02 01 1e000000"), True),  # a pair short
        (p.HEADER.pack(0x96, 7) + bytes.fromhex("0100 02000000 02"), True),  # connected 2
        (p.Packet(1, 1, 0, 7, (), b"x" * (p.MAX_MESSAGE - 3 - 7)).encode(), False),  # the limit
    ]
    messages += [message_json(data, from_relay) for data, from_relay in handmade]
    return {
        "about": "Generated by tests/godot/protocol_vectors.py from relay/protocol.py; do not edit.",
        "records": record_entries,
        "messages": messages,
        "unencodable": unencodable(),
    }


def render() -> str:
    return json.dumps(generate(), ensure_ascii=False, indent=0, separators=(",", ":")) + "\n"


if __name__ == "__main__":
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(render())
    print(f"wrote {VECTORS}")
