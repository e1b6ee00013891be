"""Relay capacity benchmark: N avatars in one room, everyone receiving everyone.

Each client sends 20 updates a second of a 100-byte state for its own avatar (sender id,
sequence number, send time, padding). A few *sampling* clients parse every message and time
every update they receive; all the others only drain their sockets, so that the load
generator (one Python process on its own core) is not the bottleneck (bench/README.md
§Capacity). Capacity is the largest N whose p99 latency stays within 50 ms and whose
samplers end with every avatar's latest state.

With ``--workload packets`` the clients are game peers (protocol version 2) instead: each sends
20 unreliable packets a second of the same 100 bytes to every other game peer (count 0, one
lane), the shape of a MultiplayerSynchronizer's traffic, and the samplers time every
PACKET_FROM.

With ``--workload world`` the avatars are spread over a square world at a fixed density
(``WORLD_DENSITY``: about 50 avatars within the near tier of relay/PROTOCOL.md section 7) and
walk about; each declares a focus at its own avatar (FOCUS again whenever it crosses into
another cell of the interest grid) and sends its position with every update. Samplers time the
states of avatars in their near tier (p50/p99 are those) and check every tier's promised rate:
the longest gap between two states of one avatar, against the tier's period.

The generator is plain non-blocking sockets and epoll: no framework, as little work per byte
as possible. Client frames use the all-zero masking key, which RFC 6455 allows and which
leaves the payload as is.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.world import INTEREST, SETTINGS, Walker, side_for
from common.config import RELAY_ADMIN_OFFSET, RELAY_OFFSET, RELAY_PATH
from common.identity import Identity
from common.secretfiles import TICKET_KEY, load_secret, mint_ticket
from relay.interest import Cell
from relay.protocol import (
    GAME_VERSION,
    HEADER,
    PACKET_FROM_TYPE,
    PACKET_TYPE,
    PACKET_UNRELIABLE,
    Focus,
    Game,
    GameRole,
    Hello,
    Join,
    Lifetime,
    Rule,
    Spawn,
)

STATE = struct.Struct("<IIQ")  # sender index, sequence number, send time (monotonic ns)
STATE_SIZE = 100
UPDATE_HEAD = struct.Struct("<HIIB")
PACKET_HEAD = struct.Struct("<HBBHB")  # room, flags, channel, lane, target count
PACKET_FROM_HEAD = 8  # room, from, flags, channel
RESULT = 0x85
STATE_TYPE = 0xA1
RECV = 1 << 20
WORKLOADS = ("updates", "packets", "world")
FOCUS_TYPE = Focus.TYPE
POS = struct.Struct("<3f")
IN_FLIGHT = 0.5  # seconds: a state received was sent at most this long before (else it is late)
GAP_SLACK = 0.1  # seconds beyond a tier's period before a gap counts as starving: one tick, jitter


def client_frame(payload: bytes) -> bytes:
    """A masked client frame with the all-zero key (payload unchanged)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x82, 0x80 | n))
    elif n < 65536:
        head = struct.pack("!BBH", 0x82, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
    return head + b"\0\0\0\0" + payload


class FrameReader:
    """Splits the relay's (unmasked, unfragmented) frames out of a byte stream."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        out = []
        buf = self.buf
        off = 0
        while len(buf) - off >= 2:
            n = buf[off + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - off < 4:
                    break
                n = int.from_bytes(buf[off + 2 : off + 4], "big")
                head = 4
            elif n == 127:
                if len(buf) - off < 10:
                    break
                n = int.from_bytes(buf[off + 2 : off + 10], "big")
                head = 10
            if len(buf) - off < head + n:
                break
            if buf[off] & 0x0F == 0x2:
                out.append(bytes(buf[off + head : off + head + n]))
            off += head + n
        del buf[:off]
        return out


@dataclass
class Client:
    index: int
    sock: socket.socket
    sampler: bool
    room: int = 0
    avatar: int = 0
    seq: int = 0
    pending: bytearray = field(default_factory=bytearray)
    reader: FrameReader = field(default_factory=FrameReader)
    latencies: list[float] = field(default_factory=list)
    latest: dict[int, int] = field(default_factory=dict)  # sender index -> newest sequence seen
    received: int = 0
    packets: bool = False  # a game peer: sends PACKETs, reads PACKET_FROMs
    walker: Walker | None = None  # the world: walks about, focus at its avatar
    # sender -> its last state's time, its cell and this client's cell then
    seen_at: dict[int, tuple[float, Cell, Cell]] = field(default_factory=dict)
    moves: list[tuple[float, Cell]] = field(default_factory=list)  # when the walker entered which cell
    everyone: list[Client] = field(default_factory=list)  # a world sampler: every client, by index
    gaps: dict[int, float] = field(default_factory=dict)  # tier -> longest gap between states
    starved: int = 0  # gaps longer than the tier's period allows
    tiered: dict[int, int] = field(default_factory=dict)  # tier -> states received (measured)
    interval: float = 0.05  # seconds between its updates


def handshake(port: int, ticket: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {RELAY_PATH}?ticket={ticket} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("relay closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
    return sock


def read_until(
    sock: socket.socket, reader: FrameReader, done: Callable[[list[tuple[int, bytes]]], bool]
) -> list[tuple[int, bytes]]:
    """Blocking read until ``done(records)`` holds (setup only)."""
    records: list[tuple[int, bytes]] = []
    while not done(records):
        data = sock.recv(RECV)
        if not data:
            raise ConnectionError("relay closed during setup")
        for message in reader.feed(data):
            off = 0
            while off < len(message):
                t, n = HEADER.unpack_from(message, off)
                records.append((t, message[off + 3 : off + 3 + n]))
                off += 3 + n
    return records


def result_of(records: list[tuple[int, bytes]], req: int) -> int | None:
    """The value of the OK RESULT for ``req``, if it came."""
    for t, body in records:
        if t == RESULT and struct.unpack_from("<I", body)[0] == req:
            if body[4] != 0:
                raise RuntimeError(f"request {req} failed with status {body[4]}")
            return int(struct.unpack_from("<I", body, 5)[0])
    return None


@dataclass
class RoundResult:
    clients: int
    samplers: int
    seconds: float
    sent: int
    expected_per_sampler: int
    delivered_ratio: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    latest_ok: bool
    server_cpu_percent: float
    server_rss_mb: float
    server_rss_per_client_kb: float
    late_sends: int
    load_average: str
    workload: str = "updates"
    tick_ms_max: float = 0.0
    queue_max_kb: float = 0.0
    lagging_max: int = 0
    server: str = "soiree"
    cpu_us_per_delivery: float = 0.0
    world_side_m: float = 0.0
    tier_gap_max_ms: list[float] = field(default_factory=list)  # per tier, worst gap of any avatar
    tier_states_per_s: list[float] = field(default_factory=list)  # per tier, per sampler
    starved: int = 0  # gaps longer than allowed_gap plus GAP_SLACK, over all samplers
    generator_cpu_percent: float = 0.0  # this process, on its own core: near 100 % it is the limit

    @property
    def passed(self) -> bool:
        return self.p99_ms <= 50.0 and self.latest_ok and not self.starved


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def relay_stats(admin_port: int) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", admin_port), timeout=2) as s:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    stats: dict[str, Any] = json.loads(data.partition(b"\r\n\r\n")[2])
    return stats


def run_round(
    port: int,
    admin_port: int,
    key: bytes,
    pid: int,
    n: int,
    samplers: int,
    warmup: float,
    seconds: float,
    rate: float,
    workload: str = "updates",
    room: str = "lobby",
    handle: int = 1,  # the room's handle, known ahead: the avatar's SPAWN goes with the JOIN
) -> RoundResult:
    packets = workload == "packets"
    world = workload == "world"
    side = side_for(n) if world else 0.0
    rng = random.Random(n)
    base_rss = proc_rss_mb(pid)
    clients: list[Client] = []
    ep = select.epoll()
    for i in range(n):  # connect everyone first, then collect the answers: setup takes ticks, not N ticks
        ident = Identity(str(uuid.uuid4()), f"bot{i}", frozenset({"play"}), "ticket")
        sock = handshake(port, mint_ticket(key, ident, ttl=600))
        state = STATE.pack(i, 0, 0).ljust(STATE_SIZE, b".")
        walker = Walker(rng, side) if world else None
        if packets:
            setup = Hello(GAME_VERSION, GAME_VERSION).encode() + Game(2, handle, GameRole.PEER).encode()
        elif walker is not None:  # an avatar somewhere in the world, and a focus at it
            setup = Hello(1, 1).encode()
            setup += Spawn(2, handle, Rule.DENY, Lifetime.WITH_MASTER, walker.position, state).encode()
            setup += Focus(3, handle, walker.position).encode()
        else:
            spawn = Spawn(2, handle, Rule.DENY, Lifetime.WITH_MASTER, None, state)
            setup = Hello(1, 1).encode() + spawn.encode()
        # JOIN goes right after HELLO: the lobby's handle is 1
        sock.sendall(client_frame(setup[:8] + Join(1, room).encode() + setup[8:]))
        spacing = max(1, n // samplers)  # samplers spread over the join order, not the first few
        sampler = i % spacing == 0 and i // spacing < samplers
        c = Client(i, sock, sampler=sampler, packets=packets, interval=1.0 / rate)
        c.walker = walker
        clients.append(c)
    for c in clients:
        if c.sampler and world:
            c.everyone = clients
        recs = read_until(c.sock, c.reader, lambda r: result_of(r, 2) is not None)
        c.room, c.avatar = result_of(recs, 1) or 0, result_of(recs, 2) or 0
        c.sock.setblocking(False)
        ep.register(c.sock.fileno(), select.EPOLLIN)
    by_fd = {c.sock.fileno(): c for c in clients}
    drain = bytearray(RECV)
    view = memoryview(drain)
    interval = 1.0 / rate
    start = time.monotonic() + 0.2
    next_send = [start + interval * i / n for i in range(n)]
    order = sorted(range(n), key=lambda i: next_send[i])
    measure_from = start + warmup
    stop_at = measure_from + seconds
    sent = 0
    late = 0
    cpu0 = None
    head_base = UPDATE_HEAD.size
    pos = 0
    next_stats = measure_from
    watch = {"tick_ms_max": 0.0, "queue_max_kb": 0.0, "lagging_max": 0}
    while True:
        now = time.monotonic()
        if measure_from <= now >= next_stats and now < stop_at:
            next_stats = now + 1.0
            stats: dict[str, Any] | None
            try:
                stats = relay_stats(admin_port)
            except OSError:  # a saturated relay may not answer within the timeout: skip this sample
                stats = None
            if stats is not None:
                watch["tick_ms_max"] = max(watch["tick_ms_max"], stats["tick"]["tick_ms_max"])
                watch["queue_max_kb"] = max(watch["queue_max_kb"], stats["queue_bytes"]["max"] / 1024)
                watch["lagging_max"] = max(watch["lagging_max"], stats["lagging_connections"])
        if cpu0 is None and now >= measure_from:
            cpu0 = proc_cpu_seconds(pid)
            own0 = time.process_time()
            for c in clients:
                c.latencies.clear()
                c.received = 0
                c.gaps.clear()
                c.tiered.clear()
                c.starved = 0
            sent_at_measure = sent
        if now >= stop_at:
            break
        # send everything due (clients are kept in send-time order, round robin)
        while next_send[order[pos]] <= now:
            i = order[pos]
            c = clients[i]
            c.seq += 1
            if now - next_send[i] > 0.02:
                late += 1
            state = STATE.pack(i, c.seq, time.monotonic_ns()).ljust(STATE_SIZE, b".")
            if packets:  # unreliable, channel 0, lane 1, to every other game peer
                body = PACKET_HEAD.pack(c.room, PACKET_UNRELIABLE, 0, 1, 0) + state
                frame = client_frame(HEADER.pack(PACKET_TYPE, PACKET_HEAD.size + STATE_SIZE) + body)
            elif world:
                frame = client_frame(walk(c, rng, side, interval) + state)
            else:
                body = UPDATE_HEAD.pack(c.room, c.avatar, 1, 0) + state
                frame = client_frame(HEADER.pack(0x21, head_base + STATE_SIZE) + body)
            if c.pending:
                c.pending += frame
            else:
                try:
                    n_sent = c.sock.send(frame)
                except BlockingIOError:
                    n_sent = 0
                if n_sent < len(frame):
                    c.pending += frame[n_sent:]
                    ep.modify(c.sock.fileno(), select.EPOLLIN | select.EPOLLOUT)
            sent += 1
            next_send[i] += interval
            pos = (pos + 1) % n
        timeout = max(0.0, next_send[order[pos]] - time.monotonic())
        for fd, events in ep.poll(timeout):
            c = by_fd[fd]
            if events & select.EPOLLOUT and c.pending:
                try:
                    k = c.sock.send(c.pending)
                    del c.pending[:k]
                except BlockingIOError:
                    pass
                if not c.pending:
                    ep.modify(fd, select.EPOLLIN)
            if events & select.EPOLLIN:
                if not c.sampler:
                    while True:
                        try:
                            if c.sock.recv_into(view) < RECV:
                                break
                        except BlockingIOError:
                            break
                    continue
                try:
                    data = c.sock.recv(RECV)
                except BlockingIOError:
                    continue
                sample(c, data, measure_from)
    cpu = proc_cpu_seconds(pid) - (cpu0 or 0.0)
    own = time.process_time() - own0 if cpu0 is not None else 0.0
    rss = proc_rss_mb(pid)
    # stop sending; let the last updates land, then check the samplers have the latest of everyone
    quiet_until = time.monotonic() + 1.0
    while time.monotonic() < quiet_until:
        for fd, events in ep.poll(0.05):
            c = by_fd[fd]
            if events & select.EPOLLIN:
                try:
                    data = c.sock.recv(RECV)
                except BlockingIOError:
                    continue
                if c.sampler:
                    sample(c, data, float("inf"))
    expected = {c.index: c.seq for c in clients}
    # a game peer does not receive its own packets
    latest_ok = all(
        s.latest == ({k: v for k, v in expected.items() if k != s.index} if packets else expected)
        for s in clients
        if s.sampler
    )
    latencies = [x for c in clients if c.sampler for x in c.latencies]
    per_sampler = (sent - sent_at_measure) if cpu0 is not None else 0
    if packets:
        per_sampler = per_sampler * (n - 1) // n
    received = sum(c.received for c in clients if c.sampler)
    deliveries = received * n // samplers  # what was delivered: every receiver gets what a sampler gets
    tiers = range(len(SETTINGS.interest_tiers))
    if world:  # there is no one number every sampler should get
        per_sampler = 0
    sampled = [c for c in clients if c.sampler]
    for c in clients:
        c.sock.close()
    ep.close()
    return RoundResult(
        clients=n,
        samplers=samplers,
        seconds=seconds,
        sent=sent,
        expected_per_sampler=per_sampler,
        delivered_ratio=round(received / (per_sampler * samplers), 4) if per_sampler else 0.0,
        p50_ms=round(percentile(latencies, 0.50), 2),
        p99_ms=round(percentile(latencies, 0.99), 2),
        max_ms=round(max(latencies, default=float("nan")), 2),
        latest_ok=latest_ok,
        server_cpu_percent=round(100 * cpu / seconds, 1),
        generator_cpu_percent=round(100 * own / seconds, 1),
        server_rss_mb=round(rss, 1),
        server_rss_per_client_kb=round(1024 * (rss - base_rss) / n, 1),
        late_sends=late,
        load_average=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        workload=workload,
        tick_ms_max=round(watch["tick_ms_max"], 1),
        queue_max_kb=round(watch["queue_max_kb"], 1),
        lagging_max=int(watch["lagging_max"]),
        cpu_us_per_delivery=round(1e6 * cpu / deliveries, 4) if deliveries else 0.0,
        world_side_m=round(side, 1),
        tier_gap_max_ms=[
            round(1000 * max((c.gaps.get(t, 0.0) for c in sampled), default=0), 1) for t in tiers
        ]
        if world
        else [],
        tier_states_per_s=[
            round(sum(c.tiered.get(t, 0) for c in sampled) / len(sampled) / seconds) for t in tiers
        ]
        if world and sampled
        else [],
        starved=sum(c.starved for c in sampled),
    )


def sample(c: Client, data: bytes, measure_from: float) -> None:
    now_ns = time.monotonic_ns()
    measuring = time.monotonic() >= measure_from
    if c.walker is not None:
        sample_world(c, data, measure_from)
        return
    timed, head = (PACKET_FROM_TYPE, PACKET_FROM_HEAD) if c.packets else (STATE_TYPE, UPDATE_HEAD.size)
    for message in c.reader.feed(data):
        off = 0
        end = len(message)
        while off < end:
            t = message[off]
            n = message[off + 1] | (message[off + 2] << 8)
            if t == timed:
                sender, seq, sent_ns = STATE.unpack_from(message, off + 3 + head)
                if seq > c.latest.get(sender, -1):
                    c.latest[sender] = seq
                if measuring and seq:
                    c.latencies.append((now_ns - sent_ns) / 1e6)
                    c.received += 1
            off += 3 + n


PERIODS = [period / SETTINGS.tick_hz for _, period in SETTINGS.interest_tiers]  # seconds


def walk(c: Client, rng: random.Random, side: float, dt: float) -> bytes:
    """The avatar's next step, as an UPDATE with its position and no state yet (the caller
    appends it), after a FOCUS when it crossed into another cell."""
    walker = c.walker
    assert walker is not None
    out = b""
    if walker.step(rng, side, dt):
        out = Focus(3, c.room, walker.position).encode()
        assert walker.cell is not None
        c.moves.append((time.monotonic(), walker.cell))
    head = UPDATE_HEAD.size + POS.size
    update = HEADER.pack(0x21, head + STATE_SIZE) + UPDATE_HEAD.pack(c.room, c.avatar, 1, 1)
    return out + update + POS.pack(*walker.position)


def sample_world(c: Client, data: bytes, measure_from: float) -> None:
    """Time near states; check each avatar's states come at least at its tier's rate."""
    now = time.monotonic()
    now_ns = time.monotonic_ns()
    measuring = now >= measure_from
    head = 3 + UPDATE_HEAD.size
    walker = c.walker
    assert walker is not None
    for message in c.reader.feed(data):
        off = 0
        end = len(message)
        while off < end:
            t = message[off]
            n = message[off + 1] | (message[off + 2] << 8)
            if t == STATE_TYPE and message[off + head - 1]:
                pos = POS.unpack_from(message, off + head)
                sender, seq, sent_ns = STATE.unpack_from(message, off + head + POS.size)
                if seq > c.latest.get(sender, -1):
                    c.latest[sender] = seq
                cell = INTEREST.cell_of(pos)
                assert cell is not None and walker.cell is not None
                tier = INTEREST.tier(walker.cell, cell)
                seen = c.seen_at.get(sender)
                c.seen_at[sender] = (now, cell, walker.cell)
                if measuring and seq:
                    c.received += 1
                    c.tiered[tier] = c.tiered.get(tier, 0) + 1
                    if tier == 0:
                        c.latencies.append((now_ns - sent_ns) / 1e6)
                    if seen is not None:
                        gap = now - seen[0]
                        if gap > c.gaps.get(tier, 0.0):
                            c.gaps[tier] = gap
                        limit = max(PERIODS[tier], c.interval) + GAP_SLACK
                        if (
                            gap > limit
                            and gap > allowed_gap(c, sender, seen, (cell, walker.cell)) + GAP_SLACK
                        ):
                            c.starved += 1
            off += 3 + n


def allowed_gap(c: Client, sender: int, seen: tuple[float, Cell, Cell], now: tuple[Cell, Cell]) -> float:
    """The longest gap the tiers allow between two states of ``sender``: while it and this
    sampler walked, its tier may have changed, to and fro, and each tier it was in may have
    just missed its turn; so the periods of every tier it may have been in, added. A state
    is a little older than its receipt, so the cells entered shortly before count too."""
    since, its_cell, my_cell = seen
    since -= IN_FLIGHT
    theirs = {its_cell, now[0], *(cell for at, cell in c.everyone[sender].moves[-8:] if at > since)}
    mine = {my_cell, now[1], *(cell for at, cell in c.moves[-8:] if at > since)}
    tiers = {INTEREST.tier(a, b) for a in mine for b in theirs}
    return max(c.interval, sum(PERIODS[t] for t in tiers))


def start_relay(
    var: Path, port: int, cpu: str, settings: list[str], profile: str = "", server: str = "soiree"
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SOIREE_VAR": str(var), "SOIREE_PORT": str(port), "SOIREE_MODE": "standalone"}
    python = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    if server.startswith("reference"):  # bench/reference_relay.py, on the ports the relay would use
        cmd = [*python, "-m", "bench.reference_relay", "--port", str(port + RELAY_OFFSET)]
        cmd += ["--admin-port", str(port + RELAY_ADMIN_OFFSET)]
        if server == "reference-one-reader":
            cmd.append("--one-reader")
    else:  # soiree, or soiree@PATH: the relay of another checkout (a before/after run)
        cmd = [*python, "-m", "relay", "--no-database", "--log-level", "WARNING"]
        for setting in settings:
            cmd += ["--set", setting]
    tree = server.partition("@")[2] or None
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")])
    if cpu:
        cmd = ["taskset", "-c", cpu, *cmd]
    proc = subprocess.Popen(cmd, env=env, cwd=tree)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port + RELAY_OFFSET), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the relay did not start")


def free_base_port() -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base: int = s.getsockname()[1]
        if base + 8 < 65536:
            try:
                for off in range(8):
                    with socket.socket() as t:
                        t.bind(("127.0.0.1", base + off))
                return base
            except OSError:
                continue
    raise RuntimeError("no free ports")


def load1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


Variant = tuple[str, str]  # (server, workload)


def quiet_round(n: int, args: argparse.Namespace, settings: list[str], variant: Variant) -> RoundResult:
    """One round measured while the shared machine is quiet: wait for the load average to drop
    under ``--max-load``, and measure again if other work piled in meanwhile."""
    for _ in range(args.retries + 1):
        if args.max_load:
            deadline = time.monotonic() + 1800
            while load1() > args.max_load and time.monotonic() < deadline:
                time.sleep(5)
        r = one_round(n, args, settings, variant)
        if not args.max_load or load1() <= args.max_load + 1.0:
            return r
        print(f"  (round at {n} disturbed: load {r.load_average}; measuring again)", flush=True)
    return r


def one_round(n: int, args: argparse.Namespace, settings: list[str], variant: Variant) -> RoundResult:
    """A fresh relay, N clients, one measurement."""
    server, workload = variant
    with tempfile.TemporaryDirectory() as var:
        port = free_base_port()
        profile = f"{args.profile}.{server}.{n}" if args.profile else ""
        relay = start_relay(Path(var), port, args.server_cpu, settings, profile, server)
        try:
            key = load_secret(Path(var) / "secrets", TICKET_KEY)
            result = run_round(
                port + RELAY_OFFSET,
                port + RELAY_ADMIN_OFFSET,
                key,
                relay.pid,
                n,
                args.samplers,
                args.warmup,
                args.seconds,
                args.rate,
                workload,
            )
            result.server = server
            return result
        finally:
            relay.terminate()
            relay.wait(timeout=10)


def row(r: RoundResult, label: str) -> str:
    return (
        f"{r.clients:7d} {r.p50_ms:7.1f} {r.p99_ms:7.1f} {r.max_ms:7.1f} {r.delivered_ratio:10.4f} "
        f"{'yes' if r.latest_ok else 'NO':>7} {r.server_cpu_percent:9.1f}% {r.server_rss_mb:7.1f} "
        f"{r.server_rss_per_client_kb:10.1f} {r.late_sends:11d} {r.tick_ms_max:12.1f} "
        f"{r.queue_max_kb:13.1f} {r.cpu_us_per_delivery:15.4f}  {'ok' if r.passed else 'over'}"
        f"  {label}  load {r.load_average}  generator {r.generator_cpu_percent:.0f}%"
        + (
            f"\n        world {r.world_side_m:g} m square; per tier: states/s {r.tier_states_per_s},"
            f" longest gap ms {r.tier_gap_max_ms}; starved {r.starved}"
            if r.workload == "world"
            else ""
        )
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="./soiree bench relay_load", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="100,200,300,400,500,600,800,1000", help="comma-separated N")
    parser.add_argument("--samplers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=20.0, help="updates (or packets) per second per client")
    parser.add_argument(
        "--workload",
        default="updates",
        help="comma-separated, run side by side: updates (avatars, everyone receives everyone);"
        " packets (game peers sending unreliable packets to all); world (avatars walking, tiers)",
    )
    parser.add_argument(
        "--servers",
        default="soiree",
        help="comma-separated: soiree (python -m relay), soiree@PATH (the relay of the checkout at PATH,"
        " for before and after), reference (bench/reference_relay.py), reference-one-reader (the same,"
        " reading every connection from one task as ours does); side by side",
    )
    parser.add_argument("--server-cpu", default="0", help="taskset CPU list for the relay ('' for none)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for this generator (-1 for none)")
    parser.add_argument("--set", action="append", default=[], help="relay setting, as python -m relay --set")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--profile", default="", help="run the relay under cProfile, writing PATH.N")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per size; a size holds if most do")
    parser.add_argument(
        "--max-load", type=float, default=0.0, help="wait for a 1-minute load average below this"
    )
    parser.add_argument("--retries", type=int, default=3, help="re-measure a round the machine disturbed")
    parser.add_argument(
        "--stop-after-fail", type=int, default=2, help="stop after this many failing N in a row"
    )
    args = parser.parse_args(argv)
    if args.client_cpu >= 0:
        os.sched_setaffinity(0, {args.client_cpu})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(x) for x in args.clients.split(",") if x]
    settings = [f"max_members={max(sizes) + 10}", *args.set]
    results: list[RoundResult] = []
    workloads = [x for x in args.workload.split(",") if x]
    if unknown := set(workloads) - set(WORKLOADS):
        parser.error(f"unknown workload {', '.join(sorted(unknown))}; known: {', '.join(WORKLOADS)}")
    print(f"relay benchmark: {args.rate:g} sends per second of {STATE_SIZE} B per client; {args.workload}")
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    header = (
        "clients  p50 ms  p99 ms  max ms  delivered  latest  relay CPU  RSS MB  KB/client  late sends"
        "  tick max ms  queue max KB  CPU us/delivery"
    )
    print(header)
    servers = [x for x in args.servers.split(",") if x]
    # the reference relay speaks only what the crowd of avatars needs (no FOCUS, no game)
    variants = [(s, w) for w in workloads for s in servers if not s.startswith("reference") or w == "updates"]
    label = {
        v: "/".join(x for x, many in zip(v, (len(servers) > 1, len(workloads) > 1), strict=True) if many)
        for v in variants
    }
    verdicts: dict[Variant, dict[int, bool]] = {v: {} for v in variants}
    fails = dict.fromkeys(variants, 0)
    for n in sizes:
        live = [v for v in variants if fails[v] < args.stop_after_fail]
        if not live:
            break
        rounds: dict[Variant, list[RoundResult]] = {v: [] for v in live}
        for k in range(args.repeat):
            # side by side: each round runs every variant, in alternating order
            for v in live if k % 2 == 0 else live[::-1]:
                r = quiet_round(n, args, settings, v)
                rounds[v].append(r)
                results.append(r)
                print(row(r, label[v]), flush=True)
        for v, done in rounds.items():
            # the machine is shared: a size holds when most of its rounds hold
            verdicts[v][n] = ok = sum(r.passed for r in done) * 2 > len(done)
            fails[v] = 0 if ok else fails[v] + 1
    for v in variants:
        best = max((n for n, ok in verdicts[v].items() if ok), default=0)
        print(
            f"capacity{f' ({label[v]})' if label[v] else ''}: {best} clients with p99 <= 50 ms"
            " and every latest state delivered (most rounds)"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
