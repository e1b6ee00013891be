"""The PCK v3 writer follows the format the Godot 4.6 engine reads (the engine itself runs the packs
in test_engine.py; these check the layout byte by byte)."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.godot_pck import PckError, read_directory, read_pck, write_pck


def test_header_fields_and_the_first_file() -> None:
    pack = write_pck({"res://a.txt": b"abc"})
    assert pack[:4] == b"GDPC"
    version, major, minor, patch, flags = struct.unpack_from("<5I", pack, 4)
    assert (version, major, minor, patch) == (3, 4, 6, 0)
    assert flags == 2  # file offsets are relative to file_base
    file_base, dir_offset = struct.unpack_from("<2Q", pack, 24)
    assert pack[40:104] == bytes(64)  # 16 reserved u32
    assert file_base == 112 and pack[112:115] == b"abc"
    assert dir_offset % 16 == 0 and dir_offset >= 115


def test_directory_entry_layout() -> None:
    pack = write_pck({"a.txt": b"abc"})
    (dir_offset,) = struct.unpack_from("<Q", pack, 32)
    count, length = struct.unpack_from("<2I", pack, dir_offset)
    assert (count, length) == (1, 8)  # "a.txt" padded to a multiple of 4
    assert pack[dir_offset + 8 : dir_offset + 16] == b"a.txt\0\0\0"
    offset, size, md5, file_flags = struct.unpack_from("<QQ16sI", pack, dir_offset + 16)
    assert (offset, size, md5, file_flags) == (0, 3, hashlib.md5(b"abc").digest(), 0)
    assert len(pack) == dir_offset + 16 + 36


def test_a_path_already_a_multiple_of_four_gets_no_padding() -> None:
    _, [entry], _ = read_directory(write_pck({"abcd": b""}))
    pack = write_pck({"abcd": b""})
    (dir_offset,) = struct.unpack_from("<Q", pack, 32)
    assert struct.unpack_from("<I", pack, dir_offset + 4) == (4,)
    assert entry.path == "abcd" and entry.size == 0


def test_every_file_starts_on_a_16_byte_boundary() -> None:
    files = {f"dir/f{n}.bin": bytes([n]) * (n * 7 + 1) for n in range(10)}
    _, entries, file_base = read_directory(write_pck(files))
    assert file_base % 16 == 0
    assert all(entry.offset % 16 == 0 for entry in entries)
    assert [entry.path for entry in entries] == sorted(files)


def test_the_engine_version_can_be_lowered() -> None:
    version, _, _ = read_directory(write_pck({"a": b"x"}, engine_version=(4, 4, 1)))
    assert version == (4, 4, 1)


@pytest.mark.parametrize("path", ["", "res://", "../x.gd", "a/./b.gd", "a//b.gd"])
def test_unusable_paths_are_refused(path: str) -> None:
    with pytest.raises(PckError):
        write_pck({path: b""})


def test_two_spellings_of_one_path_are_refused() -> None:
    with pytest.raises(PckError, match=r"res://a\.gd"):
        write_pck({"a.gd": b"1", "res://a.gd": b"2"})


def test_damage_is_detected() -> None:
    pack = bytearray(write_pck({"a.txt": b"hello"}))
    pack[112] ^= 1
    with pytest.raises(PckError, match="MD5"):
        read_pck(bytes(pack))
    with pytest.raises(PckError, match="magic"):
        read_pck(b"GDPX" + bytes(pack[4:]))
    with pytest.raises(PckError, match="format 2"):
        read_pck(bytes(pack[:4]) + struct.pack("<I", 2) + bytes(pack[8:]))
    with pytest.raises(PckError):
        read_pck(bytes(pack[:150]))


paths = st.lists(st.text("abcxyz_é0", min_size=1, max_size=12), min_size=1, max_size=3).map("/".join)


@given(st.dictionaries(paths, st.binary(max_size=300), max_size=8))
def test_what_is_written_reads_back(files: dict[str, bytes]) -> None:
    assert read_pck(write_pck(files)) == files
