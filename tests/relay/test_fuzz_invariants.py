"""The relay's fuzz campaign with its invariants, bounded to a few seconds (the full one:
bench/fuzz_relay.py).

Inputs are generated and mutated (bytes flipped, inserted, deleted, truncated) from every record
of the golden vectors for the codec, and drawn as operation programs for the room state machine,
then put through ``fuzz_harness.exercise``, which checks the invariants.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.room import Room
from tests.relay.fuzz_harness import exercise

VECTORS = Path(__file__).resolve().parents[1] / "godot" / "vectors" / "protocol.json"
RECORDS = [bytes.fromhex(r["hex"]) for r in json.loads(VECTORS.read_text())["records"]]
CODEC, ROOM = b"\x00", b"\x01"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    message = bytearray(b"".join(draw(st.lists(st.sampled_from(RECORDS), min_size=1, max_size=3))))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, len(message)))
        if action == "insert":
            message[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif message and action == "flip":
            message[min(at, len(message) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif action == "delete":
            del message[at : at + draw(st.integers(1, 8))]
        else:
            del message[at:]
    return bytes(message)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated() | st.binary(max_size=64))
def test_the_codec_refuses_with_its_own_error_and_round_trips_what_it_accepts(message: bytes) -> None:
    exercise(CODEC + message)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=1, max_size=400))
def test_the_room_keeps_its_invariants_whatever_its_members_do(program: bytes) -> None:
    assert exercise(ROOM + program) == "room"


# Alice (client 0) spawns an object, a tick, then Bob (client 1) sends it an UPDATE, a tick.
SPAWN, TICK, ANYONES_UPDATE = bytes([5, 0, 0, 0, 1, 0, 0]), bytes([0, 0, 1]), bytes([7, 1, 0, 0, 0, 0, 0])
FOREIGN_UPDATE = ROOM + SPAWN + TICK + ANYONES_UPDATE + TICK


def test_the_harness_catches_a_relay_that_shows_a_foreign_update(monkeypatch: pytest.MonkeyPatch) -> None:
    assert exercise(FOREIGN_UPDATE) == "room"  # the real relay refuses it: NOT_OWNER
    update = Room.update

    def careless(room: Room, session: Any, oid: int, *rest: Any) -> None:
        obj = room.objects.get(oid)
        owner = obj.owner if obj is not None else 0
        if obj is not None:
            obj.owner = session.id  # the ownership check passes for anyone
        update(room, session, oid, *rest)
        if obj is not None:
            obj.owner = owner

    monkeypatch.setattr(Room, "update", careless)
    with pytest.raises(AssertionError, match="owner sent"):
        exercise(FOREIGN_UPDATE)
