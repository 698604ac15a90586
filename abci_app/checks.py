"""Checks every transaction passes before its type's rules: size, chain, signature, nonce.

CheckTx and FinalizeBlock run the same checks against their own state, so a
transaction is rejected with the same code in both.
"""
from mpc_tx import tx as txcodec

from .codes import TxError, TOO_LARGE, WRONG_CHAIN, REPLAY
from .state import nonce_key

__all__ = ["admit"]


def admit(state, ctx, raw: bytes, cache=None, final=False):
    """Decode a tx and check it against the chain; return the Tx.

    `cache` optionally maps raw txs to their decoded, signature-checked Tx: both
    depend only on the bytes, so a tx seen by CheckTx is neither parsed nor
    verified again by the recheck or by FinalizeBlock. `final` (FinalizeBlock)
    takes the entry out: a tx in a block is out of the mempool.
    """
    limit = ctx.params["max_tx_bytes"]
    if len(raw) > limit:
        raise TxError(TOO_LARGE, f"transaction of {len(raw)} bytes exceeds the chain's max_tx_bytes of {limit}")
    tx = None if cache is None else cache.take(raw) if final else cache.get(raw)
    if tx is None:
        tx = txcodec.decode(raw)
        txcodec.verify(tx)
        if cache is not None and not final:
            cache.put(raw, tx)
    if tx.chain_id != ctx.chain_id:
        raise TxError(WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, this chain is {ctx.chain_id!r}")
    last = state.get(nonce_key(tx.signer), 0)
    if tx.nonce <= last:
        raise TxError(REPLAY, f"nonce {tx.nonce} is not above the signer's last nonce {last}: "
                              "a replay, or sign again with a larger nonce")
    return tx
