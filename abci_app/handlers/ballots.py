"""Ballots: one counted ballot per voter, a later one replacing it up to the revote cap.

At this layer a ballot is opaque: one encrypted payload per validator of the
poll, in the poll's validator order. Only the MPC workers can open them.

Txs: cast_ballot (a voter of an open poll). Events: ballot.
"""

from mpc_tx.protocol.digests import ballot_digest
from mpc_tx.protocol.codes import TxError, BAD_BALLOT, NOT_ELIGIBLE, REVOTE_LIMIT, POLL_FULL
from abci_app.context import event
from mpc_tx.protocol import events
from abci_app.handlers.polls import load_open_poll
from mpc_tx.protocol.x25519_envelope import payload_size
from abci_app.store.keys import poll_key, ballot_key, eligible_key, digest_key

__all__ = ["cast_ballot", "encode_record"]


def encode_record(record: dict) -> bytes:
    """canonical.encode of a ballot record, joined directly: every string in it is hex.

    (Encoding the ~1.2 KB of payloads through json was a third of FinalizeBlock.)
    """
    return b'{"height":%d,"payloads":["%s"],"revotes":%d,"tx":"%s","voter":"%s"}' % (
        record["height"],
        '","'.join(record["payloads"]).encode(),
        record["revotes"],
        record["tx"].encode(),
        record["voter"].encode(),
    )


def cast_ballot(state, ctx, tx):
    """Cast or replace a ballot; any voter may, or only a listed one if the poll lists voters.

    Writes ballot/<poll>/<voter> and bdig/<poll>/<voter>; a first ballot adds one to the
    poll's ballots (up to max_ballots), a later one uses a revote (up to max_revotes).
    Emits ballot.
    """
    poll = load_open_poll(state, ctx, tx.body["poll"])
    poll_id, voter, payloads = poll["id"], tx.signer, tx.body["payloads"]
    m = len(poll["validators"])
    if len(payloads) != m:
        raise TxError(BAD_BALLOT, f"poll {poll_id} has {m} validators: give one payload each, not {len(payloads)}")
    # One validator's payload: ephemeral key, one 32-byte share per entry, AEAD tag.
    size = payload_size(1 if poll["kind"] == "unanimity" else len(poll["options"]))
    if any(len(p) != 2 * size for p in payloads):
        raise TxError(BAD_BALLOT, f"each payload of poll {poll_id} is {size} bytes")
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
    elif poll["ballots"] >= poll["max_ballots"]:
        raise TxError(POLL_FULL, f"poll {poll_id} holds its maximum of {poll['max_ballots']} ballots")
    digest = ballot_digest(voter, payloads)
    record = {"voter": voter, "payloads": payloads, "height": ctx.height, "revotes": revotes, "tx": tx.hash}
    state.put_encoded(ballot_key(poll_id, voter), record, encode_record(record))
    state.put(digest_key(poll_id, voter), digest)
    if previous is None:
        poll = dict(poll)
        poll["ballots"] += 1
        state.put(poll_key(poll_id), poll)
    ctx.events.append(event(events.BALLOT, {"poll_id": poll_id, "voter": voter}, {"revote": revotes}))
