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
