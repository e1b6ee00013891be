"""WebSocket frames (RFC 6455 §5) as the relay needs them: client frames decoded, server
frames built. No I/O.

Decoding client frames is the relay's hottest inbound path (every update of every client), so
it is done here in a few integer operations per frame instead of through a general library;
bench/README.md has the measurements behind that choice. Only what a server must accept is
accepted: masked frames, no extensions (RSV bits clear), the six defined opcodes, unfragmented
control frames of at most 125 bytes, messages up to a size limit.
"""

from __future__ import annotations

import struct

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_DATA = (OP_TEXT, OP_BINARY)
_CONTROL = (OP_CLOSE, OP_PING, OP_PONG)

PROTOCOL_ERROR_CLOSE = 1002  # RFC 6455 section 7.4.1: the answer to a malformed close frame
# close codes a peer may send (RFC 6455 §7.4): 1000-1003, 1007-1011, 3000-4999
_VALID_CLOSE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011)) | frozenset(
    range(3000, 5000)
)


class FrameError(Exception):
    """The client broke the WebSocket framing; the message says how."""


def server_frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked server frame."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def close_frame(code: int, reason: str = "") -> bytes:
    raw = reason.encode("utf-8")[:123]
    return server_frame(OP_CLOSE, struct.pack("!H", code) + raw.decode("utf-8", "ignore").encode())


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """The code and reason of a client's close frame (no code: ``None``)."""
    if not payload:
        return None, ""
    if len(payload) < 2:
        raise FrameError("a close frame with a one-byte payload")
    code = struct.unpack_from("!H", payload)[0]
    if code not in _VALID_CLOSE:
        raise FrameError(f"close code {code} may not be sent")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError("the close reason is not valid UTF-8") from None


def _unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    if not n:
        return b""
    key = int.from_bytes(mask * ((n >> 2) + 1), "little") & ((1 << (n << 3)) - 1)
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


class ClientFrames:
    """Feed bytes from a client; get back whole messages and control frames, in order."""

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self._buf = bytearray()
        self._opcode = 0  # of the fragmented message being assembled, 0 when none
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes | bytearray) -> list[tuple[int, bytes]]:
        """``(opcode, payload)`` pairs: OP_BINARY or OP_TEXT with a whole message, or a control
        frame. Raises FrameError; after that the connection is over."""
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        off = 0
        end = len(buf)
        while end - off >= 2:
            b0 = buf[off]
            b1 = buf[off + 1]
            if not b1 & 0x80:
                raise FrameError("client frames must be masked")
            if b0 & 0x70:
                raise FrameError("reserved bits set (no extension was agreed)")
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if end - off < 4:
                    break
                n = (buf[off + 2] << 8) | buf[off + 3]
                head = 4
            elif n == 127:
                if end - off < 10:
                    break
                n = int.from_bytes(buf[off + 2 : off + 10], "big")
                if n >> 63:
                    raise FrameError("frame length has its top bit set")
                head = 10
            if opcode in _CONTROL:
                if not fin or n > 125:
                    raise FrameError("control frames must be whole and at most 125 bytes")
            elif opcode == OP_CONTINUATION:
                if not self._opcode:
                    raise FrameError("continuation frame without a message to continue")
            elif opcode in _DATA:
                if self._opcode:
                    raise FrameError("new message before the previous one ended")
            else:
                raise FrameError(f"unknown opcode {opcode:#x}")
            if opcode not in _CONTROL and self._size + n > self.max_message:
                raise FrameError(f"message over {self.max_message} bytes")
            if end - off < head + 4 + n:
                break
            start = off + head + 4
            payload = _unmask(bytes(buf[off + head : start]), bytes(buf[start : start + n]))
            off = start + n
            if opcode in _CONTROL or (fin and opcode != OP_CONTINUATION):
                out.append((opcode, payload))
            else:
                if opcode != OP_CONTINUATION:
                    self._opcode = opcode
                self._parts.append(payload)
                self._size += n
                if fin:
                    out.append((self._opcode, b"".join(self._parts)))
                    self._opcode, self._parts, self._size = 0, [], 0
        del buf[:off]
        return out
