"""Golden vectors: the Python codec and the addon's GDScript codec (in the real engine) agree.

The vectors (tests/godot/vectors/protocol.json) are generated from relay/protocol.py by
tests/godot/protocol_vectors.py: every record type with random field values, multi-record
messages with types a client must skip, damaged messages both codecs must judge alike, and
values neither may encode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from relay import protocol as p
from tests.godot import protocol_vectors
from tests.godot.addon import MOUNTS, PROJECT, lines_starting, passed, run_scenario, scenario_args
from tests.support.godot_engine import run_godot_project

VECTORS = json.loads(protocol_vectors.VECTORS.read_text())


def from_json(kind: p.Kind, value: Any) -> Any:
    if kind in (p.TOKEN8, p.TOKEN16, p.REST):
        return bytes.fromhex(value)
    if kind is p.OPT_POS:
        return None if value is None else tuple(value)
    if kind is p.MEMBERS8:
        return tuple(value)
    if kind is p.LIMITS:
        return tuple((i, v) for i, v in value)
    return value


def record_from_json(entry: dict[str, Any]) -> p.Record:
    cls = {**p.CLIENT_RECORDS, **p.SERVER_RECORDS}[entry["type"]]
    return cls(*(from_json(kind, entry["fields"][name]) for name, kind in protocol_vectors.kinds(cls)))


def decode(data: bytes, from_relay: bool) -> list[p.Record]:
    if from_relay:
        return p.decode_server_message(data)
    return p.decode_client_message(data, protocol_vectors.NEWEST)


def test_the_vector_file_is_what_the_codec_makes_today() -> None:
    assert protocol_vectors.VECTORS.read_text() == protocol_vectors.render(), (
        "relay/protocol.py changed: regenerate with `python -m tests.godot.protocol_vectors`"
    )


def test_every_record_type_is_covered() -> None:
    types = {entry["type"] for entry in VECTORS["records"]}
    assert types == set(p.CLIENT_RECORDS) | set(p.SERVER_RECORDS)
    assert sum(not m["valid"] for m in VECTORS["messages"]) >= 100
    assert sum(m["valid"] for m in VECTORS["messages"]) >= 100


def test_the_addon_names_welcomes_limits_as_the_relay_does() -> None:
    """``SoireeProtocol.LIMIT_NAMES`` and the tier ids are the relay's ``Limit`` (PROTOCOL.md §9.3)."""
    source = (MOUNTS["addons/soiree"] / "protocol.gd").read_text()
    table = source.split("const LIMIT_NAMES := {", 1)[1].split("}", 1)[0]
    names = {int(i): name for i, name in re.findall(r'(\d+): "(\w+)"', table)}
    assert names == {int(x): x.name.lower() for x in p.Limit if x < p.Limit.TIER_CELLS}
    constants = dict(re.findall(r"^const (LIMIT_TIER_\w+|MAX_TIERS) := (\w+)$", source, re.MULTILINE))
    assert {k: int(v, 0) for k, v in constants.items()} == {
        "LIMIT_TIER_CELLS": p.Limit.TIER_CELLS,
        "LIMIT_TIER_TICKS": p.Limit.TIER_TICKS,
        "MAX_TIERS": p.MAX_TIERS,
    }


def test_python_codec_decodes_and_encodes_each_record() -> None:
    for entry in VECTORS["records"]:
        data = bytes.fromhex(entry["hex"])
        record = record_from_json(entry)
        assert record.encode() == data, entry
        assert decode(data, entry["type"] >= 0x80) == [record], entry


def test_python_codec_gives_each_message_its_verdict() -> None:
    for entry in VECTORS["messages"]:
        data = bytes.fromhex(entry["hex"])
        if entry["valid"]:
            assert decode(data, entry["from_relay"]) == [record_from_json(r) for r in entry["records"]]
        else:
            with pytest.raises(p.ProtocolError):
                decode(data, entry["from_relay"])


@pytest.mark.usefixtures("godot_engine")
def test_the_addon_codec_agrees_in_the_engine() -> None:
    result = run_scenario("vectors")
    assert passed(result), result.describe()
    counts = f"vectors: {len(VECTORS['records'])} records, {len(VECTORS['messages'])} messages"
    assert any(line.startswith(counts) for line in result.stdout), result.describe()


@pytest.mark.usefixtures("godot_engine")
def test_a_vector_the_addon_disagrees_with_fails_the_run(tmp_path: Path) -> None:
    damaged = json.loads(json.dumps(VECTORS))
    owner = next(e for e in damaged["records"] if e["type"] == p.Owner.TYPE)
    owner["fields"]["epoch"] += 1  # the bytes now say another epoch than the fields
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / "protocol.json").write_text(json.dumps(damaged))
    result = run_godot_project(PROJECT, args=scenario_args("vectors"), extra={**MOUNTS, "vectors": folder})
    assert result.exit_code == 1, result.describe()
    failures = lines_starting(result, "FAIL")
    assert len(failures) == 2 and all("OWNER" in line for line in failures), result.describe()
