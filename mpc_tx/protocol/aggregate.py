"""Linear outcomes: running sums of commitments, validators' aggregate pairs, interpolation.

The app keeps A[e][j] = sum of C[e][j] over the counted ballots (a revote subtracts
the replaced ballot). Validator i posts (F_e, S_e), the sums of its pairs; it is
valid iff F_e·G + S_e·H = sum_j (i+1)^j A[e][j]. Any t+1 valid pairs interpolate
(T_e, R_e) at 0, with T_e·G + R_e·H = A[e][0]: T_e is the tally of entry e.
"""

from .ballot import Ballot
from .context import PollContext
from .encoding import Rejected
from .group import H, IDENTITY, SCALAR_BYTES, Invalid, Point, base, encode_scalar, msm, mul, parse_scalar, L

__all__ = [
    "Aggregate",
    "encode_aggregate_pairs",
    "parse_aggregate_pairs",
    "sum_pairs",
    "check_aggregate_pairs",
    "lagrange_at_zero",
    "interpolate",
    "check_opening",
    "open_tally",
]


class Aggregate:
    """The running sums A[e][j] of a poll's counted ballots' commitments."""

    def __init__(self, poll: PollContext):
        self.poll = poll
        self.count = 0
        self.sums = [[IDENTITY] * (poll.t + 1) for _ in range(poll.k)]

    def add(self, ballot: Ballot) -> None:
        """Count a verified ballot."""
        self._apply(ballot, Point.__add__)
        self.count += 1

    def remove(self, ballot: Ballot) -> None:
        """Uncount a ballot (the one a revote replaces)."""
        self._apply(ballot, Point.__sub__)
        self.count -= 1

    def _apply(self, ballot, op) -> None:
        if len(ballot.commitments) != self.poll.k or len(ballot.commitments[0]) != self.poll.t + 1:
            raise ValueError("the ballot is not of this poll's shape")
        self.sums = [[op(a, c) for a, c in zip(row, crow)] for row, crow in zip(self.sums, ballot.commitments)]

    def encode(self) -> bytes:
        """Return the sums as k·(t+1) point encodings (identity allowed), row by row."""
        return b"".join(a.encode() for row in self.sums for a in row)


def sum_pairs(k: int, pair_lists) -> list[tuple[int, int]]:
    """Return the entrywise sums (F_e, S_e) of one validator's k pairs over many ballots."""
    sums = [(0, 0)] * k
    for pairs in pair_lists:
        if len(pairs) != k:
            raise ValueError(f"every ballot has {k} pairs")
        sums = [((F + f) % L, (S + g) % L) for (F, S), (f, g) in zip(sums, pairs)]
    return sums


def encode_aggregate_pairs(pairs) -> bytes:
    """Return k pairs (F_e, S_e) as 2k canonical scalars."""
    return b"".join(encode_scalar(f) + encode_scalar(s) for f, s in pairs)


def parse_aggregate_pairs(poll: PollContext, data) -> list[tuple[int, int]]:
    """Return k pairs from exactly k·64 bytes of canonical scalars, or raise Invalid."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != 2 * SCALAR_BYTES * poll.k:
        raise Invalid(f"aggregate pair: must be {2 * SCALAR_BYTES * poll.k} bytes")
    s = [
        parse_scalar(data[j : j + SCALAR_BYTES], f"aggregate scalar {j // SCALAR_BYTES}")
        for j in range(0, len(data), SCALAR_BYTES)
    ]
    return list(zip(s[0::2], s[1::2]))


def check_aggregate_pairs(agg: Aggregate, i: int, data) -> list[tuple[int, int]] | Rejected:
    """Return validator i's parsed aggregate pairs if they match A at i+1, else Rejected."""
    if type(i) is not int or not 0 <= i < agg.poll.m:
        return Rejected("aggregate pair: no such validator index")
    try:
        pairs = parse_aggregate_pairs(agg.poll, data)
    except Invalid as exc:
        return Rejected(exc.reason)
    powers = [pow(i + 1, j, L) for j in range(agg.poll.t + 1)]
    for e, ((f, s), row) in enumerate(zip(pairs, agg.sums)):
        if base(f) + mul(s, H) != msm(powers, row):
            return Rejected(f"aggregate pair {e} of validator {i}: does not match the commitments")
    return pairs


def lagrange_at_zero(indices) -> list[int]:
    """Return the Lagrange coefficients at 0 for validators indices (evaluated at i+1)."""
    xs = [i + 1 for i in indices]
    if len(set(xs)) != len(xs):
        raise ValueError("interpolation needs distinct validators")
    out = []
    for x in xs:
        num, den = 1, 1
        for y in xs:
            if y != x:
                num, den = num * y % L, den * (y - x) % L
        out.append(num * pow(den, -1, L) % L)
    return out


def interpolate(t: int, pairs_by_index: dict) -> list[tuple[int, int]]:
    """Return (T_e, R_e) at 0 from exactly t+1 validators' pairs {i: pairs}."""
    if len(pairs_by_index) != t + 1:
        raise ValueError("interpolation takes exactly t+1 validators' pairs")
    lagrange = lagrange_at_zero(pairs_by_index)
    k = len(next(iter(pairs_by_index.values())))
    out = []
    for e in range(k):
        T = sum(lam * pairs[e][0] for lam, pairs in zip(lagrange, pairs_by_index.values())) % L
        R = sum(lam * pairs[e][1] for lam, pairs in zip(lagrange, pairs_by_index.values())) % L
        out.append((T, R))
    return out


def check_opening(agg: Aggregate, opening) -> bool:
    """Return whether T_e·G + R_e·H = A[e][0] for every entry."""
    return len(opening) == agg.poll.k and all(base(T) + mul(R, H) == row[0] for (T, R), row in zip(opening, agg.sums))


def open_tally(agg: Aggregate, checked: dict) -> list[int] | Rejected:
    """Return the tallies from t+1 results of check_aggregate_pairs {i: result}, after the final check."""
    valid_pairs = {i: p for i, p in checked.items() if not isinstance(p, Rejected)}
    if len(valid_pairs) < agg.poll.t + 1:
        return Rejected(f"tally: need {agg.poll.t + 1} valid aggregate pairs")
    chosen = dict(sorted(valid_pairs.items())[: agg.poll.t + 1])
    opening = interpolate(agg.poll.t, chosen)
    if not check_opening(agg, opening):
        return Rejected("tally: the interpolated opening does not match A[e][0]")
    tallies = [T for T, _ in opening]
    if any(T > agg.count for T in tallies):
        return Rejected("tally: an entry exceeds the number of counted ballots")
    return tallies
