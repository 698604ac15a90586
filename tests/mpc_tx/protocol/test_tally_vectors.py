"""The chain-layer vectors (§18): the script reproduces them, and a replay of the stored bytes rechecks each step."""

import json
import os

from mpc_tx.protocol import running, tally
from mpc_tx.protocol.ballot import open_ballot, verify_ballot
from mpc_tx.protocol.complaint import adjudicate
from mpc_tx.protocol.context import make_poll
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import encode_scalar, parse_scalar
from mpc_tx.protocol.registry import complaint_window

from protocolhelpers import vectors

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "vectors")
FILES = ["tally.json", "running.json"]


def _load(name):
    with open(os.path.join(DIR, name)) as f:
        return json.load(f)


def _poll(v):
    keys = [bytes.fromhex(x) for x in v["keys"]]
    poll = make_poll(bytes.fromhex(v["chain_id"]), bytes.fromhex(v["poll_id"]), v["t"], v["k"], v["one_hot"], keys)
    return poll, [parse_scalar(bytes.fromhex(x), "x") for x in v["secret_keys"]]


def test_the_script_reproduces_the_stored_chain_vectors():
    generated = vectors.generate_chain()
    assert sorted(generated) == sorted(FILES)
    for name, obj in generated.items():
        with open(os.path.join(DIR, name)) as f:
            assert f.read() == vectors.dumps(obj), f"{name} is stale: run scripts/protocol_vectors.py"


def _event(row):
    b = {k: bytes.fromhex(row[k]) for k in ("tx_hash", "voter", "ballot_tx") if k in row}
    if row["kind"] == "ballot":
        return running.ballot_event(row["height"], b["tx_hash"], b["voter"])
    if row["kind"] == "complaint":
        return running.complaint_event(
            row["height"], b["tx_hash"], row["validator"], b["voter"], b["ballot_tx"], row["verdict"]
        )
    if row["kind"] == "close":
        return running.close_event(row["height"], b["tx_hash"])
    return running.aggregate_event(row["height"], b["tx_hash"], row["validator"], row["verdict"])


def test_the_running_vector_replays():
    v = _load("running.json")
    header = bytes.fromhex(v["header"])
    assert running.start(header).hex() == v["R0"]
    events = [_event(row) for row in v["events"]]
    assert [r.hex() for r in running.trail(header, events)] == [row["running"] for row in v["events"]]
    datas = [row["data"].encode() for row in v["events"]]
    assert running.check_trail(header, v["poll_id"], events, datas) == len(events) == 14
    assert {row["kind"] for row in v["events"]} == {"ballot", "complaint", "close", "aggregate"}
    assert "result" in running.parse_data(datas[-1]) and "closed_height" in running.parse_data(datas[9])
    # Hiding the named post (event 11) is caught at the next one; hiding the final one only by its absence.
    assert isinstance(
        running.check_trail(header, v["poll_id"], events[:11] + events[12:], datas[:11] + datas[12:]), Rejected
    )
    assert running.check_trail(header, v["poll_id"], events[:13], datas[:13]) == 13


def test_the_tally_vector_replays():
    v = _load("tally.json")
    poll, secret_keys = _poll(v["poll"])
    assert v["complaints_until"] == v["close_height"] + complaint_window([1] * poll.m) + 2
    assert v["counted_fixed_height"] == v["complaints_until"] + 1
    sums = tally.empty_sums(poll.k, poll.t)
    latest = {}  # voter -> (ballot bytes, tx hash, counted)
    posts = []
    for row in v["log"]:
        if row["op"] == "ballot":
            voter, raw = bytes.fromhex(row["voter"]), bytes.fromhex(row["ballot"])
            assert not isinstance(verify_ballot(poll, voter, raw), Rejected)
            old = latest.get(voter)
            assert row["revote"] == (old is not None)
            replaced = tally.commitments_of(poll, old[0]) if old and old[2] else None
            sums = tally.on_ballot(sums, replaced, tally.commitments_of(poll, raw))
            latest[voter] = (raw, row["tx_hash"], True)
        elif row["op"] == "complaint":
            voter = bytes.fromhex(row["voter"])
            raw, tx, counted = latest[voter]
            moot = row["ballot_tx"] != tx or not counted
            if moot:  # the voter's replaced ballot: the first in the log by that tx hash
                raw = next(bytes.fromhex(r["ballot"]) for r in v["log"] if r["tx_hash"] == row["ballot_tx"])
            verdict = adjudicate(
                poll, voter, bytes.fromhex(row["ballot_tx"]), raw, row["validator"], bytes.fromhex(row["complaint"])
            )
            assert verdict.reason == row["judged"]
            want = "moot" if moot else verdict.outcome.replace(" ", "_")
            assert row["verdict"] == want
            if want == "ballot_bad":
                sums = tally.on_disqualify(sums, tally.commitments_of(poll, raw))
                latest[voter] = (raw, tx, False)
        elif row["op"] == "aggregate":
            assert row["height"] > v["counted_fixed_height"]
            post = tally.judge_pairs(sums, poll.m, row["validator"], bytes.fromhex(row["pairs"]))
            assert (post.verdict, post.reason) == (row["verdict"], row["reason"])
            posts.append(post)
        assert sums.encode().hex() == row["aggregate"], row["op"]
        assert sum(1 for _, _, ok in latest.values() if ok) == row["counted"]
    counted = sorted((voter, raw) for voter, (raw, _, ok) in latest.items() if ok)
    assert tally.fresh_sums(poll.k, poll.t, [tally.commitments_of(poll, raw) for _, raw in counted]) == sums
    digests = [ballot_digest(voter.hex(), raw) for voter, raw in counted]
    assert [c["ballot_digest"] for c in v["counted"]] == digests
    assert counted_set_digest(digests) == v["ballots_digest"] and len(counted) == v["n"] >= v["min_ballots"]
    for i, x in enumerate(secret_keys):  # each validator's own pairs over the counted set, self-checked
        held = [open_ballot(poll, voter, verify_ballot(poll, voter, raw), i, x) for voter, raw in counted]
        assert tally.own_pairs(sums, poll.m, i, held).hex() == v["own_pairs"][str(i)]
    opening = tally.open_tally(sums, v["n"], True, posts)
    assert list(opening.validators) == v["opening"]["validators"] == [0, 2, 4]
    assert list(opening.counts) == v["opening"]["counts"] == [2, 1, 1]
    assert [encode_scalar(b).hex() for b in opening.blindings] == v["opening"]["blindings"]
    result = tally.tally_result(v["options"], v["ballots_digest"], v["n"], opening.counts)
    assert result == v["result"]
    final = running.parse_data(v["final_data"].encode())
    assert final["result"] == result and final["events"] == len(v["log"])
    r = _load("running.json")
    events = [_event(row) for row in r["events"]]
    datas = [row["data"].encode() for row in r["events"]]
    assert datas[-1] == v["final_data"].encode()
    assert running.check_final(poll.header, v["poll_id"], events, datas, result) == len(v["log"])
