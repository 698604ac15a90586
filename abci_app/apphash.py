"""The app hash: a versioned, domain-separated commitment to the state's content.

Each block's hash chains the previous one with the canonical digest of the
block's write set (every key set or deleted, in sorted order). Two nodes that
start from the same genesis and report the same hash applied the same writes and
so hold the same state. A block that writes nothing (only rejected txs, say)
leaves the hash unchanged.
"""
import hashlib
import struct

__all__ = ["GENESIS", "VERSION", "next_app_hash"]

VERSION = 1
GENESIS = bytes(32)
_DOMAIN = b"mpcvote/app-hash/v%d\x00" % VERSION


def next_app_hash(previous: bytes, writes: dict) -> bytes:
    """Return the hash after applying `writes` (key -> value, or None to delete)."""
    if not writes:
        return previous
    h = hashlib.sha256(_DOMAIN)
    h.update(previous)
    for key in sorted(writes):
        value = writes[key]
        h.update(struct.pack(">I", len(key)))
        h.update(key)
        if value is None:
            h.update(b"\x00")
        else:
            h.update(b"\x01" + struct.pack(">Q", len(value)))
            h.update(value)
    return h.digest()
