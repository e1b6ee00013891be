"""Fuzz campaign: the API's body parsers (forms with bracket keys, JSON, multipart), coverage-guided.

    pip install atheris            # once; a wheel from PyPI, needed by this campaign only
    ./soiree bench fuzz_bodies [--runs 1000000] [--max-len 4096]

Runs ``exercise`` of tests/uro_shim/bodies_harness.py under atheris (libFuzzer driving Python,
guided by the coverage of the instrumented parsers: ``common.bodies``, ``uro_shim.forms``,
``uro_shim.multipart`` and python-multipart's parser). libFuzzer starts from a seed corpus of
bodies the Godot client sends, with a dictionary of the tokens these formats are made of, and
mutates the inputs that reach new code. The harness checks the invariants on every input (only
the parser's own error, never another exception; every string it returns is storable text);
a broken one stops the run and leaves the input in the results folder.

Afterwards the corpus libFuzzer kept is replayed once under a line tracer, for the share of
each parser's lines the campaign reached. Everything lands in ``bench/results/raw/fuzz-bodies/``
(not committed): ``log.txt`` (libFuzzer's output), ``tally.json`` (inputs by parser and outcome),
``coverage.json`` and the corpus. The kept results are in bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "raw" / "fuzz-bodies"
TALLY_EVERY = 2000

# Tokens the formats are made of, for libFuzzer's mutations (-dict).
DICTIONARY = [
    b"[",
    b"]",
    b"[]",
    b"=",
    b"&",
    b"%",
    b"%00",
    b"%ED%A0%80",
    b"%FF",
    b"%5B",
    b"%5D",
    b"+",
    b"user[",
    b"shard[port]",
    b"avatar[user_content_data]",
    b'"',
    b"{",
    b"}",
    b":",
    b",",
    b"\\ud800",
    b"\\udc00",
    b"\\u0000",
    b"\\ud83d\\ude00",
    b"NaN",
    b"1e999",
    b"true",
    b"null",
    b"\r\n",
    b"--UroFileUploadFUZZ",
    b"--UroFileUploadFUZZ--",
    b"Content-Disposition: form-data; ",
    b'name="',
    b'filename="',
    b"Content-Type: ",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xff",
    b"\x00",
]


def seeds() -> list[bytes]:
    """Bodies as the Godot client sends them, one per parser and call."""
    from tests.uro_shim.bodies_harness import BOUNDARY, PARSERS
    from tests.uro_shim.godot import compose_multipart_body, query_string_from_dict

    forms: list[dict[str, Any]] = [
        {"user[username_or_email]": "zoë@example.org", "user[password]": "p&ss=w rd+"},
        {"shard[port]": 7777, "shard[map]": "uro://dddf8154", "shard[name]": "Party", "shard[max_users]": 32},
        {"apiKey": "k", "user[username]": "zoe", "user[email]": "z@e.org", "user[password]": "x" * 9},
        {"l[]": "a", "user_privilege_ruleset[is_admin]": True, "invite[label]": "Zoë 😀"},
    ]
    found = [bytes([PARSERS.index("form")]) + query_string_from_dict(f).encode() for f in forms]
    nested = [
        {"user": {"username_or_email": "zoë", "password": "x" * 9}},
        {"shard": {"port": 7777.0, "map": "m", "name": "n", "current_users": 0}, "extra": [1, None, True]},
        {"code": "abc", "display_name": "Zoë 😀", "invite": {"label": "x"}},
    ]
    for parser in ("json", "tight json"):
        found += [bytes([PARSERS.index(parser)]) + json.dumps(n).encode() for n in nested]
    # Inputs at the limits that short inputs can reach, so that mutations cross them.
    found += [
        bytes([PARSERS.index("tight json")]) + b'{"a": [[{"b": "c"}]]}',
        bytes([PARSERS.index("tight json")]) + json.dumps({"user": list(range(36))}).encode(),
        bytes([PARSERS.index("form")]) + b"a[b][c][d][e][f]=1&a[b][c][d][e][g]=2&x[]=1&x[]=2",
        bytes([PARSERS.index("form")]) + b"&".join(b"f%d=" % i for i in range(256)),
    ]
    upload = {
        "avatar[name]": "Zoë",
        "avatar[is_public]": True,
        "avatar[user_content_data]": {
            "filename": "a.scn",
            "content_type": "application/octet-stream",
            "data": b"RSCC\r\n--UroFileUpload\r\n\x00\xff",
        },
    }
    for step in (0, 6, 255):
        body = compose_multipart_body(upload, BOUNDARY.decode())
        found.append(bytes([PARSERS.index("multipart"), step]) + body)
    return found


def worker(args: argparse.Namespace) -> None:
    """The fuzzing process: atheris takes over and exits when the runs are done."""
    import atheris
    from atheris.import_hook import instrument_imports  # the typing stubs do not re-export it

    logging.disable(logging.CRITICAL)  # python-multipart logs a warning for every broken body
    with instrument_imports(include=["common.bodies", "uro_shim", "python_multipart"]):
        from tests.uro_shim import bodies_harness

    tally: dict[str, int] = {}
    count = 0

    def one_input(data: bytes) -> None:
        nonlocal count
        outcome = bodies_harness.exercise(data)
        tally[outcome] = tally.get(outcome, 0) + 1
        count += 1
        if count % TALLY_EVERY == 0:  # libFuzzer ends the process without Python's exit handlers
            (OUT / "tally.json").write_text(json.dumps({"inputs": count, "by_outcome": tally}))

    atheris.Setup(
        [
            sys.argv[0],
            f"-runs={args.runs}",
            f"-max_len={args.max_len}",
            f"-seed={args.seed}",
            f"-dict={OUT / 'tokens.dict'}",
            f"-artifact_prefix={OUT}/",
            "-print_final_stats=1",
            str(OUT / "corpus"),
        ],
        one_input,
    )
    atheris.Fuzz()


# Of python-multipart, only the multipart parser and the header parser serve the API.
USED_PARTS = {"python_multipart.multipart": ("MultipartParser", "parse_options_header")}


def executable_lines(path: Path, parts: tuple[str, ...] | None) -> set[int]:
    """The lines that hold code, in the functions whose qualified names start with ``parts``."""
    lines: set[int] = set()
    stack = [compile(path.read_text(), str(path), "exec")]
    while stack:
        code = stack.pop()
        # Functions only: the module's and classes' own lines ran at import, before any input.
        is_function = bool(code.co_flags & inspect.CO_OPTIMIZED)
        if is_function and (parts is None or code.co_qualname.startswith(parts)):
            # Not the first line (the def, or its decorator): no line event is traced for it.
            lines.update(line for _, _, line in code.co_lines() if line not in (None, code.co_firstlineno))
        stack.extend(c for c in code.co_consts if hasattr(c, "co_lines"))
    return lines


def lines_reached(
    modules: Iterable[ModuleType],
    corpus_dir: Path,
    exercise: Callable[[bytes], object],
    parts: Mapping[str, tuple[str, ...] | None] | None = None,
) -> dict[str, Any]:
    """Lines of each module that a kept corpus reaches, by replaying it once under a tracer
    (``parts``: per module, the functions whose lines count; all of them when absent)."""
    files = {Path(inspect.getfile(m)).resolve(): m.__name__ for m in modules}
    hit: dict[Path, set[int]] = {path: set() for path in files}

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        path = Path(frame.f_code.co_filename)
        if path not in hit:
            return None
        if event == "line":
            hit[path].add(frame.f_lineno)
        return tracer

    corpus = sorted(corpus_dir.iterdir())
    sys.settrace(tracer)
    try:
        for item in corpus:
            with contextlib.suppress(Exception):  # a finding: the campaign itself reports it
                exercise(item.read_bytes())
    finally:
        sys.settrace(None)
    report: dict[str, Any] = {"corpus_inputs": len(corpus), "files": {}}
    for path, name in files.items():
        lines = executable_lines(path, (parts or {}).get(name))
        covered = hit[path] & lines
        report["files"][name] = {
            "lines": len(lines),
            "covered": len(covered),
            "percent": round(100 * len(covered) / len(lines), 1),
        }
    return report


def replay_coverage() -> dict[str, Any]:
    """Lines of each parser the kept corpus reaches."""
    logging.disable(logging.CRITICAL)
    import python_multipart.multipart
    from uro_shim import forms, multipart

    from common import bodies
    from tests.uro_shim.bodies_harness import exercise

    return lines_reached(
        (bodies, forms, multipart, python_multipart.multipart), OUT / "corpus", exercise, USED_PARTS
    )


def summary(log: str) -> dict[str, str]:
    """The figures of libFuzzer's last status line and final stats."""
    found: dict[str, str] = {}
    for line in log.splitlines():
        if line.startswith("#") and " cov: " in line:
            words = line.split()
            found["last_status"] = line
            for key in ("cov:", "ft:", "corp:", "exec/s:"):
                if key in words:
                    found[key.rstrip(":")] = words[words.index(key) + 1]
        elif line.startswith("stat::"):
            key, _, value = line.removeprefix("stat::").partition(":")
            found[key] = value.strip()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs to generate and mutate")
    parser.add_argument("--max-len", type=int, default=4096, help="largest input, in bytes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("this campaign needs atheris: .venv/bin/pip install atheris", file=sys.stderr)
        return 2
    (OUT / "corpus").mkdir(parents=True, exist_ok=True)
    (OUT / "tally.json").unlink(missing_ok=True)
    (OUT / "tokens.dict").write_text("".join(f'"{_escape(t)}"\n' for t in DICTIONARY))
    for i, seed in enumerate(seeds()):
        (OUT / "corpus" / f"seed-{i:02d}").write_bytes(seed)
    started = time.monotonic()
    with open(OUT / "log.txt", "w") as log:
        command = [
            sys.executable,
            "-m",
            "bench.fuzz_bodies",
            "--worker",
            f"--runs={args.runs}",
            f"--max-len={args.max_len}",
            f"--seed={args.seed}",
        ]
        finished = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - started
    text = (OUT / "log.txt").read_text(errors="replace")
    results = {
        "command": " ".join(
            ["./soiree bench fuzz_bodies", f"--runs {args.runs}", f"--max-len {args.max_len}"]
        ),
        "exit_code": finished.returncode,
        "seconds": round(seconds, 1),
        "libfuzzer": summary(text),
        "tally": json.loads((OUT / "tally.json").read_text()) if (OUT / "tally.json").exists() else None,
        "crashes": sorted(p.name for p in OUT.glob("crash-*")),
        "line_coverage": replay_coverage(),
    }
    (OUT / "coverage.json").write_text(json.dumps(results["line_coverage"], indent=1))
    print(json.dumps(results, indent=1))
    if finished.returncode != 0:
        print(text[-3000:], file=sys.stderr)
    return finished.returncode


def _escape(token: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\x{b:02X}" for b in token)


if __name__ == "__main__":
    sys.exit(main())
