"""A grain-faithful sandbox: the package's own command under bubblewrap, as Sandstorm runs a grain.

What a grain gets (docs/sandstorm.md §Grain environment), and what this sandbox gives:

- the package read-only: /usr and the repository, which appears at /opt/app (and at its own
  path, where the virtualenv's scripts point), with the virtualenv at /opt/app-venv;
- /var writable and persistent: a directory on this machine, kept between runs;
- /tmp a fresh 16 MiB tmpfs each run; /dev minimal (null, zero, random, urandom, ...) with its
  own 16 MiB /dev/shm; no /proc and no /sys; /etc without passwd, hosts, nsswitch or resolv.conf;
- exactly the package's environment (read from the compiled package definition) plus the
  variables sandstorm-http-bridge adds;
- one non-root uid (1000) in a user namespace, its own pid, IPC and UTS namespaces;
- a network namespace holding only loopback, where the app listens on port 8000.

The test reaches port 8000 the way the real bridge does, from inside the grain's network
namespace: the stand-in bridge (tests/support/bridge.py) creates its sockets there with
setns(2), then talks to the outside world on a free port of this machine. That needs
CAP_SYS_ADMIN (root). Without it, the sandbox shares this machine's network instead and the
party server listens on a free port block (SOIREE_PORT), so parallel runs cannot collide; the
price is that the grain could reach this machine's other services, which a real grain cannot.

SIGKILL of the sandbox's first process ends every process in it at once, as an idle grain ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from common.config import STACK_PORTS
from tests.support.net import free_port_block
from tests.support.pkgdef import ROOT, grain_command

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
TMPFS_SIZE = 16 * 1024 * 1024
GRAIN_UID = 1000
# sandstorm-http-bridge adds these to the package's environment (docs/sandstorm.md §Grain environment).
BRIDGE_ENVIRONMENT = {
    "http_proxy": "http://127.0.0.1:15239/",
    "HTTP_PROXY": "http://127.0.0.1:15239/",
    "no_proxy": "localhost,127.0.0.1",
}
ETC_FILES = ("ld.so.cache", "localtime")  # what a package's file list would hold from /etc

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def can_enter_network_namespaces() -> bool:
    return os.geteuid() == 0


class Sandbox:
    def __init__(self, var: Path, *, isolated_network: bool | None = None) -> None:
        command = grain_command()
        argv = command["argv"]
        if argv[0] != "/sandstorm-http-bridge" or argv[2] != "--":
            raise ValueError(f"the package's command does not start the bridge: {argv}")
        self.var = var
        self.argv: list[str] = argv[3:]
        self.environment = {kv["key"]: kv["value"] for kv in command["environ"]}
        self.isolated = can_enter_network_namespaces() if isolated_network is None else isolated_network
        self.port = int(argv[1]) if self.isolated else free_port_block(STACK_PORTS)
        self.log_path = var.parent / f"{var.name}-grain.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.child_pid = 0
        self._netns = -1
        self._hostns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    # -- the command --------------------------------------------------------------------------

    def bwrap_arguments(self, info_fd: int) -> list[str]:
        args = ["bwrap", "--unshare-user", "--uid", str(GRAIN_UID), "--gid", str(GRAIN_UID)]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "sandbox"]
        args += ["--die-with-parent", "--new-session"]
        if self.isolated:
            args.append("--unshare-net")
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/", top)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for name in ETC_FILES:
            if Path("/etc", name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        args += ["--bind", str(self.var), "/var"]
        args += ["--dev", "/dev", "--size", str(TMPFS_SIZE), "--tmpfs", "/dev/shm"]
        args += ["--size", str(TMPFS_SIZE), "--tmpfs", "/tmp"]
        # Host paths the virtualenv's scripts name come after the grain's own /var and /tmp, so
        # that a checkout or an interpreter living under /tmp or /var stays visible.
        if not sys.base_prefix.startswith("/usr"):  # the virtualenv's interpreter lives elsewhere
            args += ["--ro-bind", sys.base_prefix, sys.base_prefix]
        args += ["--ro-bind", str(ROOT), str(ROOT), "--ro-bind", str(ROOT), "/opt/app"]
        args += ["--ro-bind", str(ROOT / ".venv"), "/opt/app-venv"]
        args += ["--clearenv"]
        environment = {**self.environment, **BRIDGE_ENVIRONMENT}
        if not self.isolated:
            environment["SOIREE_PORT"] = str(self.port)
        for key, value in environment.items():
            args += ["--setenv", key, value]
        args += ["--chdir", "/", "--info-fd", str(info_fd), "--", *self.argv]
        return args

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self.var.mkdir(parents=True, exist_ok=True)
        read_end, write_end = os.pipe()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.bwrap_arguments(write_end), pass_fds=(write_end,), stdout=log, stderr=subprocess.STDOUT
            )
        os.close(write_end)
        with os.fdopen(read_end, "rb") as info:
            raw = info.read()
        if not raw:
            self.process.wait(timeout=30)
            raise RuntimeError(f"bubblewrap failed: {self.log_path.read_text(errors='replace')[-2000:]}")
        self.child_pid = int(json.loads(raw)["child-pid"])
        if self.isolated:
            self._netns = os.open(f"/proc/{self.child_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return self

    def kill(self) -> None:
        """SIGKILL for the whole grain at once (its first process takes the rest with it)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child_pid, signal.SIGKILL)
            self.process.wait(timeout=60)
        if self._netns >= 0:
            os.close(self._netns)
            self._netns = -1
        self.process = None

    def close(self) -> None:
        self.kill()
        os.close(self._hostns)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- reaching the grain's network ---------------------------------------------------------

    def new_socket(self) -> socket.socket:
        """An unconnected TCP socket that lives in the grain's network namespace."""
        if not self.isolated:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _setns(self._netns)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(self._hostns)

    def enter_network(self) -> None:
        """Move the calling thread into the grain's network (a thread of your own: it stays there)."""
        if self.isolated:
            _setns(self._netns)

    def in_network(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a thread of its own inside the grain's network (for psycopg, httpx...)."""
        if not self.isolated:
            return fn()
        result: list[T] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self.enter_network()
                result.append(fn())
            except BaseException as e:  # handed to the caller below
                failure.append(e)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return result[0]

    def url(self, port_offset: int = 0) -> str:
        """A loopback URL inside the grain, for use with :meth:`in_network`."""
        return f"http://127.0.0.1:{self.port + port_offset}"
