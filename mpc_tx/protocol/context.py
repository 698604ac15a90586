"""A poll's public parameters as the protocol sees them, and the ballot size they imply."""

from dataclasses import dataclass

from .encoding import TAG_POLL, frame
from .group import POINT_BYTES, SCALAR_BYTES, Invalid, Point, parse_point

__all__ = ["MAX_PARTIES", "MAX_ENTRIES", "AEAD_TAG_BYTES", "PollContext", "ballot_size", "ciphertext_size", "make_poll"]

MAX_PARTIES = 1024
MAX_ENTRIES = 256
AEAD_TAG_BYTES = 16


def ciphertext_size(k: int) -> int:
    """Return the bytes of one validator's encrypted pairs for k entries."""
    return 2 * SCALAR_BYTES * k + AEAD_TAG_BYTES


def ballot_size(m: int, t: int, k: int, one_hot: bool) -> int:
    """Return the exact byte length of a ballot for (m, t, k), docs/PROTOCOL.md §5."""
    return (
        1
        + POINT_BYTES  # version, E
        + k * (t + 1) * POINT_BYTES  # commitments C_{e,j}
        + m * ciphertext_size(k)  # one envelope per validator
        + k * 4 * SCALAR_BYTES  # bit proofs (c0, c1, z0, z1)
        + (2 * SCALAR_BYTES if one_hot else 0)  # sum-to-one proof (c, z)
        + 2 * SCALAR_BYTES
    )  # proof of rho (c, z)


@dataclass(frozen=True)
class PollContext:
    """Chain, poll, (m, t, k), the tally flag and the poll-snapshot validator keys X_i."""

    chain_id: bytes
    poll_id: bytes
    t: int
    k: int
    one_hot: bool
    keys: tuple[Point, ...]

    @property
    def m(self) -> int:
        """Return the number of validators."""
        return len(self.keys)

    @property
    def header(self) -> bytes:
        """Return the framed poll statement that every transcript of this poll starts from."""
        return frame(TAG_POLL, self.chain_id, self.poll_id, self.m, self.t, self.k, self.one_hot, *self.keys)

    def ballot_size(self) -> int:
        """Return the exact byte length of a ballot in this poll."""
        return ballot_size(self.m, self.t, self.k, self.one_hot)


def make_poll(chain_id: bytes, poll_id: bytes, t: int, k: int, one_hot: bool, keys) -> PollContext:
    """Return a PollContext from raw keys, or raise Invalid naming what is wrong."""
    keys = list(keys)
    m = len(keys)
    if not 1 <= m <= MAX_PARTIES:
        raise Invalid(f"poll: need 1..{MAX_PARTIES} validators")
    if type(t) is not int or not 0 <= t < m:
        raise Invalid("poll: need 0 <= t < m")
    if type(k) is not int or not 1 <= k <= MAX_ENTRIES:
        raise Invalid(f"poll: need 1..{MAX_ENTRIES} entries")
    if not isinstance(chain_id, bytes) or not isinstance(poll_id, bytes):
        raise Invalid("poll: chain and poll ids are bytes")
    points = tuple(parse_point(x, f"X_{i}") for i, x in enumerate(keys))
    if len(set(points)) != m:
        raise Invalid("poll: validator keys must be distinct")
    return PollContext(chain_id, poll_id, t, k, bool(one_hot), points)
