"""``./soiree run``: start the whole party server and say where it is.

Runs ``launcher.sh`` (which execs supervisord) in its own session, waits until the front door
answers, prints the host's dashboard link and the players' page, then reports each part as it
becomes ready. Ctrl-C or SIGTERM stops everything cleanly; a second Ctrl-C kills what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from app import links
from app.database import die_with_parent
from common.config import Config, ConfigError

FRONT_DOOR_TIMEOUT = 120.0
PART_PATIENCE = 60.0  # after this long, name the parts that are still not answering
POLL = 0.25


def say(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed terminal or pipe must not stop the shutdown
        print(message, flush=True)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def session_processes(sid: int, proc_root: Path = Path("/proc")) -> list[int]:
    """Every process in session ``sid`` (supervisord puts each program in its own group)."""
    pids = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:  # state, ppid, pgrp, session
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int) -> None:
    for pid in session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Runner:
    def __init__(self, launcher: Path, cfg: Config) -> None:
        self.cfg = cfg
        self.stopping = False
        # supervisord echoes its log (also in the var directory) to stdout: keep the terminal for
        # the links; errors before it starts still arrive on stderr.
        self.process = subprocess.Popen(
            ["/bin/bash", str(launcher)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            # If this process dies first (killed, its terminal gone), supervisord still gets SIGTERM.
            preexec_fn=die_with_parent(signal.SIGTERM),
        )

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping:
            kill_session(self.process.pid)
            say("soiree: stopping now")
            return
        self.stopping = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        say("soiree: stopping the party server (Ctrl-C again to kill it)")

    def wait_for(self, check: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stopping or self.process.poll() is not None:
                return False
            if check():
                return True
            time.sleep(POLL)
        return False

    def run(self) -> int:
        cfg = self.cfg
        front = links.healthz_url(cfg.port)
        if self.wait_for(lambda: answers(front), FRONT_DOOR_TIMEOUT):
            self.announce()
            self.follow_parts()
        elif not self.stopping and self.process.poll() is None:
            say(f"soiree: the front door is not answering yet; see {cfg.log_dir}")
        return self.finish()

    def announce(self) -> None:
        cfg = self.cfg
        say("")
        say(f"Soirée is running at {links.base_url(cfg)}")
        if cfg.mode == "standalone":
            say(f"  Host dashboard: {links.host_url(cfg)}")
        say(f"  Player page:    {links.player_url(cfg)}")
        say(f"  Logs:           {cfg.log_dir}")
        say("Press Ctrl-C to stop.")
        say("")

    def follow_parts(self) -> None:
        cfg = self.cfg
        waiting = {"API": cfg.api_port, "relay": cfg.relay_port}
        started = time.monotonic()
        warned = False
        while waiting and not self.stopping and self.process.poll() is None:
            for name, port in list(waiting.items()):
                if answers(links.healthz_url(port)):
                    say(f"soiree: the {name} is ready")
                    del waiting[name]
            if waiting and not warned and time.monotonic() - started > PART_PATIENCE:
                names = ", ".join(f"the {n}" for n in waiting)
                say(f"soiree: still waiting for {names}; see the logs in {cfg.log_dir}")
                warned = True
            time.sleep(POLL * 4)

    def finish(self) -> int:
        code = self.process.wait()
        say("soiree: stopped")
        return 0 if self.stopping and code in (0, -signal.SIGTERM) else code


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m app.local_run LAUNCHER", file=sys.stderr)
        return 2
    try:
        cfg = Config.from_env()
    except ConfigError as e:
        print(f"soiree: {e}", file=sys.stderr)
        return 2
    runner = Runner(Path(argv[0]), cfg)
    signal.signal(signal.SIGINT, runner.on_signal)
    signal.signal(signal.SIGTERM, runner.on_signal)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
