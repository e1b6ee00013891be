"""How fast the Godot addon's codec and session are, in the real engine (web build, wasm).

    .venv/bin/python -m bench.godot_addon [--runs 5] [--rounds 50]

Each run starts the engine once and times, over `rounds` messages of 400 STATE records (45-byte
avatar states): decoding them, encoding as many UPDATE records, and feeding them to a
SoireeSession (decode, apply to the room's table, emit state_changed). Results are written
down in bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections import defaultdict

from tests.godot.addon import passed, run_scenario

LINE = re.compile(r"bench (.+): (\d+) in ([\d.]+) ms = (\d+)/s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=50)
    options = parser.parse_args()
    rates: dict[str, list[int]] = defaultdict(list)
    for _ in range(options.runs):
        result = run_scenario("bench_codec", timeout=300, rounds=options.rounds)
        if not passed(result):
            raise SystemExit(result.describe())
        for line in result.stdout:
            if match := LINE.fullmatch(line):
                rates[match[1]].append(int(match[4]))
    for what, values in rates.items():
        print(f"{what}: median {statistics.median(values):,.0f}/s (min {min(values):,}, max {max(values):,})")


if __name__ == "__main__":
    main()
