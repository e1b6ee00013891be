"""A client that stops reading never delays the others; it is caught up, then let go."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from relay.protocol import Close, Goodbye, Join, Synced
from relay.view import RoomView
from tests.relay.conftest import StartRelay
from tests.relay.raw import RawClient


def shows(obj: int, state: bytes) -> Callable[[RoomView], bool]:
    return lambda view: obj in view.objects and view.objects[obj].state == state


@pytest.mark.slow
async def test_a_slow_consumer_does_not_delay_the_others(start_relay: StartRelay) -> None:
    relay = await start_relay(lag_high=128 << 10, lag_low=16 << 10, lag_timeout=2.0)
    async with relay.connect("writer") as writer, relay.connect("reader") as reader:
        wroom, rroom = await writer.join("lobby"), await reader.join("lobby")
        slow = await RawClient.connect(relay.port, f"/relay?ticket={relay.ticket('slow')}", rcvbuf=4096)
        await slow.hello()
        await slow.send_records(Join(1, "lobby"))
        await slow.until(lambda r: isinstance(r, Synced))  # from here on it reads nothing
        big = await wroom.spawn(b"", position=(0.0, 0.0, 0.0))
        worst = 0.0
        lagged = False
        for i in range(150):  # about 5 s at 30 updates/s of 8 KiB
            sent = trio.current_time()
            payload = b"%06d" % i + b"x" * 8192
            await wroom.update(big, payload)
            await rroom.wait_for(shows(big, payload), timeout=10)
            worst = max(worst, trio.current_time() - sent)
            lagged = lagged or any(c.lagging for c in relay.server.core.conns)
            await trio.sleep(1 / 30)
        assert lagged, "the slow client was never detected"
        assert worst < 1.0, f"the reader waited {worst:.3f} s for an update"
        # the slow client was cut off with a reason; it may resume later
        code, reason = await slow.closed(timeout=20)
        assert code == Close.TOO_SLOW, (code, reason)
        assert any(isinstance(r, Goodbye) and r.code == Close.TOO_SLOW for r in slow.records)
