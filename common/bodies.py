"""Text and JSON from clients, checked once, where a request body is parsed. Pure: no I/O.

Every string a client sends (a form or JSON value, a field name, a multipart field or file name)
passes ``check_text``: Unicode without lone surrogates (UTF-8, bcrypt and PostgreSQL all refuse
them, and JSON's ``"\\ud800"`` escape makes one), no NUL (a PostgreSQL text column cannot hold
one), at most ``MAX_TEXT`` characters. ``parse_json`` reads a JSON body strictly (RFC 8259:
UTF-8, no ``NaN`` or ``Infinity``) with bounded nesting and size, and checks every key and
string in it. Any problem is an ``InputError`` whose message can be shown to the client as is.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_TEXT = 65_536  # characters in any one text value or field name
MAX_JSON_DEPTH = 32  # arrays and objects nested inside each other
MAX_JSON_VALUES = 10_000  # values in one JSON body, object keys included
MAX_LABEL = 100  # characters of a field's name quoted in a message

_SURROGATE = re.compile("[\ud800-\udfff]")


class InputError(ValueError):
    """Client input this service cannot take; ``field`` names the field when one is to blame."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_text(text: str, what: str, field: str | None = None) -> str:
    """``text`` itself, if it is text this service can store; ``what`` names it in the message."""
    if len(text) > MAX_TEXT:
        raise InputError(f"{what} is too long (at most {MAX_TEXT} characters).", field)
    if _SURROGATE.search(text):
        raise InputError(f"{what} is not valid Unicode text (it contains a lone surrogate).", field)
    if "\x00" in text:
        raise InputError(f"{what} must not contain NUL characters.", field)
    return text


def decode_text(raw: bytes, what: str, field: str | None = None) -> str:
    """Strict UTF-8 (which refuses encoded surrogates and overlong forms), then ``check_text``."""
    if len(raw) > 4 * MAX_TEXT:  # no need to decode what cannot fit
        raise InputError(f"{what} is too long (at most {MAX_TEXT} characters).", field)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is not valid UTF-8 text.", field) from None
    return check_text(text, what, field)


def field_label(path: tuple[str, ...]) -> str:
    """``("user", "email")`` → ``user[email]``, the bracket-key name clients use for the field."""
    head, *rest = path
    label = (head or "[]") + "".join(f"[{part}]" for part in rest)  # "" is an item of a list
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _no_constants(name: str) -> Any:
    raise InputError(f"JSON has no {name}: send numbers as digits.")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InputError("A number in the JSON body is too large.")
    return number


def parse_json(
    raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, max_values: int = MAX_JSON_VALUES
) -> Any:
    """The JSON value in ``raw``, every string in it checked; ``InputError`` for anything else."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")  # RFC 8259 §8.1: UTF-8, and a byte order mark may be ignored
        except UnicodeDecodeError:
            raise InputError("The JSON body is not valid UTF-8 text.") from None
    try:
        value = json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
    except InputError:
        raise
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser can go
        raise InputError("The JSON body is malformed.") from None
    _check_tree(value, max_depth, max_values)
    return value


def _check_tree(value: Any, max_depth: int, max_values: int) -> None:
    """Depth, size and every string of a parsed JSON value, without recursion."""
    count = 0
    stack: list[tuple[Any, tuple[str, ...], int]] = [(value, (), 0)]
    while stack:
        node, path, depth = stack.pop()
        count += 1
        if count > max_values:
            raise InputError(f"The JSON body has too many values (at most {max_values}).")
        if isinstance(node, str):
            label = field_label(path) if path else "The JSON body"
            check_text(node, label, label if path else None)
        elif isinstance(node, (dict, list)):
            if depth >= max_depth:
                raise InputError(f"The JSON body nests too deeply (at most {max_depth} levels).")
            if isinstance(node, dict):
                for key, child in node.items():
                    where = f"A field name in {field_label(path)}" if path else "A field name"
                    check_text(key, where)
                    count += 1
                    stack.append((child, (*path, key), depth + 1))
            else:
                stack.extend((child, (*path, ""), depth + 1) for child in node)
