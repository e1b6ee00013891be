"""Fuzzing the decoder and the relay with random and mutated frames.

Whatever arrives, the codec raises ProtocolError or decodes; the core turns that into a
GOODBYE for the sender only; the server keeps serving everyone else.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay import protocol as p
from relay.protocol import Close, Goodbye, Join, Lifetime, Rule, Spawn, State, Synced, Update
from tests.relay.conftest import RunningRelay
from tests.relay.raw import RawClient
from tests.relay.sim import Sim
from tests.relay.test_protocol import SAMPLES

CLIENT_SAMPLES = [r.encode() for r in SAMPLES if r.TYPE < 0x80]
SERVER_SAMPLES = [r.encode() for r in SAMPLES if r.TYPE >= 0x80]


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    """Valid records glued together, then damaged: bytes flipped, cut, inserted, lengths bent."""
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5))))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "length", "type"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[i:]
        elif action == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif action == "length" and len(data) >= 3:
            data[1:3] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "little")
        elif action == "type":
            data[0] = draw(st.integers(0, 255))
    return bytes(data)


def decode_or_protocol_error(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(p.ProtocolError):
        decode(data)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    decode_or_protocol_error(p.decode_client_message, data)
    decode_or_protocol_error(p.decode_server_message, data)


@settings(max_examples=2000, deadline=None)
@given(mutated(CLIENT_SAMPLES))
def test_mutated_client_messages_decode_or_raise_protocol_error(data: bytes) -> None:
    decode_or_protocol_error(p.decode_client_message, data)


@settings(max_examples=1000, deadline=None)
@given(mutated(SERVER_SAMPLES))
def test_mutated_server_messages_decode_or_raise_protocol_error(data: bytes) -> None:
    decode_or_protocol_error(p.decode_server_message, data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(CLIENT_SAMPLES), st.binary(max_size=64)), min_size=1, max_size=6))
def test_fuzzed_messages_only_ever_close_their_sender(messages: list[bytes]) -> None:
    sim = Sim()
    owner, watcher = sim.client("owner"), sim.client("watcher")
    room = owner.join()
    watcher.join()
    oid = owner.call(Spawn, room, Rule.DENY, Lifetime.WITH_MASTER, None, b"").value
    fuzzer = sim.client("fuzzer", hello=len(messages) % 2 == 0)  # half the time before HELLO
    for message in messages:
        sim.core.receive(fuzzer.conn, message, sim.now)  # must never raise
        sim.tick()
    fuzzer.read()
    goodbye = fuzzer.goodbye()
    if goodbye is not None:
        assert goodbye.code in {Close.PROTOCOL_ERROR, Close.HELLO_EXPECTED, Close.UNSUPPORTED_VERSION}
    owner.send(Update(room, oid, 1, None, b"still here"))
    sim.tick()
    assert [r.state for r in watcher.read() if isinstance(r, State)][-1:] == [b"still here"]
    assert owner.conn.closing is None and watcher.conn.closing is None


async def test_the_server_keeps_serving_while_fuzzed_over_real_sockets(relay: RunningRelay) -> None:
    rng = random.Random(20261121)
    owner = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('owner')}")
    watcher = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('watcher')}")
    for c in (owner, watcher):
        await c.hello()
        await c.send_records(Join(1, "lobby"))
        await c.until(lambda r: isinstance(r, Synced))
    await owner.send_records(Spawn(9, 1, Rule.DENY, Lifetime.WITH_MASTER, None, b""))
    closes: set[int | None] = set()
    for round_ in range(40):
        fuzzer = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket(f'f{round_}')}")
        if rng.random() < 0.7:
            await fuzzer.hello()
        for _ in range(rng.randint(1, 4)):
            sample = bytearray(rng.choice(CLIENT_SAMPLES) + rng.choice(CLIENT_SAMPLES))
            for _ in range(rng.randint(1, 3)):
                sample[rng.randrange(len(sample))] = rng.randrange(256)
            if rng.random() < 0.2:
                sample = bytearray(rng.randbytes(rng.randint(1, 80)))
            try:
                await fuzzer.send(bytes(sample))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                break
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await fuzzer.send(b"\xff\x00\x00")  # an unknown record type: surely the end of it
        code, _ = await fuzzer.closed()
        closes.add(code)
        await fuzzer.aclose()
        await owner.send_records(Update(1, 1, 1, None, b"round %d" % round_))
        await watcher.until(lambda r, n=round_: isinstance(r, State) and r.state == b"round %d" % n)
    assert closes & {Close.PROTOCOL_ERROR, Close.HELLO_EXPECTED}, closes
    assert not any(isinstance(r, Goodbye) for r in owner.records + watcher.records)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(mutated([r.encode() for r in SAMPLES if isinstance(r, p.Packet)]), st.binary(max_size=40)))
def test_the_packet_fast_path_agrees_with_the_codec(data: bytes) -> None:
    body = data[3:] if data[:1] == b"\x31" else data
    try:
        fast = p.parse_packet(body)
    except p.ProtocolError:
        fast = None
    try:
        rec = p.Packet.decode_body(body)
    except p.ProtocolError:
        rec = None
    assert (fast is None) == (rec is None)
    if fast is not None and isinstance(rec, p.Packet):
        room, flags, channel, lane, targets, off = fast
        assert (room, flags, channel, lane, targets, body[off:]) == (
            rec.room,
            rec.flags,
            rec.channel,
            rec.lane,
            rec.targets,
            rec.payload,
        )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(CLIENT_SAMPLES), st.binary(max_size=64)), min_size=1, max_size=6))
def test_fuzzed_messages_from_a_game_peer_only_ever_close_their_sender(messages: list[bytes]) -> None:
    sim = Sim()
    a, b = sim.player("a"), sim.player("b")
    fuzzer = sim.player("fuzzer")
    for message in messages:
        sim.core.receive(fuzzer.conn, message, sim.now)  # must never raise
        sim.tick()
    fuzzer.read()
    goodbye = fuzzer.goodbye()
    if goodbye is not None:
        assert goodbye.code in {Close.PROTOCOL_ERROR, Close.RATE_LIMITED}
    b.read()
    a.send(p.Packet(1, p.PACKET_RELIABLE, 0, 0, (), b"still here"))
    sim.tick()
    assert [r.payload for r in b.read() if isinstance(r, p.PacketFrom)] == [b"still here"]
    assert a.conn.closing is None and b.conn.closing is None
    assert b.views[1].anomalies == []
