"""Godot 4 resource packs (`.pck`, format version 3, Godot 4.4+): a pure writer and reader.

Layout (as the engine reads it: `tests/godot/README.md` §Formats, with its sources), all integers
little-endian:

    "GDPC", u32 pack version (3), u32 major, u32 minor, u32 patch, u32 pack flags,
    u64 file_base, u64 dir_offset, 16 x u32 reserved            -> 104 bytes
    file data from file_base on, each file 16-byte aligned, offsets relative to file_base
    directory at dir_offset (from the start of the pack): u32 count, then per file
    u32 path length (padded to 4), path without "res://" (UTF-8, NUL-padded),
    u64 offset, u64 size, 16-byte MD5 of the content, u32 file flags

The engine refuses a pack that claims a newer engine version than its own.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass

MAGIC = b"GDPC"
FORMAT_VERSION = 3
# Offsets in the pack are relative to file_base (always set in version 3).
PACK_REL_FILEBASE = 2
HEADER = struct.Struct("<4s5I2Q64x")
ENTRY_TAIL = struct.Struct("<QQ16sI")
ALIGNMENT = 16
# The web template this project runs is 4.6.0; a pack may claim an older engine, never a newer one.
DEFAULT_ENGINE_VERSION = (4, 6, 0)


class PckError(ValueError):
    """A pack that cannot be written or read."""


@dataclass(frozen=True)
class PckEntry:
    path: str
    offset: int
    size: int
    md5: bytes
    flags: int


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def normalize_path(path: str) -> str:
    """The pack's own spelling of a resource path: relative, forward slashes, no `res://`."""
    rel = path.removeprefix("res://").replace("\\", "/").lstrip("/")
    parts = rel.split("/")
    if not rel or any(part in ("", ".", "..") for part in parts):
        raise PckError(f"not a usable resource path: {path!r}")
    return rel


def write_pck(
    files: Mapping[str, bytes], engine_version: tuple[int, int, int] = DEFAULT_ENGINE_VERSION
) -> bytes:
    """A version-3 pack holding `files` (resource path -> content), in sorted path order."""
    contents: dict[str, bytes] = {}
    for path, data in files.items():
        rel = normalize_path(path)
        if rel in contents:
            raise PckError(f"two files map to res://{rel}")
        contents[rel] = bytes(data)

    file_base = _align(HEADER.size, ALIGNMENT)
    blob = bytearray()
    directory = bytearray(struct.pack("<I", len(contents)))
    for rel in sorted(contents):
        data = contents[rel]
        offset = _align(len(blob), ALIGNMENT)
        blob += bytes(offset - len(blob)) + data
        name = rel.encode()
        padded = _align(len(name), 4)
        directory += struct.pack("<I", padded) + name + bytes(padded - len(name))
        directory += ENTRY_TAIL.pack(offset, len(data), hashlib.md5(data).digest(), 0)

    dir_offset = _align(file_base + len(blob), ALIGNMENT)
    header = HEADER.pack(MAGIC, FORMAT_VERSION, *engine_version, PACK_REL_FILEBASE, file_base, dir_offset)
    body = bytes(file_base - len(header)) + blob
    return header + body + bytes(dir_offset - len(header) - len(body)) + directory


def read_directory(pack: bytes) -> tuple[tuple[int, int, int], list[PckEntry], int]:
    """The engine version a pack claims, its directory, and its file_base."""
    if len(pack) < HEADER.size:
        raise PckError("too short to be a pack")
    magic, version, major, minor, patch, flags, file_base, dir_offset = HEADER.unpack_from(pack)
    if magic != MAGIC:
        raise PckError(f"bad magic {magic!r}")
    if version != FORMAT_VERSION:
        raise PckError(f"pack format {version}, only {FORMAT_VERSION} is read")
    if not flags & PACK_REL_FILEBASE:
        raise PckError("file offsets are not relative to file_base")
    try:
        (count,) = struct.unpack_from("<I", pack, dir_offset)
        pos = dir_offset + 4
        entries = []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", pack, pos)
            name = pack[pos + 4 : pos + 4 + length].rstrip(b"\0").decode()
            pos += 4 + length
            offset, size, md5, file_flags = ENTRY_TAIL.unpack_from(pack, pos)
            pos += ENTRY_TAIL.size
            entries.append(PckEntry(name, offset, size, md5, file_flags))
    except (struct.error, UnicodeDecodeError) as exc:
        raise PckError(f"damaged directory: {exc}") from None
    return (major, minor, patch), entries, file_base


def read_pck(pack: bytes) -> dict[str, bytes]:
    """Every file in a pack (path without `res://` -> content), each checked against its MD5."""
    _, entries, file_base = read_directory(pack)
    files = {}
    for entry in entries:
        start = file_base + entry.offset
        data = pack[start : start + entry.size]
        if len(data) != entry.size or hashlib.md5(data).digest() != entry.md5:
            raise PckError(f"{entry.path}: content does not match its size and MD5")
        files[entry.path] = data
    return files
