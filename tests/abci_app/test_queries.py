"""Queries: every route answers a code and a reason, never an exception; what the ballot and complaint routes show."""

import json

from mpc_tx.protocol import codes
from abci_app.abci.pb import abci
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.tx import tx_hash

from apphelpers import HOSTILE_PATHS, ballot_tx, complaint_body, create, poll_body, result_codes


def query(app, path: bytes):
    return app.query(abci.RequestQuery(path=path))


def test_every_hostile_query_gets_a_code_not_an_exception(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 100)))
    chain.block(ballot_tx(chain, voter, 1))
    assert len(HOSTILE_PATHS) >= 50
    for path in HOSTILE_PATHS:
        res = query(chain.app, path)
        assert res.code in (codes.BAD_QUERY, codes.UNKNOWN_PATH, codes.NOT_FOUND), (path, res.code, res.log)
        assert res.log and len(res.log) < 300, path  # a reason, never an echo of the whole path
    for good in (
        b"/polls?after=0&limit=1",
        b"/poll/1",
        b"/poll/1/ballots?fields=tx",
        b"/poll/1/ballot/" + voter.public_hex.encode(),
        b"/poll/1/complaints",
        b"/account/" + voter.public_hex.encode(),
        b"/status",
    ):
        assert query(chain.app, good).code == 0, good


def test_unknown_argument_and_repeats_are_named(chain):
    res = query(chain.app, b"/polls?after=1&after=2")
    assert res.code == codes.BAD_QUERY and "twice" in res.log
    res = query(chain.app, b"/polls?colour=red")
    assert res.code == codes.BAD_QUERY and "colour" in res.log
    res = query(chain.app, b"/poll/\xff")
    assert res.code == codes.BAD_QUERY and "UTF-8" in res.log


def test_ballot_committed_and_queryable(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator)
    raw = ballot_tx(chain, voter, poll_id)
    res = chain.block(raw)
    assert result_codes(res) == [0]
    code, page = chain.query(f"/poll/{poll_id}/ballots")
    assert code == 0 and len(page["ballots"]) == 1 and page["next"] is None
    (record,) = page["ballots"]
    assert set(record) == {"voter", "ballot", "tx", "height", "revotes", "replaced", "disqualified"}
    assert record["ballot"] == json.loads(raw)["body"]["ballot"] and record["tx"] == tx_hash(raw)
    assert chain.query(f"/poll/{poll_id}/ballot/{voter.public_hex}") == (0, record)
    code, poll = chain.query(f"/poll/{poll_id}")
    assert poll["ballots"] == 1 and poll["threshold"] == 1 and len(poll["validators"]) == 4
    assert (poll["complaints_until"], poll["counted_fixed_height"], poll["named_validators"]) == (None, None, [])
    code, short = chain.query(f"/poll/{poll_id}/ballots?fields=tx")  # what a worker checks at the close
    assert code == 0 and short["ballots"] == [{"voter": voter.public_hex, "tx": record["tx"], "disqualified": None}]
    code, _ = chain.query(f"/poll/{poll_id}/ballots?fields=payloads")
    assert code == codes.BAD_QUERY


def test_complaints_are_listed_in_pages(chain):
    poll_id = create(chain, SigningKey.generate())
    voters = [SigningKey.generate() for _ in range(2)]
    chain.block(*[ballot_tx(chain, v, poll_id) for v in voters])
    chain.block(
        *[
            chain.tx(chain.attest[i], "complain", complaint_body(chain, poll_id, i, v.public_hex))
            for i in (0, 2)
            for v in voters
        ]
    )
    code, whole = chain.query(f"/poll/{poll_id}/complaints")
    assert code == 0 and len(whole["complaints"]) == 4 and whole["next"] is None
    assert all(c["verdict"] == "complaint_false" for c in whole["complaints"])
    listed = [(c["ballot_tx"], c["validator"]) for c in whole["complaints"]]
    assert listed == sorted(listed)
    pages, after = [], ""
    while True:
        code, page = chain.query(f"/poll/{poll_id}/complaints?limit=3{after}")
        assert code == 0
        pages += page["complaints"]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert pages == whole["complaints"]
