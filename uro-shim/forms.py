"""Request fields the way Plug reads them: bracket keys, strings everywhere (COMPATIBILITY.md §Client habits).

The client sends ``user[password]=…`` and ``shard[port]=7777``: every value is a string and
keys nest with brackets. ``nest`` builds the nested dict; ``Fields`` reads one entity from it
with typed getters that accept both the client's strings and JSON's native types. Pure: no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from uro_shim.errors import ApiError

from common.bodies import InputError, decode_text, field_label

MAX_FIELDS = 256
MAX_DEPTH = 6
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ApiError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(400, message, errors={field: [message]} if field else None)

    @classmethod
    def of(cls, error: InputError) -> FormError:
        return cls(error.message, error.field)


def text_field(raw: bytes, what: str, field: str | None = None) -> str:
    """Bytes a client sent as text (``common.bodies.decode_text``), or a ``FormError``."""
    try:
        return decode_text(raw, what, field)
    except InputError as error:
        raise FormError.of(error) from None


def parse_urlencoded(body: bytes | str, source: str = "form") -> list[tuple[str, str]]:
    """``a=1&b=%20x`` into pairs of checked text. A key without ``=`` has the value ``""``."""
    raw = body.encode("latin-1") if isinstance(body, str) else body
    pairs: list[tuple[str, str]] = []
    for chunk in raw.split(b"&"):
        if not chunk:
            continue
        if len(pairs) >= MAX_FIELDS:
            raise FormError(f"Too many fields (at most {MAX_FIELDS}).")
        key, _, value = chunk.partition(b"=")
        k = text_field(unquote_to_bytes(key.replace(b"+", b" ")), f"A field name in the {source}")
        label = field_label((k,))
        v = text_field(unquote_to_bytes(value.replace(b"+", b" ")), label, label)
        pairs.append((k, v))
    return pairs


def nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Plug-style nesting: ``a[b][c]=v`` → ``{"a": {"b": {"c": v}}}``, ``a[]=v`` → ``{"a": [v]}``."""
    root: dict[str, Any] = {}
    for count, (key, value) in enumerate(pairs):
        if count >= MAX_FIELDS:
            raise FormError(f"Too many fields (at most {MAX_FIELDS}).")
        match = _KEY.match(key)
        if not match:
            raise FormError(f"The field name {key[:64]!r} is malformed.")
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        if len(path) > MAX_DEPTH:
            raise FormError(f"The field name {key[:64]!r} nests too deeply.")
        node: Any = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":  # a[] appends
                if not isinstance(node, list) or not last:
                    raise FormError(f"The field name {key[:64]!r} is malformed.")
                node.append(value)
                break
            if not isinstance(node, dict):
                raise FormError(f"The field {key[:64]!r} conflicts with another field.")
            if last:
                if part in node and isinstance(node[part], (dict, list)):
                    raise FormError(f"The field {key[:64]!r} conflicts with another field.")
                node[part] = value
            else:
                child_is_list = path[i + 1] == ""
                child = node.setdefault(part, [] if child_is_list else {})
                if isinstance(child, list) != child_is_list or not isinstance(child, (dict, list)):
                    raise FormError(f"The field {key[:64]!r} conflicts with another field.")
                node = child
    return root


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no", ""}


class Fields:
    """One entity's fields: ``body[entity]`` over the body's top level (HEAD accepts both)."""

    def __init__(self, body: Mapping[str, Any], entity: str | None = None) -> None:
        merged = {k: v for k, v in body.items() if not isinstance(v, Mapping)}
        if entity is not None:
            nested = body.get(entity)
            if nested is not None and not isinstance(nested, Mapping):
                raise FormError(f"{entity!r} must be a group of fields.", entity)
            merged.update(nested or {})
        self.entity = entity
        self._grouped = entity is not None and entity in body
        self._values = merged

    def label(self, name: str) -> str:
        """The field's name as the caller wrote it: ``shard[port]`` for grouped fields."""
        return f"{self.entity}[{name}]" if self._grouped else name

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        default: str | None = None,
        max_len: int = 256,
        min_len: int = 0,
    ) -> str | None:
        value = self._values.get(name)
        if value is None or (value == "" and required):
            if required:
                raise FormError(f"{self.label(name)} is required.", self.label(name))
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FormError(f"{self.label(name)} must be text.", self.label(name))
        text = str(value)  # checked as text where the body was parsed (common.bodies)
        if len(text) > max_len:
            raise FormError(
                f"{self.label(name)} is too long (at most {max_len} characters).", self.label(name)
            )
        if len(text) < min_len:
            raise FormError(
                f"{self.label(name)} is too short (at least {min_len} characters).", self.label(name)
            )
        return text

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        default: int | None = None,
        low: int = 0,
        high: int = 2**31 - 1,
    ) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            if required:
                raise FormError(f"{self.label(name)} is required.", self.label(name))
            return default
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"[+-]?\d{1,12}", text):
                number = int(text)
            elif re.fullmatch(r"[+-]?\d{1,12}\.0*", text):  # Godot writes floats as "7777.0"
                number = int(text.split(".")[0])
        if number is None:
            raise FormError(f"{self.label(name)} must be a whole number.", self.label(name))
        if not low <= number <= high:
            raise FormError(f"{self.label(name)} must be between {low} and {high}.", self.label(name))
        return number

    def boolean(self, name: str, *, default: bool | None = None) -> bool | None:
        value = self._values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise FormError(f"{self.label(name)} must be true or false.", self.label(name))


def parse_uuid(raw: str, what: str = "That item") -> str:
    """A canonical UUID string, or 404: an id that cannot exist names nothing."""
    try:
        return str(uuid.UUID(raw))
    except (ValueError, AttributeError, TypeError):
        raise ApiError(404, f"{what} was not found.") from None
