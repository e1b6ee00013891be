"""One input through the API's body parsers, with their invariants checked (pure: no I/O).

Shared by the bounded fuzz tests (tests/uro_shim/test_bodies_fuzz.py) and the fuzz campaign
(bench/fuzz_bodies.py). The first byte of an input chooses the parser, the rest is the body:

- a form (``application/x-www-form-urlencoded``) or query string: ``parse_urlencoded``, then
  Plug-style ``nest``, then the typed getters of ``Fields`` on every field;
- a JSON body: ``common.bodies.parse_json``, then ``Fields`` on every object in it; also with
  limits on depth and size small enough for short inputs to reach them ("tight json");
- a multipart body (boundary ``BOUNDARY``), fed to ``MultipartReader`` in chunks of 1 to 256
  bytes, the size chosen by the body's first byte.

Invariants: a parser either answers or raises its own error (``ApiError`` with a 4xx status and
a message for uro-shim's parsers, ``InputError`` with a message for ``parse_json``); any other
exception escapes, and the fuzzer reports it. Every string a parser returns, keys included, is
storable text: encodable as UTF-8, without NUL, at most ``MAX_TEXT`` characters. The check is
written here independently of ``common.bodies.check_text``, which it is checking.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from common.bodies import MAX_TEXT, InputError, parse_json
from uro_shim.errors import ApiError
from uro_shim.forms import Fields, nest, parse_urlencoded
from uro_shim.multipart import FieldPart, FileStart, MultipartReader

BOUNDARY = b"UroFileUploadFUZZ"
PARSERS = ("form", "json", "multipart", "tight json")
# "tight json" is parse_json with limits small enough for short inputs to reach them.
TIGHT = {"max_depth": 4, "max_values": 40}


class BrokenInvariant(AssertionError):
    """A parser answered something it must not: the fuzzer reports the input."""


def assert_storable(text: object, where: str) -> None:
    if not isinstance(text, str):
        raise BrokenInvariant(f"{where}: {type(text).__name__} where text belongs")
    try:
        text.encode("utf-8", "strict")
    except UnicodeEncodeError as exc:
        raise BrokenInvariant(f"{where}: not encodable as UTF-8: {text[:40]!r}") from exc
    if "\x00" in text or len(text) > MAX_TEXT:
        raise BrokenInvariant(f"{where}: NUL or too long: {text[:40]!r}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield key
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def _own_error(error: Exception) -> None:
    """The parser's own refusal: a client error with a message for people."""
    if isinstance(error, ApiError):
        if not (400 <= error.status < 500 and error.message):
            raise BrokenInvariant(f"an ApiError that is not a client error: {error.status} {error.message!r}")
    elif not (isinstance(error, InputError) and error.message):
        raise BrokenInvariant(f"an InputError without a message: {error!r}")


def _use_fields(tree: Any) -> None:
    """Read every field of every object the way handlers do; only refusals may come of it."""
    if not isinstance(tree, Mapping):
        return
    entities = [None, *(k for k, v in tree.items() if isinstance(v, Mapping))]
    for entity in entities:
        try:
            fields = Fields(tree, entity)
        except ApiError as error:
            _own_error(error)
            continue
        names = set(tree) | set(tree.get(entity) or {} if entity else ())
        for name in names:
            for read in (fields.text, fields.integer, fields.boolean):
                try:
                    value = read(name)
                except ApiError as error:
                    _own_error(error)
                else:
                    if read == fields.text and value is not None:
                        assert_storable(value, f"Fields.text({name!r})")


def _multipart(data: bytes) -> int:
    """The first byte chooses the size of the chunks the body arrives in."""
    step, body = 1 + (data[0] if data else 0), data[1:]
    reader = MultipartReader(BOUNDARY)
    events = []
    for start in range(0, len(body), step):
        events += reader.feed(body[start : start + step])
    events += reader.close()
    for event in events:
        if isinstance(event, FieldPart):
            assert_storable(event.name, "a multipart field name")
            assert_storable(event.value, f"the multipart field {event.name[:40]!r}")
        elif isinstance(event, FileStart):
            for text in (event.name, event.filename, event.content_type):
                assert_storable(text, "a multipart file part")
    return len(events)


def exercise(data: bytes) -> str:
    """Runs one input; returns the parser's name and whether it answered or refused."""
    if not data:
        return "empty"
    parser, body = PARSERS[data[0] % len(PARSERS)], data[1:]
    try:
        if parser == "form":
            pairs = parse_urlencoded(body)
            for key, value in pairs:
                assert_storable(key, "a form field name")
                assert_storable(value, f"the form field {key[:40]!r}")
            tree = nest(pairs)
            for text in _strings(tree):
                assert_storable(text, "a nested form field")
            _use_fields(tree)
        elif parser in ("json", "tight json"):
            tree = parse_json(body, **TIGHT) if parser == "tight json" else parse_json(body)
            for text in _strings(tree):
                assert_storable(text, "a JSON string")
            _use_fields(tree)
        else:
            _multipart(body)
    except (ApiError, InputError) as error:
        _own_error(error)
        return f"{parser}: refused"
    return f"{parser}: parsed"
