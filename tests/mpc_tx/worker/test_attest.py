"""Attestations and reports: what a worker submits for a job's result, and the tx that carries it."""

from mpc_tx.protocol import canonical, outcome, tx as txcodec
from mpc_tx.protocol.codes import ALREADY_ATTESTED, POLL_NOT_CLOSED
from mpc_tx.protocol.keys import SigningKey, verify
from mpc_tx.worker import attest
from mpc_tx.worker.attest import Attester, attempt_report, chain_result, next_nonce

DIGEST = "ab" * 32


def poll(pid=5, m=4, options=()):
    return {"id": pid, "options": list(options), "ballots_digest": DIGEST, "validators": [{}] * m}


def test_failed_attempts_report_whom_they_name():
    p = poll()
    assert attempt_report(p, {"status": "failed", "code": "party_absent", "absent": [3, 1]}) == {
        "status": "failed",
        "code": "party_absent",
        "absent": [1, 3],
        "ballots": DIGEST,
    }
    assert attempt_report(p, {"status": "failed", "code": "timeout", "absent": [], "outstanding": [2]})["absent"] == [2]
    assert attempt_report(p, {"status": "failed", "code": "bad_message", "absent": [], "sender": 0})["absent"] == [0]
    for names_nobody in (
        {"status": "failed", "code": "timeout", "absent": []},
        {"status": "failed", "code": "error", "absent": []},
        {"status": "failed", "code": "bad_message", "absent": [], "sender": 9},
    ):
        assert attempt_report(p, names_nobody) is None
    assert chain_result(p, {"status": "failed", "code": "bad_message", "absent": [], "sender": 0}) is None


def test_outcomes_and_attested_failures_are_attested_not_reported():
    ok = {"status": "ok", "outcome": {"tally": [2, 1]}, "counted": 3}
    assert chain_result(poll(options=["a", "b"]), ok) == {
        "ballots": DIGEST,
        "status": "ok",
        "outcome": {"tally": {"a": 2, "b": 1}},
        "counted": 3,
    }
    assert attempt_report(poll(), ok) is None
    bad = {"status": "failed", "code": "inconsistent_shares", "absent": []}
    assert chain_result(poll(), bad) == {
        "ballots": DIGEST,
        "status": "failed",
        "code": "inconsistent_shares",
        "absent": [],
    }
    assert attempt_report(poll(), bad) is None


def test_the_submitted_tx_is_a_signed_submit_outcome_of_this_validator():
    key = SigningKey.generate()
    result = {"status": "failed", "code": "party_absent", "absent": [1], "ballots": DIGEST}
    tx = txcodec.decode(Attester(key, "chain-x", 2).build(5, result, 7))
    txcodec.verify(tx)
    assert (tx.type, tx.chain_id, tx.signer, tx.nonce) == ("submit_outcome", "chain-x", key.public_hex, 7)
    assert tx.body == {"poll": 5, "validator": 2, "result": result}
    assert key.public_hex[:12] in repr(Attester(key, "c", 2)) and "secret" not in repr(Attester(key, "c", 2))


def test_nonces_rise_above_the_last_one():
    assert next_nonce(10, 5) == 11 and next_nonce(10, 50) == 50


class FakeNode:
    def __init__(self, codes):
        self.codes, self.sent = list(codes), []

    def query(self, path):
        return {"nonce": len(self.sent)}, None

    def broadcast_tx_sync(self, raw):
        self.sent.append(raw)
        return {"code": self.codes.pop(0), "hash": "H", "log": "refused"}


def test_submit_retries_a_refusal_but_not_a_settled_one(monkeypatch):
    monkeypatch.setattr(attest.time, "sleep", lambda s: None)
    result = {"status": "failed", "code": "party_absent", "absent": [1], "ballots": DIGEST}
    attester = Attester(SigningKey.generate(), "c", 0)
    node = FakeNode([5, 5, 0])
    assert attester.submit(node, 5, result, 0.1) and len(node.sent) == 3
    for settled in (ALREADY_ATTESTED, POLL_NOT_CLOSED):
        node = FakeNode([settled, 0])
        assert not attester.submit(node, 5, result, 0.1) and len(node.sent) == 1
    node = FakeNode([5] * attest.SUBMIT_TRIES)
    assert not attester.submit(node, 5, result, 0.1) and len(node.sent) == attest.SUBMIT_TRIES
    assert outcome.is_report(result)


def test_a_complaint_goes_as_a_signed_complain_tx_with_a_fresh_nonce_per_try(monkeypatch):
    monkeypatch.setattr(attest.time, "sleep", lambda s: None)
    key = SigningKey.generate()
    body = {"poll": 5, "validator": 2, "voter": "ab" * 32, "ballot_tx": "CD" * 32, "complaint": "ee" * 96}
    node = FakeNode([5, 0])
    assert Attester(key, "chain-x", 2).complain(node, body, 0.1, settled=(24,)) is True
    sent = [canonical.decode(raw) for raw in node.sent]
    for tx in sent:
        assert (tx["type"], tx["chain_id"], tx["signer"], tx["body"]) == ("complain", "chain-x", key.public_hex, body)
        signed = txcodec.signing_bytes("chain-x", "complain", key.public_hex, tx["nonce"], body)
        assert verify(key.public_hex, bytes.fromhex(tx["sig"]), signed)
    assert sent[1]["nonce"] > sent[0]["nonce"]
    node = FakeNode([24])
    assert Attester(key, "chain-x", 2).complain(node, body, 0.1, settled=(24,)) is False and len(node.sent) == 1
    node = FakeNode([5] * attest.SUBMIT_TRIES)
    assert Attester(key, "chain-x", 2).complain(node, body, 0.1, settled=(24,)) is None


def test_an_aggregate_post_goes_as_a_signed_aggregate_tx_and_its_log_names_no_pair(monkeypatch, caplog):
    import logging

    monkeypatch.setattr(attest.time, "sleep", lambda s: None)
    key = SigningKey.generate()
    body = {"poll": 5, "validator": 1, "pairs": "7a" * 64 * 3}
    node = FakeNode([5, 0])
    with caplog.at_level(logging.INFO, logger="mpc_tx.worker"):
        assert Attester(key, "chain-x", 1).aggregate(node, body, 0.1, settled=(30,)) is True
    sent = [canonical.decode(raw) for raw in node.sent]
    for tx in sent:
        assert (tx["type"], tx["signer"], tx["body"]) == ("aggregate", key.public_hex, body)
        signed = txcodec.signing_bytes("chain-x", "aggregate", key.public_hex, tx["nonce"], body)
        assert verify(key.public_hex, bytes.fromhex(tx["sig"]), signed)
    assert "7a7a" not in caplog.text and "aggregate pairs of validator 1" in caplog.text
    node = FakeNode([30])
    assert Attester(key, "chain-x", 1).aggregate(node, body, 0.1, settled=(30,)) is False and len(node.sent) == 1
