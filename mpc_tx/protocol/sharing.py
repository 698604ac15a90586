"""Shamir secret sharing of ballots over GF(L), L the prime order of the Ed25519 group.

Party i (0-based) holds f(i+1) of a degree-t polynomial f with f(0) the secret,
exactly the layout MPyC uses, so a voter's shares enter the MPC as they are.
"""

import functools
import secrets

__all__ = ["L", "share", "share_vector", "reconstruct", "on_degree"]

L = 2**252 + 27742317777372353535851937790883648493


def _check_parties(m, t):
    if not 0 <= t < m or m >= L:
        raise ValueError("need 0 <= t < m parties")


def _evaluate(coefficients, x):
    y = 0
    for c in reversed(coefficients):
        y = (y * x + c) % L
    return y


def share(value: int, m: int, t: int) -> list[int]:
    """Split value into m shares of a fresh random degree-t polynomial."""
    _check_parties(m, t)
    coefficients = [value % L] + [secrets.randbelow(L) for _ in range(t)]
    return [_evaluate(coefficients, i + 1) for i in range(m)]


def share_vector(values, m: int, t: int) -> list[list[int]]:
    """Share each value independently; return per party its list of shares."""
    per_value = [share(v, m, t) for v in values]
    return [[shares[i] for shares in per_value] for i in range(m)]


def _lagrange(xs, x_r):
    """Return the weights that interpolate points at xs and evaluate at x_r."""
    weights = []
    for i, x_i in enumerate(xs):
        num = den = 1
        for j, x_j in enumerate(xs):
            if i != j:
                num = num * (x_r - x_j) % L
                den = den * (x_i - x_j) % L
        weights.append(num * pow(den, -1, L) % L)
    return weights


@functools.cache
def _parity_rows(m, t):
    """Weights expressing f(k+1), k > t, through f(1..t+1) for any degree-t f."""
    xs = list(range(1, t + 2))
    return tuple((k, tuple(_lagrange(xs, k + 1))) for k in range(t + 1, m))


def _points(points):
    if isinstance(points, dict):
        items = sorted(points.items())
    else:
        items = [(i, s) for i, s in enumerate(points) if s is not None]
    pids = [i for i, _ in items]
    if len(set(pids)) != len(pids) or any(i < 0 for i in pids):
        raise ValueError("party indices must be distinct and nonnegative")
    return [(i + 1, s % L) for i, s in items]


def reconstruct(points, t: int | None = None) -> int:
    """Interpolate shares keyed by 0-based party index and return f(0).

    points is a dict {pid: share} or a list of shares in party order (None
    for a missing share). With t given, demand at least t+1 shares lying on
    one degree-t polynomial; without t, use all given shares.
    """
    pts = _points(points)
    if not pts:
        raise ValueError("no shares")
    if t is not None:
        if len(pts) < t + 1:
            raise ValueError("fewer than t+1 shares")
        base, rest = pts[: t + 1], pts[t + 1 :]
        xs = [x for x, _ in base]
        for x, y in rest:
            if sum(w * b for w, (_, b) in zip(_lagrange(xs, x), base)) % L != y:
                raise ValueError("shares do not lie on one degree-t polynomial")
        pts = base
    xs = [x for x, _ in pts]
    return sum(w * y for w, (_, y) in zip(_lagrange(xs, 0), pts)) % L


def on_degree(shares: list[int], t: int) -> bool:
    """Tell whether all m shares (party order) lie on one polynomial of degree at most t."""
    m = len(shares)
    _check_parties(m, t)
    ys = [s % L for s in shares]
    base = ys[: t + 1]
    return all(sum(w * b for w, b in zip(weights, base)) % L == ys[k] for k, weights in _parity_rows(m, t))
