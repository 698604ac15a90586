"""Aggregate posts: each validator's pairs over the fixed counted set, judged; t+1 valid ones open the tally.

docs/PROTOCOL.md §18.3. After the counted set of a tally poll is fixed, validator i posts
(F_e, S_e) for each option e; the chain checks F_e·G + S_e·H against the stored aggregate
commitments at x = i+1 (mpc_tx.protocol.tally.judge_pairs). A post that fails names i; one
that passes counts, and the tx bringing the t+1-th valid post interpolates the tally at 0,
checks it against A[e][0] (tally.open_tally) and makes the poll final. Both verdicts are
accepted (code 0), so that a naming is committed; every post is an event of the poll's
running digest, and the final tx's result data carries the result.

Txs: aggregate (the poll's validators). Events: aggregate, outcome_final.
"""

from mpc_tx.protocol import events, running, tally
from mpc_tx.protocol.codes import (
    TxError,
    NOT_TALLY,
    AGGREGATE_WINDOW,
    TOO_FEW_BALLOTS,
    ALREADY_AGGREGATED,
    BAD_AGGREGATE,
    INTERNAL,
)
from mpc_tx.protocol.encoding import Rejected
from abci_app.checks import load_poll_for_validator
from abci_app.context import event
from abci_app.handlers import trail
from abci_app.handlers.outcomes import final_event
from abci_app.store.keys import poll_key, aggregate_key, aggregate_prefix

__all__ = ["aggregate"]


def aggregate(state, ctx, tx):
    """Judge validator i's aggregate post for a tally with a fixed counted set; only validator i may send it.

    Checks in the order of §18.3 (the first failure is the answer). Writes
    aggregate/<poll>/<i>; a named post adds i to the poll's named_validators; the t+1-th
    valid post makes the poll final. Emits aggregate (and outcome_final); returns the
    result data (the running digest after it; the final form in the final tx).
    """
    body = tx.body
    poll = load_poll_for_validator(state, body, tx.signer, "post aggregate pairs")
    poll_id, index = poll["id"], body["validator"]
    if poll["kind"] != "tally":
        raise TxError(
            NOT_TALLY, f"poll {poll_id} is a {poll['kind']} poll: only a tally is opened from aggregate pairs"
        )
    _check_window(poll, ctx)
    if state.get(aggregate_key(poll_id, index)) is not None:
        raise TxError(ALREADY_AGGREGATED, f"validator {index} posted its aggregate pairs for poll {poll_id} already")
    sums = trail.load_sums(state, ctx, poll)
    size = tally.pair_bytes(sums.k)
    if len(body["pairs"]) != 2 * size:
        raise TxError(
            BAD_AGGREGATE,
            f"the pairs are {len(body['pairs']) // 2} bytes; poll {poll_id} has {sums.k} options: {size} bytes",
        )
    post = tally.judge_pairs(sums, len(poll["validators"]), index, bytes.fromhex(body["pairs"]))
    if isinstance(post, Rejected):
        raise TxError(BAD_AGGREGATE, f"the pairs: {post.reason}")
    state.put(
        aggregate_key(poll_id, index),
        {
            "validator": index,
            "pairs": body["pairs"],
            "verdict": post.verdict,
            "reason": post.reason,
            "height": ctx.height,
            "tx": tx.hash,
        },
    )
    ctx.events.append(
        event(events.AGGREGATE, {"poll_id": poll_id, "validator": index, "verdict": post.verdict}, {"tx": tx.hash})
    )
    poll = dict(poll)
    step = running.aggregate_event(ctx.height, bytes.fromhex(tx.hash), index, post.verdict)
    if post.verdict == tally.NAMED:
        poll["named_validators"] = sorted(set(poll["named_validators"]) | {index})
        data = trail.record(poll, step)
    else:
        data = _count(state, ctx, poll, sums, tx, step)
    state.put(poll_key(poll_id), poll)
    return data


def _check_window(poll: dict, ctx) -> None:
    """Checks 4 and 5 of §18.3: the counted set is fixed, the poll is above min_ballots, not final or failed.

    A poll below min_ballots is final, withheld, at its fix: it says so (TOO_FEW_BALLOTS),
    rather than only that it is final.
    """
    poll_id = poll["id"]
    if poll["counted_fixed_height"] is None:
        since = (
            f"height {poll['complaints_until'] + 2}, after its complaint window"
            if poll["complaints_until"] is not None
            else "the end of its complaint window, after its close"
        )
        raise TxError(AGGREGATE_WINDOW, f"poll {poll_id} takes aggregate pairs from {since}")
    if poll["ballots"] < poll["min_ballots"]:
        raise TxError(
            TOO_FEW_BALLOTS,
            f"poll {poll_id} counted {poll['ballots']} ballots, below its min_ballots of {poll['min_ballots']}: "
            "its outcome is withheld, no pair is wanted",
        )
    if poll["status"] != "closed":
        raise TxError(AGGREGATE_WINDOW, f"poll {poll_id} is {poll['status']}: it takes no more aggregate pairs")


def _count(state, ctx, poll: dict, sums, tx, step) -> bytes:
    """Count a valid post; at the t+1-th, open the tally and make the poll final. Return the tx's result data."""
    posts = [
        tally.Post(record["validator"], record["verdict"], _pairs(sums.k, record["pairs"]), record["reason"])
        for _key, record in state.scan(aggregate_prefix(poll["id"]))
        if record["verdict"] == tally.VALID
    ]
    if len(posts) < sums.t + 1:
        return trail.record(poll, step)
    # Exactly t+1 valid posts: the poll is final at the first t+1, and any t+1 open the same tally.
    opening = tally.open_tally(sums, poll["ballots"], True, posts)
    if isinstance(opening, Rejected):
        raise TxError(INTERNAL, f"the opening of poll {poll['id']} fails its final check: {opening.reason}")
    result = tally.tally_result(poll["options"], poll["ballots_digest"], poll["ballots"], list(opening.counts))
    if isinstance(result, Rejected):
        raise TxError(INTERNAL, f"the result of poll {poll['id']}: {result.reason}")
    poll["status"] = "final"
    poll["result"] = result
    poll["final_height"] = ctx.height
    poll["final_tx"] = tx.hash
    poll["attesters"] = sorted(opening.validators)
    final_event(ctx, poll)
    return trail.record(poll, step, result=result)


def _pairs(k: int, pairs_hex: str):
    parsed = tally.parse_pairs(k, bytes.fromhex(pairs_hex))
    if isinstance(parsed, Rejected):
        raise TxError(INTERNAL, f"a stored aggregate post: {parsed.reason}")
    return parsed
