"""``python -m bench NAME [options]`` (``./soiree bench NAME``): run one benchmark.

``relay`` and ``core`` are the relay's; any other NAME runs the module ``bench/NAME.py`` as a
script (for example ``uro_api``). See bench/README.md.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from bench import core_cost, relay_load

BENCHMARKS = {"relay": relay_load.main, "core": core_cost.main}


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name in BENCHMARKS:
        return BENCHMARKS[name](sys.argv[2:])
    if name.isidentifier() and (Path(__file__).parent / f"{name}.py").is_file():
        sys.argv = [f"bench.{name}", *sys.argv[2:]]
        runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
        return 0
    ours = {f.__module__.rsplit(".", 1)[-1] for f in BENCHMARKS.values()}
    others = {p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_")} - ours
    print(
        f"usage: python -m bench NAME [options]; NAME is one of: {', '.join(sorted({*BENCHMARKS, *others}))}"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
