"""A poll's running digest and its aggregate commitments, as the handlers keep them in state.

docs/PROTOCOL.md §18.2 and §18.4, over mpc_tx.protocol.tally and mpc_tx.protocol.running:
the poll record holds `events` and `running` (the hash chain over its event txs), and
agg/<poll> holds A, the sum of the counted ballots' commitments. A value the pure code
refuses here is state this app wrote itself: a bug, answered with INTERNAL.
"""

from collections import OrderedDict

from mpc_tx.protocol import running, tally
from mpc_tx.protocol.codes import TxError, INTERNAL
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import poll_entries
from abci_app.checks import poll_context
from abci_app.store.keys import sums_key

__all__ = ["context_of", "start", "record", "load_sums", "store_sums", "commitments"]

# Parsed aggregates by their stored hex: each ballot of a block reads the A the one before it
# wrote, so parsing its k·(t+1) points (a square root each) is paid once, not per ballot. A
# cache only skips work: the value for a key is a pure function of the key.
_SUMS = OrderedDict()
_SUMS_HELD = 64


def _ok(value, what: str):
    if isinstance(value, Rejected):
        raise TxError(INTERNAL, f"{what}: {value.reason}")
    return value


def context_of(ctx, poll: dict):
    """Return the protocol context of a poll record (its snapshotted validators, t and k)."""
    return poll_context(
        ctx.chain_id, poll["validators"], poll["id"], poll["threshold"], poll_entries(poll["kind"], poll["options"])
    )


def start(ctx, poll: dict) -> str:
    """Return R_0 of a new poll (hex): the running digest's start from the poll's §4 header."""
    return _ok(running.start(context_of(ctx, poll).header), "running digest").hex()


def record(poll: dict, event, closed_height=None, result=None) -> bytes:
    """Step the poll's running digest over one event (the caller stores the poll); return the tx's result data.

    With `result` the data is the final form (the tx that makes the poll final).
    """
    after = _ok(running.step(bytes.fromhex(poll["running"]), event), "running digest")
    poll["events"] += 1
    poll["running"] = after.hex()
    if result is not None:
        return _ok(running.final_data(poll["id"], poll["events"], after, result), "result data")
    return _ok(running.event_data(poll["id"], poll["events"], after, closed_height), "result data")


def load_sums(state, ctx, poll: dict) -> tally.Sums:
    """Return the poll's stored aggregate A."""
    k = poll_entries(poll["kind"], poll["options"])
    stored = state.get(sums_key(poll["id"]))
    key = (k, poll["threshold"], stored)
    sums = _SUMS.get(key)
    if sums is None:
        sums = _ok(tally.decode_sums(k, poll["threshold"], bytes.fromhex(stored)), "aggregate")
        _remember(key, sums)
    return sums


def store_sums(state, poll_id: int, sums) -> None:
    """Write the poll's aggregate A (a Sums, or the Rejected of an update: a bug)."""
    stored = _ok(sums, "aggregate").encode().hex()
    state.put(sums_key(poll_id), stored)
    _remember((sums.k, sums.t, stored), sums)


def _remember(key, sums) -> None:
    _SUMS[key] = sums
    _SUMS.move_to_end(key)
    if len(_SUMS) > _SUMS_HELD:
        _SUMS.popitem(last=False)


def commitments(ctx, poll: dict, ballot_hex: str):
    """Return the commitments of a stored ballot (it verified when cast, so it parses)."""
    return _ok(tally.commitments_of(context_of(ctx, poll), bytes.fromhex(ballot_hex)), "stored ballot")
