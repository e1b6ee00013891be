"""The body parsers' fuzz campaign, bounded to a few seconds (the full one: bench/fuzz_bodies.py).

Inputs are generated (bodies the Godot client could send, with text from all of Unicode,
surrogates and NUL included) and mutated (bytes flipped, inserted, deleted, truncated), then
put through ``bodies_harness.exercise``, which checks the invariants.
"""

from __future__ import annotations

import json
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.uro_shim.bodies_harness import BOUNDARY, PARSERS, BrokenInvariant, exercise
from tests.uro_shim.godot import compose_multipart_body

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ANY_TEXT = st.text(st.characters(codec=None), max_size=12)  # surrogates and NUL included
NASTY_BYTES = st.sampled_from(
    [b"\x00", b"\xed\xa0\x80", b"\xff", b"\xc0\xaf", b"[", b"]", b"[]", b"%", b"%ZZ", b"&", b"=", b"\r\n"]
)
FIELD_BYTES = st.lists(st.binary(max_size=6) | NASTY_BYTES, max_size=4).map(b"".join)
SEGMENT = st.sampled_from(["user", "shard", "avatar", "port", "name", "", "x"]) | ANY_TEXT
KEY = st.builds(
    lambda head, rest: head + "".join(f"[{s}]" for s in rest), SEGMENT, st.lists(SEGMENT, max_size=3)
)


def selector(parser: str) -> bytes:
    return bytes([PARSERS.index(parser)])


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[bytes]) -> bytes:
    body = bytearray(draw(bodies))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, len(body)))
        if action == "insert":
            body[at:at] = draw(NASTY_BYTES | st.binary(min_size=1, max_size=4))
        elif body and action == "flip":
            body[min(at, len(body) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif action == "delete":
            del body[at : at + draw(st.integers(1, 8))]
        else:
            del body[at:]
    return bytes(body)


def _form(pairs: list[tuple[str, bytes]], encode_keys: bool) -> bytes:
    def key(k: str) -> bytes:
        raw = k.encode("utf-8", "surrogatepass")
        return quote_from_bytes(raw).encode() if encode_keys else raw

    return b"&".join(key(k) + b"=" + quote_from_bytes(v).encode() for k, v in pairs)


FORMS = st.builds(_form, st.lists(st.tuples(KEY, FIELD_BYTES), max_size=8), st.booleans())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT | KEY, children, max_size=4),
    max_leaves=16,
)
JSONS = JSON_VALUES.map(lambda v: json.dumps(v).encode())
PARTS = st.dictionaries(
    KEY.map(lambda k: k.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
    FIELD_BYTES.map(lambda b: b.decode("latin-1"))
    | st.fixed_dictionaries(
        {
            "filename": st.sampled_from(["a.scn", "p.png", "", "x\x00y"]),
            "content_type": st.sampled_from(["application/octet-stream", "image/png", "x"]),
            "data": st.binary(max_size=64),
        }
    ),
    max_size=5,
)
MULTIPARTS = st.builds(
    lambda step, parts: bytes([step]) + compose_multipart_body(parts, BOUNDARY.decode()),
    st.integers(0, 255),
    PARTS,
)


def check(data: bytes) -> None:
    try:
        exercise(data)
    except BrokenInvariant:
        raise
    except Exception as exc:  # anything but the parser's own refusal is a finding
        raise BrokenInvariant(f"{type(exc).__name__}: {exc}") from exc


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(mutated(FORMS))
def test_forms_with_bracket_keys(body: bytes) -> None:
    check(selector("form") + body)


@FUZZ
@given(mutated(JSONS))
def test_json(body: bytes) -> None:
    check(selector("json") + body)


@FUZZ
@given(mutated(MULTIPARTS))
def test_multipart(body: bytes) -> None:
    check(selector("multipart") + body)
