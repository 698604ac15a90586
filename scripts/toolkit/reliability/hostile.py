"""Hostile ballots for scenario 7, built from the protocol package alone (the toolkit never imports the tests).

A voter who knows rho can change any byte before the proof of rho and prove it again: so
an honest ballot with envelope i replaced by garbage still verifies (only validator i's
complaint can put it out), and one with a flipped bit-proof byte fails on that bit proof.
The complaint oracle (docs/PROTOCOL.md §6) reuses a victim's E plus d·G and can prove only d.
"""

import hashlib
import os

from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.ballot import build_ballot, parse_ballot
from mpc_tx.protocol.context import ciphertext_size, make_poll
from mpc_tx.protocol.encoding import TAG_RHO
from mpc_tx.protocol.group import G, base, random_scalar
from mpc_tx.protocol.proofs import BIT_BYTES, DLOG_BYTES, prove_dlog

__all__ = ["poll_context", "ballot_values", "garbage_share", "flipped_bit_proof", "oracle", "ballot_tx"]


def poll_context(genesis: dict, poll: dict):
    """Return §17's PollContext of a poll record (one_hot iff k > 1)."""
    k = len(poll["options"]) if poll["kind"] == "tally" else 1
    keys = [bytes.fromhex(v["enc_key"]) for v in genesis["app_state"]["validators"]]
    return make_poll(genesis["chain_id"].encode(), str(poll["id"]).encode(), poll["threshold"], k, k > 1, keys)


def ballot_values(poll: dict, choice: str) -> list[int]:
    """Return the entries of a ballot for choice."""
    if poll["kind"] == "tally":
        return [int(o == choice) for o in poll["options"]]
    return [int(choice == "yes")]


def _honest(ctx, voter: bytes, values) -> tuple[bytes, int]:
    """Return an honest ballot and its rho (the builder's first draw)."""
    drawn = []

    def rng():
        drawn.append(random_scalar())
        return drawn[-1]

    return build_ballot(ctx, voter, values, rng), drawn[0]


def _prove_rho(ctx, voter: bytes, body: bytes, e_point, secret: int) -> bytes:
    context = (ctx.header, voter, hashlib.sha256(body).digest())
    return body + prove_dlog(TAG_RHO, context, G, e_point, secret, random_scalar)


def _offsets(ctx) -> tuple[int, int]:
    envelopes = 33 + 32 * ctx.k * (ctx.t + 1)
    return envelopes, envelopes + ctx.m * ciphertext_size(ctx.k)


def garbage_share(ctx, voter: bytes, values, i: int) -> bytes:
    """Return a ballot whose proofs verify but whose envelope for validator i does not open."""
    raw, rho = _honest(ctx, voter, values)
    at = _offsets(ctx)[0] + i * ciphertext_size(ctx.k)
    body = raw[:at] + os.urandom(ciphertext_size(ctx.k)) + raw[at + ciphertext_size(ctx.k) : -DLOG_BYTES]
    return _prove_rho(ctx, voter, body, parse_ballot(ctx, raw).e_point, rho)


def flipped_bit_proof(ctx, voter: bytes, values, entry: int = 0) -> bytes:
    """Return a ballot with one byte of entry's bit proof flipped (the proof of rho redone): refused."""
    raw, rho = _honest(ctx, voter, values)
    at = _offsets(ctx)[1] + entry * BIT_BYTES + BIT_BYTES - 32  # the low byte of z1: still a canonical scalar
    body = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 : -DLOG_BYTES]
    return _prove_rho(ctx, voter, body, parse_ballot(ctx, raw).e_point, rho)


def oracle(ctx, voter: bytes, victim_raw: bytes) -> bytes:
    """Return the complaint-oracle ballot on a victim's: E + d·G, garbage envelopes, a proof of d: refused."""
    victim = parse_ballot(ctx, victim_raw)
    d = random_scalar()
    forged = victim.e_point + base(d)
    envelopes, bits = _offsets(ctx)
    body = (
        victim_raw[:1]
        + forged.encode()
        + victim_raw[33:envelopes]
        + os.urandom(bits - envelopes)
        + victim_raw[bits:-DLOG_BYTES]
    )
    return _prove_rho(ctx, voter, body, forged, d)


def ballot_tx(key, chain_id: str, ctx, poll_id: int, ballot: bytes, nonce: int = 1) -> bytes:
    """Return a signed cast_ballot tx (§17 body); nonce 1 is above a new voter's last (0)."""
    body = {"poll": poll_id, "m": ctx.m, "t": ctx.t, "k": ctx.k, "ballot": ballot.hex()}
    return txcodec.build(key, chain_id, "cast_ballot", nonce, body)
