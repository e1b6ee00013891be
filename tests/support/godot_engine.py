"""Runs a Godot 4 project in the real engine: the 4.6 web template, in headless Chromium.

Each run gets its own loopback HTTP server (engine files, a small page, the packed project) and
its own Chromium with a fresh profile, so runs are independent and several can go at once. The
page reports every printed line and the exit code back to the server (`godot_page.html`).

    result = run_godot_project(project_dir, args=["n=10"])
    assert result.exit_code == 0, result.describe()

`args` reach the project as `OS.get_cmdline_user_args()`.

The engine is a release web build (`docs/godot.md` §Release builds): `assert()`
does nothing, so test scripts check results themselves and end with `get_tree().quit(code)`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trio

from tests.support.godot_project import build_project_pck
from tests.support.godot_web_template import TEMPLATE_FILES, ensure_web_template

PAGE = Path(__file__).with_name("godot_page.html")
# Flags that run Chromium headless as root with WebGL2 on SwiftShader (tests/godot/README.md §The engine).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
)
PARSE_ERROR_MARK = "Parse Error"
# Engine options put before the project's own arguments. Tests need no sound, and headless
# Chromium rejects the audio worklet the web build would otherwise load.
ENGINE_ARGS = ("--audio-driver", "Dummy")


class EngineUnavailable(RuntimeError):
    """Chromium or the engine files are missing; the message says what to install."""


@dataclass
class GodotResult:
    """What one engine run printed and how it ended."""

    exit_code: int | None
    """What the project passed to `get_tree().quit()`; None when it never quit."""
    output: list[tuple[str, str]] = field(default_factory=list)
    """Every printed line in order, as ("out" | "err", text)."""
    timed_out: bool = False
    failure: str | None = None
    """Why the engine could not start or stopped without quitting (a page-level error)."""
    stopped_on_parse_error: bool = False

    @property
    def lines(self) -> list[str]:
        return [text for _, text in self.output]

    @property
    def stdout(self) -> list[str]:
        return [text for stream, text in self.output if stream == "out"]

    @property
    def errors(self) -> list[str]:
        return [text for stream, text in self.output if stream == "err"]

    @property
    def parse_errors(self) -> list[str]:
        """Each script that failed to parse, as "message (res://file.gd:line)"."""
        errors = self.errors
        found = []
        for i, text in enumerate(errors):
            _, mark, message = text.partition(PARSE_ERROR_MARK + ": ")
            if not mark:
                continue
            # The engine prints the place on the next line: "   at: GDScript::reload (res://main.gd:5)".
            following = errors[i + 1].strip() if i + 1 < len(errors) else ""
            place = following.rpartition(" (")[2].rstrip(")") if following.startswith("at:") else ""
            found.append(f"{message} ({place})" if place else message)
        return found

    def describe(self) -> str:
        """A summary for assertion messages."""
        if self.stopped_on_parse_error:
            ending = "stopped: a script failed to parse"
        elif self.timed_out:
            ending = "timed out"
        elif self.failure:
            ending = f"failed: {self.failure}"
        else:
            ending = f"exit code {self.exit_code}"
        printed = "\n".join(f"  {stream}: {text}" for stream, text in self.output[-60:])
        return f"Godot run {ending}; last lines printed:\n{printed}"


def find_chromium() -> str:
    for name in (os.environ.get("SOIREE_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    raise EngineUnavailable("Chromium is needed to run the Godot engine; on Debian: apt-get install chromium")


class GodotRun:
    """One engine instance. `start()` returns at once; `wait()` blocks until it ends; `close()` tears down.

    With `stop_on_parse_error` (the default) a run ends as soon as a script fails to parse, since a
    release build then carries on without that script and would only time out.
    """

    def __init__(
        self,
        pck: bytes,
        args: Sequence[str] = (),
        *,
        timeout: float = 120.0,
        stop_on_parse_error: bool = True,
        engine_args: Sequence[str] = ENGINE_ARGS,
    ) -> None:
        self.pck = pck
        self.args = [*engine_args, "--", *args]
        self.timeout = timeout
        self.stop_on_parse_error = stop_on_parse_error
        self._lock = threading.Lock()
        self._closing = threading.Lock()
        self._done = threading.Event()
        self._result = GodotResult(exit_code=None)
        self._server: ThreadingHTTPServer | None = None
        self._browser: subprocess.Popen[bytes] | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._deadline = 0.0

    @property
    def scratch_dir(self) -> str | None:
        """The folder holding Chromium's profile and home while the run is alive."""
        return self._scratch.name if self._scratch else None

    @property
    def browser_pid(self) -> int | None:
        """Chromium's pid, also its process group, while the run is alive."""
        return self._browser.pid if self._browser else None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> GodotRun:
        chromium = find_chromium()
        engine_dir = ensure_web_template()
        try:
            self._start(chromium, engine_dir)
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, chromium: str, engine_dir: Path) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self, engine_dir))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="godot-page", daemon=True).start()
        port = self._server.server_address[1]
        self._scratch = tempfile.TemporaryDirectory(prefix="soiree-godot-chromium-")
        scratch = Path(self._scratch.name)
        # Chromium's crash handler leaves the process group and writes under $HOME: keep it in
        # the scratch folder too, where teardown finds it by path.
        env = {**os.environ, **dict.fromkeys(("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"), str(scratch))}
        self._deadline = time.monotonic() + self.timeout
        with open(scratch / "chromium.log", "wb") as log:
            self._browser = subprocess.Popen(
                [
                    chromium,
                    *CHROMIUM_FLAGS,
                    f"--user-data-dir={scratch}/profile",
                    f"http://127.0.0.1:{port}/",
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so teardown reaches the renderer and GPU processes too.
                start_new_session=True,
            )

    def wait(self) -> GodotResult:
        """Blocks until the project quits, fails, or the timeout passes; then tears everything down."""
        while not self._done.wait(timeout=0.2):
            if time.monotonic() > self._deadline:
                with self._lock:
                    self._result.timed_out = True
                break
            if self._browser is not None and self._browser.poll() is not None and self._scratch:
                log = Path(self._scratch.name, "chromium.log").read_text(errors="replace")
                self._finish(failure=f"chromium exited with {self._browser.returncode}: {log[-2000:]}")
        self.close()
        with self._lock:
            return self._result

    def close(self) -> None:
        """Stops Chromium (its whole process group) and the server; safe to call more than once."""
        self._done.set()
        with self._closing:
            if self._browser is not None:
                _stop_process_group(self._browser)
                self._browser = None
            if self._scratch is not None:
                _kill_leftovers(self._scratch.name)
                self._scratch.cleanup()
                self._scratch = None
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def run(self) -> GodotResult:
        """Starts the engine and waits for the end of the run."""
        with self:
            return self.wait()

    async def run_async(self) -> GodotResult:
        """`run()` for trio code; cancelling it tears the engine down."""
        await trio.to_thread.run_sync(self.start)
        try:
            return await trio.to_thread.run_sync(self.wait, abandon_on_cancel=True)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.close)

    def output(self) -> list[tuple[str, str]]:
        """What the engine has printed so far, as in `GodotResult.output`."""
        with self._lock:
            return list(self._result.output)

    def __enter__(self) -> GodotRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reports from the page --------------------------------------------------------------------

    def _add_output(self, lines: list[tuple[str, str]]) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self._result.output.extend((str(stream), str(text)) for stream, text in lines)
            if self.stop_on_parse_error and any(
                stream == "err" and PARSE_ERROR_MARK in text for stream, text in lines
            ):
                self._result.stopped_on_parse_error = True
                self._done.set()

    def _finish(self, *, exit_code: int | None = None, failure: str | None = None) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self._result.exit_code = exit_code
            self._result.failure = failure
            self._done.set()


def _handler_for(run: GodotRun, engine_dir: Path) -> type[BaseHTTPRequestHandler]:
    static = {"/": (PAGE, "text/html; charset=utf-8")}
    for name in TEMPLATE_FILES:
        kind = "application/wasm" if name.endswith(".wasm") else "text/javascript"
        static[f"/{name}"] = (engine_dir / name, kind)

    class Handler(BaseHTTPRequestHandler):
        def handle(self) -> None:
            # The browser is stopped the moment the exit code arrives, often mid-reply.
            with contextlib.suppress(ConnectionError):
                super().handle()

        def do_GET(self) -> None:
            if self.path in static:
                path, kind = static[self.path]
                self._send(200, kind, path.read_bytes())
            elif self.path == "/game.pck":
                self._send(200, "application/octet-stream", run.pck)
            elif self.path == "/config.json":
                self._send(200, "application/json", json.dumps({"args": run.args}).encode())
            else:
                self._send(404, "text/plain", b"not found")

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if self.path == "/output":
                    run._add_output(body["lines"])
                elif self.path == "/exit":
                    run._finish(exit_code=int(body["code"]))
                elif self.path == "/failure":
                    run._finish(failure=str(body["message"]))
                else:
                    self._send(404, "text/plain", b"not found")
                    return
            except (ValueError, KeyError, TypeError) as exc:
                self._send(400, "text/plain", str(exc).encode())
                return
            self._send(204, "text/plain", b"")

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while process_group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not process_group_alive(process.pid):
            break
    process.wait()


def _live_processes(match: Callable[[int, bytes], bool]) -> list[int]:
    """Pids of running (not zombie) processes for which match(process group, command line) holds."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if state not in "ZX" and match(int(pgrp), cmdline):
            pids.append(int(entry.name))
    return pids


def browser_processes(scratch_dir: str) -> list[int]:
    """Pids of running processes started for a run (there should be none once it has ended)."""
    return _live_processes(lambda _, cmdline: scratch_dir.encode() in cmdline)


def process_group_alive(pgid: int) -> bool:
    return bool(_live_processes(lambda group, _: group == pgid))


def _kill_leftovers(scratch_dir: str) -> None:
    # A helper that left the process group (the crash handler does) still names the folder.
    for pid in browser_processes(scratch_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def project_run(
    project_dir: Path,
    args: Sequence[str] = (),
    *,
    timeout: float = 120.0,
    extra: Mapping[str, Path] | None = None,
    stop_on_parse_error: bool = True,
) -> GodotRun:
    """A run of `project_dir`, packed with `extra` folders mounted into it (see `project_files`)."""
    pck = build_project_pck(project_dir, extra)
    return GodotRun(pck, args, timeout=timeout, stop_on_parse_error=stop_on_parse_error)


def run_godot_project(project_dir: Path, args: Sequence[str] = (), **options: Any) -> GodotResult:
    """Packs and runs a project to its end; `options` as for `project_run`."""
    return project_run(project_dir, args, **options).run()


async def run_godot_project_async(project_dir: Path, args: Sequence[str] = (), **options: Any) -> GodotResult:
    """`run_godot_project` for trio tests: servers in the same test keep running while it waits."""
    return await project_run(project_dir, args, **options).run_async()
