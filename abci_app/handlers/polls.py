"""Polls: creation, closing (early by the creator, or at the close height), the complaint window, deadlines.

A poll is open from its create_poll until its close height (or its creator's
close_poll), closed until its outcome is final or its deadline passes, then final or
failed. At the close (height C) it stops taking ballots; complaints are taken until
complaints_until = C + W (W from the validators' power, registry.complaint_window,
plus complaint_slack_blocks), and at the start of height complaints_until + 1 its
counted set is fixed: seed, ballots_digest, and, for a unanimity poll, a place in line
for an MPC slot (mpcslots), which starts its attempts and sets its deadline. A tally
gets no slot (docs/PROTOCOL.md §18.1): its deadline is mpc_deadline_blocks after the
fix, its aggregate posts open it (handlers.aggregates), and below min_ballots it is
final at the fix, withheld. At most
max_closings_per_height polls close at one height, scheduled and early closes together:
a creation or an early close over that quota is refused (CLOSING_QUOTA).

Txs: create_poll (anyone), close_poll (the creator). Block logic: process_due.
Events: poll_created, poll_closed (and mpcslots' mpc_started).
"""

from mpc_tx.protocol import outcome, running, tally
from mpc_tx.protocol.digests import counted_set_digest, poll_seed
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import poll_entries, poll_facts, poll_threshold
from mpc_tx.protocol.registry import complaint_window
from mpc_tx.protocol.tx import ballot_tx_size

from abci_app import mpcslots
from mpc_tx.protocol.codes import TxError, BAD_POLL, UNKNOWN_POLL, POLL_CLOSED, NOT_CREATOR, CLOSING_QUOTA
from abci_app.context import event
from abci_app.handlers import trail
from abci_app.handlers.outcomes import final_event
from mpc_tx.protocol import events
from abci_app.store.keys import (
    NEXT_POLL,
    poll_key,
    eligible_key,
    due_key,
    due_prefix,
    digest_prefix,
    closings_key,
)

__all__ = ["create_poll", "check_close_height", "close_poll", "load_open_poll", "process_due"]


def create_poll(state, ctx, tx):
    """Create a poll; anyone may send it, and the signer becomes its creator.

    Writes poll/<id> (open, with the chain's validators snapshotted, its running digest
    at R_0), agg/<id> (no ballots: all identity), chain/next_poll, eligible/<id>/<voter>
    for each listed voter, due/<close height>/<id> ("close") and one more
    closings/<close height>; emits poll_created. Returns the new poll's id.
    """
    body, params = tx.body, ctx.params
    if len(body["question"].encode()) > params["max_question_bytes"]:
        raise TxError(BAD_POLL, f"question longer than {params['max_question_bytes']} bytes")
    if any(len(o.encode()) > params["max_option_bytes"] for o in body["options"]):
        raise TxError(BAD_POLL, f"an option is longer than {params['max_option_bytes']} bytes")
    check_close_height(body["close_height"], ctx.height, params)
    if body["min_ballots"] < params["min_ballots_floor"]:
        raise TxError(
            BAD_POLL,
            f"min_ballots {body['min_ballots']} is below this chain's floor of "
            f"{params['min_ballots_floor']}: an outcome over fewer ballots tells "
            "each voter how the others voted",
        )
    if body["max_ballots"] > params["max_ballots_limit"]:
        raise TxError(BAD_POLL, f"max_ballots above the chain's limit of {params['max_ballots_limit']}")
    if body["max_revotes"] > params["max_revotes_limit"]:
        raise TxError(BAD_POLL, f"max_revotes above the chain's limit of {params['max_revotes_limit']}")
    voters = body["voters"]
    if voters is not None and len(voters) > params["max_voters"]:
        raise TxError(BAD_POLL, f"more than {params['max_voters']} eligible voters listed")
    if not ctx.validators:
        raise TxError(BAD_POLL, "the chain has no validator registry")
    t = poll_threshold(body["threshold"], ctx.validators, body["kind"])
    if isinstance(t, Rejected):
        top = (
            "t <= m-f-1 (t+1 valid aggregate pairs must exist with f validators absent or lying)"
            if body["kind"] == "tally"
            else "2t+1 <= m (the MPC's multiplication)"
        )
        raise TxError(
            BAD_POLL,
            f"{t.reason}, from this chain's voting powers: t >= f (f Byzantine validators must not "
            f"read a ballot; any t+1 validators together can read every ballot of the poll) and {top}",
        )
    m, k = len(ctx.validators), poll_entries(body["kind"], body["options"])
    size = ballot_tx_size(ctx.chain_id, m, t, k)
    if size > params["max_tx_bytes"]:
        raise TxError(
            BAD_POLL,
            f"a ballot of this poll, (m, t, k) = ({m}, {t}, {k}), makes a tx of up to {size} bytes, "
            f"over the chain's max_tx_bytes of {params['max_tx_bytes']}: ask for a lower threshold or fewer options",
        )
    _take_closing(state, ctx, body["close_height"], "close_height")
    poll_id = state.get(NEXT_POLL, 1)
    state.put(NEXT_POLL, poll_id + 1)
    poll = {
        **poll_facts(poll_id, tx.signer, body, ctx.height, ctx.validators),
        "status": "open",
        "ballots": 0,
        "closed_height": None,
        "deadline_height": None,
        "seed": None,
        "ballots_digest": None,
        "mpc_slot": None,
        "mpc_start": None,
        "result": None,
        "final_height": None,
        "attesters": [],
        "dissenters": [],
        "complaints_until": None,
        "counted_fixed_height": None,
        "named_validators": [],
        "events": 0,
        "running": None,
        "final_tx": None,
    }
    poll["running"] = trail.start(ctx, poll)
    state.put(poll_key(poll_id), poll)
    # Every kind keeps A (a unanimity poll too, k = 1): one code path.
    trail.store_sums(state, poll_id, tally.empty_sums(k, t))
    for voter in voters or ():
        state.put(eligible_key(poll_id, voter), 1)
    state.put(due_key(body["close_height"], poll_id), "close")
    ctx.events.append(
        event(
            events.POLL_CREATED,
            {"poll_id": poll_id, "creator": tx.signer},
            {"kind": body["kind"], "close_height": body["close_height"]},
        )
    )
    return poll_id


def check_close_height(close_height: int, height: int, params: dict):
    """Raise BAD_POLL unless a poll created at `height` can close at `close_height`."""
    low, high = height + params["min_close_blocks"], height + params["max_poll_blocks"]
    if close_height < low:
        raise TxError(
            BAD_POLL,
            f"close_height {close_height} is too near: this create_poll runs at height "
            f"{height} and a poll must stay open at least {params['min_close_blocks']} "
            f"blocks (close at height {low} or later), or ballots cannot reach it",
        )
    if close_height > high:
        raise TxError(
            BAD_POLL,
            f"close_height {close_height} is more than {params['max_poll_blocks']} "
            f"blocks ahead of height {height} (close at height {high} or earlier)",
        )


def load_open_poll(state, ctx, poll_id: int) -> dict:
    """Return the poll if it still takes ballots at this height."""
    poll = state.get(poll_key(poll_id))
    if poll is None:
        raise TxError(UNKNOWN_POLL, f"no poll with id {poll_id}")
    if poll["status"] != "open" or ctx.height >= poll["close_height"]:
        raise TxError(POLL_CLOSED, f"poll {poll_id} closed at height {poll['closed_height'] or poll['close_height']}")
    return poll


def _take_closing(state, ctx, height: int, what: str):
    """Count one more poll closing at height, or refuse it if the height's quota is used up."""
    quota = ctx.params["max_closings_per_height"]
    count = state.get(closings_key(height), 0)
    if count >= quota:
        raise TxError(
            CLOSING_QUOTA,
            f"{quota} polls already close at height {height} (max_closings_per_height): choose another {what}",
        )
    state.put(closings_key(height), count + 1)


def close_poll(state, ctx, tx):
    """Close an open poll early; only its creator may.

    Moves its closing from its close height to this one (closings/, its due/ "close"
    deleted), then closes it as at its close height: status closed, complaints_until,
    its counted set due to be fixed after (due/ "fix"); emits poll_closed. An event of
    the poll's running digest: returns its result data, with closed_height.
    """
    poll = load_open_poll(state, ctx, tx.body["poll"])
    if tx.signer != poll["creator"]:
        raise TxError(NOT_CREATOR, f"only the creator of poll {poll['id']} may close it early")
    # An early close counts against this height's quota and gives back its scheduled one.
    _take_closing(state, ctx, ctx.height, "time to close it early (a later block)")
    scheduled = state.get(closings_key(poll["close_height"]), 0)
    if scheduled > 0:
        state.put(closings_key(poll["close_height"]), scheduled - 1)
    state.delete(due_key(poll["close_height"], poll["id"]))
    _close(state, ctx, dict(poll))
    poll = dict(state.get(poll_key(poll["id"])))
    data = trail.record(poll, running.close_event(ctx.height, bytes.fromhex(tx.hash)), closed_height=ctx.height)
    state.put(poll_key(poll["id"]), poll)
    return data


def _close(state, ctx, poll: dict):
    """Close a poll at this height: no more ballots; complaints until C + W, then its counted set is fixed."""
    window = complaint_window([v["power"] for v in poll["validators"]]) + ctx.params["complaint_slack_blocks"]
    poll["status"] = "closed"
    poll["closed_height"] = ctx.height
    poll["complaints_until"] = ctx.height + window
    state.put(due_key(poll["complaints_until"] + 1, poll["id"]), "fix")
    state.put(poll_key(poll["id"]), poll)
    ctx.events.append(
        event(
            events.POLL_CLOSED,
            {"poll_id": poll["id"]},
            {"ballots": poll["ballots"], "height": ctx.height, "complaints_until": poll["complaints_until"]},
        )
    )


def _fix(state, ctx, poll: dict):
    """Fix a closed poll's counted set at the start of complaints_until + 1: seed, digest, and then
    a line for an MPC slot (unanimity), or a deadline for the aggregate posts (tally; final now,
    withheld, below min_ballots). A (agg/) is frozen from here: no ballot or complaint is taken."""
    poll["counted_fixed_height"] = ctx.height
    # Public randomness for the MPC's check coefficients: unknown to voters, who
    # cast their ballots before this block existed.
    poll["seed"] = poll_seed(ctx.block_hash, poll["id"])
    poll["ballots_digest"] = ballots_digest(state, poll["id"])
    if poll["kind"] != "tally":
        mpcslots.enqueue(state, ctx, poll)
        state.put(poll_key(poll["id"]), poll)
        return
    poll["deadline_height"] = ctx.height + ctx.params["mpc_deadline_blocks"]
    if poll["ballots"] < poll["min_ballots"]:
        # No pair is ever wanted: the outcome over so few ballots is not revealed (the MPC's form).
        poll["status"] = "final"
        poll["result"] = {
            "status": outcome.OK,
            "ballots": poll["ballots_digest"],
            "outcome": dict(outcome.WITHHELD),
            "counted": poll["ballots"],
        }
        poll["final_height"] = ctx.height
        state.put(poll_key(poll["id"]), poll)
        final_event(ctx, poll)
        return
    state.put(due_key(poll["deadline_height"], poll["id"]), "deadline")
    state.put(poll_key(poll["id"]), poll)


def ballots_digest(state, poll_id: int) -> str:
    """Return the digest of a poll's counted ballots (bdig/, present iff counted), in voter order."""
    return counted_set_digest(digest for _key, digest in state.scan(digest_prefix(poll_id)))


def process_due(state, ctx):
    """Close polls whose close height is this block, fix counted sets, fail polls past their deadline, fill slots."""
    for key, what in list(state.scan(due_prefix(ctx.height))):
        poll_id = int(key.rsplit(b"/", 1)[1])
        state.delete(key)
        poll = state.get(poll_key(poll_id))
        if what == "close" and poll["status"] == "open":
            _close(state, ctx, dict(poll))
        elif what == "fix" and poll["status"] == "closed" and poll["counted_fixed_height"] is None:
            _fix(state, ctx, dict(poll))
        elif what == "deadline" and poll["status"] == "closed":
            from abci_app.handlers.outcomes import fail_at_deadline

            fail_at_deadline(state, ctx, dict(poll))
    mpcslots.assign(state, ctx)
