"""/check_tx: CheckTx's verdict on a tx against the committed state, changing nothing."""

from mpc_tx.protocol import codes
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey

from apphelpers import ballot_tx, create


def test_check_tx_query_gives_the_verdict_without_touching_state(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator, close_in=6)
    ballot = ballot_tx(chain, voter, poll_id)
    code, verdict = chain.query("/check_tx", ballot)
    assert code == 0 and verdict["code"] == 0 and verdict["code_name"] == "OK"
    assert verdict["hash"] == txcodec.tx_hash(ballot) and verdict["height"] == chain.height + 1
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 0  # a dry run: nothing staged or kept
    assert chain.app.check.writes == {}
    for _ in range(5):
        chain.block()
    code, verdict = chain.query("/check_tx", ballot)  # what a recheck now says
    assert code == 0 and verdict["code_name"] == "POLL_CLOSED" and f"poll {poll_id} closed" in verdict["log"]
    assert chain.query("/check_tx")[0] == codes.BAD_QUERY  # no tx given
    assert chain.query("/check_tx", b"junk")[1]["code"] == codes.MALFORMED
    assert chain.query("/check_tx?x=1", ballot)[0] == codes.BAD_QUERY
