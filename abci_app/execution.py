"""Block execution: apply one transaction, or the begin and end of a block, to a state.

The same functions serve FinalizeBlock (on the block's staged state) and
CheckTx (on the check-state), so both reject a tx for the same reason.
"""

from abci_app.handlers.aggregates import aggregate
from abci_app.handlers.ballots import cast_ballot
from abci_app.handlers.complaints import complain
from abci_app.checks import admit
from mpc_tx.protocol.codes import TxError
from abci_app.handlers.outcomes import submit_outcome, finalize_touched
from abci_app.handlers.polls import create_poll, close_poll, process_due
from abci_app.store.keys import nonce_key

__all__ = ["apply_tx", "begin_block", "end_block"]

_HANDLERS = {
    "create_poll": create_poll,
    "cast_ballot": cast_ballot,
    "close_poll": close_poll,
    "submit_outcome": submit_outcome,
    "complain": complain,
    "aggregate": aggregate,
}


def apply_tx(state, ctx, raw: bytes, cache=None, final=False):
    """Check and apply one tx; return (tx, data) or raise TxError leaving state untouched.

    `final`: in a block (the tx's cache entry is then dropped, see checks.admit).
    """
    tx = admit(state, ctx, raw, cache, final)
    events, state_mark = len(ctx.events), state.mark()
    touched = set(ctx.touched_polls)
    try:
        data = _HANDLERS[tx.type](state, ctx, tx)
    except TxError:
        # A rejected tx changes nothing (and so not the app hash).
        state.rollback(state_mark)
        ctx.touched_polls = touched
        del ctx.events[events:]
        raise
    state.put(nonce_key(tx.signer), tx.nonce)
    state.release()
    return tx, data


def begin_block(state, ctx):
    """Close the polls due at this height, fix the counted sets due, fail those past their deadline."""
    process_due(state, ctx)


def end_block(state, ctx):
    """Make outcomes final where attestations reached more than 2/3 of the power."""
    finalize_touched(state, ctx)
