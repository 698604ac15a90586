"""`mpcvote verify POLL` (mpc_tx/client/pollverify.py) over a signed chain in memory (tests/helpers/lightchain.py):
it passes on an honest tally poll and fails, naming the node, on one that hides, adds or changes anything."""

import base64
import hashlib

import pytest

from lightchain import SignedChain, SignedRpc, TallyPoll
from lyingproxy import hide_from_search
from mpc_tx.client.pollverify import verify_poll
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey


@pytest.fixture(scope="module")
def honest():
    chain = SignedChain()
    return chain, TallyPoll(chain)


def run(chain, lie=None, hide_blocks=False, poll_id=1):
    rpc = SignedRpc(chain, lie)
    rpc.hide_blocks = hide_blocks
    return verify_poll(rpc, poll_id, chain.genesis, wait_next=0)


def hiding(*hashes):
    """A node that leaves these txs out of every tx_search answer."""
    return hide_from_search(*hashes)


def test_an_honest_poll_verifies_and_says_what_it_checked(honest):
    chain, poll = honest
    report = run(chain)
    assert report.ok, report.failure
    assert report.mode == "final tx" and report.state == "final"
    assert report.result == poll.result and report.result["outcome"]["tally"] == {"red": 0, "green": 2, "blue": 1}
    assert report.result["counted"] == 3 and report.result["ballots"] == poll.digest
    assert report.named == [3] and report.interpolated == [0, 2, 1]
    steps = {s.name: s.detail for s in report.steps}
    assert "5 ballots: every proof verified" in steps["ballots"]
    assert "ballot_bad 1, complaint_false 1, moot 1" in steps["complaints"]
    assert "valid [0, 2, 1], named [3]" in steps["aggregate pairs"]
    assert report.to_json()["ok"] is True


@pytest.mark.parametrize("role", ["b1", "b0'", "complaint 2", "close", "aggregate 3"])
def test_a_hidden_middle_event_fails_at_the_next_one(honest, role):
    chain, poll = honest
    report = run(chain, hiding(poll.hashes[role]))
    assert not report.ok
    assert "running digest" in report.failure and report.node in report.failure


def test_a_hidden_tail_is_found_by_the_scan_and_the_node_is_named(honest):
    chain, poll = honest
    report = run(chain, hiding(poll.hashes["aggregate 1"]))
    assert not report.ok and report.mode == "scan"
    assert poll.hashes["aggregate 1"] in report.failure and "hides" in report.failure


def test_a_hidden_tail_with_no_blocks_served_fails(honest):
    chain, poll = honest
    report = run(chain, hiding(poll.hashes["aggregate 1"], poll.hashes["aggregate 2"]), hide_blocks=True)
    assert not report.ok and "not served" in report.failure


def test_an_added_ballot_is_refused_by_the_light_client(honest):
    chain, poll = honest
    forged = txcodec.build(SigningKey.generate(), chain.chain_id, "cast_ballot", 99, {"poll": 1})
    forged_hash = txcodec.tx_hash(forged)
    real = poll.hashes["b2"]

    def lie(method, params, result):
        if method == "tx_search" and params["query"].startswith("ballot."):
            result["txs"].append({"hash": forged_hash})
        return result

    rpc = SignedRpc(chain, lie)
    original = rpc._answer

    def answer(method, params):
        if method == "tx" and base64.b64decode(params["hash"]).hex().upper() == forged_hash:
            out = original("tx", {"hash": base64.b64encode(bytes.fromhex(real)).decode()})
            out["hash"], out["proof"]["data"] = forged_hash, base64.b64encode(forged).decode()
            return out
        return original(method, params)

    rpc._answer = answer
    report = verify_poll(rpc, 1, chain.genesis, wait_next=0)
    assert not report.ok and "verified read" in report.failure and rpc.url in report.failure


def test_an_altered_ballot_is_refused(honest):
    chain, poll = honest
    target = poll.hashes["b2"]

    def lie(method, params, result):
        if method == "tx" and result.get("hash") == target:
            raw = bytearray(base64.b64decode(result["proof"]["data"]))
            raw[200] ^= 1
            result["proof"]["data"] = result["tx"] = base64.b64encode(bytes(raw)).decode()
        return result

    report = run(chain, lie)
    assert not report.ok and "does not hash" in report.failure


def test_an_altered_result_is_refused(honest):
    chain, poll = honest

    def lie(method, params, result):
        if method == "block_results":
            for r in result["txs_results"]:
                r["data"] = base64.b64encode(base64.b64decode(r["data"]).replace(b'"events":2', b'"events":3')).decode()
        return result

    report = run(chain, lie)
    assert not report.ok and "last_results_hash" in report.failure


def test_a_changed_complaint_ruling_fails():
    chain = SignedChain()
    TallyPoll(chain, rulings={("complaint", 3): "moot"})
    report = run(chain)
    assert not report.ok and "complaint" in report.failure and "running digest" in report.failure


def test_a_valid_post_ruled_named_fails():
    chain = SignedChain()
    TallyPoll(chain, rulings={("aggregate", 0): "named"})
    report = run(chain)
    assert not report.ok and "running digest" in report.failure


def test_a_poll_awaiting_its_last_pair_is_verified_by_scan():
    chain = SignedChain()
    TallyPoll(chain, stop_after="last post")
    report = run(chain)
    assert report.ok, report.failure
    assert report.mode == "scan" and report.state == "awaiting pairs" and report.named == [3]
    from mpc_tx.client.cli import human_verify

    assert human_verify(report.to_json()).endswith(
        "poll 1 verifies so far: awaiting pairs (no final tally to check yet)"
    )


def test_a_withheld_poll_is_verified_by_scan():
    chain = SignedChain()
    TallyPoll(chain, stop_after="fix", min_ballots=5)
    report = run(chain)
    assert report.ok, report.failure
    assert report.state == "withheld" and report.result["outcome"] == {"withheld": True}


def test_an_unknown_poll_fails_naming_the_node(honest):
    chain, _poll = honest
    report = run(chain, poll_id=7)
    assert not report.ok and "no verifiable create_poll" in report.failure


def test_a_tampered_registry_fails_at_the_trust_root(honest):
    chain, _poll = honest
    genesis = {**chain.genesis, "app_state": {**chain.genesis["app_state"]}}
    genesis["app_state"]["validators"] = [dict(v) for v in chain.genesis["app_state"]["validators"]]
    genesis["app_state"]["validators"][0]["enc_key"] = genesis["app_state"]["validators"][1]["enc_key"]
    report = verify_poll(SignedRpc(chain), 1, genesis, wait_next=0)
    assert not report.ok and report.failure.startswith("genesis")
    assert hashlib  # noqa


def _cli(chain, tmp_path, monkeypatch, capsys, *args, lie=None):
    import json

    from mpc_tx.client import cli

    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(chain.genesis))
    monkeypatch.setattr(cli, "Rpc", lambda url: SignedRpc(chain, lie, url=url))
    code = cli.main(["--node", "http://signed.test:26657", "--genesis", str(path), "--keys", str(tmp_path), *args])
    return code, capsys.readouterr()


def test_cli_verify_prints_each_step_and_the_tally(honest, tmp_path, monkeypatch, capsys):
    chain, poll = honest
    code, out = _cli(chain, tmp_path, monkeypatch, capsys, "verify", "1")
    assert code == 0, out
    assert "ok   ballots: 5 ballots: every proof verified" in out.out
    assert "poll 1 verifies: final: tally red 0, green 2, blue 1 (3 ballots counted)" in out.out
    assert f"counted-set digest {poll.digest}" in out.out


def test_cli_verify_json_and_a_failure_exit_non_zero(honest, tmp_path, monkeypatch, capsys):
    import json

    chain, poll = honest
    code, out = _cli(chain, tmp_path, monkeypatch, capsys, "verify", "1", "--json")
    doc = json.loads(out.out)
    assert code == 0 and doc["ok"] and doc["result"] == poll.result and doc["interpolated"] == [0, 2, 1]
    code, out = _cli(chain, tmp_path, monkeypatch, capsys, "verify", "1", lie=hiding(poll.hashes["b2"]))
    assert code == 2
    assert "FAIL running digest" in out.out and "poll 1 does NOT verify" in out.out and "signed.test" in out.out


def test_the_chain_defaults_the_replay_uses_are_the_apps():
    from abci_app.params import DEFAULTS
    from mpc_tx.client.pollverify import _PARAM_DEFAULTS

    assert all(DEFAULTS[k] == v for k, v in _PARAM_DEFAULTS.items())


def test_verify_is_total_on_junk_answers(honest):
    chain, _poll = honest
    for junk in (None, [], {"txs": "x"}, {"txs": [{"hash": 5}]}, {"txs": [{"hash": "zz"}]}):

        def lie(method, params, result, junk=junk):
            return junk if method == "tx_search" else result

        report = run(chain, lie)
        assert not report.ok and report.failure


def test_a_ballot_the_chain_counted_after_the_close_fails():
    chain = SignedChain()
    TallyPoll(chain, late_ballot=True)
    report = run(chain)
    assert not report.ok and report.failure.startswith("ballot:") and "cast after the close" in report.failure


def test_a_named_post_hidden_before_the_final_one_fails(honest):
    chain, poll = honest
    report = run(chain, hiding(poll.hashes["aggregate 3"]))
    assert not report.ok and "running digest" in report.failure and "hides or adds" in report.failure


def test_a_unanimity_poll_is_verified_by_scan_up_to_its_counted_set():
    chain = SignedChain()
    poll = TallyPoll(chain, kind="unanimity")
    report = run(chain)
    assert report.ok, report.failure
    assert report.mode == "scan" and report.state == "fixed" and report.result["ballots"] == poll.digest
    assert report.result["counted"] == 3 and report.named == [3]
    hidden = run(chain, hiding(poll.hashes["b2"]))
    assert not hidden.ok and "hides 1 event txs" in hidden.failure and poll.hashes["b2"] in hidden.failure


def test_a_tally_past_its_deadline_without_t_plus_1_valid_pairs_is_failed():
    chain = SignedChain(params={"mpc_deadline_blocks": 2})
    poll = TallyPoll(chain, stop_after="last post")
    report = run(chain)
    assert report.ok, report.failure
    assert report.state == "failed"  # 1 never posted, 3 was named: the chain's failed form, field for field
    assert report.result == {"status": "failed", "code": "deadline", "absent": [1, 3], "ballots": poll.digest}
    from mpc_tx.client.cli import human_verify

    assert "failed at its deadline: no t+1 valid aggregate pairs, absent [1, 3]" in human_verify(report.to_json())


def test_a_post_the_chain_took_at_its_deadline_height_fails():
    # The poll fails at the start of fix + mpc_deadline_blocks, so no post lands in that block:
    # a majority that took one (here the final post at fix + 2, deadline 2) is caught.
    chain = SignedChain(params={"mpc_deadline_blocks": 2})
    poll = TallyPoll(chain)
    report = run(chain)
    assert not report.ok and "after the deadline" in report.failure and poll.hashes["aggregate 1"] in report.failure
    chain = SignedChain(params={"mpc_deadline_blocks": 3})
    TallyPoll(chain)
    assert run(chain).ok  # one block earlier than its deadline: final
