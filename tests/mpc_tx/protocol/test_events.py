"""Every event type the app emits over a poll's life is one of events.EVENT_TYPES, and each is emitted."""

from apphelpers import Chain, aggregate_tx, attested_result, ballot_tx, cast, complaint_body, create, fixed, poll_body
from apphelpers import result_codes
from mpc_tx.protocol import events
from mpc_tx.protocol.keys import SigningKey


def _types(res):
    """Event types of a FinalizeBlock response: its txs' and the block's own."""
    return [e.type for r in res.tx_results for e in r.events] + [e.type for e in res.events]


def _submit(chain, v, poll_id, result):
    return chain.tx(chain.attest[v], "submit_outcome", {"poll": poll_id, "validator": v, "result": result})


def test_event_names_are_distinct_and_all_listed():
    assert len(set(events.EVENT_TYPES)) == len(events.EVENT_TYPES)
    assert set(events.EVENT_TYPES) == {getattr(events, n) for n in events.__all__ if n != "EVENT_TYPES"}


def test_a_polls_life_emits_only_and_all_the_named_event_types(tmp_path):
    chain = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 30})
    chain.init()
    seen = _types(chain.block())
    creator = SigningKey.generate()
    res = chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 8)))
    assert result_codes(res) == [0], res.tx_results[0].log
    seen += _types(res)
    poll_id = int([a.value for e in res.tx_results[0].events for a in e.attributes if a.key == "poll_id"][0])
    seen += _types(chain.block(ballot_tx(chain, SigningKey.generate(), poll_id)))
    (voter, *_rest) = cast(chain, poll_id)
    seen += _types(
        chain.block(chain.tx(chain.attest[1], "complain", complaint_body(chain, poll_id, 1, voter.public_hex)))
    )
    for _ in range(10):  # up to the close height: that block closes the poll (no tx) and starts its MPC
        seen += _types(chain.block())
        if not chain.query(f"/poll/{poll_id}")[1]["open"]:
            break
    assert events.POLL_CLOSED in seen  # closed by the block itself
    while chain.query(f"/poll/{poll_id}")[1]["counted_fixed_height"] is None:
        seen += _types(chain.block())  # the complaint window, then the fixed counted set starts the MPC
    digest = chain.query(f"/poll/{poll_id}")[1]["ballots_digest"]
    failed = {"status": "failed", "ballots": digest, "code": "party_absent", "absent": [3]}
    res = chain.block(_submit(chain, 0, poll_id, failed))
    assert result_codes(res) == [0], res.tx_results[0].log
    seen += _types(res)
    result = attested_result(chain, poll_id)
    res = chain.block(*[_submit(chain, v, poll_id, result) for v in range(3)])
    assert result_codes(res) == [0, 0, 0], [r.log for r in res.tx_results]
    seen += _types(res)
    seen += _types(chain.block())

    second = create(chain, creator)  # closed early by its creator: the close_poll tx's events
    seen += _types(chain.block(chain.tx(creator, "close_poll", {"poll": second})))
    seen += _types(chain.block())

    third = create(chain, creator, kind="tally", options=("a", "b"))  # opened from aggregate posts
    cast(chain, third)
    chain.block(chain.tx(creator, "close_poll", {"poll": third}))
    fixed(chain, third)
    res = chain.block(*[aggregate_tx(chain, third, i) for i in range(3)])
    assert result_codes(res) == [0, 0, 0], [r.log for r in res.tx_results]
    seen += _types(res)

    assert set(seen) <= set(events.EVENT_TYPES), set(seen) - set(events.EVENT_TYPES)
    assert set(seen) == set(events.EVENT_TYPES), set(events.EVENT_TYPES) - set(seen)
