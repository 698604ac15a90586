"""Outcomes: validators' attestations, finality at more than 2/3 of the poll's power, deadlines.

A unanimity poll's outcome is final when attestations carrying the identical payload
hold more than 2/3 of the voting power of the validators the poll snapshotted. That
shows agreement among the attesters, not correctness; attesters of anything else are
named in the poll. A tally is never attested: its aggregate posts open it
(handlers.aggregates). A poll with no final outcome by its deadline fails.

Txs: submit_outcome (the poll's validators). Block logic: finalize_touched,
fail_at_deadline. Events: attempt_failed, outcome_attested, outcome_final.
"""

from mpc_tx.protocol import canonical, outcome
from mpc_tx.protocol.digests import outcome_digest

from abci_app import mpcslots
from mpc_tx.protocol.codes import TxError, ALREADY_ATTESTED, POLL_NOT_CLOSED, BAD_OUTCOME
from abci_app.checks import load_poll_for_validator
from abci_app.context import event
from mpc_tx.protocol import events
from abci_app.store.keys import poll_key, attest_key, attest_prefix, report_key, report_prefix, aggregate_prefix

__all__ = ["submit_outcome", "finalize_touched", "fail_at_deadline", "final_event"]


def submit_outcome(state, ctx, tx):
    """Attest a closed poll's outcome, or report a failed attempt; only the poll's validators may.

    The signer must be the poll's validator `validator` with its registered attestation
    key. A report (a code of outcome.REPORT_CODES) writes report/<poll>/<validator>, may come
    again, and emits attempt_failed; an attestation writes attest/<poll>/<validator>
    once, emits outcome_attested, and marks the poll for finalize_touched at the block's end.
    """
    body = tx.body
    poll = load_poll_for_validator(state, body, tx.signer, "attest")
    index = body["validator"]
    if poll["kind"] == "tally":
        raise TxError(BAD_OUTCOME, f"poll {poll['id']} is a tally: a tally is opened on chain from aggregate pairs")
    if poll["status"] != "closed":
        state_word = "still open" if poll["status"] == "open" else f"already {poll['status']}"
        raise TxError(
            POLL_NOT_CLOSED, f"poll {poll['id']} is {state_word}: attestations are taken between close and finality"
        )
    if poll["counted_fixed_height"] is None:
        raise TxError(
            POLL_NOT_CLOSED,
            f"poll {poll['id']} takes complaints until height {poll['complaints_until']}: attestations are taken "
            "once its counted set is fixed",
        )
    outcome.check(poll, body["result"])  # the payload's schema: mpc_tx.protocol.outcome
    if outcome.is_report(body["result"]):
        state.put(
            report_key(poll["id"], index),
            {"validator": index, "absent": body["result"]["absent"], "height": ctx.height},
        )
        ctx.events.append(
            event(
                events.ATTEMPT_FAILED,
                {"poll_id": poll["id"], "validator": index},
                {"absent": ",".join(map(str, body["result"]["absent"]))},
            )
        )
        return
    if state.get(attest_key(poll["id"], index)) is not None:
        raise TxError(ALREADY_ATTESTED, f"validator {index} attested poll {poll['id']} already")
    digest = outcome_digest(body["result"])
    state.put(
        attest_key(poll["id"], index),
        {"validator": index, "digest": digest, "result": body["result"], "height": ctx.height},
    )
    ctx.touched_polls.add(poll["id"])
    ctx.events.append(event(events.OUTCOME_ATTESTED, {"poll_id": poll["id"], "validator": index}, {"digest": digest}))


def finalize_touched(state, ctx):
    """Make final each touched poll whose identical attestations hold > 2/3 of its power."""
    for poll_id in sorted(ctx.touched_polls):
        poll = state.get(poll_key(poll_id))
        if poll["status"] != "closed":
            continue
        power = {v["index"]: v["power"] for v in poll["validators"]}
        total = sum(power.values())
        by_digest, attested = {}, {}
        for _key, att in state.scan(attest_prefix(poll_id)):
            by_digest[att["digest"]] = by_digest.get(att["digest"], 0) + power[att["validator"]]
            attested[att["validator"]] = att
        for digest in sorted(by_digest):
            if 3 * by_digest[digest] > 2 * total:
                result = next(a["result"] for a in attested.values() if a["digest"] == digest)
                poll = dict(poll)
                poll["status"] = "final" if result["status"] == "ok" else "failed"
                poll["result"] = result
                poll["final_height"] = ctx.height
                poll["attesters"] = sorted(i for i, a in attested.items() if a["digest"] == digest)
                poll["dissenters"] = sorted(i for i, a in attested.items() if a["digest"] != digest)
                mpcslots.release(state, ctx, poll)
                state.put(poll_key(poll_id), poll)
                final_event(ctx, poll)
                break
    mpcslots.assign(state, ctx)


def fail_at_deadline(state, ctx, poll: dict):
    """Fail a poll with no final outcome by its deadline, naming the absent parties.

    Absent are the validators that never attested and that reporters holding more
    than 1/3 of the poll's power name in their latest failed-attempt reports: at
    least one honest validator then names them, so f Byzantine validators (< 1/3)
    cannot name an honest one by reports alone. Failing that, every validator that
    never attested and never reported (a reporter was there, trying). For a tally,
    absent are the validators with no valid aggregate post (docs/PROTOCOL.md §18.1).
    """
    if poll["kind"] == "tally":
        valid = {
            post["validator"] for _k, post in state.scan(aggregate_prefix(poll["id"])) if post["verdict"] == "valid"
        }
        _fail(state, ctx, poll, [v["index"] for v in poll["validators"] if v["index"] not in valid], [])
        return
    attested = {att["validator"] for _k, att in state.scan(attest_prefix(poll["id"]))}
    never = [v["index"] for v in poll["validators"] if v["index"] not in attested]
    stored = [rep for _k, rep in state.scan(report_prefix(poll["id"]))]
    power = {v["index"]: v["power"] for v in poll["validators"]}
    total = sum(power.values())
    reporters = {rep["validator"] for rep in stored}
    backing = {i: sum(power[rep["validator"]] for rep in stored if i in rep["absent"]) for i in never}
    absent = [i for i in never if 3 * backing[i] > total] or [i for i in never if i not in reporters]
    _fail(state, ctx, poll, absent, sorted(attested))


def _fail(state, ctx, poll: dict, absent: list, dissenters: list):
    poll["status"] = "failed"
    poll["result"] = {"status": "failed", "code": outcome.DEADLINE, "absent": absent, "ballots": poll["ballots_digest"]}
    poll["final_height"] = ctx.height
    poll["attesters"] = []
    poll["dissenters"] = dissenters
    mpcslots.release(state, ctx, poll)
    state.put(poll_key(poll["id"]), poll)
    final_event(ctx, poll)


def final_event(ctx, poll):
    """Emit outcome_final for a poll just made final or failed (in a block's events, or in its final tx's)."""

    result = poll["result"]
    shown = result.get("outcome") if result["status"] == "ok" else {"failed": result["code"]}
    ctx.events.append(
        event(
            events.OUTCOME_FINAL,
            {"poll_id": poll["id"]},
            {
                "status": poll["status"],
                "outcome": canonical.encode(shown).decode(),
                "attesters": ",".join(map(str, poll["attesters"])),
            },
        )
    )
