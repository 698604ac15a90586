"""Block execution on a staged state: apply_tx's all-or-nothing rule and nonces, begin and end of a block."""

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol.codes import TxError
from mpc_tx.protocol.keys import SigningKey

from abci_app import execution
from abci_app.context import event
from abci_app.execution import apply_tx, begin_block, end_block
from abci_app.store.keys import nonce_key, poll_key
from apphelpers import attested_result, ballot_tx, cast, closed_poll, create, poll_body


def nonce_of(state, key):
    return state.get(nonce_key(key.public_hex), 0)


def test_an_applied_tx_returns_its_data_and_records_its_nonce(chain):
    creator = SigningKey.generate()
    state, ctx = chain.staged()
    tx, data = apply_tx(state, ctx, chain.tx(creator, "create_poll", poll_body(chain.height + 10)))
    assert tx.type == "create_poll" and data is not None
    assert nonce_of(state, creator) == 1
    assert state.get(poll_key(1))["creator"] == creator.public_hex
    assert [e[0] for e in ctx.events] == ["poll_created"]
    assert state.mark() == 0  # the journal is released: applied for good


def test_a_tx_rejected_by_its_handler_changes_nothing_and_keeps_its_nonce_unused(chain):
    voter = SigningKey.generate()
    state, ctx = chain.staged()
    raw = ballot_tx(chain, voter, 999)
    with pytest.raises(TxError) as err:
        apply_tx(state, ctx, raw)
    assert err.value.code == codes.UNKNOWN_POLL
    assert state.writes == {} and ctx.events == [] and nonce_of(state, voter) == 0


def test_a_failing_handler_has_its_writes_events_and_touched_polls_rolled_back(chain, monkeypatch):
    """A handler that wrote, emitted and touched a poll before it failed leaves no trace of any."""
    creator = SigningKey.generate()
    state, ctx = chain.staged()
    apply_tx(state, ctx, chain.tx(creator, "create_poll", poll_body(chain.height + 10)))
    ctx.touched_polls.add(1)
    writes, events = state.writes, list(ctx.events)

    def half_done(state, ctx, tx):
        state.put(b"scratch/new", 1)
        state.put(poll_key(1), {"overwritten": True})
        state.delete(nonce_key(tx.signer))
        ctx.events.append(event("half_done", {"poll_id": 1}))
        ctx.touched_polls.update({1, 2})
        raise TxError(codes.BAD_POLL, "refused after writing")

    monkeypatch.setitem(execution._HANDLERS, "close_poll", half_done)
    with pytest.raises(TxError):
        apply_tx(state, ctx, chain.tx(creator, "close_poll", {"poll": 1}))
    assert state.writes == writes and ctx.events == events and ctx.touched_polls == {1}
    assert nonce_of(state, creator) == 1  # the failed tx's nonce 2 is still free
    tx, _ = apply_tx(state, ctx, chain.tx(creator, "create_poll", poll_body(chain.height + 11), nonce=2))
    assert tx.nonce == 2 and nonce_of(state, creator) == 2


def test_an_unexpected_error_is_not_swallowed(chain, monkeypatch):
    """Only a TxError is a rejection: a bug propagates (the app reports it), it is not a tx code."""

    def buggy(state, ctx, tx):
        raise KeyError("bug")

    monkeypatch.setitem(execution._HANDLERS, "create_poll", buggy)
    state, ctx = chain.staged()
    with pytest.raises(KeyError):
        apply_tx(state, ctx, chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)))


def test_nonces_per_signer_in_one_state(chain):
    a, b = SigningKey.generate(), SigningKey.generate()
    state, ctx = chain.staged()
    first = chain.tx(a, "create_poll", poll_body(chain.height + 10))
    apply_tx(state, ctx, first)
    with pytest.raises(TxError) as err:
        apply_tx(state, ctx, first)  # the same tx again in the same block
    assert err.value.code == codes.REPLAY
    apply_tx(state, ctx, chain.tx(b, "create_poll", poll_body(chain.height + 11), nonce=1))  # b has its own
    apply_tx(state, ctx, chain.tx(a, "create_poll", poll_body(chain.height + 12), nonce=7))  # gaps allowed
    assert (nonce_of(state, a), nonce_of(state, b)) == (7, 1)


def test_begin_block_closes_the_polls_due_at_its_height(chain):
    poll_id = create(chain, SigningKey.generate(), close_in=6)
    cast(chain, poll_id)
    close_height = chain.query(f"/poll/{poll_id}")[1]["close_height"]
    while chain.height + 1 < close_height:
        chain.block()
    state, ctx = chain.staged()
    assert ctx.height == close_height and state.get(poll_key(poll_id))["status"] == "open"
    begin_block(state, ctx)
    poll = state.get(poll_key(poll_id))
    assert poll["status"] == "closed" and poll["closed_height"] == close_height and poll["ballots"] == 3
    assert "poll_closed" in [e[0] for e in ctx.events]


def test_end_block_makes_an_outcome_final_past_two_thirds_of_the_power(tmp_path):
    chain, poll_id, _ = closed_poll(tmp_path)
    try:
        result = attested_result(chain, poll_id)
        state, ctx = chain.staged()
        for i in range(3):
            body = {"poll": poll_id, "validator": i, "result": result}
            apply_tx(state, ctx, chain.tx(chain.attest[i], "submit_outcome", body))
            assert state.get(poll_key(poll_id))["status"] == "closed"  # a tx alone never makes it final
        assert ctx.touched_polls == {poll_id}
        end_block(state, ctx)
        poll = state.get(poll_key(poll_id))
        assert poll["status"] == "final" and poll["attesters"] == [0, 1, 2] and poll["result"] == result
    finally:
        chain.app.close()


def test_end_block_leaves_an_outcome_at_two_thirds_open(tmp_path):
    chain, poll_id, _ = closed_poll(tmp_path)
    try:
        result = attested_result(chain, poll_id)
        state, ctx = chain.staged()
        for i in range(2):  # 20 of 40: not more than 2/3
            apply_tx(
                state,
                ctx,
                chain.tx(chain.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": result}),
            )
        end_block(state, ctx)
        assert state.get(poll_key(poll_id))["status"] == "closed"
    finally:
        chain.app.close()
