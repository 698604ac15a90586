"""Ballots: one counted ballot per voter, a later one replacing it up to the revote cap.

A ballot reaches this handler verified (abci_app.checks: its size for the registry's
m and its proofs, docs/PROTOCOL.md §9); here the state decides: the poll is open, the
ballot was built for the poll's (t, k), the voter may vote, the caps, and its
commitments were not disqualified in this poll before. Only the validators can open
its envelopes.

A counted ballot updates the poll's aggregate commitments (agg/: + its commitments, and
- the replaced ballot's on a revote of a counted one) and is an event of its running
digest (docs/PROTOCOL.md §18.2, §18.4): its result data carries the new digest.

Txs: cast_ballot (a voter of an open poll). Events: ballot.
"""

from mpc_tx.protocol.digests import ballot_digest
from mpc_tx.protocol.codes import TxError, BAD_BALLOT, NOT_ELIGIBLE, REVOTE_LIMIT, POLL_FULL
from mpc_tx.protocol.records import poll_entries
from abci_app.context import event
from abci_app.handlers import trail
from mpc_tx.protocol import events, running, tally
from abci_app.handlers.polls import load_open_poll
from abci_app.store.keys import poll_key, ballot_key, eligible_key, digest_key, bad_commitments_key

__all__ = ["cast_ballot", "encode_record"]


def encode_record(record: dict) -> bytes:
    """canonical.encode of a fresh ballot record (not disqualified), joined directly: every string in it is hex.

    (Encoding a ballot's kilobytes of hex through json was a third of FinalizeBlock.)
    """
    replaced = '","'.join(record["replaced"])
    return b'{"ballot":"%s","disqualified":null,"height":%d,"replaced":[%s],"revotes":%d,"tx":"%s","voter":"%s"}' % (
        record["ballot"].encode(),
        record["height"],
        b'"%s"' % replaced.encode() if replaced else b"",
        record["revotes"],
        record["tx"].encode(),
        record["voter"].encode(),
    )


def cast_ballot(state, ctx, tx):
    """Cast or replace a ballot; any voter may, or only a listed one if the poll lists voters.

    Writes ballot/<poll>/<voter>, bdig/<poll>/<voter> and agg/<poll>; a ballot that is
    not replacing a counted one adds one to the poll's ballots (up to max_ballots), a
    later one uses a revote (up to max_revotes). Emits ballot; returns the result data
    (the poll's running digest after it).
    """
    body = tx.body
    poll = load_open_poll(state, ctx, body["poll"])
    poll_id, voter = poll["id"], tx.signer
    t, k = poll["threshold"], poll_entries(poll["kind"], poll["options"])
    if (body["t"], body["k"]) != (t, k):
        raise TxError(
            BAD_BALLOT,
            f"the poll's t is {t} and its k is {k}; this ballot was built for t = {body['t']}, k = {body['k']}",
        )
    if not poll["open"] and state.get(eligible_key(poll_id, voter)) is None:
        raise TxError(NOT_ELIGIBLE, f"key {voter[:16]}… is not an eligible voter of poll {poll_id}")
    previous = state.get(ballot_key(poll_id, voter))
    revotes = 0
    if previous is not None:
        revotes = previous["revotes"] + 1
        if revotes > poll["max_revotes"]:
            raise TxError(
                REVOTE_LIMIT, f"poll {poll_id} allows {poll['max_revotes']} revotes; this voter has used them"
            )
    counted_before = previous is not None and previous["disqualified"] is None
    if not counted_before and poll["ballots"] >= poll["max_ballots"]:
        raise TxError(POLL_FULL, f"poll {poll_id} holds its maximum of {poll['max_ballots']} ballots")
    ballot = tx.checked  # the verified ballot (checks.admit)
    if state.get(bad_commitments_key(poll_id, ballot.commitments_digest.hex())) is not None:
        raise TxError(
            BAD_BALLOT,
            f"a ballot with these commitments was disqualified in poll {poll_id}: build a fresh ballot",
        )
    record = {
        "ballot": body["ballot"],
        "disqualified": None,
        "height": ctx.height,
        "replaced": [] if previous is None else previous["replaced"] + [previous["tx"]],
        "revotes": revotes,
        "tx": tx.hash,
        "voter": voter,
    }
    state.put_encoded(ballot_key(poll_id, voter), record, encode_record(record))
    state.put(digest_key(poll_id, voter), ballot_digest(voter, ballot.raw))
    replaced = trail.commitments(ctx, poll, previous["ballot"]) if counted_before else None
    trail.store_sums(state, poll_id, tally.on_ballot(trail.load_sums(state, ctx, poll), replaced, ballot.commitments))
    poll = dict(poll)
    if not counted_before:
        poll["ballots"] += 1
    data = trail.record(poll, running.ballot_event(ctx.height, bytes.fromhex(tx.hash), bytes.fromhex(voter)))
    state.put(poll_key(poll_id), poll)
    ctx.events.append(event(events.BALLOT, {"poll_id": poll_id, "voter": voter}, {"revote": revotes}))
    return data
