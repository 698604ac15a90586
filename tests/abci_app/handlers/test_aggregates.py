"""The aggregate round (docs/PROTOCOL.md §18): A kept over the counted set, posts judged, the tally opened on chain."""

import hashlib

import pytest

from apphelpers import (
    Chain,
    aggregate_body,
    aggregate_tx,
    ballot_body,
    complaint_body,
    context_of,
    create,
    fixed,
    fresh_aggregate,
    result_codes,
)
from statehelpers import bad_share_ballot
from mpc_tx.protocol import canonical, codes, running, tally
from mpc_tx.protocol.group import L
from mpc_tx.protocol.keys import SigningKey

OPTIONS = ("red", "green", "blue")
PARAMS = {"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 8}


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path / "app", params=PARAMS)
    c.init()
    c.block()
    yield c
    c.app.close()


class Log:
    """Every block a test runs on a chain, with its txs and results: what a verifier reads."""

    def __init__(self, chain):
        self.chain, self.blocks = chain, []

    def block(self, *txs):
        res = self.chain.block(*txs)
        self.blocks.append((self.chain.height, txs, res))
        return res

    def trail(self, poll_id):
        """Return (events, datas) of the poll's event txs in chain order, rebuilt from the tx bytes."""
        events, datas = [], []
        for height, txs, res in self.blocks:
            for raw, result in zip(txs, res.tx_results):
                doc = canonical.decode(raw)
                body, txh = doc["body"], hashlib.sha256(raw).digest()
                if result.code != 0 or body.get("poll") != poll_id:
                    continue
                if doc["type"] == "cast_ballot":
                    events.append(running.ballot_event(height, txh, bytes.fromhex(doc["signer"])))
                elif doc["type"] == "complain":
                    verdict = [a.value for e in result.events for a in e.attributes if a.key == "verdict"][0]
                    events.append(
                        running.complaint_event(
                            height,
                            txh,
                            body["validator"],
                            bytes.fromhex(body["voter"]),
                            bytes.fromhex(body["ballot_tx"]),
                            verdict,
                        )
                    )
                elif doc["type"] == "close_poll":
                    events.append(running.close_event(height, txh))
                elif doc["type"] == "aggregate":
                    verdict = [a.value for e in result.events for a in e.attributes if a.key == "verdict"][0]
                    events.append(running.aggregate_event(height, txh, body["validator"], verdict))
                else:
                    continue
                datas.append(bytes(result.data))
        return events, datas


def _poll(chain, poll_id):
    return chain.query(f"/poll/{poll_id}")[1]


def _stored(chain, poll_id):
    return chain.query(f"/poll/{poll_id}/aggregate")[1]["aggregate"]


def _cast(log, poll_id, values_list):
    """Commit one ballot per values of fresh voters in one block; return the voters."""
    chain = log.chain
    poll = _poll(chain, poll_id)
    voters = [SigningKey.generate() for _ in values_list]
    res = log.block(
        *[chain.tx(v, "cast_ballot", ballot_body(poll, v, list(values))) for v, values in zip(voters, values_list)]
    )
    assert result_codes(res) == [0] * len(voters), [r.log for r in res.tx_results]
    return voters


def _fixed_tally(log, values_list, creator=None, **kw):
    """A tally over OPTIONS with these ballots, closed early by its creator and its counted set fixed."""
    chain = log.chain
    creator = creator or SigningKey.generate()
    poll_id = create(chain, creator, kind="tally", options=OPTIONS, **kw)
    voters = _cast(log, poll_id, values_list)
    assert result_codes(log.block(chain.tx(creator, "close_poll", {"poll": poll_id}))) == [0]
    while _poll(chain, poll_id)["counted_fixed_height"] is None:
        log.block()
    return poll_id, voters


def _code(res, n=0):
    return res.tx_results[n].code, res.tx_results[n].log


def _header(chain, poll_id):
    return context_of(_poll(chain, poll_id)).header


# --- the stored aggregate -------------------------------------------------------------------


def test_the_stored_aggregate_is_the_fresh_sum_over_the_counted_set(chain):
    log = Log(chain)
    creator = SigningKey.generate()
    poll_id = create(chain, creator, kind="tally", options=OPTIONS, max_revotes=2, threshold=1)
    poll = _poll(chain, poll_id)
    k, t = 3, 1
    assert _stored(chain, poll_id) == tally.empty_sums(k, t).encode().hex() == "00" * 32 * k * (t + 1)
    voters = _cast(log, poll_id, [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id)
    # A revote of a counted ballot: the old commitments out, the new in.
    log.block(chain.tx(voters[0], "cast_ballot", ballot_body(poll, voters[0], [0, 0, 1])))
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id)
    # A ballot with a bad share of validator 2, disqualified: out of A.
    bob = SigningKey.generate()
    log.block(chain.tx(bob, "cast_ballot", ballot_body(poll, bob, raw=bad_share_ballot(poll, bob, 2))))
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id)
    res = log.block(chain.tx(chain.attest[2], "complain", complaint_body(chain, poll_id, 2, bob.public_hex)))
    assert result_codes(res) == [0] and _poll(chain, poll_id)["ballots"] == 3
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id)
    # A false complaint changes nothing; bob's revote after his disqualification counts as a first ballot.
    before = _stored(chain, poll_id)
    log.block(chain.tx(chain.attest[1], "complain", complaint_body(chain, poll_id, 1, voters[1].public_hex)))
    assert _stored(chain, poll_id) == before
    log.block(chain.tx(bob, "cast_ballot", ballot_body(poll, bob, [0, 1, 0])))
    assert _poll(chain, poll_id)["ballots"] == 4
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id) != before
    assert chain.query(f"/poll/{poll_id}/aggregate")[1]["ballots"] == 4
    # Every counted ballot and judged complaint carried the running digest.
    events, datas = log.trail(poll_id)
    assert [e.kind for e in events] == ["ballot"] * 5 + ["complaint", "complaint", "ballot"]
    assert [e.verdict for e in events if e.kind == "complaint"] == ["ballot_bad", "complaint_false"]
    assert running.check_trail(_header(chain, poll_id), poll_id, events, datas) == 8 == _poll(chain, poll_id)["events"]


def test_a_unanimity_poll_keeps_its_aggregate_too(chain):
    log = Log(chain)
    poll_id = create(chain, SigningKey.generate())
    _cast(log, poll_id, [(1,), (0,), (1,)])
    assert len(_stored(chain, poll_id)) == 2 * 32 * 1 * 2  # k = 1, t = 1
    assert _stored(chain, poll_id) == fresh_aggregate(chain, poll_id)


def test_the_stored_bytes_depend_on_the_counted_set_not_on_the_order(tmp_path):
    one, two = Chain(tmp_path / "one", params=PARAMS), Chain(tmp_path / "two", params=PARAMS)
    two.attest, two.enc, two.cons, two.registry, two.genesis = one.attest, one.enc, one.cons, one.registry, one.genesis
    for c in (one, two):
        c.init()
        c.block()
    creator = SigningKey.generate()
    create_raw = one.tx(creator, "create_poll", {**_body(one), "kind": "tally", "options": list(OPTIONS)})
    for c in (one, two):
        assert result_codes(c.block(create_raw)) == [0]
    poll = _poll(one, 1)
    voters = [SigningKey.generate() for _ in range(3)]
    raws = [one.tx(v, "cast_ballot", ballot_body(poll, v, [1, 0, 0])) for v in voters]
    for raw in raws:  # one ballot a block in one app, all in one block (reversed) in the other
        one.block(raw)
    two.block(*reversed(raws))
    two.block()
    two.block()
    assert _stored(one, 1) == _stored(two, 1) == fresh_aggregate(one, 1)
    for c in (one, two):
        c.app.close()


def _body(chain):
    from apphelpers import poll_body

    return poll_body(chain.height + 12)


# --- the aggregate tx -------------------------------------------------------------------------


def test_t_plus_one_valid_posts_open_the_tally_with_the_others_never_posting(chain):
    log = Log(chain)
    # m = 4, the tally's default t = m-f-1 = 2: three posts open it, validator 3 never posts.
    poll_id, _voters = _fixed_tally(log, [(1, 0, 0), (0, 1, 0), (1, 0, 0), (0, 0, 1), (1, 0, 0)])
    poll = _poll(chain, poll_id)
    assert poll["threshold"] == 2 and poll["status"] == "closed"
    assert poll["mpc_slot"] is None and poll["mpc_start"] is None  # no MPC for a tally
    assert poll["deadline_height"] == poll["counted_fixed_height"] + PARAMS["mpc_deadline_blocks"]
    res = log.block(aggregate_tx(chain, poll_id, 2), aggregate_tx(chain, poll_id, 0))
    assert result_codes(res) == [0, 0] and _poll(chain, poll_id)["status"] == "closed"
    final = aggregate_tx(chain, poll_id, 1)
    res = log.block(final)
    assert result_codes(res) == [0]
    poll = _poll(chain, poll_id)
    expected = {
        "status": "ok",
        "ballots": poll["ballots_digest"],
        "outcome": {"tally": {"red": 3, "green": 1, "blue": 1}},
        "counted": 5,
    }
    assert poll["status"] == "final" and poll["result"] == expected
    assert poll["final_height"] == chain.height and poll["final_tx"] == hashlib.sha256(final).hexdigest().upper()
    assert poll["attesters"] == [0, 1, 2] and poll["named_validators"] == []
    assert [e.type for e in res.tx_results[0].events] == ["aggregate", "outcome_final"]
    # The final tx's data carries the result; every event tx's data the running digest (checked whole).
    events, datas = log.trail(poll_id)
    assert running.parse_data(datas[-1])["result"] == expected
    assert running.check_final(_header(chain, poll_id), poll_id, events, datas, expected) == len(events) == 9
    assert poll["events"] == 9 and poll["running"] == running.parse_data(datas[-1])["running"].hex()
    # Later posts: the poll is final.
    code, reason = _code(log.block(aggregate_tx(chain, poll_id, 3)))
    assert code == codes.AGGREGATE_WINDOW and f"poll {poll_id} is final" in reason
    aggregates = chain.query(f"/poll/{poll_id}/aggregates")[1]["aggregates"]
    assert [(a["validator"], a["verdict"]) for a in aggregates] == [(0, "valid"), (1, "valid"), (2, "valid")]


def test_a_wrong_pair_is_named_and_the_tally_is_still_final_and_correct(chain):
    log = Log(chain)
    poll_id, _voters = _fixed_tally(log, [(0, 1, 0), (0, 1, 0), (1, 0, 0)])
    good = aggregate_body(chain, poll_id, 3)
    pairs = tally.parse_pairs(3, bytes.fromhex(good["pairs"]))
    lying = [pairs[0], ((pairs[1][0] + 1) % L, pairs[1][1]), pairs[2]]  # one more vote for green
    wrong = dict(good, pairs=tally.encode_pairs(lying).hex())
    res = log.block(chain.tx(chain.attest[3], "aggregate", wrong), aggregate_tx(chain, poll_id, 0))
    assert result_codes(res) == [0, 0]  # accepted either way: the naming is committed
    poll = _poll(chain, poll_id)
    assert poll["named_validators"] == [3] and poll["status"] == "closed"
    named = chain.query(f"/poll/{poll_id}/aggregates")[1]["aggregates"][1]
    assert named["verdict"] == "named" and named["reason"] == (
        "aggregate pair 1 of validator 3: does not match the commitments"
    )
    code, _ = _code(log.block(aggregate_tx(chain, poll_id, 3)))
    assert code == codes.ALREADY_AGGREGATED  # one post, valid or named
    res = log.block(aggregate_tx(chain, poll_id, 1), aggregate_tx(chain, poll_id, 2))
    assert result_codes(res) == [0, 0]  # t = 2: the third valid post makes it final
    poll = _poll(chain, poll_id)
    assert poll["status"] == "final" and poll["result"]["outcome"] == {"tally": {"red": 1, "green": 2, "blue": 0}}
    assert poll["attesters"] == [0, 1, 2] and poll["named_validators"] == [3]
    events, datas = log.trail(poll_id)
    assert running.check_final(_header(chain, poll_id), poll_id, events, datas, poll["result"]) == len(events)


def test_aggregates_are_refused_early_twice_for_unanimity_below_min_ballots_and_malformed(chain):
    log = Log(chain)
    creator = SigningKey.generate()
    poll_id = create(chain, creator, kind="tally", options=OPTIONS)
    _cast(log, poll_id, [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    zero = {"poll": poll_id, "validator": 0, "pairs": "00" * 64 * 3}

    def post(i=0, **change):
        return log.block(chain.tx(chain.attest[i], "aggregate", {**zero, "validator": i, **change}))

    # Open: early.
    code, reason = _code(post())
    assert code == codes.AGGREGATE_WINDOW and "after its close" in reason
    log.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    until = _poll(chain, poll_id)["complaints_until"]
    code, reason = _code(post())  # in its complaint window: early still
    assert code == codes.AGGREGATE_WINDOW and f"from height {until + 2}" in reason
    # CheckTx answers on committed state: the fix runs first in its block, so posts land from the next one.
    while chain.height < until:
        log.block()
    raw = aggregate_tx(chain, poll_id, 0, check=False)
    assert chain.check(raw).code == codes.AGGREGATE_WINDOW
    log.block()  # height until + 1: the fix
    assert _poll(chain, poll_id)["counted_fixed_height"] == chain.height
    assert chain.check(raw).code == 0
    # Unknown poll, not the validator, the wrong k, then the first post and a second one.
    assert _code(post(poll=99))[0] == codes.UNKNOWN_POLL
    code, reason = _code(log.block(chain.tx(chain.attest[1], "aggregate", zero)))
    assert code == codes.NOT_VALIDATOR and "not validator 0" in reason
    assert _code(post(validator=4))[0] == codes.NOT_VALIDATOR
    code, reason = _code(post(pairs="00" * 64 * 2))
    assert code == codes.BAD_AGGREGATE and "3 options: 192 bytes" in reason
    assert _code(post(pairs="ff" * 64 * 3))[0] == codes.BAD_AGGREGATE  # not canonical scalars: stateless
    assert result_codes(log.block(raw)) == [0]
    code, reason = _code(log.block(aggregate_tx(chain, poll_id, 0, check=False)))
    assert code == codes.ALREADY_AGGREGATED and "validator 0" in reason
    assert chain.query(f"/poll/{poll_id}/aggregates")[1]["aggregates"][0]["verdict"] == "valid"
    # A unanimity poll: never opened from pairs.
    other, _ = _fixed_unanimity(log)
    code, reason = _code(log.block(chain.tx(chain.attest[0], "aggregate", dict(zero, poll=other, pairs="00" * 64))))
    assert code == codes.NOT_TALLY and "unanimity" in reason
    # A tally below min_ballots is final at its fix, withheld: no pair is wanted, and it says why.
    few, _ = _fixed_tally(log, [(1, 0, 0), (0, 1, 0)], min_ballots=3)
    poll = _poll(chain, few)
    assert poll["status"] == "final" and poll["final_height"] == poll["counted_fixed_height"]
    assert poll["result"] == {
        "status": "ok",
        "ballots": poll["ballots_digest"],
        "outcome": {"withheld": True},
        "counted": 2,
    }
    assert poll["final_tx"] is None and poll["mpc_slot"] is None
    code, reason = _code(log.block(aggregate_tx(chain, few, 0, check=False)))
    assert code == codes.TOO_FEW_BALLOTS and "below its min_ballots of 3" in reason


def _fixed_unanimity(log):
    chain, creator = log.chain, SigningKey.generate()
    poll_id = create(chain, creator)
    voters = _cast(log, poll_id, [(1,), (1,), (1,)])
    log.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    fixed(chain, poll_id)
    return poll_id, voters


def test_a_tally_is_never_attested(chain):
    log = Log(chain)
    poll_id, _ = _fixed_tally(log, [(1, 0, 0), (0, 1, 0), (1, 0, 0)])
    poll = _poll(chain, poll_id)
    result = {
        "status": "ok",
        "ballots": poll["ballots_digest"],
        "outcome": {"tally": {"red": 2, "green": 1, "blue": 0}},
        "counted": 3,
    }
    code, reason = _code(
        log.block(chain.tx(chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": result}))
    )
    assert code == codes.BAD_OUTCOME and "a tally is opened on chain from aggregate pairs" in reason


def test_a_tally_without_t_plus_one_valid_posts_fails_at_its_deadline_naming_the_absent(chain):
    log = Log(chain)
    poll_id, _ = _fixed_tally(log, [(1, 0, 0), (0, 1, 0), (1, 0, 0)])
    wrong = dict(aggregate_body(chain, poll_id, 0), validator=2)  # validator 0's pairs at x = 3: named
    res = log.block(aggregate_tx(chain, poll_id, 0), chain.tx(chain.attest[2], "aggregate", wrong))
    assert result_codes(res) == [0, 0]
    deadline = _poll(chain, poll_id)["deadline_height"]
    while chain.height < deadline:
        log.block()
    poll = _poll(chain, poll_id)
    assert poll["status"] == "failed" and poll["final_height"] == deadline
    assert poll["result"] == {
        "status": "failed",
        "code": "deadline",
        "absent": [1, 2, 3],
        "ballots": poll["ballots_digest"],
    }
    assert poll["named_validators"] == [2]
    assert _code(log.block(aggregate_tx(chain, poll_id, 1)))[0] == codes.AGGREGATE_WINDOW


def test_with_t_one_two_posts_open_a_tally_with_an_option_at_zero(chain):
    log = Log(chain)
    poll_id, _ = _fixed_tally(log, [(0, 0, 1), (0, 0, 1), (1, 0, 0), (0, 0, 1)], threshold=1)
    res = log.block(aggregate_tx(chain, poll_id, 3), aggregate_tx(chain, poll_id, 1))
    assert result_codes(res) == [0, 0]
    poll = _poll(chain, poll_id)
    assert poll["result"]["outcome"] == {"tally": {"red": 1, "green": 0, "blue": 3}} and poll["attesters"] == [1, 3]
    assert res.tx_results[1].data == running.final_data(
        poll_id, poll["events"], bytes.fromhex(poll["running"]), poll["result"]
    )
    events, datas = log.trail(poll_id)
    assert running.check_final(_header(chain, poll_id), poll_id, events, datas, poll["result"]) == len(events) == 7


def test_each_event_tx_carries_the_running_data_and_others_none(chain):
    log = Log(chain)
    creator = SigningKey.generate()
    poll_id = create(chain, creator, kind="tally", options=OPTIONS)
    header = _header(chain, poll_id)
    assert _poll(chain, poll_id)["running"] == running.start(header).hex() and _poll(chain, poll_id)["events"] == 0
    voters = _cast(log, poll_id, [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
    res = log.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    data = running.parse_data(bytes(res.tx_results[0].data))
    assert data["closed_height"] == chain.height and data["poll_id"] == poll_id and data["events"] == 4
    refused = log.block(chain.tx(voters[0], "cast_ballot", ballot_body(_poll(chain, poll_id), voters[0], [1, 0, 0])))
    assert refused.tx_results[0].code == codes.POLL_CLOSED and refused.tx_results[0].data == b""
    events, datas = log.trail(poll_id)
    assert running.check_trail(header, poll_id, events, datas) == 4
    assert [running.parse_data(d)["events"] for d in datas] == [1, 2, 3, 4]
    # Hiding the second ballot is caught at the next event shown.
    assert (
        "hidden, added or altered"
        in running.check_trail(header, poll_id, events[:1] + events[2:], datas[:1] + datas[2:]).reason
    )


def test_two_apps_reach_the_same_app_hash_through_a_whole_round(tmp_path):
    one, two = Chain(tmp_path / "one", params=PARAMS), Chain(tmp_path / "two", params=PARAMS)
    two.attest, two.enc, two.cons, two.registry, two.genesis = one.attest, one.enc, one.cons, one.registry, one.genesis
    hashes = []

    def both(*txs):
        a, b = one.block(*txs), two.block(*txs)
        assert a.app_hash == b.app_hash and [r.data for r in a.tx_results] == [r.data for r in b.tx_results]
        hashes.append(a.app_hash)
        return a

    assert one.init().app_hash == two.init().app_hash
    both()
    creator = SigningKey.generate()
    both(one.tx(creator, "create_poll", {**_body(one), "kind": "tally", "options": list(OPTIONS)}))
    poll = _poll(one, 1)
    voters = [SigningKey.generate() for _ in range(4)]
    both(*[one.tx(v, "cast_ballot", ballot_body(poll, v, [1, 0, 0])) for v in voters[:3]])
    bob = voters[3]
    both(one.tx(bob, "cast_ballot", ballot_body(poll, bob, raw=bad_share_ballot(poll, bob, 1))))
    both(one.tx(one.attest[1], "complain", complaint_body(one, 1, 1, bob.public_hex)))
    both(one.tx(creator, "close_poll", {"poll": 1}))
    while _poll(one, 1)["counted_fixed_height"] is None:
        both()
    wrong = dict(aggregate_body(one, 1, 0), validator=1)
    res = both(aggregate_tx(one, 1, 0), one.tx(one.attest[1], "aggregate", wrong), aggregate_tx(one, 1, 2))
    assert result_codes(res) == [0, 0, 0]
    res = both(aggregate_tx(one, 1, 3))
    assert _poll(one, 1)["status"] == _poll(two, 1)["status"] == "final"
    assert _poll(two, 1)["result"]["outcome"] == {"tally": {"red": 3, "green": 0, "blue": 0}}
    assert hashes[-1] != hashes[-2]  # the final post changed the state, the same way in both
    for c in (one, two):
        c.app.close()


def test_a_corrupt_stored_aggregate_is_an_internal_error_not_an_exception(chain):
    from abci_app.execution import apply_tx
    from abci_app.store.keys import sums_key

    log = Log(chain)
    poll_id, _ = _fixed_tally(log, [(1, 0, 0), (0, 1, 0), (1, 0, 0)])
    raw = aggregate_tx(chain, poll_id, 0)
    for garbage in ("00" * 31, "ff" * 32 * 9):  # the wrong size; points that do not decode
        state, ctx = chain.staged()
        state.put(sums_key(poll_id), garbage)
        with pytest.raises(codes.TxError) as err:
            apply_tx(state, ctx, raw)
        assert err.value.code == codes.INTERNAL and "aggregate" in err.value.reason
