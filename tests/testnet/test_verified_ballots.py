"""Verifiable ballots on a real 4-validator testnet (docs/PROTOCOL.md §17), every poll against the clear text.

One testnet for the module. node3's app is a Byzantine proposer (tests/faults/app.py
ballot-proposer): its proposals add the invalid ballot txs the test writes into its file, and
the honest apps' ProcessProposal must reject them. Workers are honest, except while a test
swaps one for a Byzantine one (tests/faults/worker.py false-complaint, cannot-decrypt) for its
poll. The test also acts as a validator (the keys are on this machine) to send complaints
whose verdict it knows in advance. Each test runs its own poll(s), closed early by their
creator at distinct heights, and waits (bounded) for the outcome before the next.
"""

import os
from dataclasses import dataclass

import pytest

from mpc_tx.client.cli import CliError
from mpc_tx.protocol import events, tx as txcodec
from mpc_tx.protocol.ballot import build_ballot, verify_ballot
from mpc_tx.protocol.codes import (
    ALREADY_COMPLAINED,
    BAD_BALLOT,
    BAD_COMPLAINT,
    COMPLAINT_WINDOW,
    NOT_FOUND,
    NOT_VALIDATOR,
    UNKNOWN_BALLOT,
)
from mpc_tx.protocol.complaint import make_complaint
from mpc_tx.protocol.keys import SigningKey

from badballots import (
    bad_share_ballot,
    cast_ballot_tx,
    chain_poll,
    complaint_oracle_ballot,
    flipped_proof_ballot,
    one_hot_values,
    rigged_ballot,
)
from netfixtures import (
    BAD_TXS_ENV,
    block_txs,
    client,
    committed,
    faulty_worker,
    registry_enc_keys,
    running_testnet,
    tx_events,
    validator_secrets,
    wait_for,
    write_bad_txs,
)

pytestmark = pytest.mark.testnet

A, D = 12, 70  # MPC attempt and deadline, in blocks: short for tests
PROPOSER = 3  # node3's app proposes invalid ballots
VICTIM = 1  # the validator a bad-share ballot cheats (its worker is honest)
LIAR = 2  # the validator whose worker complains falsely (for one poll)
MUTE = 0  # the validator whose worker claims it cannot decrypt (for one poll)
OPTIONS = ("a", "b", "c")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verified-ballots")
    bad_txs = tmp / "bad_txs.hex"
    params = {"mpc_attempt_blocks": A, "mpc_deadline_blocks": D}
    faulty = {PROPOSER: ("ballot-proposer", {BAD_TXS_ENV: str(bad_txs)})}
    with running_testnet(tmp, workers=True, params=params, faulty_apps=faulty) as net:
        net.bad_txs = bad_txs
        yield net


@dataclass(frozen=True)
class Sent:
    key: SigningKey
    raw: bytes  # the ballot bytes
    tx: bytes  # the signed tx
    hash: str

    @property
    def voter(self) -> str:
        return self.key.public_hex


class Poll:
    """One poll of the test: its protocol context, and the votes that count, in the clear."""

    def __init__(self, net, kind: str, max_revotes: int = 3):
        self.net = net
        self.c = client(net)
        self.kind = kind
        self.creator = SigningKey.generate()
        options = list(OPTIONS) if kind == "tally" else []
        body = {
            "question": "Verified?",
            "kind": kind,
            "options": options,
            "voters": None,
            "close_height": self.c.rpc.height() + 400,  # far: the creator closes it early
            "max_ballots": 100,
            "max_revotes": max_revotes,
            "min_ballots": self.c.params().get("min_ballots_floor", 0),
            "threshold": None,
        }
        raw = txcodec.build(self.creator, self.c.chain_id, "create_poll", self.c.next_nonce(self.creator), body)
        self.id = int(self.c.submit(raw)["events"][events.POLL_CREATED]["poll_id"])
        record = self.record()
        self.ctx = chain_poll(self.c.chain_id, self.id, record["threshold"], len(options) or 1, registry_enc_keys(net))
        self.votes = {}  # voter hex -> choice of its counted ballot

    def record(self) -> dict:
        return self.c.query(f"/poll/{self.id}")

    def values(self, choice: str) -> list[int]:
        if self.kind == "tally":
            return one_hot_values(self.ctx.k, OPTIONS.index(choice))
        return [int(choice == "yes")]

    def ballot_tx(self, key: SigningKey, raw: bytes) -> bytes:
        return cast_ballot_tx(key, self.c.chain_id, self.c.next_nonce(key), self.ctx, self.id, raw)

    def send(self, key: SigningKey, raw: bytes) -> Sent:
        """Submit a ballot and wait for its commit (raises CliError if refused)."""
        tx = self.ballot_tx(key, raw)
        return Sent(key, raw, tx, self.c.submit(tx)["hash"])

    def vote(self, choice: str, key: SigningKey | None = None) -> Sent:
        key = key or SigningKey.generate()
        sent = self.send(key, build_ballot(self.ctx, bytes.fromhex(key.public_hex), self.values(choice)))
        self.votes[key.public_hex] = choice
        return sent

    def clear(self) -> dict:
        """The outcome computed in the clear from the votes that count."""
        choices = list(self.votes.values())
        if self.kind == "unanimity":
            return {"unanimous": all(c == "yes" for c in choices)}
        return {"tally": {o: choices.count(o) for o in OPTIONS}}

    def ballot(self, voter: str) -> dict:
        return self.c.query(f"/poll/{self.id}/ballot/{voter}")

    def complaints(self) -> list[dict]:
        return self.c.query(f"/poll/{self.id}/complaints?limit=1000")["complaints"]

    def complaint_events(self) -> list[dict]:
        return tx_events(self.net.rpc(0), f"complaint.poll_id={self.id}", events.COMPLAINT)

    def close(self):
        """Close the poll early (its creator); its close height is this block's."""
        self.c.close_poll(self.creator, self.id)

    def close_and_check(self, closed=False, may_fail_absent=None) -> dict:
        """Close early, wait for the outcome; check it and the fixed counted set against the clear text.

        may_fail_absent=i: validator i takes no part in the MPC (all m parties compute today),
        so the poll may instead fail at its deadline naming exactly i absent; never another outcome.
        """
        if not closed:
            self.close()
        out = client(self.net, self.id % 4).outcome(self.id, wait=True, timeout=240)
        result = out["result"]
        if may_fail_absent is not None and out["status"] == "failed":
            assert result["code"] == "deadline" and result["absent"] == [may_fail_absent], out
        else:
            assert out["status"] == "final", out
            assert result["outcome"] == self.clear(), (result, self.votes)
            assert result["counted"] == len(self.votes)
            assert "excluded" not in result and "unusable" not in result  # only a judged complaint excludes
        record = self.record()
        assert record["ballots"] == len(self.votes)
        window = 1 + 1 + self.c.params().get("complaint_slack_blocks", 2)  # f + 1 with equal power, plus slack
        assert record["complaints_until"] == record["closed_height"] + window
        assert record["counted_fixed_height"] == record["complaints_until"] + 1
        for voter in self.votes:
            assert self.ballot(voter)["disqualified"] is None
        return record


def _complain_tx(net, p: Poll, i: int, voter: str, ballot_tx: str, complaint: bytes, signer=None) -> bytes:
    _, attest = validator_secrets(net, i)
    key = signer or attest
    body = {"poll": p.id, "validator": i, "voter": voter, "ballot_tx": ballot_tx, "complaint": complaint.hex()}
    return txcodec.build(key, p.c.chain_id, "complain", p.c.next_nonce(key), body)


def _complaint(net, p: Poll, i: int, sent: Sent) -> bytes:
    x, _ = validator_secrets(net, i)
    b = verify_ballot(p.ctx, bytes.fromhex(sent.voter), sent.raw)
    return make_complaint(p.ctx, bytes.fromhex(sent.hash), b, i, x)


def _check_tx(net, raw: bytes, node=0) -> dict:
    res = net.rpc(node).broadcast_tx_sync(raw)
    return {"code": int(res["code"]), "log": res.get("log", "")}


def _app_log_sizes(net) -> dict:
    return {i: net.log_file(i, "app").stat().st_size for i in range(4) if i != PROPOSER}


def _rejections(net, since: dict, reason: str) -> int:
    """Count the honest apps' log lines (after since) rejecting a proposal for a BAD_BALLOT with this reason."""
    n = 0
    for i, offset in since.items():
        with open(net.log_file(i, "app"), "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        n += sum(
            "rejected the proposal" in line and "BAD_BALLOT" in line and reason in line for line in text.splitlines()
        )
    return n


def test_honest_polls_give_the_clear_text_outcome_and_nobody_is_named(net):
    una_yes, una_no, tally = Poll(net, "unanimity"), Poll(net, "unanimity"), Poll(net, "tally")
    for _ in range(3):
        una_yes.vote("yes")
    for choice in ("yes", "yes", "no", "yes"):
        una_no.vote(choice)
    changer = None
    for choice in ("a", "b", "b", "c", "a", "b"):
        changer = tally.vote(choice)
    revote = tally.vote("c", key=changer.key)  # the later ballot counts
    record = tally.ballot(changer.voter)
    assert record["tx"] == revote.hash and record["replaced"] == [changer.hash]
    for p in (una_yes, una_no, tally):
        p.close()
    for p in (una_yes, una_no, tally):
        closed = p.close_and_check(closed=True)
        assert closed["named_validators"] == []
        assert p.complaints() == []
    assert una_yes.clear() == {"unanimous": True} and una_no.clear() == {"unanimous": False}
    assert tally.clear() == {"tally": {"a": 2, "b": 2, "c": 2}}


def test_invalid_ballots_are_refused_by_checktx_and_their_proposals_rejected(net):
    p = Poll(net, "tally")
    honest = [p.vote(choice) for choice in ("a", "b", "b", "c")]
    rigged, flipped, oracle = (SigningKey.generate() for _ in range(3))
    hostile = {
        "rigged [5, -4, 0]": (rigged, rigged_ballot(p.ctx, bytes.fromhex(rigged.public_hex)), "bit proof 0"),
        "one flipped proof byte": (
            flipped,
            flipped_proof_ballot(p.ctx, bytes.fromhex(flipped.public_hex), p.values("b"), entry=1),
            "bit proof 1",
        ),
        "complaint oracle": (
            oracle,
            complaint_oracle_ballot(p.ctx, bytes.fromhex(oracle.public_hex), honest[0].raw),
            "proof of rho",
        ),
    }
    txs = {name: p.ballot_tx(key, raw) for name, (key, raw, _) in hostile.items()}
    for name, (_, _, reason) in hostile.items():
        for node in range(4):  # the Byzantine proposer's CheckTx is honest too
            res = _check_tx(net, txs[name], node)
            assert res["code"] == BAD_BALLOT and reason in res["log"], (name, node, res)

    # A ballot whose proofs hold but for another threshold than the poll's: refused with state.
    other_t = chain_poll(p.c.chain_id, p.id, p.ctx.t + 1, p.ctx.k, registry_enc_keys(net))
    key = SigningKey.generate()
    wrong_t = cast_ballot_tx(
        key,
        p.c.chain_id,
        p.c.next_nonce(key),
        other_t,
        p.id,
        build_ballot(other_t, bytes.fromhex(key.public_hex), p.values("a")),
    )
    res = _check_tx(net, wrong_t)
    assert res["code"] == BAD_BALLOT and "the poll's t" in res["log"], res

    rpc = net.rpc(0)
    start = rpc.height()
    try:
        for name, (_, _, reason) in hostile.items():
            since = _app_log_sizes(net)
            write_bad_txs(net.bad_txs, [txs[name]])
            wait_for(
                f"an honest app rejecting node{PROPOSER}'s proposal with the {name} ballot",
                lambda: _rejections(net, since, reason),
                timeout=90,
            )
    finally:
        write_bad_txs(net.bad_txs, [])
    top = rpc.height()
    net.wait_height(top + 3, timeout=60)  # the chain goes on, on every node
    status = net.status()
    assert status["agree"], status
    in_blocks = set(block_txs(rpc, start, top + 3))
    for name, tx in txs.items():
        assert tx not in in_blocks and not committed(rpc, txcodec.tx_hash(tx)), name
    for name, (key, _, _) in hostile.items():
        with pytest.raises(CliError) as err:
            p.ballot(key.public_hex)
        assert err.value.code == NOT_FOUND, name
    assert p.record()["ballots"] == len(honest)
    closed = p.close_and_check()
    assert closed["named_validators"] == []


def test_a_ballot_with_one_bad_share_is_disqualified_by_that_validators_complaint(net):
    p = Poll(net, "tally")
    for choice in ("a", "b", "c"):
        p.vote(choice)
    # Two cheats, each with a bad share for VICTIM: a wrong value, and an envelope that does not open.
    cheats = {fault: SigningKey.generate() for fault in ("wrong value", "garbage envelope")}
    bad = {}
    for fault, key in cheats.items():
        raw = bad_share_ballot(p.ctx, bytes.fromhex(key.public_hex), p.values("a"), VICTIM, fault=fault)
        bad[fault] = p.send(key, raw)  # every proof holds: the chain takes it
    fields = ("poll_id", "validator", "voter", "verdict")
    for fault, sent in bad.items():
        # The victim's worker opens its envelope at the commit, the share fails, it complains at once.
        found = wait_for(
            f"validator {VICTIM}'s complaint about the {fault} share",
            lambda: [r for r in p.complaints() if r["voter"] == sent.voter],
            timeout=90,
        )
        assert len(found) == 1, found
        assert found[0]["validator"] == VICTIM and found[0]["ballot_tx"] == sent.hash
        assert found[0]["verdict"] == "ballot_bad" and found[0]["reason"]
        record = p.ballot(sent.voter)
        assert record["tx"] == sent.hash and record["disqualified"]["by"] == VICTIM
        assert record["disqualified"]["reason"]
        named = wait_for(
            "the complaint event naming the voter",
            lambda: [e for e in p.complaint_events() if e["voter"] == sent.voter],
            timeout=30,
        )
        assert [{f: e[f] for f in fields} for e in named] == [
            {"poll_id": str(p.id), "validator": str(VICTIM), "voter": sent.voter, "verdict": "ballot_bad"}
        ]
        # The same commitments are refused again, in a fresh tx.
        res = _check_tx(net, p.ballot_tx(sent.key, sent.raw))
        assert res["code"] == BAD_BALLOT, res
    assert p.record()["ballots"] == 3

    # One cheat revotes, within the cap, with a good ballot: it counts; the other stays out.
    revoter = bad["garbage envelope"]
    good = p.vote("c", key=revoter.key)
    record = p.ballot(revoter.voter)
    assert record["tx"] == good.hash and record["disqualified"] is None and record["replaced"] == [revoter.hash]

    closed = p.close_and_check()  # the other ballots' clear text: the wrong-value cheat is not counted
    assert p.clear() == {"tally": {"a": 1, "b": 1, "c": 2}} and closed["ballots"] == 4
    assert p.ballot(bad["wrong value"].voter)["disqualified"]["by"] == VICTIM
    assert closed["named_validators"] == []  # the complaints were right: no validator named
    assert {r["voter"] for r in p.complaints()} == {s.voter for s in bad.values()}  # none about a good ballot


def test_a_complaint_about_a_revoted_ballot_is_moot_and_the_complaint_codes(net):
    j = 0  # the test acts as validator j, with its keys
    p = Poll(net, "unanimity")
    for _ in range(2):
        p.vote("yes")
    key = SigningKey.generate()
    first = p.vote("no", key=key)
    second = p.vote("yes", key=key)
    assert p.ballot(key.public_hex)["replaced"] == [first.hash]

    complaint = _complaint(net, p, j, first)
    res = p.c.submit(_complain_tx(net, p, j, key.public_hex, first.hash, complaint))
    assert res["events"][events.COMPLAINT]["verdict"] == "moot"
    assert [(r["validator"], r["ballot_tx"], r["verdict"]) for r in p.complaints()] == [(j, first.hash, "moot")]
    record = p.ballot(key.public_hex)
    assert record["tx"] == second.hash and record["disqualified"] is None
    assert p.record()["named_validators"] == [] and p.record()["ballots"] == 3

    # Refusals, each with its code (CheckTx; nothing is recorded).
    again = _check_tx(net, _complain_tx(net, p, j, key.public_hex, first.hash, complaint))
    assert again["code"] == ALREADY_COMPLAINED, again
    unknown = _check_tx(net, _complain_tx(net, p, j, key.public_hex, os.urandom(32).hex().upper(), complaint))
    assert unknown["code"] == UNKNOWN_BALLOT, unknown
    current = _complaint(net, p, j, second)
    _, other_key = validator_secrets(net, j + 1)
    foreign = _check_tx(net, _complain_tx(net, p, j, key.public_hex, second.hash, current, signer=other_key))
    assert foreign["code"] == NOT_VALIDATOR, foreign
    forged = bytearray(current)
    forged[40] ^= 1  # inside the DLEQ proof's challenge
    bad = _check_tx(net, _complain_tx(net, p, j, key.public_hex, second.hash, bytes(forged)))
    assert bad["code"] == BAD_COMPLAINT and bad["log"], bad

    closed = p.close_and_check()
    assert closed["named_validators"] == []
    # After the window a complaint is refused (this one would name validator j as a liar).
    late = _check_tx(net, _complain_tx(net, p, j, key.public_hex, second.hash, current))
    assert late["code"] == COMPLAINT_WINDOW, late
    assert p.record()["named_validators"] == []


def test_a_false_complaint_is_refused_and_names_its_validator(net):
    with faulty_worker(net, LIAR, "false-complaint"):
        p = Poll(net, "unanimity")
        for _ in range(3):
            p.vote("yes")  # one ballot put out would not change "all yes"; the count would
        wait_for(
            f"a complaint from validator {LIAR}'s worker",
            lambda: [r for r in p.complaints() if r["validator"] == LIAR],
            timeout=90,
        )
        closed = p.close_and_check()
    mine = [r for r in p.complaints() if r["validator"] == LIAR]
    assert mine and all(r["verdict"] == "complaint_false" for r in mine), mine
    assert [r for r in p.complaints() if r["validator"] != LIAR] == []
    assert closed["named_validators"] == [LIAR]
    events_ = p.complaint_events()
    assert events_ and all(e["validator"] == str(LIAR) and e["verdict"] == "complaint_false" for e in events_)


def test_a_worker_claiming_it_cannot_decrypt_excludes_nothing(net):
    with faulty_worker(net, MUTE, "cannot-decrypt"):
        p = Poll(net, "tally")
        for choice in ("a", "b", "b", "c"):
            p.vote(choice)
        # Every ballot stays counted (close_and_check); the outcome is the clear text's, or,
        # as the worker refuses the MPC, a failure naming it absent: never a smaller count.
        closed = p.close_and_check(may_fail_absent=MUTE)
    mine = [r for r in p.complaints() if r["validator"] == MUTE]
    assert all(r["verdict"] == "complaint_false" for r in mine), mine
    assert [r for r in p.complaints() if r["validator"] != MUTE] == []
    assert closed["named_validators"] == ([MUTE] if mine else [])
    assert closed["ballots"] == 4
