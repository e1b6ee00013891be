"""Many sockets read from one trio task.

Reading each connection in a task of its own, the plain trio way, costs per message: a ``recv``
that finds nothing, an epoll registration change (trio registers a socket one-shot for each
wait), a task switch and the ``recv`` that gets the data. At 20 messages a second from each of
hundreds of clients that was a fifth of the relay. Here the sockets sit in an epoll set of our
own, registered once and level-triggered; trio waits on that set's descriptor, and one wakeup
reads every socket that has data (bench/README.md §Reading every connection in one task).

The sockets must be non-blocking. Whoever owns a socket removes it before closing it: epoll
keys its registrations on the open file, which outlives a closed descriptor when it was
duplicated, so a socket closed while registered would go on reporting under a number the
next connection may get.
"""

from __future__ import annotations

import select
import socket
from typing import Generic, TypeVar

import trio

K = TypeVar("K")


class SocketReader(Generic[K]):
    """Sockets added with a key; ``read`` waits until some have data and returns what each had
    (no data: the peer hung up or the socket failed)."""

    def __init__(self, receive_size: int, batch: int) -> None:
        self.receive_size = receive_size
        self.batch = batch  # sockets read per wakeup, before trio runs the other tasks
        self._epoll = select.epoll()
        self._reading: dict[int, tuple[socket.socket, K]] = {}

    def add(self, sock: socket.socket, key: K) -> None:
        fd = sock.fileno()
        self._reading[fd] = (sock, key)
        self._epoll.register(fd, select.EPOLLIN)

    def remove(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        entry = self._reading.get(fd)
        if entry is not None and entry[0] is sock:
            del self._reading[fd]
            self._epoll.unregister(fd)

    async def read(self) -> list[tuple[K, bytes]]:
        await trio.lowlevel.wait_readable(self._epoll.fileno())
        out: list[tuple[K, bytes]] = []
        reading, size = self._reading, self.receive_size
        for fd, _ in self._epoll.poll(0, self.batch):
            entry = reading.get(fd)
            if entry is None:
                continue
            try:
                data = entry[0].recv(size)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            out.append((entry[1], data))
        return out

    def close(self) -> None:
        self._epoll.close()
        self._reading.clear()
