"""Hostile ballots for the chain's tests (docs/PROTOCOL.md §17): built as an attacker would, sent as signed txs.

- `rigged_ballot`: a tally entry vector [w, -(w-1), 0, ...] (sums to 1, so the sum proof
  holds) or a unanimity [w]: commitments to non-bits, bit proofs made as if the value were 1.
- `flipped_proof_ballot`: an honest ballot with one bit-proof byte flipped, the proof of rho
  redone by the voter (who knows rho), so the bit proof is what fails.
- `complaint_oracle_ballot`: E' = E_victim + d·G, garbage envelopes, the victim's commitments
  and proofs copied, a proof of rho made with d (all the attacker knows): §6's oracle.
  (These two are scripts/toolkit/reliability/hostile.py's, which scenario 7 sends too.)
- `bad_share_ballot`: build_ballot's steps with validator i's pair corrupted; every proof
  holds, so the chain takes it and only validator i's complaint can put it out.

Each returns the ballot bytes; `cast_ballot_tx` wraps them in a signed cast_ballot tx.
"""

import hashlib
import importlib.util
import os
from pathlib import Path

from mpc_tx.protocol import envelope, tx as txcodec
from mpc_tx.protocol.context import ciphertext_size, make_poll
from mpc_tx.protocol.encoding import TAG_BIT, TAG_COMMITMENTS, TAG_RHO, TAG_SUM, VERSION, digest
from mpc_tx.protocol.group import G, H, L, base, msm, mul, random_scalar, secret_poly_eval
from mpc_tx.protocol.proofs import prove_bit, prove_dlog
from mpc_tx.protocol.seeded import SeededScalars

from protocolhelpers import craft_ballot

# The reliability scenarios build the same hostile ballots; one implementation, loaded by path
# (as protocolhelpers loads the vectors script): the toolkit never imports the tests.
_HOSTILE = Path(__file__).resolve().parents[2] / "scripts" / "toolkit" / "reliability" / "hostile.py"
_spec = importlib.util.spec_from_file_location("reliability_hostile", _HOSTILE)
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

__all__ = [
    "hostile",
    "SHARE_FAULTS",
    "chain_poll",
    "one_hot_values",
    "rigged_values",
    "rigged_ballot",
    "flipped_proof_ballot",
    "complaint_oracle_ballot",
    "bad_share_ballot",
    "cast_ballot_tx",
]

SHARE_FAULTS = ("wrong value", "wrong blinding", "garbage envelope", "not canonical")


def chain_poll(chain_id: str, poll_id: int, t: int, k: int, enc_keys_hex):
    """Return the PollContext §17 gives poll N of a chain: one_hot iff k > 1."""
    return make_poll(chain_id.encode(), str(poll_id).encode(), t, k, k > 1, [bytes.fromhex(x) for x in enc_keys_hex])


def one_hot_values(k: int, choice: int) -> list[int]:
    """Return the entries of a tally ballot for option index choice."""
    return [int(e == choice) for e in range(k)]


def rigged_values(k: int, weight: int = 5) -> list[int]:
    """Return [w, -(w-1), 0, ...] for a tally (sums to 1), or [w] for k = 1."""
    if k == 1:
        return [weight]
    return [weight, -(weight - 1)] + [0] * (k - 2)


def _seed() -> bytes:
    return os.urandom(16)


def rigged_ballot(poll, voter: bytes, weight: int = 5, seed: bytes | None = None) -> bytes:
    """Return a ballot giving weight w to entry 0 (and 1 - w to entry 1 in a tally): its bit proofs fail."""
    return craft_ballot(poll, rigged_values(poll.k, weight), seed or _seed(), voter)[0]


def _rho_proof(poll, voter: bytes, body: bytes, e_point, secret: int, rng) -> bytes:
    context = (poll.header, voter, hashlib.sha256(body).digest())
    return prove_dlog(TAG_RHO, context, G, e_point, secret, rng)


def flipped_proof_ballot(poll, voter: bytes, values, entry: int = 0) -> bytes:
    """Return an honest ballot with one byte of entry's bit proof (z1) flipped, the proof of rho redone."""
    return hostile.flipped_bit_proof(poll, voter, values, entry)


def complaint_oracle_ballot(poll, voter: bytes, victim_raw: bytes) -> bytes:
    """Return §6's oracle ballot on a victim's: E' = E_victim + d·G, garbage envelopes, the rest copied."""
    return hostile.oracle(poll, voter, victim_raw)


def bad_share_ballot(
    poll, voter: bytes, values, i: int, fault: str = "wrong value", seed: bytes | None = None
) -> bytes:
    """Return a ballot whose proofs all verify but whose envelope for validator i fails §10's check."""
    if fault not in SHARE_FAULTS:
        raise ValueError(f"fault is one of {SHARE_FAULTS}")
    return _build(poll, voter, values, SeededScalars(seed or _seed()), bad=(i, fault))


def _corrupt(pairs, fault: str) -> bytes:
    if fault == "wrong value":
        return envelope.encode_pairs([((pairs[0][0] + 1) % L, pairs[0][1])] + pairs[1:])
    if fault == "wrong blinding":
        return envelope.encode_pairs([(pairs[0][0], (pairs[0][1] + 1) % L)] + pairs[1:])
    if fault == "not canonical":  # f_0 + l: the same value mod l, refused by the shared decoder
        plain = envelope.encode_pairs(pairs)
        return (int.from_bytes(plain[:32], "little") + L).to_bytes(32, "little") + plain[32:]
    raise AssertionError(fault)


def _build(poll, voter: bytes, values, rng=random_scalar, bad=None) -> bytes:
    """Return a ballot built by build_ballot's steps (§6); bad = (i, fault) corrupts validator i's envelope."""
    values = list(values)
    rho = rng()
    e_point = base(rho)
    f = [[v] + [rng() for _ in range(poll.t)] for v in values]
    g = [[rng() for _ in range(poll.t + 1)] for _ in values]
    commitments = [[base(a) + mul(b, H) for a, b in zip(fe, ge)] for fe, ge in zip(f, g)]
    cdigest = digest(TAG_COMMITMENTS, *(c for row in commitments for c in row))
    parts = [bytes([VERSION]), e_point.encode()] + [c.encode() for row in commitments for c in row]
    for i, x in enumerate(poll.keys):
        pairs = [(secret_poly_eval(fe, i + 1), secret_poly_eval(ge, i + 1)) for fe, ge in zip(f, g)]
        plaintext = envelope.encode_pairs(pairs)
        if bad is not None and bad[0] == i:
            if bad[1] == "garbage envelope":
                parts.append(os.urandom(ciphertext_size(poll.k)))
                continue
            plaintext = _corrupt(pairs, bad[1])
        parts.append(envelope.seal(poll, voter, i, e_point, mul(rho, x), cdigest, plaintext))
    statement = (poll.header, voter, e_point, cdigest)
    for e, (v, row, ge) in enumerate(zip(values, commitments, g)):
        parts.append(prove_bit(TAG_BIT, statement + (e,), row[0], v, ge[0], rng))
    if poll.one_hot:
        d = msm([1] * poll.k, [row[0] for row in commitments]) - G
        parts.append(prove_dlog(TAG_SUM, statement, H, d, sum(ge[0] for ge in g) % L, rng))
    body = b"".join(parts)
    return body + _rho_proof(poll, voter, body, e_point, rho, rng)


def cast_ballot_tx(key, chain_id: str, nonce: int, poll, poll_id: int, ballot: bytes) -> bytes:
    """Return a signed cast_ballot tx carrying ballot, with §17's body {poll, m, t, k, ballot}."""
    body = {"poll": poll_id, "m": poll.m, "t": poll.t, "k": poll.k, "ballot": ballot.hex()}
    return txcodec.build(key, chain_id, "cast_ballot", nonce, body)
