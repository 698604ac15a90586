"""Checks every transaction passes before its type's rules: size, chain, signature, nonce.

CheckTx and FinalizeBlock run the same checks against their own state, so a
transaction is rejected with the same code in both.
"""
from mpc_tx import tx as txcodec

from .codes import TxError, TOO_LARGE, WRONG_CHAIN, REPLAY
from .state import nonce_key

__all__ = ["admit"]


def admit(state, ctx, raw: bytes, verified=None):
    """Decode a tx and check it against the chain; return the Tx.

    `verified` is an optional set of raw txs whose signatures were verified
    already (signature validity depends only on the bytes).
    """
    limit = ctx.params["max_tx_bytes"]
    if len(raw) > limit:
        raise TxError(TOO_LARGE, f"transaction of {len(raw)} bytes exceeds the chain's max_tx_bytes of {limit}")
    tx = txcodec.decode(raw)
    if tx.chain_id != ctx.chain_id:
        raise TxError(WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, this chain is {ctx.chain_id!r}")
    if verified is None or raw not in verified:
        txcodec.verify(tx)
        if verified is not None:
            verified.add(raw)
    last = state.get(nonce_key(tx.signer), 0)
    if tx.nonce <= last:
        raise TxError(REPLAY, f"nonce {tx.nonce} is not above the signer's last nonce {last}: "
                              "a replay, or sign again with a larger nonce")
    return tx
