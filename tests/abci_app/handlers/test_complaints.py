"""Complaints: judged by the chain (ballot_bad, complaint_false, moot), refused with their codes, taken
until complaints_until; then the counted set is fixed, and never changes."""

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.registry import complaint_window

from apphelpers import Chain, ballot_body, cast, complaint_body, create, fixed, poll_body, result_codes
from statehelpers import bad_share_ballot


def _events(res, index=0):
    return {e.type: {a.key: a.value for a in e.attributes} for e in res.tx_results[index].events}


def _cast_bad(chain, poll_id, voter, i=0, **kw):
    poll = chain.query(f"/poll/{poll_id}")[1]
    body = ballot_body(poll, voter, raw=bad_share_ballot(poll, voter, i, **kw))
    assert result_codes(chain.block(chain.tx(voter, "cast_ballot", body))) == [0]
    return body


@pytest.fixture
def poll_id(chain):
    return create(chain, SigningKey.generate(), close_in=30)


@pytest.mark.parametrize("undecryptable", [False, True])
def test_a_bad_share_disqualifies_the_ballot_and_names_the_voter(chain, poll_id, undecryptable):
    cast(chain, poll_id)
    bob = SigningKey.generate()
    _cast_bad(chain, poll_id, bob, i=2, undecryptable=undecryptable)
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 4
    others = complaint_body(chain, poll_id, 0, bob.public_hex)  # validator 0's share is fine
    res = chain.block(
        chain.tx(chain.attest[2], "complain", complaint_body(chain, poll_id, 2, bob.public_hex)),
        chain.tx(chain.attest[0], "complain", others),
    )
    assert result_codes(res) == [0, 0]
    event = _events(res)["complaint"]
    assert event == {
        "poll_id": str(poll_id),
        "validator": "2",
        "voter": bob.public_hex,
        "verdict": "ballot_bad",
        "ballot_tx": others["ballot_tx"],
    }
    assert _events(res, 1)["complaint"]["verdict"] == "moot"  # the ballot is out already
    record = chain.query(f"/poll/{poll_id}/ballot/{bob.public_hex}")[1]
    assert record["disqualified"]["by"] == 2 and record["disqualified"]["height"] == chain.height
    reason = "does not" if undecryptable else "share 2: does not match the ballot's commitments"
    assert reason in record["disqualified"]["reason"]
    poll = chain.query(f"/poll/{poll_id}")[1]
    assert poll["ballots"] == 3 and poll["named_validators"] == []
    page = chain.query(f"/poll/{poll_id}/ballots?fields=tx")[1]["ballots"]
    assert sum(b["disqualified"] is not None for b in page) == 1 and len(page) == 4
    complaints = chain.query(f"/poll/{poll_id}/complaints")[1]["complaints"]
    assert [(c["validator"], c["verdict"]) for c in complaints] == sorted([(2, "ballot_bad"), (0, "moot")])
    indexed = {a.key: a.index for e in res.tx_results[0].events if e.type == "complaint" for a in e.attributes}
    assert indexed == {"poll_id": True, "validator": True, "voter": True, "verdict": True, "ballot_tx": False}


def test_a_false_complaint_names_the_validator_and_changes_nothing_else(chain, poll_id):
    (alice, *_rest) = cast(chain, poll_id)
    before = chain.query(f"/poll/{poll_id}/ballot/{alice.public_hex}")[1]
    res = chain.block(chain.tx(chain.attest[3], "complain", complaint_body(chain, poll_id, 3, alice.public_hex)))
    assert result_codes(res) == [0]
    assert _events(res)["complaint"]["verdict"] == "complaint_false"
    assert _events(res)["complaint"]["validator"] == "3"
    poll = chain.query(f"/poll/{poll_id}")[1]
    assert poll["named_validators"] == [3] and poll["ballots"] == 3
    assert chain.query(f"/poll/{poll_id}/ballot/{alice.public_hex}")[1] == before
    # A second validator's false complaint: both named, sorted.
    res = chain.block(chain.tx(chain.attest[1], "complain", complaint_body(chain, poll_id, 1, alice.public_hex)))
    assert chain.query(f"/poll/{poll_id}")[1]["named_validators"] == [1, 3]


def test_a_complaint_about_a_revoted_ballot_is_moot(chain, poll_id):
    bob = SigningKey.generate()
    _cast_bad(chain, poll_id, bob, i=1)
    old = complaint_body(chain, poll_id, 1, bob.public_hex)
    assert result_codes(
        chain.block(chain.tx(bob, "cast_ballot", ballot_body(chain.query(f"/poll/{poll_id}")[1], bob)))
    ) == [0]
    res = chain.block(chain.tx(chain.attest[1], "complain", old))
    assert result_codes(res) == [0] and _events(res)["complaint"]["verdict"] == "moot"
    record = chain.query(f"/poll/{poll_id}/ballot/{bob.public_hex}")[1]
    assert record["disqualified"] is None and record["replaced"] == [old["ballot_tx"]]
    poll = chain.query(f"/poll/{poll_id}")[1]
    assert poll["ballots"] == 1 and poll["named_validators"] == []


def test_revote_after_disqualification_and_the_same_commitments_refused(chain, poll_id):
    bob = SigningKey.generate()
    bad = _cast_bad(chain, poll_id, bob, i=0)
    assert result_codes(
        chain.block(chain.tx(chain.attest[0], "complain", complaint_body(chain, poll_id, 0, bob.public_hex)))
    ) == [0]
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 0
    again = chain.tx(bob, "cast_ballot", bad)  # the same ballot bytes, a new tx
    checked = chain.check(again)
    assert checked.code == codes.BAD_BALLOT and "these commitments was disqualified" in checked.log
    assert result_codes(chain.block(again)) == [codes.BAD_BALLOT]
    fresh = ballot_body(chain.query(f"/poll/{poll_id}")[1], bob)
    assert result_codes(chain.block(chain.tx(bob, "cast_ballot", fresh))) == [0]
    record = chain.query(f"/poll/{poll_id}/ballot/{bob.public_hex}")[1]
    assert record["disqualified"] is None and record["revotes"] == 1 and len(record["replaced"]) == 1
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 1


def test_refusals_have_their_codes(chain, poll_id):
    (alice, *_rest) = cast(chain, poll_id)
    good = complaint_body(chain, poll_id, 1, alice.public_hex)
    cases = [
        (chain.attest[1], dict(good, poll=99), codes.UNKNOWN_POLL),
        (chain.attest[2], good, codes.NOT_VALIDATOR),  # validator 2's key signing as validator 1
        (SigningKey.generate(), good, codes.NOT_VALIDATOR),
        (chain.attest[1], dict(good, validator=4), codes.NOT_VALIDATOR),
        (chain.attest[1], dict(good, ballot_tx="AB" * 32), codes.UNKNOWN_BALLOT),
        (chain.attest[1], dict(good, voter="ab" * 32), codes.UNKNOWN_BALLOT),
        (
            chain.attest[1],
            complaint_body(chain, poll_id, 1, alice.public_hex, secret=chain.enc[0]),
            codes.BAD_COMPLAINT,
        ),
        (chain.attest[1], dict(good, complaint="00" * 96), codes.BAD_COMPLAINT),
    ]
    for key, body, code in cases:
        raw = chain.tx(key, "complain", body)
        assert chain.check(raw).code == code, (code, chain.check(raw).log)
        res = chain.block(raw)
        assert result_codes(res) == [code] and res.tx_results[0].log
    assert result_codes(chain.block(chain.tx(chain.attest[1], "complain", good))) == [0]
    res = chain.block(chain.tx(chain.attest[1], "complain", good))
    assert result_codes(res) == [codes.ALREADY_COMPLAINED]


def test_the_counted_set_is_fixed_after_the_window_and_never_changes(chain, poll_id):
    voters = cast(chain, poll_id, n=4)
    bob = SigningKey.generate()
    _cast_bad(chain, poll_id, bob, i=3)
    # Close at its close height: run to it.
    poll = chain.query(f"/poll/{poll_id}")[1]
    while chain.height + 1 < poll["close_height"]:
        chain.block()
    late = chain.tx(SigningKey.generate(), "cast_ballot", ballot_body(poll, SigningKey.generate()))
    res = chain.block()
    close = chain.height
    poll = chain.query(f"/poll/{poll_id}")[1]
    window = complaint_window([10] * 4) + 2
    assert poll["closed_height"] == close and poll["complaints_until"] == close + window == close + 4
    assert poll["counted_fixed_height"] is None and poll["ballots_digest"] is None
    assert {e.type for e in res.events} >= {"poll_closed"}
    assert chain.check(late).code in (codes.POLL_CLOSED, codes.BAD_BALLOT)
    while chain.height < poll["complaints_until"] - 1:
        chain.block()
    # The last height of the window still takes complaints.
    res = chain.block(chain.tx(chain.attest[3], "complain", complaint_body(chain, poll_id, 3, bob.public_hex)))
    assert chain.height == poll["complaints_until"] and result_codes(res) == [0]
    res = chain.block()
    poll = chain.query(f"/poll/{poll_id}")[1]
    assert poll["counted_fixed_height"] == poll["complaints_until"] + 1 == chain.height
    assert poll["ballots"] == 4 and poll["seed"] and poll["ballots_digest"]
    assert "mpc_started" in {e.type for e in res.events}
    digest = poll["ballots_digest"]
    late_complaint = chain.tx(chain.attest[0], "complain", complaint_body(chain, poll_id, 0, voters[0].public_hex))
    assert chain.check(late_complaint).code == codes.COMPLAINT_WINDOW
    assert result_codes(chain.block(late_complaint)) == [codes.COMPLAINT_WINDOW]
    for _ in range(3):
        chain.block()
    after = chain.query(f"/poll/{poll_id}")[1]
    assert (after["ballots_digest"], after["ballots"], after["counted_fixed_height"]) == (
        digest,
        4,
        poll["counted_fixed_height"],
    )


def test_the_window_follows_the_power_and_the_slack(tmp_path):
    c = Chain(tmp_path / "app", m=7, powers=[2, 2, 2, 2, 2, 2, 5], params={"complaint_slack_blocks": 5})
    c.init()
    c.block()
    creator = SigningKey.generate()
    poll_id = create(c, creator)
    c.block(c.tx(creator, "close_poll", {"poll": poll_id}))
    poll = c.query(f"/poll/{poll_id}")[1]
    assert poll["complaints_until"] == poll["closed_height"] + complaint_window([2] * 6 + [5]) + 5
    assert complaint_window([2] * 6 + [5]) == 6  # f = 2, but the largest two hold 7 of 17
    assert fixed(c, poll_id)["counted_fixed_height"] == poll["complaints_until"] + 1
    c.app.close()


def test_two_apps_reach_the_same_app_hash(tmp_path):
    """Ballots, a disqualification, a false complaint, a moot one, a revote, the close and the fix: twice."""
    a = Chain(tmp_path / "a")
    b = Chain(tmp_path / "b")
    b.genesis, b.cons, b.powers = a.genesis, a.cons, a.powers
    a.init(), b.init()
    blocks = []

    def run(*txs):
        blocks.append(list(txs))
        ra, rb = a.block(*txs), b.block(*txs)
        assert ra.app_hash == rb.app_hash and result_codes(ra) == result_codes(rb)
        return ra

    run()
    creator = SigningKey.generate()
    run(a.tx(creator, "create_poll", poll_body(a.height + 30, threshold=1)))
    poll = a.query("/poll/1")[1]
    voters = [SigningKey.generate() for _ in range(3)]
    bob = SigningKey.generate()
    run(
        *[a.tx(v, "cast_ballot", ballot_body(poll, v)) for v in voters],
        a.tx(bob, "cast_ballot", ballot_body(poll, bob, raw=bad_share_ballot(poll, bob, 1))),
    )
    old = complaint_body(a, 1, 1, bob.public_hex)
    run(
        a.tx(a.attest[1], "complain", old),
        a.tx(a.attest[2], "complain", complaint_body(a, 1, 2, voters[0].public_hex)),
    )
    run(a.tx(bob, "cast_ballot", ballot_body(poll, bob)))
    run(a.tx(a.attest[0], "complain", {**complaint_body(a, 1, 0, bob.public_hex), "ballot_tx": old["ballot_tx"]}))
    run(a.tx(creator, "close_poll", {"poll": 1}))
    for _ in range(6):
        run()
    assert a.query("/poll/1")[1] == b.query("/poll/1")[1]
    assert a.query("/poll/1")[1]["counted_fixed_height"] is not None
    a.app.close(), b.app.close()
