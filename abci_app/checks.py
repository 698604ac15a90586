"""Checks every transaction passes before its type's rules: size, chain, nonce, signature, a ballot's proofs.

CheckTx and FinalizeBlock run the same checks against their own state, so a
transaction is rejected with the same code in both. Cheap checks come first
(size, shape, chain id, nonce) so that junk costs no signature verification,
and a ballot's proofs come after its signature.

`stateless` is the part that depends on the bytes and the chain's fixed facts
only (chain id, parameters, the static registry): ProcessProposal and
PrepareProposal use it, since they must answer the same on every node whatever
each node's mempool or cache holds.
"""

import dataclasses
from collections import OrderedDict

from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.ballot import verify_ballot
from mpc_tx.protocol.codes import TxError, TOO_LARGE, WRONG_CHAIN, REPLAY, BAD_BALLOT, UNKNOWN_POLL, NOT_VALIDATOR
from mpc_tx.protocol.context import PollContext, ballot_size
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import parse_point
from abci_app.store.keys import nonce_key, poll_key

__all__ = ["admit", "stateless", "check_ballot", "poll_context", "registry_points", "load_poll_for_validator"]

# Parsed registry keys by their hex encodings: the registry is static, so one entry per
# chain (a test process runs a few chains); parsing is then once per process, not per ballot.
_POINTS = OrderedDict()
_POINTS_HELD = 8


def registry_points(validators) -> tuple:
    """Return the validators' encryption keys X_i as points (genesis checked they parse)."""
    encodings = tuple(v["enc_key"] for v in validators)
    points = _POINTS.get(encodings)
    if points is None:
        points = tuple(parse_point(bytes.fromhex(x), f"X_{i}") for i, x in enumerate(encodings))
        _POINTS[encodings] = points
        if len(_POINTS) > _POINTS_HELD:
            _POINTS.popitem(last=False)
    return points


def poll_context(chain_id: str, validators, poll_id: int, t: int, k: int) -> PollContext:
    """Return poll `poll_id`'s protocol context (docs/PROTOCOL.md §17): one_hot iff a tally (k > 1)."""
    return PollContext(chain_id.encode(), str(poll_id).encode(), t, k, k > 1, registry_points(validators))


def check_ballot(tx, chain_id: str, validators):
    """Return the cast_ballot tx with its verified ballot (tx.checked); raise BAD_BALLOT.

    m must be the registry's size and the ballot exactly ballot_size(m, t, k, k > 1)
    bytes, then verify_ballot (§9) runs its proofs. Whether (t, k) are the poll's needs
    state: the handler checks that.
    """
    body, m = tx.body, len(validators)
    if body["m"] != m:
        raise TxError(BAD_BALLOT, f"m is {body['m']}: this chain's polls have {m} validators")
    size = ballot_size(m, body["t"], body["k"], body["k"] > 1)
    if len(body["ballot"]) != 2 * size:
        raise TxError(
            BAD_BALLOT,
            f"the ballot is {len(body['ballot']) // 2} bytes; for (m, t, k) = ({m}, {body['t']}, {body['k']}) "
            f"it is {size}",
        )
    poll = poll_context(chain_id, validators, body["poll"], body["t"], body["k"])
    ballot = verify_ballot(poll, bytes.fromhex(tx.signer), bytes.fromhex(body["ballot"]))
    if isinstance(ballot, Rejected):
        raise TxError(BAD_BALLOT, f"the ballot does not verify: {ballot.reason}")
    return dataclasses.replace(tx, checked=ballot)


def _sized(raw: bytes, max_tx_bytes: int) -> None:
    if len(raw) > max_tx_bytes:
        raise TxError(TOO_LARGE, f"transaction of {len(raw)} bytes exceeds the chain's max_tx_bytes of {max_tx_bytes}")


def _decoded(raw: bytes, chain_id: str):
    tx = txcodec.decode(raw)
    if tx.chain_id != chain_id:
        raise TxError(WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, this chain is {chain_id!r}")
    return tx


def _verified(tx, chain_id: str, validators):
    """Check the signature, then a ballot's size and proofs; return the Tx as checked."""
    txcodec.verify(tx)
    if tx.type == "cast_ballot":
        return check_ballot(tx, chain_id, validators)
    return tx


def stateless(raw: bytes, chain_id: str, params: dict, validators, cache=None):
    """Return the Tx if it passes every check that needs no state (size, shape, chain, signature, proofs).

    A cache hit only skips work: the cache holds txs that passed these very checks,
    keyed by their bytes, so the answer is the same with or without it. A tx that
    passes here enters the cache, so that FinalizeBlock does not verify a proposal's
    ballots a second time.
    """
    _sized(raw, params["max_tx_bytes"])
    tx = None if cache is None else cache.get(raw)
    if tx is None:
        tx = _verified(_decoded(raw, chain_id), chain_id, validators)
        if cache is not None:
            cache.put(raw, tx)
    return tx


def admit(state, ctx, raw: bytes, cache=None, final=False):
    """Decode a tx and check it against the chain; return the Tx.

    `cache` optionally maps raw txs to their decoded, checked Tx (signature, and a
    ballot's proofs): both depend only on the bytes and the static registry, so a tx
    seen by CheckTx or a proposal is neither parsed nor verified again by the recheck
    or by FinalizeBlock. `final` (FinalizeBlock) takes the entry out: a tx in a block
    is out of the mempool.
    """
    _sized(raw, ctx.params["max_tx_bytes"])
    tx = None if cache is None else cache.take(raw) if final else cache.get(raw)
    verified = tx is not None
    if not verified:
        tx = _decoded(raw, ctx.chain_id)
    last = state.get(nonce_key(tx.signer), 0)
    if tx.nonce <= last:
        raise TxError(
            REPLAY,
            f"nonce {tx.nonce} is not above the signer's last nonce {last}: "
            "a replay, or sign again with a larger nonce",
        )
    if not verified:
        tx = _verified(tx, ctx.chain_id, ctx.validators)
    return tx


def load_poll_for_validator(state, body: dict, signer: str, verb: str) -> dict:
    """Return the poll of a validator's tx; raise UNKNOWN_POLL, or NOT_VALIDATOR unless signer is its validator."""
    poll = state.get(poll_key(body["poll"]))
    if poll is None:
        raise TxError(UNKNOWN_POLL, f"no poll with id {body['poll']}")
    index, validators = body["validator"], poll["validators"]
    if index >= len(validators) or validators[index]["attest_key"] != signer:
        raise TxError(
            NOT_VALIDATOR,
            f"the signer is not validator {index} of poll {poll['id']}: "
            f"only the poll's validators {verb}, each with its registered attestation key",
        )
    return poll
