"""Fuzz campaign: the relay's codec and its room state machine, coverage-guided.

    pip install atheris            # once; a wheel from PyPI, needed by this campaign only
    ./soiree bench fuzz_relay --target codec [--runs 1000000]
    ./soiree bench fuzz_relay --target room [--runs 1000000] [--max-time 2400]

Runs ``exercise`` of tests/relay/fuzz_harness.py under atheris (libFuzzer driving Python, guided
by the coverage of the instrumented relay: ``relay.protocol``, ``relay.core``, ``relay.room``,
``relay.interest``, ``relay.session``, ``relay.view``). ``--target`` picks the harness's branch
for every input: ``codec`` (one message, decoded both ways, re-encoded, the hot paths compared
with the codec) or ``room`` (a program of operations by four simulated clients in one room, with
the invariants checked after every tick). The codec starts from every record of the golden
vectors (tests/godot/vectors/protocol.json), the room from a few programs; libFuzzer mutates the
inputs that reach new code. A broken invariant stops the run and leaves the input in the results
folder.

Afterwards the corpus libFuzzer kept is replayed once under a line tracer, for the share of each
module's lines the campaign reached. Everything lands in ``bench/results/raw/fuzz-relay-<target>/``
(not committed): ``log.txt`` (libFuzzer's output), ``tally.json`` (inputs by outcome),
``coverage.json`` and the corpus. The kept results are in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.fuzz_bodies import _escape, lines_reached, summary

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "raw"
VECTORS = ROOT / "tests" / "godot" / "vectors" / "protocol.json"
TALLY_EVERY = 500
TARGETS = {"codec": 0, "room": 1}  # the harness's selector byte for each target
MODULES = ("relay.protocol", "relay.core", "relay.room", "relay.interest", "relay.session", "relay.view")

# Record headers (type u8, length u16) and values at the fields' limits, for libFuzzer's mutations.
DICTIONARY = [
    b"\x01\x06\x00",  # HELLO
    b"\x01\x16\x00",
    b"\x20",  # UPDATE
    b"\x31",  # PACKET
    b"\x10",  # JOIN
    b"\x30",  # EVENT
    b"\x87",  # WELCOME
    b"\x96",  # MEMBER_PRESENCE
    b"\xa1",  # STATE
    b"\xb1",  # PACKET_FROM
    b"\x00\x00",
    b"\xff\xff",
    b"\xff\xff\xff\xff",
    b"\x00\x00\xc0\x7f",  # NaN as f32
    b"\x00\x00\x80\x7f",  # infinity
    b"lobby",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
]


def seeds(target: str) -> list[bytes]:
    """Where mutation starts: every golden record (codec), or short programs (room)."""
    if target == "codec":
        vectors = json.loads(VECTORS.read_text())
        return [bytes.fromhex(r["hex"]) for r in vectors["records"]]
    # Room programs: (op, client, ...) bytes as tests/relay/fuzz_harness.py ``World.step`` reads
    # them: spawns, updates by the owner and by others, requests, gives, packets, drops, resumes.
    return [
        bytes([5, 0, 1, 0, 0, 1, 2, 0, 6, 0, 0, 0, 1, 1, 0, 8, 1, 0, 0, 0, 0, 2, 0, 1]),
        bytes([5, 2, 1, 0, 1, 0, 3, 18, 2, 0, 0, 0, 0, 3, 1, 0, 1, 3, 19, 3, 0, 0, 1, 1, 2, 2, 0, 0]),
        bytes([5, 1, 1, 0, 0, 0, 1, 22, 1, 2, 0, 3, 1, 8, 0, 1, 0, 0, 2, 0, 4, 14, 1, 2, 0, 0, 1]),
        bytes([5, 0, 2, 0, 2, 1, 0, 9, 0, 3, 0, 0, 2, 12, 0, 4, 0, 0, 1, 23, 0, 0, 5, 0, 1, 0, 5]),
        bytes([20, 1, 9, 1, 6, 0, 1, 0, 1, 0, 5, 0, 0, 2, 0, 4, 20, 2, 3, 0x20, 0, 0, 2, 0, 1]),
        bytes([16, 0, 0, 0, 3, 1, 2, 0, 4, 7, 0, 1, 15, 3, 0, 0, 2, 0, 0, 5, 21, 2, 4, 2, 0, 1]),
    ]


def worker(args: argparse.Namespace, out: Path) -> None:
    """The fuzzing process: atheris takes over and exits when the runs are done."""
    import atheris
    from atheris.import_hook import instrument_imports  # the typing stubs do not re-export it

    logging.disable(logging.CRITICAL)  # the relay logs what it refuses
    with instrument_imports(include=list(MODULES)):
        from relay import core, interest, protocol, room, session, view  # noqa: F401
    from tests.relay import fuzz_harness

    selector = bytes([TARGETS[args.target]])
    tally: dict[str, int] = {}
    count = 0

    def one_input(data: bytes) -> None:
        nonlocal count
        outcome = fuzz_harness.exercise(selector + data)
        tally[outcome] = tally.get(outcome, 0) + 1
        count += 1
        if count % TALLY_EVERY == 0:  # libFuzzer ends the process without Python's exit handlers
            (out / "tally.json").write_text(json.dumps({"inputs": count, "by_outcome": tally}))

    argv = [
        sys.argv[0],
        f"-runs={args.runs}",
        f"-max_len={args.max_len}",
        f"-seed={args.seed}",
        f"-dict={out / 'tokens.dict'}",
        f"-artifact_prefix={out}/",
        "-print_final_stats=1",
    ]
    if args.max_time:
        argv.append(f"-max_total_time={args.max_time}")
    atheris.Setup([*argv, str(out / "corpus")], one_input)
    atheris.Fuzz()


def replay_coverage(out: Path, target: str) -> dict[str, Any]:
    """Lines of each relay module the kept corpus reaches."""
    logging.disable(logging.CRITICAL)
    import importlib

    from tests.relay.fuzz_harness import exercise

    selector = bytes([TARGETS[target]])
    modules = [importlib.import_module(m) for m in MODULES]
    return lines_reached(modules, out / "corpus", lambda data: exercise(selector + data))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=sorted(TARGETS), required=True)
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs to generate and mutate")
    parser.add_argument("--max-len", type=int, default=1024, help="largest input, in bytes")
    parser.add_argument("--max-time", type=int, default=0, help="stop after this many seconds (0: none)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = RESULTS / f"fuzz-relay-{args.target}"
    if args.worker:
        worker(args, out)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("this campaign needs atheris: .venv/bin/pip install atheris", file=sys.stderr)
        return 2
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    (out / "tally.json").unlink(missing_ok=True)
    (out / "tokens.dict").write_text("".join(f'"{_escape(t)}"\n' for t in DICTIONARY))
    for i, seed in enumerate(seeds(args.target)):
        (out / "corpus" / f"seed-{i:03d}").write_bytes(seed)
    started = time.monotonic()
    options = [
        f"--target={args.target}",
        f"--runs={args.runs}",
        f"--max-len={args.max_len}",
        f"--max-time={args.max_time}",
        f"--seed={args.seed}",
    ]
    with open(out / "log.txt", "w") as log:
        command = [sys.executable, "-m", "bench.fuzz_relay", "--worker", *options]
        finished = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    text = (out / "log.txt").read_text(errors="replace")
    results = {
        "command": " ".join(["./soiree bench fuzz_relay", *options]),
        "exit_code": finished.returncode,
        "seconds": round(seconds, 1),
        "libfuzzer": summary(text),
        "tally": json.loads((out / "tally.json").read_text()) if (out / "tally.json").exists() else None,
        "crashes": sorted(p.name for p in out.glob("crash-*")),
        "line_coverage": replay_coverage(out, args.target),
    }
    (out / "coverage.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    if finished.returncode != 0:
        print(text[-3000:], file=sys.stderr)
    return finished.returncode


if __name__ == "__main__":
    sys.exit(main())
