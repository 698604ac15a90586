"""Shared set-up for the protocol tests, taken from the vectors script so both build alike."""

import importlib.util
import os

import rbcl

from mpc_tx.protocol import group
from mpc_tx.protocol.group import L, Point, base

_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts", "protocol_vectors.py"
)
_spec = importlib.util.spec_from_file_location("protocol_vectors", _PATH)
vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vectors)

__all__ = [
    "vectors",
    "VOTER",
    "TX_HASH",
    "test_poll",
    "build_known",
    "reseal",
    "resign",
    "craft_ballot",
    "field_offsets",
    "P_FIELD",
    "point",
    "top_bit",
    "bad_point_encodings",
    "BAD_SCALARS",
]

VOTER = vectors.VOTER
TX_HASH = vectors.TX_HASH
build_known = vectors.build_known
reseal = vectors.reseal
resign = vectors.resign
craft_ballot = vectors.craft_ballot
field_offsets = vectors.field_offsets


def test_poll(m: int, t: int, k: int, one_hot: bool, seed: bytes = b"poll"):
    """Return a PollContext with m seeded validator keys, and their secret keys."""
    return vectors.seeded_poll(m, t, k, one_hot, seed)


test_poll.__test__ = False  # a helper, not a test


P_FIELD = 2**255 - 19


def point(seed: int) -> Point:
    return base(group.hash_to_scalar(seed.to_bytes(8, "big")))


def top_bit(encoding: bytes) -> bytes:
    return encoding[:31] + bytes([encoding[31] | 0x80])


def bad_point_encodings() -> dict[str, bytes]:
    """Return encodings every point field must refuse (the identity is checked separately)."""
    valid = point(1).encode()
    return {
        "top bit set": top_bit(valid),
        "identity with top bit": top_bit(bytes(32)),
        "s = p (not a canonical field element)": P_FIELD.to_bytes(32, "little"),
        "s = p + 2": (P_FIELD + 2).to_bytes(32, "little"),
        "negative s": (1).to_bytes(32, "little"),
        "all ones": b"\xff" * 32,
        "not on the curve": (2).to_bytes(32, "little")
        if not rbcl.crypto_core_ristretto255_is_valid_point((2).to_bytes(32, "little"))
        else b"\x01" * 32,
        "31 bytes": valid[:31],
        "33 bytes": valid + b"\x00",
        "empty": b"",
    }


BAD_SCALARS = {
    "l": L.to_bytes(32, "little"),
    "l + 1": (L + 1).to_bytes(32, "little"),
    "2^255 - 1": (2**255 - 1).to_bytes(32, "little"),
    "2^256 - 1": b"\xff" * 32,
    "31 bytes": bytes(31),
    "33 bytes": bytes(33),
}
