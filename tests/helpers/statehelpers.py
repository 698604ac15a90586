"""A chain whose committed state holds every kind of key and record the app writes; ballots with a bad share."""

from mpc_tx.protocol import envelope
from mpc_tx.protocol.context import ciphertext_size
from mpc_tx.protocol.keys import SigningKey

from apphelpers import Chain, aggregate_body, aggregate_tx, attested_result, ballot_body, cast, complaint_body
from apphelpers import context_of, fixed, poll_body
from protocolhelpers import build_known, reseal


def bad_share_ballot(poll: dict, voter: SigningKey, i: int, values=None, seed=b"bad share", undecryptable=False):
    """Return a ballot for a poll record whose envelope i holds a wrong share (or, with undecryptable,
    bytes that do not decrypt); every proof still verifies, since the voter redoes the proof of rho."""
    context = context_of(poll)
    voter_bytes = bytes.fromhex(voter.public_hex)
    values = values if values is not None else [1] + [0] * (context.k - 1)
    raw, rho = build_known(context, values, seed, voter_bytes)
    if undecryptable:
        garbage = bytes((j * 37 + 5) % 256 for j in range(ciphertext_size(context.k)))
        return reseal(context, raw, rho, i, b"", voter_bytes, ciphertext=garbage)
    # A pair off the committed polynomials: it decodes, and fails the share check.
    wrong = envelope.encode_pairs([(1, 2)] * context.k)
    return reseal(context, raw, rho, i, wrong, voter_bytes)


def life_cycle(tmp_path):
    """Return a Chain whose committed state holds every kind of key the app writes, and polls
    open (2), final (1), closed and attested (3), closed and waiting for an MPC slot (4), closed
    and taking complaints (5: a disqualified ballot, a false complaint; poll 2: a moot one), a tally
    with its counted set fixed, two valid aggregate posts and a named one (6).
    Five empty blocks later polls 3 and 6 have failed at their deadlines and poll 5's counted set is fixed."""
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 4})
    c.init()
    c.block()
    creator, alice, bob = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    c.block(
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
        c.tx(
            creator,
            "create_poll",
            poll_body(c.height + 40, kind="tally", options=("a", "b"), voters=[alice.public_hex]),
        ),
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
        c.tx(creator, "create_poll", poll_body(c.height + 41)),
        c.tx(creator, "create_poll", poll_body(c.height + 42, kind="tally", options=("a", "b"))),
    )
    tally = c.query("/poll/2")[1]
    c.block(c.tx(alice, "cast_ballot", ballot_body(tally, alice, [0, 1])))
    first = c.query(f"/poll/2/ballot/{alice.public_hex}")[1]["tx"]
    c.block(c.tx(alice, "cast_ballot", ballot_body(tally, alice, [1, 0])))  # a revote
    for poll_id in (1, 3, 6):
        cast(c, poll_id)
    honest = cast(c, 5)
    c.block(
        c.tx(
            bob,
            "cast_ballot",
            ballot_body(c.query("/poll/5")[1], bob, raw=bad_share_ballot(c.query("/poll/5")[1], bob, 0)),
        )
    )
    moot = {**complaint_body(c, 2, 2, alice.public_hex), "ballot_tx": first}
    c.block(
        c.tx(c.attest[0], "complain", complaint_body(c, 5, 0, bob.public_hex)),  # ballot_bad
        c.tx(c.attest[1], "complain", complaint_body(c, 5, 1, honest[0].public_hex)),  # complaint_false
        c.tx(c.attest[2], "complain", moot),  # about a replaced ballot
    )
    # Three closes of unanimity polls, two MPC slots (mpc_ports 4): poll 4 waits for one; a tally takes none.
    c.block(*[c.tx(creator, "close_poll", {"poll": poll_id}) for poll_id in (1, 3, 4, 6)])
    fixed(c, 1)
    final, failing = attested_result(c, 1), attested_result(c, 3)
    wrong = dict(aggregate_body(c, 6, 0), validator=3)  # validator 0's pairs, at validator 3's x: named
    c.block(
        *[c.tx(c.attest[i], "submit_outcome", {"poll": 1, "validator": i, "result": final}) for i in range(3)],
        aggregate_tx(c, 6, 0),
        aggregate_tx(c, 6, 1),
        c.tx(c.attest[3], "aggregate", wrong),
    )
    report = {"status": "failed", "code": "party_absent", "absent": [3], "ballots": failing["ballots"]}
    c.block(
        c.tx(c.attest[0], "submit_outcome", {"poll": 3, "validator": 0, "result": failing}),
        c.tx(c.attest[1], "submit_outcome", {"poll": 3, "validator": 1, "result": report}),
        c.tx(creator, "close_poll", {"poll": 5}),
    )
    return c
