"""The explorer's verify panel: what it concludes from a light client's proven answers."""

import pytest

from explorerhelpers import FakeChain, FakeRpc
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey


@pytest.fixture
def chain():
    return FakeChain()


class FakeLight:
    """The light client's interface over the fake chain: every answer taken as proven (the proofs
    themselves are test_light's); what is tested here is what the panel concludes from them."""

    def __init__(self, chain):
        from explorerhelpers import CHAIN

        self.chain_id, self.rpc = CHAIN, FakeRpc(chain, "http://127.0.0.1:1")

    def _call(self, method, **params):
        return self.rpc.call(method, **params)

    def latest(self):
        from mpc_tx.client.light import VerifiedHeader

        return VerifiedHeader(10, b"", "", b"", b"", b"", 3, 4, {})

    def tx(self, tx_hash):
        import base64
        from mpc_tx.protocol import canonical
        from mpc_tx.client.light import VerifiedTx

        res = self.rpc.tx(tx_hash)
        raw = base64.b64decode(res["tx"])
        data = canonical.encode({"poll_id": 1}) if txcodec.decode(raw).type == "create_poll" else b""
        return VerifiedTx(tx_hash, int(res["height"]), res["index"], raw, 0, data, "")


def verify_checks(chain, registry=None):
    from mpc_tx.explorer.verify import run_checks

    light = FakeLight(chain)
    checks, final = run_checks(light, light.rpc, 1, registry)
    return {c["name"]: c for c in checks}, final


def test_verify_panel_proves_the_poll_and_the_power_behind_its_outcome(chain):
    checks, final = verify_checks(chain)
    assert final and all(c["ok"] for c in checks.values())
    assert (
        "validators [0, 1, 2, 3]" in checks["final outcome"]["detail"] and "4 of 4" in checks["final outcome"]["detail"]
    )


def test_verify_panel_names_a_node_that_lies_about_the_poll(chain):
    chain.poll["question"] = "Something else?"
    checks, _final = verify_checks(chain)
    assert checks["poll facts"]["ok"] is False and "question" in checks["poll facts"]["detail"]


def test_verify_panel_counts_only_attestations_by_the_registered_keys(chain):
    impostor = txcodec.build(
        SigningKey.generate(), "mpcvote-test", "submit_outcome", 9, {"poll": 1, "validator": 0, "result": chain.result}
    )
    chain.txs[8][0] = (impostor, [])
    checks, _final = verify_checks(chain)
    assert checks["final outcome"]["ok"] and "validators [1, 2, 3]" in checks["final outcome"]["detail"]
    chain.txs[8] = chain.txs[8][2:]  # two of four: not more than 2/3 of the power
    checks, _final = verify_checks(chain)
    assert checks["final outcome"]["ok"] is False and "2 of 4" in checks["final outcome"]["detail"]


def test_verify_panel_checks_the_threshold_against_the_registry(chain):
    # A null threshold: the top of the tally range m-f-1 = 2 (opened on chain, §18.1), not MPyC's 1.
    checks, _final = verify_checks(chain, chain.validators)
    assert checks["poll facts"]["ok"] is False and "threshold" in checks["poll facts"]["detail"]
    chain.poll["threshold"] = 2
    checks, _final = verify_checks(chain, chain.validators)
    assert checks["poll facts"]["ok"] is True
    chain.poll["threshold"] = 0  # a node that would have voters encrypt to single validators
    checks, _final = verify_checks(chain, chain.validators)
    assert checks["poll facts"]["ok"] is False and "threshold" in checks["poll facts"]["detail"]


# --- the panel runs `mpcvote verify` on a final poll (a signed chain in memory, tests/helpers/lightchain.py) ---
@pytest.fixture(scope="module")
def signed():
    from lightchain import SignedChain, TallyPoll

    chain = SignedChain()
    return chain, TallyPoll(chain)


def signed_checks(signed, lie=None):
    from lightchain import SignedRpc
    from mpc_tx.client.light import LightClient
    from mpc_tx.explorer.verify import run_checks

    chain, _poll = signed
    rpc = SignedRpc(chain, lie)
    checks, final = run_checks(
        LightClient(rpc, chain.genesis, wait_next=0), rpc, 1, chain.genesis["app_state"]["validators"], chain.genesis
    )
    return {c["name"]: c for c in checks}, final


def test_verify_panel_shows_the_steps_of_mpcvote_verify_on_a_final_tally(signed):
    checks, final = signed_checks(signed)
    assert final and all(c["ok"] for c in checks.values()), checks
    assert checks["mpcvote verify"]["detail"] == "the poll verifies (final tx): final"
    assert "5 ballots: every proof verified" in checks["verify: ballots"]["detail"]
    assert "validators [0, 2, 1] interpolated" in checks["verify: opening"]["detail"]
    # a tally has no attestations: its outcome is recomputed, and the node's shown result compared with it
    assert checks["final outcome"]["detail"] == (
        "validators [0, 2, 1] opened the tally; the node's result equals the recomputed one"
    )


def test_verify_panel_fails_on_a_node_that_shows_another_tally_than_its_chain(signed):
    def lie(method, params, result):
        if method == "abci_query":
            result["result"]["outcome"]["tally"] = {o: 0 for o in result["result"]["outcome"]["tally"]}
        return result

    checks, _final = signed_checks(signed, lie)
    assert checks["mpcvote verify"]["ok"]  # the chain's txs are honest: only the node's state lies
    assert checks["final outcome"]["ok"] is False and "another result" in checks["final outcome"]["detail"]


def test_verify_panel_fails_on_a_node_that_hides_a_ballot(signed):
    _chain, poll = signed
    hidden = poll.hashes["b1"]

    def lie(method, params, result):
        if method == "tx_search":
            result["txs"] = [t for t in result["txs"] if t["hash"] != hidden]
        return result

    checks, _final = signed_checks(signed, lie)
    assert checks["mpcvote verify"]["ok"] is False and "does NOT verify" in checks["mpcvote verify"]["detail"]
    assert checks["verify: running digest"]["ok"] is False
