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
_KEY_LEN = struct.Struct(">I")
_VALUE_LEN = struct.Struct(">BQ")  # 1 (a value follows), then its length


def next_app_hash(previous: bytes, writes: dict) -> bytes:
    """Return the hash after applying `writes` (key -> value, or None to delete)."""
    if not writes:
        return previous
    parts = [_DOMAIN, previous]
    for key in sorted(writes):
        value = writes[key]
        parts.append(_KEY_LEN.pack(len(key)))
        parts.append(key)
        if value is None:
            parts.append(b"\x00")
        else:
            parts.append(_VALUE_LEN.pack(1, len(value)))
            parts.append(value)
    return hashlib.sha256(b"".join(parts)).digest()
