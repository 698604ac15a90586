"""A deterministic scalar stream from a seed: the randomness of test vectors, never of a voter."""

import hashlib

from .encoding import frame
from .group import scalar_from_wide

__all__ = ["TAG_SEEDED", "SeededScalars"]

TAG_SEEDED = b"mpcvote/v1/test-vectors/scalars"


class SeededScalars:
    """Return nonzero scalars SHA-512(frame(TAG_SEEDED, seed, n)) mod l for n = 0, 1, ..."""

    def __init__(self, seed: bytes):
        self._seed = seed
        self._n = 0

    def __call__(self) -> int:
        while True:
            s = scalar_from_wide(hashlib.sha512(frame(TAG_SEEDED, self._seed, self._n)).digest())
            self._n += 1
            if s:
                return s

    def __repr__(self) -> str:
        return f"SeededScalars(drawn={self._n})"
