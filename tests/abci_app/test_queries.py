"""Queries: every route answers a code and a reason, never an exception; what the ballot routes show."""

from mpc_tx.protocol import codes
from abci_app.abci.pb import abci
from mpc_tx.protocol.keys import SigningKey

from apphelpers import HOSTILE_PATHS, create, payloads, poll_body, result_codes


def query(app, path: bytes):
    return app.query(abci.RequestQuery(path=path))


def test_every_hostile_query_gets_a_code_not_an_exception(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 100)))
    chain.block(chain.tx(voter, "cast_ballot", {"poll": 1, "payloads": payloads(4)}))
    assert len(HOSTILE_PATHS) >= 50
    for path in HOSTILE_PATHS:
        res = query(chain.app, path)
        assert res.code in (codes.BAD_QUERY, codes.UNKNOWN_PATH, codes.NOT_FOUND), (path, res.code, res.log)
        assert res.log and len(res.log) < 300, path  # a reason, never an echo of the whole path
    for good in (
        b"/polls?after=0&limit=1",
        b"/poll/1",
        b"/poll/1/ballots?validator=3&fields=tx",
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
    res = chain.block(chain.tx(voter, "cast_ballot", {"poll": poll_id, "payloads": payloads(4)}))
    assert result_codes(res) == [0]
    code, page = chain.query(f"/poll/{poll_id}/ballots?validator=2")
    assert code == 0 and len(page["ballots"]) == 1
    assert "payload" in page["ballots"][0] and "payloads" not in page["ballots"][0]
    code, poll = chain.query(f"/poll/{poll_id}")
    assert poll["ballots"] == 1 and poll["threshold"] == 1 and len(poll["validators"]) == 4
    code, short = chain.query(f"/poll/{poll_id}/ballots?fields=tx")  # what a worker checks at the close
    assert code == 0 and short["ballots"] == [{"voter": voter.public_hex, "tx": page["ballots"][0]["tx"]}]
    code, _ = chain.query(f"/poll/{poll_id}/ballots?fields=payloads")
    assert code == codes.BAD_QUERY
