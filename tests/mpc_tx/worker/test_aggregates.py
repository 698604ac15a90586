"""A tally's aggregate post: the pairs the chain judges valid, abstaining when they do not check, the store."""

import hashlib
import json
import stat
from pathlib import Path

import pytest

from mpc_tx.protocol import canonical, codes, tally
from mpc_tx.protocol.ballot import build_ballot
from mpc_tx.protocol.context import make_poll
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import L
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.worker import shares
from mpc_tx.worker.aggregates import SETTLED, AggregateStore, aggregate_body, entries, own_post

VOTES = [[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]


def _poll(kit, votes=VOTES):
    """Return the validators, the counted ballots' bytes, each validator's opened shares and the chain's answer."""
    vals = kit.Validators()
    ballots = []
    for vote in votes:
        voter = SigningKey.generate().public_hex
        ballots.append((voter, build_ballot(vals.ctx, bytes.fromhex(voter), vote)))
    ballots.sort()
    opened = [[shares.open_share(vals.ctx, v, raw, i, vals.x[i]).held() for v, raw in ballots] for i in range(vals.m)]
    sums = tally.fresh_sums(3, 1, [tally.commitments_of(vals.ctx, raw) for _, raw in ballots])
    vals.record["ballots"] = len(ballots)
    return vals, sums, opened, {"aggregate": sums.encode().hex(), "ballots": len(ballots)}


def test_every_validators_post_is_judged_valid_and_t_plus_1_of_them_open_the_tally(kit):
    vals, sums, opened, stored = _poll(kit)
    posts = []
    for i in range(vals.m):
        data = own_post(vals.record, stored, opened[i], i)
        assert isinstance(data, bytes) and len(data) == 64 * 3
        post = tally.judge_pairs(sums, vals.m, i, data)
        assert post.verdict == tally.VALID
        posts.append(post)
    for pair in ([posts[0], posts[3]], [posts[2], posts[1]]):  # any t+1 posts give the same tally
        opening = tally.open_tally(sums, len(VOTES), True, pair)
        assert opening.counts == (3, 1, 1)
    result = tally.tally_result(["a", "b", "c"], "ab" * 32, 5, list(opening.counts))
    assert result["outcome"] == {"tally": {"a": 3, "b": 1, "c": 1}}


def test_no_ballots_post_zero_pairs_that_check(kit):
    vals, sums, opened, stored = _poll(kit, votes=[])
    data = own_post(vals.record, stored, opened[2], 2)
    assert data == bytes(64 * 3) and tally.judge_pairs(sums, vals.m, 2, data).verdict == tally.VALID


def test_a_worker_whose_own_pairs_do_not_check_abstains(kit):
    vals, sums, opened, stored = _poll(kit)
    held = opened[1][2]
    (f, g), rest = held.pairs[0], held.pairs[1:]
    off = shares.Opened((((f + 1) % L, g), *rest), None, "", held.digest, held.commitments)
    wrong = opened[1][:2] + [off] + opened[1][3:]
    answer = own_post(vals.record, stored, wrong, 1)
    assert isinstance(answer, Rejected) and answer.reason.startswith("abstain: aggregate pair 0 of validator 1")
    assert str(f) not in answer.reason and str((f + 1) % L) not in answer.reason


def test_a_worker_without_a_checked_share_of_a_counted_ballot_abstains(kit):
    vals, _, opened, stored = _poll(kit)
    bad = shares.Opened(None, None, "share 1: does not match", opened[1][0].digest, opened[1][0].commitments)
    answer = own_post(vals.record, stored, [bad] + opened[1][1:], 1)
    assert isinstance(answer, Rejected) and "1 counted ballots whose share does not check" in answer.reason


def test_a_chain_aggregate_other_than_the_counted_ballots_is_refused(kit):
    vals, sums, opened, stored = _poll(kit)
    fewer = tally.fresh_sums(3, 1, [o.commitments for o in opened[0][1:]])
    other = own_post(vals.record, {"aggregate": fewer.encode().hex(), "ballots": 5}, opened[0], 0)
    assert isinstance(other, Rejected) and "is not the chain's" in other.reason
    count = own_post(vals.record, {**stored, "ballots": 4}, opened[0], 0)
    assert isinstance(count, Rejected) and "the chain counts 4 ballots, this worker read 5" in count.reason
    missing = own_post(vals.record, stored, opened[0][1:], 0)
    assert isinstance(missing, Rejected) and "read 4" in missing.reason
    for answer in ({}, {"aggregate": "zz", "ballots": 5}, None, {"aggregate": "00" * 5, "ballots": 5}):
        assert isinstance(own_post(vals.record, answer, opened[0], 0), Rejected)


def test_a_sum_kept_while_opening_is_checked_like_a_fresh_one(kit):
    vals, sums, opened, stored = _poll(kit)
    assert own_post(vals.record, stored, opened[3], 3, sums) == own_post(vals.record, stored, opened[3], 3)
    drifted = tally.fresh_sums(3, 1, [o.commitments for o in opened[3][1:]])
    answer = own_post(vals.record, stored, opened[3], 3, drifted)
    assert isinstance(answer, Rejected) and "is not the chain's" in answer.reason


def test_the_body_and_the_settling_codes(kit):
    vals = kit.Validators()
    assert entries(vals.record) == 3 and entries({"options": []}) == 1
    assert aggregate_body(7, 2, b"\x01" * 64) == {"poll": 7, "validator": 2, "pairs": "01" * 64}
    assert SETTLED == (27, 28, 29, 30, 31)
    assert all(
        getattr(codes, name, value) == value
        for name, value in zip(
            ("NOT_TALLY", "AGGREGATE_WINDOW", "TOO_FEW_BALLOTS", "ALREADY_AGGREGATED", "BAD_AGGREGATE"), SETTLED
        )
    )


def test_the_store_keeps_the_first_post_privately_and_durably(tmp_path):
    store = AggregateStore(tmp_path, "chain-1")
    assert store.load(7) is None
    first = aggregate_body(7, 1, b"\x02" * 64)
    assert store.save(first) == first
    assert store.save(aggregate_body(7, 1, b"\x03" * 64)) == first  # never a second, different post
    path = tmp_path / "mpc" / "aggregates" / "chain-1" / "7"
    assert canonical.decode(path.read_bytes()) == first == store.load(7)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.with_name("7.tmp").exists()
    assert repr(store) == f"AggregateStore({path.parent})"
    for bad in ("", "a/b", "..", "."):
        with pytest.raises(ValueError, match="cannot name a folder"):
            AggregateStore(tmp_path, bad)
    for poll_id in (-1, "7", 1.0, True):
        with pytest.raises(ValueError):
            store.path(poll_id)


def test_each_validators_post_is_the_reference_vectors_own_pairs():
    """The worker's path (open its shares, recompute A, check) gives tests/vectors/tally.json's own pairs."""
    doc = json.loads((Path(__file__).resolve().parents[3] / "tests" / "vectors" / "tally.json").read_text())
    vector = doc["poll"]
    record = {
        "id": doc["poll_id"],
        "options": doc["options"],
        "threshold": vector["t"],
        "ballots": doc["n"],
        "validators": [{"enc_key": key} for key in vector["keys"]],
    }
    keys = [bytes.fromhex(key) for key in vector["keys"]]
    ctx = make_poll(bytes.fromhex(vector["chain_id"]), bytes.fromhex(vector["poll_id"]), vector["t"], 3, True, keys)
    assert hashlib.sha256(ctx.header).hexdigest() == vector["header_sha256"]
    last = {e["voter"]: bytes.fromhex(e["ballot"]) for e in doc["log"] if e["op"] == "ballot"}  # revotes replace
    counted = [(c["voter"], last[c["voter"]]) for c in doc["counted"]]
    assert [shares.ballot_digest(v, raw) for v, raw in counted] == [c["ballot_digest"] for c in doc["counted"]]
    stored = {"aggregate": doc["log"][-1]["aggregate"], "ballots": doc["n"]}
    for i, secret in enumerate(vector["secret_keys"]):
        x = int.from_bytes(bytes.fromhex(secret), "little")
        opened = [shares.open_share(ctx, v, raw, i, x).held() for v, raw in counted]
        assert own_post(record, stored, opened, i).hex() == doc["own_pairs"][str(i)]
