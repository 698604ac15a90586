"""Verifiable ballots: build (voter), verify (state machine), open and check a share (validator).

Layout (docs/PROTOCOL.md §5): version | E | C[e][j] for e < k, j <= t | envelope[i]
for i < m | bit proof[e] for e < k | sum-to-one proof if the poll is a tally |
proof of rho. The proof of rho comes last and covers every byte before it.
"""

import hashlib
from dataclasses import dataclass

from . import envelope
from .context import PollContext, ciphertext_size
from .encoding import TAG_BIT, TAG_COMMITMENTS, TAG_RHO, TAG_SUM, VERSION, Reader, Rejected, digest
from .group import (
    G,
    H,
    IDENTITY,
    POINT_BYTES,
    Invalid,
    Point,
    base,
    msm,
    mul,
    parse_point,
    random_scalar,
    secret_mul_add,
    secret_poly_eval,
    L,
)
from .proofs import BIT_BYTES, DLOG_BYTES, prove_bit, prove_dlog, verify_bit, verify_dlog

__all__ = ["Ballot", "build_ballot", "parse_ballot", "verify_ballot", "share_check", "open_with_key", "open_ballot"]


@dataclass(frozen=True, repr=False)
class Ballot:
    """A parsed ballot: public fields only (its envelopes are ciphertext)."""

    raw: bytes
    e_point: Point
    commitments: tuple[tuple[Point, ...], ...]
    envelopes: tuple[bytes, ...]
    bit_proofs: tuple[bytes, ...]
    sum_proof: bytes | None
    rho_proof: bytes
    commitments_digest: bytes

    def __repr__(self) -> str:
        return f"Ballot({len(self.raw)} bytes, k={len(self.commitments)}, m={len(self.envelopes)})"


def _check_voter(voter) -> bytes:
    if not isinstance(voter, bytes) or not 1 <= len(voter) <= 255:
        raise Invalid("voter: 1..255 bytes")
    return voter


def _commitments_digest(commitments) -> bytes:
    return digest(TAG_COMMITMENTS, *(c for row in commitments for c in row))


def _statement(poll, voter, e_point, commitments_digest) -> tuple:
    return (poll.header, voter, e_point, commitments_digest)


def _rho_context(poll, voter, prefix: bytes) -> tuple:
    return (poll.header, voter, hashlib.sha256(prefix).digest())


def build_ballot(poll: PollContext, voter: bytes, values, rng=random_scalar) -> bytes:
    """Return a ballot for values (one bit per entry, exactly one 1 in a tally)."""
    _check_voter(voter)
    values = list(values)
    if len(values) != poll.k or any(v not in (0, 1) for v in values):
        raise ValueError(f"a ballot holds {poll.k} entries of 0 or 1")
    if poll.one_hot and sum(values) != 1:
        raise ValueError("a tally ballot holds exactly one 1")
    rho = rng()
    e_point = base(rho)
    f = [[v] + [rng() for _ in range(poll.t)] for v in values]
    g = [[rng() for _ in range(poll.t + 1)] for _ in values]
    commitments = [[base(a) + mul(b, H) for a, b in zip(fe, ge)] for fe, ge in zip(f, g)]
    cdigest = _commitments_digest(commitments)
    parts = [bytes([VERSION]), e_point.encode()]
    parts += [c.encode() for row in commitments for c in row]
    for i, x in enumerate(poll.keys):
        pairs = [(secret_poly_eval(fe, i + 1), secret_poly_eval(ge, i + 1)) for fe, ge in zip(f, g)]
        parts.append(envelope.seal(poll, voter, i, e_point, mul(rho, x), cdigest, envelope.encode_pairs(pairs)))
    statement = _statement(poll, voter, e_point, cdigest)
    for e, (v, row, ge) in enumerate(zip(values, commitments, g)):
        parts.append(prove_bit(TAG_BIT, statement + (e,), row[0], v, ge[0], rng))
    if poll.one_hot:
        d = msm([1] * poll.k, [row[0] for row in commitments]) - G
        s = 0
        for ge in g:
            s = secret_mul_add(s, 1, ge[0])
        parts.append(prove_dlog(TAG_SUM, statement, H, d, s, rng))
    body = b"".join(parts)
    return body + prove_dlog(TAG_RHO, _rho_context(poll, voter, body), G, e_point, rho, rng)


def parse_ballot(poll: PollContext, raw) -> Ballot:
    """Return the fields of raw, or raise Invalid; proofs are not checked here."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise Invalid("ballot: not bytes")
    raw = bytes(raw)
    size = poll.ballot_size()
    if len(raw) != size:
        raise Invalid(f"ballot: {len(raw)} bytes, this poll's ballots are {size}")
    r = Reader(raw)
    if r.take(1)[0] != VERSION:
        raise Invalid(f"ballot: version must be {VERSION}")
    e_point = parse_point(r.take(POINT_BYTES), "E")
    commitments = tuple(
        tuple(parse_point(r.take(POINT_BYTES), f"C[{e}][{j}]") for j in range(poll.t + 1)) for e in range(poll.k)
    )
    envelopes = tuple(r.take(ciphertext_size(poll.k)) for _ in range(poll.m))
    bit_proofs = tuple(r.take(BIT_BYTES) for _ in range(poll.k))
    sum_proof = r.take(DLOG_BYTES) if poll.one_hot else None
    rho_proof = r.take(DLOG_BYTES)
    return Ballot(
        raw, e_point, commitments, envelopes, bit_proofs, sum_proof, rho_proof, _commitments_digest(commitments)
    )


def verify_ballot(poll: PollContext, voter, raw) -> Ballot | Rejected:
    """Return the parsed ballot if every field and proof checks, else a Rejected naming why."""
    try:
        _check_voter(voter)
        b = parse_ballot(poll, raw)
        # First, so that a ballot reusing another ballot's E fails before anything else.
        verify_dlog(TAG_RHO, _rho_context(poll, voter, b.raw[:-DLOG_BYTES]), G, b.e_point, b.rho_proof, "proof of rho")
        statement = _statement(poll, voter, b.e_point, b.commitments_digest)
        for e, (row, proof) in enumerate(zip(b.commitments, b.bit_proofs)):
            verify_bit(TAG_BIT, statement + (e,), row[0], proof, f"bit proof {e}")
        if poll.one_hot:
            d = msm([1] * poll.k, [row[0] for row in b.commitments]) - G
            verify_dlog(TAG_SUM, statement, H, d, b.sum_proof, "sum-to-one proof")
    except Invalid as exc:
        return Rejected(exc.reason)
    return b


def share_check(poll: PollContext, ballot: Ballot, i: int, pairs) -> bool:
    """Return whether validator i's pairs lie on the ballot's committed polynomials."""
    x = i + 1
    powers = [pow(x, j, L) for j in range(poll.t + 1)]
    for (f, g), row in zip(pairs, ballot.commitments):
        if base(f) + mul(g, H) != msm(powers, row):
            return False
    return len(pairs) == len(ballot.commitments)


def open_with_key(
    poll: PollContext, voter: bytes, ballot: Ballot, i: int, k_point: Point
) -> list[tuple[int, int]] | Rejected:
    """Return validator i's checked pairs given K = x_i·E, or a Rejected naming the bad share."""
    if k_point == IDENTITY:
        return Rejected("K: the identity is not allowed here")
    try:
        plaintext = envelope.open_(
            poll, voter, i, ballot.e_point, k_point, ballot.commitments_digest, ballot.envelopes[i]
        )
        pairs = envelope.decode_pairs(plaintext, poll.k)
    except Invalid as exc:
        return Rejected(exc.reason)
    if not share_check(poll, ballot, i, pairs):
        return Rejected(f"share {i}: does not match the ballot's commitments")
    return pairs


def open_ballot(
    poll: PollContext, voter: bytes, ballot: Ballot, i: int, secret_key: int
) -> list[tuple[int, int]] | Rejected:
    """Return validator i's checked pairs, decrypting with its secret key x_i (constant time)."""
    return open_with_key(poll, voter, ballot, i, mul(secret_key, ballot.e_point))
