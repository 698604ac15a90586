"""Test vectors: the script reproduces tests/vectors/*.json, and the stored bytes recheck as stored."""

import json
import os

import pytest

from mpc_tx.protocol.aggregate import Aggregate, check_aggregate_pairs, open_tally
from mpc_tx.protocol.ballot import open_ballot, verify_ballot
from mpc_tx.protocol.complaint import Verdict, adjudicate
from mpc_tx.protocol.context import make_poll
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import G, H, Invalid, base, encode_scalar, hash_to_scalar, mul, parse_point, parse_scalar
from mpc_tx.protocol.registry import check_registry, max_faulty, threshold_range, verify_key_possession
from mpc_tx.protocol.unanimity import check_mask, check_open, combine_masks, unanimity_outcome

from protocolhelpers import vectors

DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "vectors")
FILES = ["group.json", "ballot.json", "complaint.json", "aggregate.json", "unanimity.json", "registry.json"]


def _load(name):
    with open(os.path.join(DIR, name)) as f:
        return json.load(f)


def _poll(v):
    poll = make_poll(
        bytes.fromhex(v["chain_id"]),
        bytes.fromhex(v["poll_id"]),
        v["t"],
        v["k"],
        v["one_hot"],
        [bytes.fromhex(x) for x in v["keys"]],
    )
    return poll, [parse_scalar(bytes.fromhex(x), "x") for x in v["secret_keys"]]


def _verdict(result) -> dict:
    if isinstance(result, Rejected):
        return {"accepted": False, "reason": result.reason}
    return {"accepted": True}


def test_the_script_reproduces_the_stored_vectors():
    generated = vectors.generate()
    assert sorted(generated) == sorted(FILES)
    for name, obj in generated.items():
        with open(os.path.join(DIR, name)) as f:
            assert f.read() == vectors.dumps(obj), f"{name} is stale: run scripts/protocol_vectors.py"


def test_group_vectors():
    v = _load("group.json")
    assert G.encode().hex() == v["G"] and H.encode().hex() == v["H"]
    for row in v["base_mult"]:
        assert base(parse_scalar(bytes.fromhex(row["scalar"]), "s")).encode().hex() == row["point"]
    for row in v["mul_H"]:
        assert mul(parse_scalar(bytes.fromhex(row["scalar"]), "s"), H).encode().hex() == row["point"]
    for row in v["hash_to_scalar"]:
        assert encode_scalar(hash_to_scalar(bytes.fromhex(row["input"]))).hex() == row["scalar"]
    for row in v["points"]:
        try:
            parse_point(bytes.fromhex(row["encoding"]), "P", allow_identity=row["identity_allowed"])
            assert row["accepted"], row["name"]
        except Invalid as exc:
            assert not row["accepted"] and exc.reason == row["reason"], row["name"]
    assert {r["name"] for r in v["points"] if not r["accepted"]} >= {"identity", "top bit set", "s = p"}
    assert [r["accepted"] for r in v["scalars"]] == [True, True, False, False, False]


@pytest.mark.parametrize("n", range(4))
def test_ballot_vectors(n):
    v = _load("ballot.json")[n]
    poll, secret_keys = _poll(v["poll"])
    voter = bytes.fromhex(v["voter"])
    raw = bytes.fromhex(v["ballot"])
    assert len(raw) == v["size"] == poll.ballot_size()
    b = verify_ballot(poll, voter, raw)
    assert v["accepted"] and not isinstance(b, Rejected)
    for i, x in enumerate(secret_keys):
        pairs = open_ballot(poll, voter, b, i, x)
        assert [[encode_scalar(f).hex(), encode_scalar(g).hex()] for f, g in pairs] == v["shares"][i]
    assert len(v["tampered"]) >= 12
    for row in v["tampered"]:
        assert not row["accepted"]
        assert _verdict(verify_ballot(poll, voter, bytes.fromhex(row["ballot"]))) == {
            "accepted": False,
            "reason": row["reason"],
        }, row["name"]
    oracle = v["complaint_oracle"]
    assert oracle["reason"] == "proof of rho: does not verify"
    assert _verdict(verify_ballot(poll, voter, bytes.fromhex(oracle["ballot"])))["reason"] == oracle["reason"]


def test_complaint_vectors():
    v = _load("complaint.json")
    poll, _ = _poll(v["poll"])
    voter, tx_hash = bytes.fromhex(v["voter"]), bytes.fromhex(v["tx_hash"])
    outcomes = []
    for row in v["cases"]:
        verdict = adjudicate(
            poll, voter, tx_hash, bytes.fromhex(row["ballot"]), row["i"], bytes.fromhex(row["complaint"])
        )
        if row["accepted"]:
            assert verdict == Verdict(row["outcome"], row["reason"]), row["name"]
            outcomes.append(row["outcome"])
        else:
            assert verdict == Rejected(row["reason"]), row["name"]
    assert sorted(set(outcomes)) == ["ballot bad", "complaint false"]


def test_aggregate_vectors():
    v = _load("aggregate.json")
    poll, _ = _poll(v["poll"])
    agg = Aggregate(poll)
    for row in v["ballots"]:
        agg.add(verify_ballot(poll, bytes.fromhex(row["voter"]), bytes.fromhex(row["ballot"])))
    old = next(r for r in v["ballots"] if r["voter"] == v["revote"]["voter"])
    agg.remove(verify_ballot(poll, bytes.fromhex(old["voter"]), bytes.fromhex(old["ballot"])))
    agg.add(verify_ballot(poll, bytes.fromhex(v["revote"]["voter"]), bytes.fromhex(v["revote"]["ballot"])))
    assert agg.encode().hex() == v["aggregate"] and agg.count == v["count"]
    checked = {}
    for row in v["pairs"]:
        checked[row["i"]] = check_aggregate_pairs(agg, row["i"], bytes.fromhex(row["pairs"]))
        assert _verdict(checked[row["i"]]) == {"accepted": True}
    lie = v["lying_pair"]
    assert _verdict(check_aggregate_pairs(agg, lie["i"], bytes.fromhex(lie["pairs"]))) == {
        "accepted": False,
        "reason": lie["reason"],
    }
    assert open_tally(agg, checked) == v["tally"] == [2, 1, 2]


def test_unanimity_vectors():
    v = _load("unanimity.json")
    poll, _ = _poll(v["poll"])
    outcomes = []
    for case in v["cases"]:
        agg = Aggregate(poll)
        for row in case["ballots"]:
            agg.add(verify_ballot(poll, bytes.fromhex(row["voter"]), bytes.fromhex(row["ballot"])))
        rd, w = combine_masks([check_mask(agg, j, bytes.fromhex(x)) for j, x in enumerate(case["masks"])])
        assert (rd.encode().hex(), w.encode().hex()) == (case["rD"], case["W"])
        checked = {i: check_open(agg, i, w, bytes.fromhex(x)) for i, x in enumerate(case["opens"])}
        assert not any(isinstance(z, Rejected) for z in checked.values())
        assert unanimity_outcome(agg, rd, w, checked) == case["outcome"]
        outcomes.append(case["outcome"])
    assert outcomes == ["all yes", "not all yes"]


def test_registry_vectors():
    v = _load("registry.json")
    chain = bytes.fromhex(v["chain_id"])
    for e in v["entries"]:
        key = verify_key_possession(
            chain, bytes.fromhex(e["consensus_key"]), bytes.fromhex(e["key"]), bytes.fromhex(e["proof"])
        )
        assert key == base(parse_scalar(bytes.fromhex(e["x"]), "x"))
        assert key.encode().hex() == e["key"]
    for case in v["refused"]:
        entries = [tuple(bytes.fromhex(x) for x in entry) for entry in case["entries"]]
        assert _verdict(check_registry(chain, entries)) == {"accepted": False, "reason": case["reason"]}, case["name"]
    for row in v["thresholds"]:
        assert max_faulty(row["powers"]) == row["f"]
        assert list(threshold_range(True, row["powers"])) == row["on_chain"]
        assert list(threshold_range(False, row["powers"])) == row["mpyc"]
