"""The on-chain tally: the stored aggregate, the validators' pairs judged, the opening and its final check.

docs/PROTOCOL.md §18.2-18.3. The chain keeps A[e][j], the sum of the counted ballots'
commitments, as canonical point encodings: addition is commutative and the encoding
unique, so the stored bytes depend only on the counted set, never on the order of the
counts, revotes and disqualifications. Validator i's pairs are valid iff
F_e·G + S_e·H = sum_j (i+1)^j A[e][j]; one that fails names i. From the first t+1 valid
pairs the chain interpolates (T_e, R_e) at 0 and checks T_e·G + R_e·H = A[e][0],
T_e <= n and, for a tally, sum_e T_e = n. Every function is total: it returns a value or
a Rejected naming what failed, never raises.
"""

import re
from dataclasses import dataclass

from .aggregate import lagrange_at_zero
from .ballot import parse_ballot
from .context import MAX_ENTRIES, MAX_PARTIES, PollContext
from .encoding import Rejected
from .group import H, IDENTITY, L, POINT_BYTES, SCALAR_BYTES, Invalid, Point, base, encode_scalar, msm, mul
from .group import parse_point, parse_scalar

__all__ = [
    "VALID",
    "NAMED",
    "Sums",
    "empty_sums",
    "decode_sums",
    "fresh_sums",
    "commitments_of",
    "add",
    "subtract",
    "on_ballot",
    "on_disqualify",
    "Post",
    "pair_bytes",
    "encode_pairs",
    "parse_pairs",
    "judge_pairs",
    "sum_own_pairs",
    "own_pairs",
    "Opening",
    "open_tally",
    "tally_result",
]

VALID, NAMED = "valid", "named"
_MAX_INT = (1 << 63) - 1
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Sums:
    """A[e][j] for e < k, j = 0..t: the aggregate commitments of a poll's counted set."""

    rows: tuple[tuple[Point, ...], ...]

    def __post_init__(self):
        # Made by this module's functions; a hand-made one is checked so that every function taking it stays total.
        rows = self.rows
        if not isinstance(rows, tuple) or not 1 <= len(rows) <= MAX_ENTRIES:
            raise ValueError(f"Sums: 1..{MAX_ENTRIES} rows")
        width = len(rows[0]) if isinstance(rows[0], tuple) else 0
        if not 1 <= width <= MAX_PARTIES or not all(
            isinstance(row, tuple) and len(row) == width and all(isinstance(a, Point) for a in row) for row in rows
        ):
            raise ValueError("Sums: rows of t+1 points, all alike")

    @property
    def k(self) -> int:
        """Return the entries of a ballot."""
        return len(self.rows)

    @property
    def t(self) -> int:
        """Return the Shamir degree."""
        return len(self.rows[0]) - 1

    def encode(self) -> bytes:
        """Return the k·(t+1) point encodings row by row (identity allowed): what agg/<poll> stores, as hex."""
        return b"".join(a.encode() for row in self.rows for a in row)


def _shape(k, t) -> Rejected | None:
    if type(k) is not int or not 1 <= k <= MAX_ENTRIES:
        return Rejected(f"aggregate: k must be 1..{MAX_ENTRIES}")
    if type(t) is not int or not 0 <= t < MAX_PARTIES:
        return Rejected(f"aggregate: t must be 0..{MAX_PARTIES - 1}")
    return None


def empty_sums(k, t) -> Sums | Rejected:
    """Return the aggregate of no ballots: every A[e][j] the identity."""
    bad = _shape(k, t)
    if bad is not None:
        return bad
    return Sums(tuple((IDENTITY,) * (t + 1) for _ in range(k)))


def decode_sums(k, t, data) -> Sums | Rejected:
    """Return the aggregate from its stored encoding (k·(t+1)·32 bytes, identity allowed)."""
    bad = _shape(k, t)
    if bad is not None:
        return bad
    size = k * (t + 1) * POINT_BYTES
    if not isinstance(data, (bytes, bytearray)) or len(data) != size:
        return Rejected(f"aggregate: must be {size} bytes")
    data = bytes(data)
    try:
        points = [
            parse_point(
                data[at : at + POINT_BYTES],
                f"A[{at // POINT_BYTES // (t + 1)}][{at // POINT_BYTES % (t + 1)}]",
                allow_identity=True,
            )
            for at in range(0, size, POINT_BYTES)
        ]
    except Invalid as exc:
        return Rejected(exc.reason)
    return Sums(tuple(tuple(points[e * (t + 1) : (e + 1) * (t + 1)]) for e in range(k)))


def _check_commitments(sums, commitments) -> Rejected | None:
    if not isinstance(sums, Sums):
        return Rejected("aggregate: not a Sums")
    if not isinstance(commitments, (list, tuple)) or len(commitments) != sums.k:
        return Rejected(f"commitments: need {sums.k} rows")
    for row in commitments:
        if not isinstance(row, (list, tuple)) or len(row) != sums.t + 1:
            return Rejected(f"commitments: need {sums.t + 1} points a row")
        if not all(isinstance(c, Point) for c in row):
            return Rejected("commitments: points only")
    return None


def _apply(sums, commitments, sign: int) -> Sums | Rejected:
    bad = _check_commitments(sums, commitments)
    if bad is not None:
        return bad
    op = Point.__add__ if sign > 0 else Point.__sub__
    return Sums(tuple(tuple(op(a, c) for a, c in zip(row, crow)) for row, crow in zip(sums.rows, commitments)))


def add(sums, commitments) -> Sums | Rejected:
    """Return A + C: a ballot enters the counted set."""
    return _apply(sums, commitments, 1)


def subtract(sums, commitments) -> Sums | Rejected:
    """Return A - C: a ballot leaves the counted set."""
    return _apply(sums, commitments, -1)


def on_ballot(sums, replaced, new) -> Sums | Rejected:
    """Return A after a counted ballot: replaced is the voter's counted ballot's commitments (a revote) or None."""
    if replaced is not None:
        sums = subtract(sums, replaced)
        if isinstance(sums, Rejected):
            return sums
    return add(sums, new)


def on_disqualify(sums, commitments) -> Sums | Rejected:
    """Return A after a complaint judged the counted ballot with these commitments bad."""
    return subtract(sums, commitments)


def fresh_sums(k, t, counted) -> Sums | Rejected:
    """Return the aggregate computed afresh from the commitments of every counted ballot."""
    sums = empty_sums(k, t)
    if isinstance(sums, Rejected) or not isinstance(counted, (list, tuple)):
        return sums if isinstance(sums, Rejected) else Rejected("aggregate: counted is a list")
    for commitments in counted:
        sums = add(sums, commitments)
        if isinstance(sums, Rejected):
            return sums
    return sums


def commitments_of(poll, raw) -> tuple | Rejected:
    """Return the commitments of a stored ballot (verified when cast, so only parsed here)."""
    if not isinstance(poll, PollContext):
        return Rejected("commitments: not a poll context")
    try:
        return parse_ballot(poll, raw).commitments
    except Invalid as exc:
        return Rejected(exc.reason)


@dataclass(frozen=True)
class Post:
    """Validator i's judged aggregate post: verdict valid or named, its k pairs, the reason."""

    validator: int
    verdict: str
    pairs: tuple[tuple[int, int], ...]
    reason: str


def pair_bytes(k) -> int:
    """Return the size of a post's pairs for k entries: 64·k."""
    return 2 * SCALAR_BYTES * k


def encode_pairs(pairs) -> bytes | Rejected:
    """Return k pairs (F_e, S_e) as LE32(F_0) || LE32(S_0) || ... (canonical scalars)."""
    if not isinstance(pairs, (list, tuple)) or not 1 <= len(pairs) <= MAX_ENTRIES:
        return Rejected(f"aggregate pairs: need 1..{MAX_ENTRIES} pairs")
    out = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return Rejected("aggregate pairs: each a pair (F, S)")
        if not all(type(s) is int and 0 <= s < L for s in pair):
            return Rejected("aggregate pairs: scalars in 0..l-1")
        out.append(encode_scalar(pair[0]) + encode_scalar(pair[1]))
    return b"".join(out)


def parse_pairs(k, data) -> tuple[tuple[int, int], ...] | Rejected:
    """Return k pairs from exactly 64·k bytes of canonical scalars (a malformed post: BAD_AGGREGATE)."""
    if type(k) is not int or not 1 <= k <= MAX_ENTRIES:
        return Rejected(f"aggregate pairs: k must be 1..{MAX_ENTRIES}")
    if not isinstance(data, (bytes, bytearray)) or len(data) != pair_bytes(k):
        return Rejected(f"aggregate pairs: must be {pair_bytes(k)} bytes for {k} entries")
    try:
        s = [
            parse_scalar(bytes(data[at : at + SCALAR_BYTES]), f"aggregate scalar {at // SCALAR_BYTES}")
            for at in range(0, len(data), SCALAR_BYTES)
        ]
    except Invalid as exc:
        return Rejected(exc.reason)
    return tuple(zip(s[0::2], s[1::2]))


def judge_pairs(sums, m, i, data) -> Post | Rejected:
    """Judge validator i's post against A at x = i+1: Rejected if malformed, else a Post valid or named."""
    if not isinstance(sums, Sums):
        return Rejected("aggregate: not a Sums")
    if type(m) is not int or not sums.t < m <= MAX_PARTIES:
        return Rejected("aggregate: need t < m <= 1024")
    if type(i) is not int or not 0 <= i < m:
        return Rejected("aggregate pairs: no such validator index")
    pairs = parse_pairs(sums.k, data)
    if isinstance(pairs, Rejected):
        return pairs
    powers = [pow(i + 1, j, L) for j in range(sums.t + 1)]
    for e, ((f, s), row) in enumerate(zip(pairs, sums.rows)):
        if base(f) + mul(s, H) != msm(powers, row):
            return Post(i, NAMED, pairs, f"aggregate pair {e} of validator {i}: does not match the commitments")
    return Post(i, VALID, pairs, "matches the commitments")


def sum_own_pairs(k, pair_lists) -> tuple[tuple[int, int], ...] | Rejected:
    """Return a validator's entrywise sums (F_e, S_e) mod l of its opened pairs over the counted ballots."""
    if type(k) is not int or not 1 <= k <= MAX_ENTRIES or not isinstance(pair_lists, (list, tuple)):
        return Rejected("own pairs: k in 1..16 and a list of each counted ballot's pairs")
    sums = [(0, 0)] * k
    for n, pairs in enumerate(pair_lists):
        if not _scalar_pairs(pairs, k):
            return Rejected(f"own pairs: ballot {n} is not {k} pairs of scalars")
        sums = [((F + f) % L, (S + g) % L) for (F, S), (f, g) in zip(sums, pairs)]
    return tuple(sums)


def own_pairs(sums, m, i, pair_lists) -> bytes | Rejected:
    """Return the bytes validator i's worker posts, or Rejected: its own pairs fail and it abstains."""
    if not isinstance(sums, Sums):
        return Rejected("aggregate: not a Sums")
    totals = sum_own_pairs(sums.k, pair_lists)
    if isinstance(totals, Rejected):
        return totals
    data = encode_pairs(totals)
    post = judge_pairs(sums, m, i, data)
    if isinstance(post, Rejected):
        return post
    if post.verdict != VALID:
        return Rejected(f"abstain: {post.reason} (a share this worker holds is not the counted one)")
    return data


def _scalar_pairs(pairs, k) -> bool:
    return (
        isinstance(pairs, (list, tuple))
        and len(pairs) == k
        and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(type(s) is int and 0 <= s < L for s in p)
            for p in pairs
        )
    )


@dataclass(frozen=True)
class Opening:
    """The opened tally: the counts T_e, the blindings R_e, and the t+1 validators interpolated."""

    counts: tuple[int, ...]
    blindings: tuple[int, ...]
    validators: tuple[int, ...]


def open_tally(sums, n, one_hot, posts) -> Opening | Rejected:
    """Interpolate the first t+1 valid posts (chain order) at 0 and run the final check against A[e][0].

    posts is the sequence of judged posts; named ones are skipped. The check: for every e,
    T_e·G + R_e·H = A[e][0] and T_e <= n; if one_hot, sum_e T_e = n.
    """
    if not isinstance(sums, Sums):
        return Rejected("aggregate: not a Sums")
    if type(n) is not int or not 0 <= n <= _MAX_INT or type(one_hot) is not bool:
        return Rejected("tally: n is a count and one_hot a bool")
    if not isinstance(posts, (list, tuple)) or not all(isinstance(p, Post) for p in posts):
        return Rejected("tally: posts are judged Posts")
    chosen, seen = [], set()
    for post in posts:
        if post.verdict != VALID:
            continue
        if type(post.validator) is not int or post.validator < 0 or post.validator in seen:
            return Rejected(f"tally: validator {post.validator} posted twice or is no index")
        if not _scalar_pairs(post.pairs, sums.k):
            return Rejected(f"tally: the post of validator {post.validator} is not {sums.k} pairs of scalars")
        seen.add(post.validator)
        chosen.append(post)
        if len(chosen) == sums.t + 1:
            break
    if len(chosen) < sums.t + 1:
        return Rejected(f"tally: {len(chosen)} valid aggregate posts, need {sums.t + 1}")
    lagrange = lagrange_at_zero([p.validator for p in chosen])
    counts, blindings = [], []
    for e in range(sums.k):
        counts.append(sum(lam * p.pairs[e][0] for lam, p in zip(lagrange, chosen)) % L)
        blindings.append(sum(lam * p.pairs[e][1] for lam, p in zip(lagrange, chosen)) % L)
    for e, (T, R, row) in enumerate(zip(counts, blindings, sums.rows)):
        if base(T) + mul(R, H) != row[0]:
            return Rejected(f"tally: the opening of entry {e} does not match A[{e}][0]")
        if T > n:
            return Rejected(f"tally: entry {e} opens above the {n} counted ballots")
    if one_hot and sum(counts) != n:
        return Rejected(f"tally: the entries sum to {sum(counts)}, not the {n} counted ballots")
    return Opening(tuple(counts), tuple(blindings), tuple(p.validator for p in chosen))


def tally_result(options, ballots_digest, n, counts) -> dict | Rejected:
    """Return the poll's result: {"status": "ok", "ballots", "outcome": {"tally": {option: count}}, "counted"}."""
    if not isinstance(options, (list, tuple)) or not all(type(o) is str for o in options):
        return Rejected("result: options are strings")
    if len(set(options)) != len(options) or not isinstance(counts, (list, tuple)) or len(counts) != len(options):
        return Rejected("result: one count per distinct option")
    if not all(type(c) is int and 0 <= c <= _MAX_INT for c in counts) or type(n) is not int or not 0 <= n <= _MAX_INT:
        return Rejected("result: counts and n are integers from 0 to 2^63-1")
    if type(ballots_digest) is not str or not _HEX64.fullmatch(ballots_digest):
        return Rejected("result: ballots_digest is 64 hex digits")
    return {
        "ballots": ballots_digest,
        "counted": n,
        "outcome": {"tally": dict(zip(options, counts))},
        "status": "ok",
    }
