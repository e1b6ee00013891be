"""Many sockets read from one task: what each had, hang-ups as no data, removed sockets never."""

from __future__ import annotations

import socket

import trio

from relay.reading import SocketReader


def pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    return ours, theirs


async def test_one_wakeup_reads_every_socket_with_data() -> None:
    reader: SocketReader[str] = SocketReader(receive_size=1024, batch=16)
    (a, pa), (b, pb), (c, pc) = pair(), pair(), pair()
    for sock, key in ((a, "a"), (b, "b"), (c, "c")):
        reader.add(sock, key)
    pa.send(b"from a")
    pc.send(b"from c")
    with trio.fail_after(5):
        got = dict(await reader.read())
    assert got == {"a": b"from a", "c": b"from c"}  # b had nothing to say
    pb.send(b"x" * 3000)  # more than one read's worth: level-triggered, the rest comes next time
    with trio.fail_after(5):
        assert await reader.read() == [("b", b"x" * 1024)]
        assert await reader.read() == [("b", b"x" * 1024)]
        assert await reader.read() == [("b", b"x" * 952)]
    reader.close()
    for s in (a, b, c, pa, pb, pc):
        s.close()


async def test_a_hang_up_is_no_data_and_a_removed_socket_is_never_read() -> None:
    reader: SocketReader[str] = SocketReader(receive_size=1024, batch=16)
    (a, pa), (b, pb) = pair(), pair()
    reader.add(a, "a")
    reader.add(b, "b")
    pa.close()
    with trio.fail_after(5):
        assert await reader.read() == [("a", b"")]
    reader.remove(a)
    a.close()
    # the next socket may get the closed one's number: only it is read under that number
    c, pc = pair()
    reader.add(c, "c")
    pb.send(b"b")
    pc.send(b"c")
    with trio.fail_after(5):
        got: list[tuple[str, bytes]] = []
        while len(got) < 2:
            got += await reader.read()
    assert sorted(got) == [("b", b"b"), ("c", b"c")]
    reader.remove(b)
    pb.send(b"after removal")
    with trio.move_on_after(0.2) as waited:
        await reader.read()
    assert waited.cancelled_caught
    reader.close()
    for s in (b, c, pb, pc):
        s.close()
