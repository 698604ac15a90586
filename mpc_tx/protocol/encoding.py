"""Byte encodings shared by every transcript, digest and key derivation; the domain tags.

A frame is the concatenation of its items, each as a 4-byte big-endian length and
the item's bytes; an int item is first written as 8 bytes big-endian, a point as
its canonical encoding. Every frame starts with a versioned domain tag, so no two
uses of a hash can collide (docs/PROTOCOL.md §3).
"""

import hashlib
from dataclasses import dataclass

from .group import Point

__all__ = [
    "VERSION",
    "TAG_POLL",
    "TAG_COMMITMENTS",
    "TAG_BIT",
    "TAG_SUM",
    "TAG_RHO",
    "TAG_KDF",
    "TAG_AD",
    "TAG_DLEQ",
    "TAG_UNANIMITY_MASK",
    "TAG_UNANIMITY_OPEN",
    "TAG_REGISTRY_KEY",
    "Rejected",
    "frame",
    "digest",
    "Reader",
]

VERSION = 1
TAG_POLL = b"mpcvote/v1/poll"
TAG_COMMITMENTS = b"mpcvote/v1/commitments"
TAG_BIT = b"mpcvote/v1/proof/bit"
TAG_SUM = b"mpcvote/v1/proof/sum-to-one"
TAG_RHO = b"mpcvote/v1/proof/ephemeral"
TAG_KDF = b"mpcvote/v1/envelope/key"
TAG_AD = b"mpcvote/v1/envelope/ad"
TAG_DLEQ = b"mpcvote/v1/proof/complaint"
TAG_UNANIMITY_MASK = b"mpcvote/v1/proof/unanimity-mask"
TAG_UNANIMITY_OPEN = b"mpcvote/v1/proof/unanimity-open"
TAG_REGISTRY_KEY = b"mpcvote/v1/proof/registry-key"


@dataclass(frozen=True)
class Rejected:
    """A verifier's refusal; reason names what failed, never a secret."""

    reason: str

    def __bool__(self) -> bool:
        return False


def _item(x) -> bytes:
    if isinstance(x, Point):
        x = x.encode()
    elif isinstance(x, bool):
        x = bytes([int(x)])
    elif isinstance(x, int):
        if not 0 <= x < 2**64:
            raise ValueError("a framed int must fit in 64 bits")
        x = x.to_bytes(8, "big")
    elif not isinstance(x, (bytes, bytearray)):
        raise TypeError("frame items are bytes, ints, bools or Points")
    return len(x).to_bytes(4, "big") + bytes(x)


def frame(tag: bytes, *items) -> bytes:
    """Return the unambiguous concatenation of tag and items."""
    return _item(tag) + b"".join(_item(x) for x in items)


def digest(tag: bytes, *items) -> bytes:
    """Return SHA-256 of frame(tag, *items)."""
    return hashlib.sha256(frame(tag, *items)).digest()


class Reader:
    """Cut a byte string into fixed-size fields; the caller checks the total length first."""

    def __init__(self, data: bytes):
        self._data = data
        self._at = 0

    def take(self, n: int) -> bytes:
        """Return the next n bytes."""
        out = self._data[self._at : self._at + n]
        if len(out) != n:
            raise ValueError("read past the end")  # a length check was missed: a bug
        self._at += n
        return out

    def done(self) -> bool:
        """Return whether every byte was read."""
        return self._at == len(self._data)
