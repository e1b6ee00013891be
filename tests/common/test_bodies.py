"""Text and JSON checked once where bodies are parsed (common/bodies.py), driven directly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.bodies import (
    MAX_JSON_DEPTH,
    MAX_JSON_VALUES,
    MAX_TEXT,
    InputError,
    check_text,
    decode_text,
    field_label,
    parse_json,
)


def test_storable_text_passes_as_it_is() -> None:
    for text in ["", "Zoë", "😀 party", "a" * MAX_TEXT, "tab\tand\nnewline", "\u200b\ufeff"]:
        assert check_text(text, "x") is text
        assert decode_text(text.encode(), "x") == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("\ud800", "lone surrogate"),
        ("ok\udfffok", "lone surrogate"),
        ("\ude00\ud83d", "lone surrogate"),  # a pair in the wrong order is two lone halves
        ("a\x00b", "NUL"),
        ("a" * (MAX_TEXT + 1), "too long"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as caught:
        check_text(text, "user[name]", "user[name]")
    assert caught.value.field == "user[name]" and caught.value.message.startswith("user[name] ")


@pytest.mark.parametrize(
    "raw",
    [b"\xed\xa0\x80", b"\x80", b"\xc0\xaf", b"\xff\xfe", b"abc\xf4\x90\x80\x80", b"\xe2\x82"],
)
def test_bytes_that_are_not_utf8_text_are_refused(raw: bytes) -> None:
    with pytest.raises(InputError, match="not valid UTF-8"):
        decode_text(raw, "code", "code")
    with pytest.raises(InputError, match="not valid UTF-8"):
        parse_json(b'{"code": "' + raw + b'"}')


def test_json_strings_are_checked_wherever_they_are() -> None:
    cases = {
        b'{"user": {"email": "a\\ud800"}}': ("user[email]", "lone surrogate"),
        b'{"user": {"names": ["ok", "\\u0000"]}}': ("user[names][]", "NUL"),
        b'[{"x": "\\udc00"}]': ("[][x]", "lone surrogate"),
        b'"\\ud800"': (None, "lone surrogate"),
    }
    for raw, (field, words) in cases.items():
        with pytest.raises(InputError, match=words) as caught:
            parse_json(raw)
        assert caught.value.field == field, raw
    with pytest.raises(InputError, match="A field name in user") as caught:
        parse_json(b'{"user": {"\\ud800": 1}}')
    assert caught.value.field is None


def test_valid_json_comes_back_as_python() -> None:
    body = {"user": {"display_name": "Zoë 😀", "n": [1, 2.5, True, None]}, "apiKey": ""}
    assert parse_json(json.dumps(body).encode()) == body
    assert parse_json(json.dumps(body, ensure_ascii=False).encode()) == body
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a UTF-8 byte order mark is ignored
    assert parse_json('{"a": "\\ud83d\\ude00"}') == {"a": "😀"}  # a proper pair is one character


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "malformed|nests too deeply"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nests too deeply"),
        (b"[" + b"0," * MAX_JSON_VALUES + b"0]", "too many values"),
        (b'{"port": NaN}', "no NaN"),
        (b'{"port": -Infinity}', "no -Infinity"),
        (b'{"port": 1e999}', "too large"),
        (b'{"port": ' + b"9" * 5000 + b"}", "malformed"),
        (b'{"a": 1', "malformed"),
        (b'{"a": "raw\x00nul"}', "malformed"),
        ('{"a": 1}'.encode("utf-16"), "not valid UTF-8"),
        (b"", "malformed"),
    ],
)
def test_json_that_is_not_for_us_is_an_input_error(raw: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_json(raw)


def test_the_limits_are_the_callers_to_choose() -> None:
    assert parse_json(b"[[1]]", max_depth=2) == [[1]]
    with pytest.raises(InputError, match="at most 1 levels"):
        parse_json(b"[[1]]", max_depth=1)
    with pytest.raises(InputError, match="at most 2"):
        parse_json(b'{"a": 1}', max_values=2)  # the object, its key and its value


def test_field_labels_are_bracket_keys_of_bounded_length() -> None:
    assert field_label(("user", "email")) == "user[email]"
    assert field_label(("a",)) == "a"
    assert len(field_label(("x" * 500,))) == 100


TEXT = st.text(st.characters(codec=None), max_size=20)  # surrogates and NUL included
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    return []


@given(JSON_VALUES)
def test_any_json_is_parsed_exactly_when_all_its_text_is_storable(value: object) -> None:
    raw = json.dumps(value).encode()  # ASCII, with \\u escapes for everything else
    storable = all(
        "\x00" not in s and not any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in _strings(value)
    )
    try:
        parsed = parse_json(raw)
    except InputError:
        assert not storable
    else:
        assert storable and parsed == value
