"""A streaming multipart/form-data reader that turns bytes into part events. Pure: no I/O.

The Godot client starts its body with a CRLF before the first boundary and closes with
``\\r\\n--boundary--\\r\\n`` (COMPATIBILITY.md §Client habits); python-multipart's parser
accepts that preamble.
Feed chunks with ``feed``; each call returns the events completed so far, so a caller can
stream file data to disk without ever holding a whole upload in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from uro_shim.errors import ApiError, bad_request
from uro_shim.forms import text_field

from common.bodies import field_label

MAX_PARTS = 64
MAX_HEADER_BYTES = 8 * 1024
MAX_FIELD_BYTES = 64 * 1024


@dataclass(frozen=True)
class FieldPart:
    name: str
    value: str


@dataclass(frozen=True)
class FileStart:
    name: str
    filename: str
    content_type: str


@dataclass(frozen=True)
class FileData:
    data: bytes


@dataclass(frozen=True)
class FileEnd:
    pass


Event = FieldPart | FileStart | FileData | FileEnd


def boundary_of(content_type: str) -> bytes:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if not boundary or len(boundary) > 200:
        raise bad_request("The multipart body names no usable boundary.")
    return boundary


class MultipartReader:
    def __init__(self, boundary: bytes) -> None:
        self._events: list[Event] = []
        self._parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._header_bytes = 0
        self._field: bytearray | None = None  # collecting a plain field's value
        self._field_name = ""
        self._in_file = False
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    def feed(self, chunk: bytes) -> list[Event]:
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise bad_request("The multipart body is malformed.") from None
        events, self._events = self._events, []
        return events

    def close(self) -> list[Event]:
        try:
            self._parser.finalize()
        except MultipartParseError:
            raise bad_request("The multipart body is malformed.") from None
        if not self._finished:
            raise bad_request("The multipart body ended before its closing boundary.")
        events, self._events = self._events, []
        return events

    # python-multipart callbacks
    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise ApiError(400, f"Too many parts in the upload (at most {MAX_PARTS}).")
        self._headers = {}
        self._header_bytes = 0

    def _grow_header(self, buf: bytearray, data: bytes, start: int, end: int) -> None:
        self._header_bytes += end - start
        if self._header_bytes > MAX_HEADER_BYTES:
            raise bad_request("A multipart part's headers are too long.")
        buf += data[start:end]

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._grow_header(self._header_field, data, start, end)

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._grow_header(self._header_value, data, start, end)

    def _on_header_end(self) -> None:
        name = text_field(bytes(self._header_field), "A multipart header name").strip().lower()
        self._headers[name] = bytes(self._header_value).strip()
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get("content-disposition", b""))
        if disposition != b"form-data" or b"name" not in options:
            raise bad_request("A multipart part has no form-data name.")
        name = text_field(options[b"name"], "A multipart field name")
        label = field_label((name,))
        if b"filename" in options:
            raw_type = self._headers.get("content-type", b"application/octet-stream")
            content_type = text_field(raw_type, f"The content type of {label}", label)
            filename = text_field(options[b"filename"], f"The file name of {label}", label)
            self._in_file = True
            self._events.append(FileStart(name, filename, content_type))
        else:
            self._field = bytearray()
            self._field_name = name

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._events.append(FileData(bytes(data[start:end])))
        elif self._field is not None:
            if len(self._field) + end - start > MAX_FIELD_BYTES:
                raise bad_request(f"The field {self._field_name[:64]!r} is too long.")
            self._field += data[start:end]

    def _on_part_end(self) -> None:
        if self._in_file:
            self._events.append(FileEnd())
            self._in_file = False
        elif self._field is not None:
            label = field_label((self._field_name,))
            self._events.append(FieldPart(self._field_name, text_field(bytes(self._field), label, label)))
            self._field = None

    def _on_end(self) -> None:
        self._finished = True
