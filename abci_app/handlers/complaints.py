"""Complaints: a validator shows the chain that its share of a ballot is bad; the chain judges.

Validator i reveals K = x_i·E with a DLEQ proof (docs/PROTOCOL.md §11) and the chain
runs mpc_tx.protocol.complaint.adjudicate on the stored ballot: a bad share puts the
ballot out of the counted set and names its voter, a good one names the validator. A
complaint about a ballot already replaced by a revote, or already disqualified, is moot.
Complaints are taken from the ballot's commit until the poll's complaints_until height
(handlers.polls); nothing else ever excludes a ballot.

A ballot judged bad leaves the poll's aggregate commitments (agg/), and every judged
complaint is an event of the poll's running digest (docs/PROTOCOL.md §18.2, §18.4).

Txs: complain (the poll's validators). Events: complaint.
"""

from mpc_tx.protocol import events, running, tally
from mpc_tx.protocol.ballot import parse_ballot
from mpc_tx.protocol.codes import (
    TxError,
    COMPLAINT_WINDOW,
    UNKNOWN_BALLOT,
    ALREADY_COMPLAINED,
    BAD_COMPLAINT,
)
from mpc_tx.protocol.complaint import BALLOT_BAD, adjudicate
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import poll_entries
from abci_app.checks import poll_context
from abci_app.checks import load_poll_for_validator
from abci_app.context import event
from abci_app.handlers import trail
from abci_app.store.keys import poll_key, ballot_key, digest_key, bad_commitments_key, complaint_key

__all__ = ["complain"]


def complain(state, ctx, tx):
    """Judge validator i's complaint about a voter's ballot tx; only validator i may send it.

    Writes complaint/<poll>/<ballot tx>/<i>; a ballot judged bad is disqualified
    (its ballot record marked, bdig deleted, the poll's ballots one less, its commitments
    digest in badc/, its commitments out of agg/); a false complaint adds i to the poll's
    named_validators. Emits complaint; returns the result data (the running digest after it).
    """
    body = tx.body
    poll = load_poll_for_validator(state, body, tx.signer, "complain")
    poll_id, index = poll["id"], body["validator"]
    until = poll["complaints_until"]
    if poll["counted_fixed_height"] is not None or (until is not None and ctx.height > until):
        raise TxError(
            COMPLAINT_WINDOW,
            f"poll {poll_id} took complaints until height {until}: its counted set is fixed",
        )
    voter, ballot_tx = body["voter"], body["ballot_tx"]
    record = state.get(ballot_key(poll_id, voter))
    if record is None or (ballot_tx != record["tx"] and ballot_tx not in record["replaced"]):
        raise TxError(UNKNOWN_BALLOT, f"voter {voter[:16]}… has no ballot tx {ballot_tx[:16]}… in poll {poll_id}")
    key = complaint_key(poll_id, ballot_tx, index)
    if state.get(key) is not None:
        raise TxError(ALREADY_COMPLAINED, f"validator {index} complained about ballot tx {ballot_tx[:16]}… already")
    if ballot_tx != record["tx"]:
        verdict, reason = "moot", "the ballot was replaced by a revote"
    elif record["disqualified"] is not None:
        verdict, reason = "moot", "the ballot is disqualified already"
    else:
        verdict, reason = _judge(state, ctx, poll, record, tx)
    state.put(
        key,
        {
            "validator": index,
            "voter": voter,
            "ballot_tx": ballot_tx,
            "verdict": verdict,
            "reason": reason,
            "height": ctx.height,
        },
    )
    poll = dict(state.get(poll_key(poll_id)))
    data = trail.record(
        poll,
        running.complaint_event(
            ctx.height,
            bytes.fromhex(tx.hash),
            index,
            bytes.fromhex(voter),
            bytes.fromhex(ballot_tx),
            verdict,
        ),
    )
    state.put(poll_key(poll_id), poll)
    ctx.events.append(
        event(
            events.COMPLAINT,
            {"poll_id": poll_id, "validator": index, "voter": voter, "verdict": verdict},
            {"ballot_tx": ballot_tx},
        )
    )
    return data


def _judge(state, ctx, poll, record, tx):
    """Adjudicate a complaint about a counted ballot and apply the verdict; return (verdict, reason)."""
    body = tx.body
    poll_id, index, voter = poll["id"], body["validator"], body["voter"]
    context = poll_context(
        ctx.chain_id, poll["validators"], poll_id, poll["threshold"], poll_entries(poll["kind"], poll["options"])
    )
    raw = bytes.fromhex(record["ballot"])
    judged = adjudicate(
        context, bytes.fromhex(voter), bytes.fromhex(body["ballot_tx"]), raw, index, bytes.fromhex(body["complaint"])
    )
    if isinstance(judged, Rejected):
        raise TxError(BAD_COMPLAINT, judged.reason)
    if judged.outcome == BALLOT_BAD:
        record = dict(record)
        record["disqualified"] = {"by": index, "height": ctx.height, "reason": judged.reason}
        state.put(ballot_key(poll_id, voter), record)
        state.delete(digest_key(poll_id, voter))
        # The stored ballot verified when it was cast (adjudicate just verified it again): it parses.
        parsed = parse_ballot(context, raw)
        state.put(bad_commitments_key(poll_id, parsed.commitments_digest.hex()), record["tx"])
        trail.store_sums(state, poll_id, tally.on_disqualify(trail.load_sums(state, ctx, poll), parsed.commitments))
        poll = dict(poll)
        poll["ballots"] -= 1
        state.put(poll_key(poll_id), poll)
        return "ballot_bad", judged.reason
    poll = dict(poll)
    poll["named_validators"] = sorted(set(poll["named_validators"]) | {index})
    state.put(poll_key(poll_id), poll)
    return "complaint_false", judged.reason
