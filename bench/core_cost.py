"""CPU cost of the relay's I/O-free core alone: no sockets, no WebSocket parsing.

N members in one room; every simulated tick each member sends ``rate / tick_hz`` updates of a
100-byte state, then the room flushes. Reports microseconds per inbound update and per tick,
which bounds what the full relay can do on one core (the socket edge comes on top), and how
long N members joining within a single tick take (every joiner gets a snapshot of everyone:
what happens when a whole party reconnects at once).

``--world``: the world workload of ``bench/world.py``: avatars spread over a square world,
walking about, each with a focus at its own avatar (FOCUS again when it enters another cell),
every update with its position.

``--packets``: the members are game peers (protocol version 2) and each sends unreliable
packets of 100 bytes to every other game peer instead of updates.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable

from bench.world import Walker, side_for
from common.identity import Identity
from relay.core import RelayCore
from relay.protocol import (
    GAME_VERSION,
    PACKET_UNRELIABLE,
    Focus,
    Game,
    GameRole,
    Hello,
    Join,
    Lifetime,
    Packet,
    Rule,
    Spawn,
    Update,
)
from relay.server import new_token, ws_frame
from relay.settings import Settings

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(
    n: int,
    ticks: int,
    rate: float,
    focus: bool,
    packets: bool = False,
    world: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float, float]:
    """(µs per inbound update or packet, µs per tick, ms for N members joining within one tick)."""
    core = RelayCore(Settings(max_members=n + 10), wall=time.time, token_source=new_token, wrap=ws_frame)
    now = 0.0
    conns = []
    rng, side = random.Random(n), side_for(n)
    walkers = [Walker(rng, side) for _ in range(n)] if world else []
    t_join = clock()
    for i in range(n):
        conn = core.open(Identity(str(uuid.uuid4()), f"bot{i}", frozenset({"play"}), "t"), now)
        pos = (
            walkers[i].position if world else (float(i % 40) * 3, 0.0, float(i // 40) * 3) if focus else None
        )
        version = GAME_VERSION if packets else 1
        core.receive(conn, Hello(version, version).encode() + Join(1, "lobby").encode(), now)
        if packets:
            core.receive(conn, Game(2, 1, GameRole.PEER).encode(), now)
        else:
            core.receive(conn, Spawn(2, 1, Rule.DENY, Lifetime.WITH_MASTER, pos, b"x" * 100).encode(), now)
        if focus or world:
            core.receive(conn, Focus(3, 1, pos).encode(), now)
        conns.append(conn)
    core.tick(now)
    join_burst = clock() - t_join
    for c in conns:
        frames = c.take_outbox()
        core.sent(c, frames, sum(map(len, frames)))
    per_tick = rate / core.settings.tick_hz
    credit = 0.0
    if packets:  # unreliable, lane 1, to every other game peer
        messages = [Packet(1, PACKET_UNRELIABLE, 0, 1, (), b"y" * 100).encode() for _ in range(n)]
    else:
        messages = [Update(1, i + 1, 1, None, b"y" * 100).encode() for i in range(n)]
    t_receive = t_tick = 0.0
    updates = 0
    for _ in range(ticks):
        now += core.settings.tick_interval
        credit += per_tick
        if world:  # the walk is the workload's, not the relay's: made outside the timing
            steps = []
            while credit >= 1:
                credit -= 1
                for i, w in enumerate(walkers):
                    focus_msg = Focus(3, 1, w.position).encode() if w.step(rng, side, 1 / rate) else b""
                    steps.append((conns[i], focus_msg + Update(1, i + 1, 1, w.position, b"y" * 100).encode()))
            t0 = clock()
            for conn, msg in steps:
                core.receive(conn, msg, now)
            updates += len(steps)
        else:
            t0 = clock()
        while credit >= 1:
            credit -= 1
            for conn, msg in zip(conns, messages, strict=True):
                core.receive(conn, msg, now)
            updates += n
        t1 = clock()
        core.tick(now)
        t2 = clock()
        for c in conns:
            frames = c.take_outbox()
            core.sent(c, frames, sum(map(len, frames)))
        t_receive += t1 - t0
        t_tick += t2 - t1
    return 1e6 * t_receive / max(updates, 1), 1e6 * t_tick / ticks, 1e3 * join_burst


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./soiree bench core_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100,300,500,1000")
    parser.add_argument("--ticks", type=int, default=150)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--focus", action="store_true", help="every member declares a focus (distance tiers)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: the process's CPU time, which other work on a shared machine disturbs less",
    )
    parser.add_argument("--world", action="store_true", help="the world workload (bench/world.py)")
    parser.add_argument(
        "--packets", action="store_true", help="game peers sending packets to all, instead of updates"
    )
    args = parser.parse_args(argv)
    print("clients  us/update  us/tick  core CPU at rate  join burst ms")
    for n in [int(x) for x in args.clients.split(",")]:
        per_update, per_tick, burst = measure(
            n, args.ticks, args.rate, args.focus, args.packets, args.world, CLOCKS[args.clock]
        )
        load = (per_update * n * args.rate + per_tick * 30) / 1e6
        print(f"{n:7d} {per_update:10.2f} {per_tick:8.0f} {100 * load:15.1f}% {burst:14.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
