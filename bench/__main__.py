"""``python -m bench relay [options]``: run a benchmark (see bench/README.md)."""

from __future__ import annotations

import sys

from bench import core_cost, relay_load

BENCHMARKS = {"relay": relay_load.main, "core": core_cost.main}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]   (--help for the options)")
        return 2
    return BENCHMARKS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
