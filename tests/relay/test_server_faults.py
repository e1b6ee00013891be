"""The relay over real sockets when a connection misbehaves, or the relay itself fails on one.

A fault while handling one connection ends that connection, never the relay: the others go on,
new ones are accepted. And the promises of section 2 and 12.2 hold on the wire: fragmented
messages are accepted, a flood is answered before it is closed.
"""

from __future__ import annotations

import pytest
from wsproto.events import BytesMessage

from relay import room as room_module
from relay.protocol import (
    Close,
    Goodbye,
    Join,
    Lifetime,
    Ping,
    Refused,
    Result,
    Rule,
    ServerPong,
    Spawn,
    State,
    Status,
    Synced,
    Update,
)
from tests.relay.conftest import RunningRelay
from tests.relay.raw import RawClient, http_get


async def joined(relay: RunningRelay, name: str) -> RawClient:
    c = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket(name)}")
    await c.hello()
    await c.send_records(Join(1, "lobby"))
    await c.until(lambda r: isinstance(r, Synced))
    return c


async def spawned(c: RawClient) -> int:
    await c.send_records(Spawn(2, 1, Rule.DENY, Lifetime.WITH_MASTER, None, b""))
    recs = await c.until(lambda r: isinstance(r, Result) and r.req == 2)
    return next(r.value for r in recs if isinstance(r, Result) and r.req == 2)


async def still_served(
    relay: RunningRelay, owner: RawClient, watcher: RawClient, oid: int, mark: bytes
) -> None:
    await owner.send_records(Update(1, oid, 1, None, mark))
    await watcher.until(lambda r: isinstance(r, State) and r.state == mark)
    newcomer = await joined(relay, "newcomer-" + mark.decode())
    await newcomer.aclose()
    assert await http_get(relay.port, "/healthz") == (200, {"status": "ok", "database": "disabled"})


async def test_a_failing_handler_closes_only_its_own_connection(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, watcher = await joined(relay, "owner"), await joined(relay, "watcher")
    oid = await spawned(owner)
    spawn = room_module.Room.spawn

    def failing_spawn(self: room_module.Room, session: object, req: int, *args: object) -> None:
        if req == 666:
            raise RuntimeError("a bug in the relay")
        spawn(self, session, req, *args)  # type: ignore[arg-type]  # passed through as received

    monkeypatch.setattr(room_module.Room, "spawn", failing_spawn)
    victim = await joined(relay, "victim")
    await victim.send_records(Spawn(666, 1, Rule.DENY, Lifetime.WITH_MASTER, None, b""))
    code, _reason = await victim.closed()
    assert code == Close.INTERNAL_ERROR
    assert [r.code for r in victim.records if isinstance(r, Goodbye)] == [Close.INTERNAL_ERROR]
    await still_served(relay, owner, watcher, oid, b"after")
    assert not any(isinstance(r, Goodbye) for r in owner.records + watcher.records)


async def test_an_exception_that_escapes_the_core_drops_only_that_connection(
    relay: RunningRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, watcher = await joined(relay, "owner"), await joined(relay, "watcher")
    oid = await spawned(owner)
    core = relay.server.core
    receive = core.receive

    def failing_receive(conn: object, message: bytes, now: float) -> None:
        if message == Ping(666).encode():
            raise RuntimeError("a bug at the edge")
        receive(conn, message, now)  # type: ignore[arg-type]  # passed through as received

    monkeypatch.setattr(core, "receive", failing_receive)
    victim = await joined(relay, "victim")
    await victim.send_records(Ping(666))
    code, _reason = await victim.closed()
    assert code is None or code >= 1000  # dropped: no GOODBYE could be said
    await still_served(relay, owner, watcher, oid, b"after")


async def test_a_message_in_several_frames_is_one_message(relay: RunningRelay) -> None:
    c = await joined(relay, "fragmenter")
    data = Ping(41).encode() + Ping(42).encode()
    for i, part in enumerate((data[:2], data[2:9], data[9:])):
        await c.stream.send_all(c.ws.send(BytesMessage(part, message_finished=i == 2)))
    recs = await c.until(lambda r: isinstance(r, ServerPong) and r.nonce == 42)
    assert [r.nonce for r in recs if isinstance(r, ServerPong)] == [41, 42]
    assert all(len(m) <= 65535 for m in c.messages)


async def test_a_burst_of_3000_updates_is_refused_before_the_goodbye_over_the_wire(
    relay: RunningRelay,
) -> None:
    c = await joined(relay, "runaway")
    oid = await spawned(c)
    burst = b"".join(
        c.ws.send(BytesMessage(Update(1, oid, 1, None, b"%d" % n).encode())) for n in range(3000)
    )
    await c.stream.send_all(burst)
    code, _reason = await c.closed()
    assert code == Close.RATE_LIMITED
    goodbye = next(i for i, r in enumerate(c.records) if isinstance(r, Goodbye))
    assert Refused(1, oid, 1, Status.RATE_LIMITED) in c.records[:goodbye]
