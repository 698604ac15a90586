"""Complaints: validator i reveals K = x_i·E with a DLEQ proof; the chain judges the share.

complaint = K (32) | c (32) | z (32), the DLEQ proof of log_G X_i = log_E K over
frame(TAG_DLEQ, poll header, ballot tx hash, i, G, X_i, E, K, A1, A2). The judge
decrypts with the one decoder the validators use: a share that does not open,
decode or match the commitments puts the ballot out; one that does makes the
complaint false. K is proven, so neither side can frame the other.
"""

from dataclasses import dataclass

from .ballot import Ballot, open_with_key, verify_ballot
from .context import PollContext
from .encoding import TAG_DLEQ, Rejected
from .group import G, POINT_BYTES, Invalid, mul, parse_point, random_scalar
from .proofs import DLEQ_BYTES, prove_dleq, verify_dleq

__all__ = ["COMPLAINT_BYTES", "BALLOT_BAD", "COMPLAINT_FALSE", "Verdict", "make_complaint", "adjudicate"]

COMPLAINT_BYTES = POINT_BYTES + DLEQ_BYTES
BALLOT_BAD = "ballot bad"
COMPLAINT_FALSE = "complaint false"


@dataclass(frozen=True)
class Verdict:
    """The judgement of a well-formed complaint: BALLOT_BAD (voter named) or COMPLAINT_FALSE."""

    outcome: str
    reason: str


def _context(poll: PollContext, tx_hash: bytes, i: int) -> tuple:
    return (poll.header, tx_hash, i)


def make_complaint(
    poll: PollContext, tx_hash: bytes, ballot: Ballot, i: int, secret_key: int, rng=random_scalar
) -> bytes:
    """Return validator i's complaint about ballot: K = x_i·E and its DLEQ proof."""
    k_point = mul(secret_key, ballot.e_point)
    proof = prove_dleq(TAG_DLEQ, _context(poll, tx_hash, i), G, poll.keys[i], ballot.e_point, k_point, secret_key, rng)
    return k_point.encode() + proof


def adjudicate(poll: PollContext, voter: bytes, tx_hash: bytes, ballot_raw, i: int, complaint) -> Verdict | Rejected:
    """Judge validator i's complaint about a committed ballot; Rejected if the complaint is malformed."""
    if type(i) is not int or not 0 <= i < poll.m:
        return Rejected("complaint: no such validator index")
    if not isinstance(tx_hash, bytes) or len(tx_hash) != 32:
        return Rejected("complaint: the ballot tx hash is 32 bytes")
    ballot = verify_ballot(poll, voter, ballot_raw)
    if isinstance(ballot, Rejected):
        # The chain only holds verified ballots; this means the caller passed the wrong one.
        return Rejected(f"complaint: the ballot does not verify ({ballot.reason})")
    if not isinstance(complaint, (bytes, bytearray)) or len(complaint) != COMPLAINT_BYTES:
        return Rejected(f"complaint: must be {COMPLAINT_BYTES} bytes")
    complaint = bytes(complaint)
    try:
        k_point = parse_point(complaint[:POINT_BYTES], "K")
        verify_dleq(
            TAG_DLEQ,
            _context(poll, tx_hash, i),
            G,
            poll.keys[i],
            ballot.e_point,
            k_point,
            complaint[POINT_BYTES:],
            "complaint proof",
        )
    except Invalid as exc:
        return Rejected(exc.reason)
    opened = open_with_key(poll, voter, ballot, i, k_point)
    if isinstance(opened, Rejected):
        return Verdict(BALLOT_BAD, opened.reason)
    return Verdict(COMPLAINT_FALSE, f"share {i} opens and matches the ballot's commitments")
