"""What an idle party costs in memory: the proportional set size (PSS) of every process.

    .venv/bin/python -m bench.idle_memory [--settle 30] [--samples 3] [--detail] [--json FILE]

Starts the whole party server as ``./soiree run`` does (``launcher.sh``: supervisord and every
program) on free loopback ports with a fresh var directory, on the PostgreSQL path (it refuses
to run when a ``cockroach`` binary would be picked up), waits until every part answers its
health check, lets it sit idle for ``--settle`` seconds, then reads
``/proc/<pid>/smaps_rollup`` of every process under the launcher, ``--samples`` times, 5 s
apart. PSS splits each shared page between the processes that map it, so the sum over the
processes is what the party adds to the machine; it is reported per program and in total
(the last sample; the largest total of the samples beside it).

``--host-looks`` has the host's dashboard read the health panel and the live view once before
the samples, as an open dashboard does (the app loads the SQL driver for the health panel only
then). ``--detail`` adds, per program, where its PSS is: anonymous memory (Python's and Go's heaps,
PostgreSQL's private memory), shared memory (PostgreSQL's buffers), and file mappings grouped by
file (the Python interpreter, each extension module's library, Caddy's binary).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app import links
from app.access import HOST_COOKIE
from app.database import COCKROACH_BINARY_CANDIDATES
from common.config import STACK_PORTS, Config
from tests.support.net import free_port_block
from tests.support.stack import Stack, http_status
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_GAP = 5.0


@dataclass
class Proc:
    pid: int
    ppid: int
    command: str
    program: str = ""
    rollup: dict[str, int] = field(default_factory=dict)  # kB, from smaps_rollup


def _stat(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return None
    ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return ppid, command


def descendants(root: int) -> list[Proc]:
    """Every process below ``root`` (PostgreSQL's children start sessions of their own, so the
    tree is followed by parent, not by session)."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                procs[int(entry.name)] = Proc(int(entry.name), found[0], found[1])
    children: dict[int, list[int]] = defaultdict(list)
    for proc in procs.values():
        children[proc.ppid].append(proc.pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            out.append(procs[pid])
        todo.extend(children.get(pid, []))
    return out


PROGRAMS = [  # (program, pattern on the command line), first match wins
    ("supervisord", r"bin/supervisord "),
    ("database (wrapper)", r"-m app\.database"),
    ("database (PostgreSQL)", r"(^|/)postgres( |:)"),
    ("uro-shim", r"-m uro_shim"),
    ("relay", r"-m relay"),
    ("app", r"-m app( |$)"),
    ("frontdoor (Caddy)", r"bin/caddy "),
]


def program_of(proc: Proc) -> str:
    for name, pattern in PROGRAMS:
        if re.search(pattern, proc.command):
            return name
    return "other: " + proc.command[:60]


def rollup(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        out[key] = int(rest.split()[0])
    return out


def mapping_kind(name: str) -> str:
    path = name.removesuffix(" (deleted)")
    if path in ("", "[heap]", "[stack]"):
        return "anonymous"  # the brk heap and the stack are anonymous memory by other names
    # PostgreSQL's main segment (shared anonymous memory) and its dynamic segments (pg_dynshmem)
    shared = ("/dev/zero", "/dev/shm/", "/SYSV", "/memfd:")
    if path.startswith(shared) or "/pg_dynshmem/" in path:
        return "shared memory"
    if path.startswith("["):
        return path
    match = re.search(r"site-packages/([^/]+)/", path)
    if match:
        return f"file: site-packages/{match.group(1)}/…{Path(path).name}"
    return f"file: {Path(path).name}"


def smaps_by_kind(pid: int) -> dict[str, int]:
    """PSS in kB per kind of mapping (anonymous, shared memory, each file)."""
    totals: dict[str, int] = defaultdict(int)
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if len(head) >= 5 and re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head[0]):
            current = mapping_kind(head[5].strip() if len(head) > 5 else "")
        elif line.startswith("Pss:"):
            totals[current] += int(line.split()[1])
    return dict(totals)


def sample(launcher_pid: int, detail: bool) -> dict[str, Any]:
    programs: dict[str, dict[str, Any]] = {}
    for proc in descendants(launcher_pid):
        proc.program = program_of(proc)
        try:
            proc.rollup = rollup(proc.pid)
            kinds = smaps_by_kind(proc.pid) if detail else {}
        except OSError:  # gone meanwhile (or unreadable): counted as nothing
            continue
        entry = programs.setdefault(
            proc.program, {"processes": 0, "pss_kb": 0, "rss_kb": 0, "anon_kb": 0, "shmem_kb": 0, "kinds": {}}
        )
        entry["processes"] += 1
        entry["pss_kb"] += proc.rollup.get("Pss", 0)
        entry["rss_kb"] += proc.rollup.get("Rss", 0)
        entry["anon_kb"] += proc.rollup.get("Pss_Anon", 0)
        entry["shmem_kb"] += proc.rollup.get("Pss_Shmem", 0)
        for kind, kb in kinds.items():
            entry["kinds"][kind] = entry["kinds"].get(kind, 0) + kb
    total = sum(p["pss_kb"] for p in programs.values())
    return {"time": time.time(), "total_pss_kb": total, "programs": programs}


def mib(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def report(samples: list[dict[str, Any]], detail: bool) -> None:
    last = samples[-1]
    print(f"{'program':<24} {'procs':>5} {'PSS MiB':>8} {'anon':>6} {'shmem':>6} {'RSS MiB':>8}")
    for name, p in sorted(last["programs"].items(), key=lambda kv: -kv[1]["pss_kb"]):
        print(
            f"{name:<24} {p['processes']:>5} {mib(p['pss_kb']):>8} {mib(p['anon_kb']):>6} "
            f"{mib(p['shmem_kb']):>6} {mib(p['rss_kb']):>8}"
        )
    worst = max(s["total_pss_kb"] for s in samples)
    largest = f"(largest of {len(samples)} samples: {mib(worst)})"
    print(f"{'total':<24} {'':>5} {mib(last['total_pss_kb']):>8}   {largest}")
    if detail:
        for name, p in sorted(last["programs"].items(), key=lambda kv: -kv[1]["pss_kb"]):
            print(f"\n{name}:")
            for kind, kb in sorted(p["kinds"].items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {mib(kb):>6} MiB  {kind}")


def host_looks(cfg: Config) -> None:
    """What an open dashboard asks the app for: the health panel and the live view."""
    cookies = {HOST_COOKIE: links.host_key(cfg)}
    for path in ("/app/api/health", "/app/api/live?since=0"):
        response = httpx.get(f"{links.base_url(cfg)}{path}", cookies=cookies, timeout=30, trust_env=False)
        response.raise_for_status()


def refuse_cockroach(env: dict[str, str]) -> None:
    found = env.get("SOIREE_COCKROACH") or shutil.which("cockroach", path=env.get("PATH", ""))
    found = found or next((c for c in COCKROACH_BINARY_CANDIDATES if os.access(c, os.X_OK)), None)
    if found:
        raise SystemExit(
            f"a cockroach binary would be used ({found}): this benchmark measures the PostgreSQL path"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=30.0, help="idle seconds before the first sample")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--detail", action="store_true", help="where each program's PSS is")
    parser.add_argument("--host-looks", action="store_true", help="open the dashboard's panels once first")
    parser.add_argument("--json", type=Path, help="write the samples here")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    args = parser.parse_args(argv)
    extra = dict(pair.split("=", 1) for pair in args.env)
    with tempfile.TemporaryDirectory(prefix="soiree-idle-") as tmp:
        stack = Stack(Path(tmp) / "var", free_port_block(STACK_PORTS), **extra)
        refuse_cockroach(stack.env)
        stack.start()
        try:
            stack.wait_ready()
            cfg = Config.from_env(stack.env)
            ports = [cfg.api_port, cfg.relay_port, cfg.app_port]
            wait_until(
                lambda: all(http_status(links.healthz_url(p)) == 200 for p in ports),
                120,
                "every part's /healthz",
            )
            if args.host_looks:
                host_looks(cfg)
            time.sleep(args.settle)
            assert stack.process is not None
            samples = []
            for n in range(args.samples):
                if n:
                    time.sleep(SAMPLE_GAP)
                samples.append(sample(stack.process.pid, args.detail))
        finally:
            stack.stop()
    report(samples, args.detail)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"settle_s": args.settle, "env": extra, "samples": samples}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
