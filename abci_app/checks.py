"""Checks every transaction passes before its type's rules: size, chain, nonce, signature.

CheckTx and FinalizeBlock run the same checks against their own state, so a
transaction is rejected with the same code in both. Cheap checks come first
(size, shape, chain id, nonce) so that junk costs no signature verification.

`stateless` is the part that depends on the bytes and the chain's fixed facts
only: ProcessProposal and PrepareProposal use it, since they must answer the same
on every node whatever each node's mempool or cache holds.
"""

from mpc_tx.protocol import tx as txcodec

from mpc_tx.protocol.codes import TxError, TOO_LARGE, WRONG_CHAIN, REPLAY
from abci_app.store.keys import nonce_key

__all__ = ["admit", "stateless"]


def _sized(raw: bytes, max_tx_bytes: int) -> None:
    if len(raw) > max_tx_bytes:
        raise TxError(TOO_LARGE, f"transaction of {len(raw)} bytes exceeds the chain's max_tx_bytes of {max_tx_bytes}")


def _decoded(raw: bytes, chain_id: str):
    tx = txcodec.decode(raw)
    if tx.chain_id != chain_id:
        raise TxError(WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, this chain is {chain_id!r}")
    return tx


def stateless(raw: bytes, chain_id: str, params: dict, cache=None):
    """Return the Tx if it passes every check that needs no state (size, shape, chain, signature).

    A cache hit only skips work: the cache holds txs that passed these very checks,
    keyed by their bytes, so the answer is the same with or without it.
    """
    _sized(raw, params["max_tx_bytes"])
    tx = None if cache is None else cache.get(raw)
    if tx is None:
        tx = _decoded(raw, chain_id)
        txcodec.verify(tx)
    return tx


def admit(state, ctx, raw: bytes, cache=None, final=False):
    """Decode a tx and check it against the chain; return the Tx.

    `cache` optionally maps raw txs to their decoded, signature-checked Tx (those
    CheckTx accepted): both depend only on the bytes, so a tx seen by CheckTx is
    neither parsed nor verified again by the recheck or by FinalizeBlock. `final`
    (FinalizeBlock) takes the entry out: a tx in a block is out of the mempool.
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
        txcodec.verify(tx)
    return tx
