"""A chain whose committed state holds every kind of key and record the app writes."""

from mpc_tx.protocol.keys import SigningKey

from apphelpers import Chain, attested_result, cast, payloads, poll_body


def life_cycle(tmp_path):
    """Return a Chain whose committed state holds every kind of key the app writes, and polls
    open (2), final (1), closed and attested (3), closed and waiting for an MPC slot (4).
    Five empty blocks later poll 3 has failed at its deadline."""
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 4})
    c.init()
    c.block()
    creator, alice = SigningKey.generate(), SigningKey.generate()
    c.block(
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
        c.tx(
            creator,
            "create_poll",
            poll_body(c.height + 40, kind="tally", options=("a", "b"), voters=[alice.public_hex]),
        ),
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
        c.tx(creator, "create_poll", poll_body(c.height + 40)),
    )
    c.block(c.tx(alice, "cast_ballot", {"poll": 2, "payloads": payloads(4, entries=2)}))
    c.block(c.tx(alice, "cast_ballot", {"poll": 2, "payloads": payloads(4, entries=2)}))  # a revote
    for poll_id in (1, 3):
        cast(c, poll_id)
    # Three closes, two MPC slots (mpc_ports 4): poll 4 waits for one.
    c.block(*[c.tx(creator, "close_poll", {"poll": poll_id}) for poll_id in (1, 3, 4)])
    final, failing = attested_result(c, 1), attested_result(c, 3)
    c.block(*[c.tx(c.attest[i], "submit_outcome", {"poll": 1, "validator": i, "result": final}) for i in range(3)])
    report = {"status": "failed", "code": "party_absent", "absent": [3], "ballots": failing["ballots"]}
    c.block(
        c.tx(c.attest[0], "submit_outcome", {"poll": 3, "validator": 0, "result": failing}),
        c.tx(c.attest[1], "submit_outcome", {"poll": 3, "validator": 1, "result": report}),
    )
    return c
