"""A dry run of CheckTx: a tx's checks against the latest committed state, with no mempool change.

A tx that passed CheckTx can still leave the mempool without a block: the recheck
after a commit drops it (its poll closed meanwhile, its close height came too
near). The node does not tell its sender, so the client asks here why, and gets
the code and reason the recheck would give.
"""

from mpc_tx.protocol import tx as txcodec

from mpc_tx.protocol import codes
from mpc_tx.protocol.codes import TxError, BAD_QUERY
from abci_app.context import BlockContext
from abci_app.execution import apply_tx
from abci_app.store.keys import PARAMS, VALIDATORS, CHAIN_ID

__all__ = ["check_tx"]


def check_tx(state, raw: bytes, height: int) -> dict:
    """Return the verdict on `raw` in the block after `height`: code, code name, reason, tx hash.

    `state` is thrown away afterwards: apply_tx stages the tx's writes in it and
    nothing ever commits them.
    """
    if not raw:
        raise TxError(BAD_QUERY, "/check_tx takes the transaction's bytes as the query's data; none were given")
    ctx = BlockContext(height + 1, b"", state.get(CHAIN_ID), state.get(PARAMS), state.get(VALIDATORS))
    try:
        apply_tx(state, ctx, bytes(raw))
        code, reason = codes.OK, ""
    except TxError as err:
        code, reason = err.code, err.reason
    return {
        "code": code,
        "code_name": codes.NAMES.get(code, str(code)),
        "log": reason,
        "height": height + 1,
        "hash": txcodec.tx_hash(bytes(raw)),
    }
