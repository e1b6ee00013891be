"""Cold start of a grain, its var directory's size and its memory, in the grain-faithful sandbox.

    ./soiree bench grain_start [--runs 5]

Each run makes a new grain (an empty var directory) in the bubblewrap sandbox of
tests/support/sandbox.py behind the stand-in bridge, measures how long until the front door
answers and until every part is ready, SIGKILLs it once idle, continues it on the same var
directory and measures again. "Every part" is each program whose module exists in this
checkout (the relay is counted once ``python -m relay`` exists). The var directory's size is
taken after the continue; memory is the resident set of every process in the grain, idle.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.database import build_template
from common.config import RELAY_OFFSET
from tests.support.grain import Grain
from tests.support.waiting import wait_until


def parts_ready(grain: Grain) -> Callable[[], bool]:
    checks: list[Callable[[], bool]] = [lambda: grain.status("/healthz") == 200]
    if importlib.util.find_spec("uro_shim.__main__"):
        checks.append(lambda: grain.status("/api/v1/health") == 200)
    if importlib.util.find_spec("relay.__main__"):
        assert grain.sandbox is not None
        relay = grain.sandbox.url(RELAY_OFFSET) + "/healthz"
        checks.append(lambda: grain.sandbox is not None and grain.sandbox.in_network(lambda: _ok(relay)))
    return lambda: all(check() for check in checks)


def _ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=5, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def start(grain: Grain) -> tuple[float, float]:
    began = time.monotonic()
    grain.start()
    wait_until(lambda: grain.status("/healthz") == 200, 300, "the front door", poll=0.02)
    front = time.monotonic() - began
    wait_until(parts_ready(grain), 300, "every part", poll=0.02)
    return front, time.monotonic() - began


def du_mib(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def grain_rss_mib(root_pid: int) -> float:
    """Resident memory of every process descending from the sandbox's first process."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields["PPid"])
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total = 0
    for pid in rss:
        walk = pid
        while walk and walk != root_pid:
            walk = parents.get(walk, 0)
        if walk == root_pid:
            total += rss[pid]
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    build_template()
    results: dict[str, list[float]] = {k: [] for k in ("new_front", "new_all", "cont_front", "cont_all")}
    sizes: list[dict[str, float]] = []
    memory: list[float] = []
    for _ in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="soiree-bench-"))
        grain = Grain(root / "var")
        try:
            front, every = start(grain)
            results["new_front"].append(front)
            results["new_all"].append(every)
            time.sleep(3)  # idle
            assert grain.sandbox is not None
            memory.append(grain_rss_mib(grain.sandbox.child_pid))
            grain.kill()
            front, every = start(grain)
            results["cont_front"].append(front)
            results["cont_all"].append(every)
            grain.kill()
            var = grain.var
            sizes.append(
                {
                    "total": du_mib(var),
                    "db": du_mib(var / "db"),
                    "log": du_mib(var / "log"),
                    "other": du_mib(var) - du_mib(var / "db") - du_mib(var / "log"),
                }
            )
        finally:
            grain.kill()
            shutil.rmtree(root, ignore_errors=True)

    def row(name: str, key: str) -> str:
        values = results[key]
        return f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"

    print(f"runs: {args.runs}, cores: {os.cpu_count()}")
    print("| start | median s | min s | max s |\n|---|---:|---:|---:|")
    print(row("new grain: front door answers", "new_front"))
    print(row("new grain: every part ready", "new_all"))
    print(row("continue: front door answers", "cont_front"))
    print(row("continue: every part ready", "cont_all"))
    median = {k: statistics.median(s[k] for s in sizes) for k in sizes[0]}
    print(
        f"var directory after a new grain and one continue: {median['total']:.1f} MiB "
        f"(database {median['db']:.1f}, logs {median['log']:.2f}, other {median['other']:.2f})"
    )
    print(f"resident memory of the idle grain: {statistics.median(memory):.0f} MiB")


if __name__ == "__main__":
    main()
