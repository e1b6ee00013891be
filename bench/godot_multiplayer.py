"""What SoireeMultiplayerPeer carries, in the real engine (web build, wasm), against a live relay.

    .venv/bin/python -m bench.godot_multiplayer [--runs 3] [--per-frame 10,50,100,200,400]
        [--seconds 3] [--clients 1,3,7] [--nodes 10]

- packets/s: two engines, a host sending `per_frame` reliable 32-byte packets (send_bytes) a
  frame to one client, each step for `seconds`; the rate each side reached and the GDScript time
  per packet on each (put_packet + the peer's batching, encoding and socket send; socket read,
  decoding, the peer's queue and SceneMultiplayer's dispatch).
- bytes: one engine, a host and N clients (one peer and one SceneMultiplayer each, one subtree
  each), `nodes` Node3Ds whose position and rotation the host's synchronizers send every frame;
  the host's uplink (relay messages and their WebSocket frames) per frame and per node, with the
  same payload to several peers sent once with a list of targets (what the peer does) and once
  per peer (a subclass of the peer that never shares).

The relay runs with its rate limit raised (rate 60000, burst 65000 units): the default (300 units
a second per connection) would cap the packets/s steps, which measure the peer, not the relay's
policy. Results are written down in bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

import trio

from tests.godot.addon import passed, run_scenario_async
from tests.godot.live import live_relay
from tests.support.godot_engine import GodotResult

RELAY_SETTINGS = {"rate": 60000, "burst": 65000}
DIGITS = (0, 0, 2, 1, 1, 0)  # of the bytes table's columns
SENT = re.compile(r"rate (\d+): sent (\d+)/s at (\d+) frames/s, ([\d.]+) us of GDScript per packet sent")
RECEIVED = re.compile(
    r"rate (\d+): received (\d+) in ([\d.]+) s = (\d+)/s, ([\d.]+) us of GDScript per packet received"
)
BYTES = re.compile(
    r"bytes (shared|one per peer), (\d+) clients, (\d+) nodes: ([\d.]+) frames/s, uplink (\d+) B a frame in "
    r"([\d.]+) messages = ([\d.]+) B per node a frame, ([\d.]+) kB/s; SceneMultiplayer put (\d+) B a frame"
)


def median_range(values: list[float], digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


async def packets_per_second(runs: int, per_frame: str, seconds: float) -> None:
    sent: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    received: dict[int, list[tuple[float, ...]]] = defaultdict(list)
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as var, live_relay(Path(var), settings=RELAY_SETTINGS) as relay:
            results: dict[str, GodotResult] = {}

            async def one(role: str, results: dict[str, GodotResult] = results) -> None:
                results[role] = await run_scenario_async(
                    "bench_peer",
                    timeout=600,
                    url=relay.url(role),
                    role=role,
                    bench="rate",
                    per_frame=per_frame,
                    seconds=seconds,
                )

            async with trio.open_nursery() as nursery:
                for role in ("sender", "receiver"):
                    nursery.start_soon(one, role)
        for role, result in results.items():
            if not passed(result):
                raise SystemExit(f"{role}: {result.describe()}")
        for line in results["sender"].stdout:
            if match := SENT.fullmatch(line):
                sent[int(match[1])].append(tuple(map(float, match.groups()[1:])))
        for line in results["receiver"].stdout:
            if match := RECEIVED.fullmatch(line):
                received[int(match[1])].append(tuple(map(float, match.groups()[1:])))
    print(
        "| packets a frame | sent /s | frames/s | µs per packet sent | received /s | µs per packet received |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for k in sorted(sent):
        s, r = sent[k], received.get(k, [])
        print(
            f"| {k} | {median_range([x[0] for x in s])} | {median_range([x[1] for x in s])} "
            f"| {median_range([x[2] for x in s], 1)} | {median_range([x[2] for x in r])} "
            f"| {median_range([x[3] for x in r], 1)} |"
        )


async def bytes_per_node(runs: int, clients: str, nodes: int, seconds: float) -> None:
    rows: dict[tuple[str, int], list[tuple[float, ...]]] = defaultdict(list)
    for _ in range(runs):
        for count in map(int, clients.split(",")):
            with (
                tempfile.TemporaryDirectory() as var,
                live_relay(Path(var), settings=RELAY_SETTINGS) as relay,
            ):
                result = await run_scenario_async(
                    "bench_peer",
                    timeout=600,
                    url=relay.url("bench"),
                    bench="bytes",
                    clients=count,
                    nodes=nodes,
                    seconds=seconds,
                )
            if not passed(result):
                raise SystemExit(result.describe())
            for line in result.stdout:
                if match := BYTES.fullmatch(line):
                    rows[(match[1], count)].append(tuple(map(float, match.groups()[3:])))
    print(
        "| clients | payloads | frames/s | uplink B a frame | messages a frame | B per node a frame | kB/s "
        "| SceneMultiplayer's B a frame |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for (how, count), values in sorted(rows.items(), key=lambda item: (item[0][1], item[0][0] != "shared")):
        columns = [median_range([v[i] for v in values], DIGITS[i]) for i in range(6)]
        print(f"| {count} | {how} | " + " | ".join(columns) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-frame", default="10,50,100,200,400")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", default="1,3,7")
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--only", choices=("rate", "bytes"))
    options = parser.parse_args()
    if options.only != "bytes":
        trio.run(packets_per_second, options.runs, options.per_frame, options.seconds)
    if options.only != "rate":
        trio.run(bytes_per_node, options.runs, options.clients, options.nodes, options.seconds)


if __name__ == "__main__":
    main()
