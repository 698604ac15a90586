"""ABCI wire framing: each message is prefixed by its length as an unsigned varint.

(Tendermint 0.34 used a zig-zag signed varint; CometBFT 0.38 does not.)
"""

__all__ = ["FrameError", "FrameBuffer", "MAX_FRAME", "encode_varint", "frame"]

# The node itself caps a block at consensus max_bytes (4 MiB in our genesis) and a
# FinalizeBlock request holds one block; 64 MiB leaves room and still bounds memory.
MAX_FRAME = 64 * 1024 * 1024


class FrameError(Exception):
    """A malformed frame: the connection cannot be resynchronised and is closed."""


def encode_varint(n: int) -> bytes:
    """Encode a non-negative integer as an unsigned LEB128 varint."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(payload: bytes) -> bytes:
    """Prefix a serialised message with its length."""
    return encode_varint(len(payload)) + payload


class FrameBuffer:
    """Bytes as they arrive, cut into whole messages (no await per message: the server's hot path).

    Holds at most one incomplete frame (bounded by max_frame) plus what one read brought.
    """

    def __init__(self, max_frame: int = MAX_FRAME):
        self.max_frame = max_frame
        self.error = None
        self._buf = bytearray()

    def feed(self, data: bytes) -> list:
        """Append data; return the whole messages now complete, in order.

        After a malformed length prefix `error` is set (a FrameError): the messages
        before it are still returned, and nothing after it ever is.
        """
        if self.error is not None:
            return []
        buf = self._buf
        buf += data
        frames, pos, end = [], 0, len(buf)
        while pos < end:
            length, shift, i = 0, 0, pos
            while i < end and i - pos < 10:
                b = buf[i]
                i += 1
                length |= (b & 0x7F) << shift
                if not b & 0x80:
                    break
                shift += 7
            else:
                if i - pos >= 10:
                    self.error = FrameError("length prefix longer than 10 bytes")
                break  # the prefix is not all here yet
            if length > self.max_frame:
                self.error = FrameError(f"frame of {length} bytes exceeds the {self.max_frame}-byte limit")
                break
            if end - i < length:
                break
            frames.append(bytes(buf[i : i + length]))
            pos = i + length
        if self.error is not None:
            buf.clear()
        else:
            del buf[:pos]  # bytearray drops a prefix without moving the rest
        return frames

    def at_boundary(self) -> bool:
        """True when no partial frame is held (a clean place for the peer to hang up)."""
        return not self._buf
