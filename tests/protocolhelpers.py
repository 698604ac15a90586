"""Shared set-up for the protocol tests: polls with known keys, ballots with known rho, field offsets."""
import hashlib

from mpc_tx.protocol import envelope
from mpc_tx.protocol.ballot import build_ballot, parse_ballot
from mpc_tx.protocol.context import ciphertext_size, make_poll
from mpc_tx.protocol.encoding import TAG_RHO
from mpc_tx.protocol.group import G, base, mul
from mpc_tx.protocol.proofs import prove_dlog
from mpc_tx.protocol.seeded import SeededScalars

__all__ = ["VOTER", "TX_HASH", "test_poll", "build_known", "reseal", "field_offsets"]

VOTER = b"\x11" * 32
TX_HASH = b"\x22" * 32


def test_poll(m: int, t: int, k: int, one_hot: bool, seed: bytes = b"poll"):
    """Return a PollContext with m seeded validator keys, and their secret keys."""
    rng = SeededScalars(b"keys/" + seed)
    secrets_ = [rng() for _ in range(m)]
    poll = make_poll(b"mpcvote-test", b"poll/" + seed, t, k, one_hot, [base(x).encode() for x in secrets_])
    return poll, secrets_


test_poll.__test__ = False  # a helper, not a test


def build_known(poll, values, seed: bytes = b"ballot", voter: bytes = VOTER):
    """Return a ballot built from a seed, and its rho (the stream's first draw)."""
    return build_ballot(poll, voter, values, SeededScalars(seed)), SeededScalars(seed)()


def reseal(poll, raw: bytes, rho: int, i: int, plaintext: bytes, voter: bytes = VOTER,
           ciphertext: bytes | None = None) -> bytes:
    """Return raw with envelope i replaced (as a cheating voter would) and the proof of rho redone."""
    b = parse_ballot(poll, raw)
    if ciphertext is None:
        ciphertext = envelope.seal(poll, voter, i, b.e_point, mul(rho, poll.keys[i]),
                                   b.commitments_digest, plaintext)
    start = field_offsets(poll)["envelopes"] + i * ciphertext_size(poll.k)
    body = raw[:start] + ciphertext + raw[start + len(ciphertext):-64]
    context = (poll.header, voter, hashlib.sha256(body).digest())
    return body + prove_dlog(TAG_RHO, context, G, b.e_point, rho, SeededScalars(b"reseal"))


def field_offsets(poll) -> dict:
    """Return the byte offset of each part of a ballot in poll."""
    m, t, k = poll.m, poll.t, poll.k
    out = {"version": 0, "E": 1, "C": 33}
    out["envelopes"] = out["C"] + 32 * k * (t + 1)
    out["bits"] = out["envelopes"] + m * ciphertext_size(k)
    out["sum"] = out["bits"] + 128 * k
    out["rho"] = out["sum"] + (64 if poll.one_hot else 0)
    out["end"] = out["rho"] + 64
    return out
