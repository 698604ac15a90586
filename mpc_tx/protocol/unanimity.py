"""Public unanimity: an equality test on the aggregate that opens only "all yes" or "not all yes".

D = A[0][0] - n·G commits to Y - n (Y the yes count, n the counted ballots) with blinding R.
Round 1 (mask): validator j posts P_j = r_j·D, Q_j = r_j·H (Q_j not the identity) and a DLEQ
proof; then r·D = sum P_j and W = sum Q_j = r·H (not the identity). Round 2 (open): validator i
posts Z_i = S_i·W, S_i its blinding share g_D(i+1), with a proof that S_i is the blinding of
V_i = sum_j (i+1)^j A[0][j] - n·G = F_i·G + S_i·H. Any t+1 valid Z_i interpolate R·W, and
r·D - R·W = r(Y - n)·G is the identity iff every ballot said yes. (Y - n)·G itself is never
published: a small range could be searched. The caller erases r_j once its mask is posted.
"""

from .aggregate import Aggregate, lagrange_at_zero
from .encoding import TAG_UNANIMITY_MASK, TAG_UNANIMITY_OPEN, Rejected
from .group import H, IDENTITY, POINT_BYTES, Invalid, Point, base, msm, mul, parse_point, secret_mul_add, L
from .proofs import prove_dleq, prove_link, verify_dleq, verify_link

__all__ = [
    "MASK_BYTES",
    "OPEN_BYTES",
    "ALL_YES",
    "NOT_ALL_YES",
    "unanimity_commitment",
    "make_mask",
    "check_mask",
    "combine_masks",
    "make_open",
    "check_open",
    "unanimity_outcome",
]

MASK_BYTES = 2 * POINT_BYTES + 64
OPEN_BYTES = POINT_BYTES + 96
ALL_YES = "all yes"
NOT_ALL_YES = "not all yes"


def _check_kind(agg: Aggregate) -> None:
    if agg.poll.k != 1 or agg.poll.one_hot:
        raise ValueError("unanimity takes a poll of one bit entry")


def unanimity_commitment(agg: Aggregate) -> Point:
    """Return D = A[0][0] - n·G, a commitment to Y - n."""
    _check_kind(agg)
    return agg.sums[0][0] - base(agg.count)


def _share_commitment(agg: Aggregate, i: int) -> Point:
    powers = [pow(i + 1, j, L) for j in range(agg.poll.t + 1)]
    return msm(powers, agg.sums[0]) - base(agg.count)


def _mask_context(agg, j):
    return (agg.poll.header, j, agg.count)


def _open_context(agg, i):
    return (agg.poll.header, i, agg.count)


def make_mask(agg: Aggregate, j: int, r: int, rng) -> bytes:
    """Return validator j's round-1 post P_j || Q_j || proof for its secret nonzero r_j."""
    d = unanimity_commitment(agg)
    p, q = mul(r, d), mul(r, H)
    return p.encode() + q.encode() + prove_dleq(TAG_UNANIMITY_MASK, _mask_context(agg, j), H, q, d, p, r, rng)


def check_mask(agg: Aggregate, j: int, data) -> tuple[Point, Point] | Rejected:
    """Return (P_j, Q_j) if validator j's round-1 post verifies, else Rejected."""
    if type(j) is not int or not 0 <= j < agg.poll.m:
        return Rejected("unanimity mask: no such validator index")
    if not isinstance(data, (bytes, bytearray)) or len(data) != MASK_BYTES:
        return Rejected(f"unanimity mask: must be {MASK_BYTES} bytes")
    data = bytes(data)
    try:
        d = unanimity_commitment(agg)
        # P_j = r_j·D is the identity exactly when D is; Q_j never may be.
        p = parse_point(data[:32], "P_j", allow_identity=True)
        q = parse_point(data[32:64], "Q_j")
        verify_dleq(TAG_UNANIMITY_MASK, _mask_context(agg, j), H, q, d, p, data[64:], "unanimity mask proof")
    except Invalid as exc:
        return Rejected(exc.reason)
    return p, q


def combine_masks(masks) -> tuple[Point, Point] | Rejected:
    """Return (r·D, W) from checked round-1 posts; Rejected if W is the identity."""
    rd, w = IDENTITY, IDENTITY
    for p, q in masks:
        rd, w = rd + p, w + q
    if w.is_identity():
        return Rejected("unanimity: W is the identity")
    return rd, w


def make_open(agg: Aggregate, i: int, pair: tuple[int, int], w: Point, rng) -> bytes:
    """Return validator i's round-2 post Z_i || proof from its aggregate pair (F_i, S_i)."""
    f, s = pair
    v = _share_commitment(agg, i)  # = (F_i - n)·G + S_i·H
    z = mul(s, w)
    a = secret_mul_add(f, agg.count, L - 1)  # F_i - n, in constant time
    return z.encode() + prove_link(TAG_UNANIMITY_OPEN, _open_context(agg, i), v, w, z, a, s, rng)


def check_open(agg: Aggregate, i: int, w: Point, data) -> Point | Rejected:
    """Return Z_i if validator i's round-2 post verifies against its share commitment, else Rejected."""
    if type(i) is not int or not 0 <= i < agg.poll.m:
        return Rejected("unanimity open: no such validator index")
    if not isinstance(data, (bytes, bytearray)) or len(data) != OPEN_BYTES:
        return Rejected(f"unanimity open: must be {OPEN_BYTES} bytes")
    data = bytes(data)
    try:
        _check_kind(agg)
        z = parse_point(data[:32], "Z_i", allow_identity=True)
        verify_link(
            TAG_UNANIMITY_OPEN,
            _open_context(agg, i),
            _share_commitment(agg, i),
            w,
            z,
            data[32:],
            "unanimity open proof",
        )
    except Invalid as exc:
        return Rejected(exc.reason)
    return z


def unanimity_outcome(agg: Aggregate, rd: Point, w: Point, checked: dict) -> str | Rejected:
    """Return ALL_YES or NOT_ALL_YES from t+1 results of check_open {i: result}."""
    valid = {i: z for i, z in checked.items() if not isinstance(z, Rejected)}
    if len(valid) < agg.poll.t + 1:
        return Rejected(f"unanimity: need {agg.poll.t + 1} valid openings")
    chosen = sorted(valid.items())[: agg.poll.t + 1]
    rw = msm(lagrange_at_zero(i for i, _ in chosen), [z for _, z in chosen])
    return ALL_YES if (rd - rw).is_identity() else NOT_ALL_YES
