"""The voter's side of a ballot: the vote's encoding, the poll checked against genesis, a verifiable ballot."""

import base64
import copy
import json

import pytest

from mpc_tx.client.ballot import (
    BallotError,
    build_ballot,
    check_poll_keys,
    encode_vote,
    entries,
    poll_context,
    registry_keys,
)
from mpc_tx.protocol import canonical
from mpc_tx.protocol.tx import signing_bytes
from mpc_tx.protocol.ballot import open_ballot, verify_ballot
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import random_scalar
from mpc_tx.protocol.keys import SigningKey, verify
from mpc_tx.protocol.records import snapshot_validators
from mpc_tx.protocol.registry import prove_key_possession
from mpc_tx.protocol.sharing import reconstruct

CHAIN = "mpcvote-test"
M = 4
SECRETS = [random_scalar() for _ in range(M)]  # the validators' encryption secrets x_i


def _entry(i: int, x: int, chain: str = CHAIN) -> dict:
    consensus = SigningKey.generate().public_bytes
    enc_key, enc_proof = prove_key_possession(chain.encode(), consensus, x)
    return {
        "index": i,
        "name": f"node{i}",
        "pub_key": base64.b64encode(consensus).decode(),
        "power": 10,
        "attest_key": SigningKey.generate().public_hex,
        "enc_key": enc_key.hex(),
        "enc_proof": enc_proof.hex(),
        "mpc_host": "127.0.0.1",
        "mpc_port": 27000 + 10 * i,
        "mpc_ports": 4,
        "tls_sha256": f"{i:064x}",
    }


def _tx(raw: bytes) -> dict:
    """Decode a signed tx and check its signature (by the canonical encoding: the body shape is the app's)."""
    doc = canonical.decode(raw)
    signed = signing_bytes(doc["chain_id"], doc["type"], doc["signer"], doc["nonce"], doc["body"])
    assert verify(doc["signer"], bytes.fromhex(doc["sig"]), signed)
    return doc


@pytest.fixture
def genesis():
    return {"chain_id": CHAIN, "app_state": {"validators": [_entry(i, x) for i, x in enumerate(SECRETS)]}}


@pytest.fixture
def poll(genesis):
    return {
        "id": 3,
        "kind": "tally",
        "options": ["red", "green", "blue"],
        "validators": snapshot_validators(genesis["app_state"]["validators"]),
        "threshold": 1,
    }


def test_encode_vote():
    tally = {"id": 1, "kind": "tally", "options": ["a", "b", "c"]}
    assert encode_vote(tally, "b") == [0, 1, 0]
    assert encode_vote({"kind": "unanimity"}, "yes") == [1] and encode_vote({"kind": "unanimity"}, "no") == [0]
    with pytest.raises(BallotError, match="options a, b, c"):
        encode_vote(tally, "d")
    with pytest.raises(BallotError):
        encode_vote({"kind": "unanimity"}, "maybe")


def test_entries_is_one_for_unanimity_and_one_per_option_for_a_tally():
    assert entries({"kind": "unanimity", "options": []}) == 1
    assert entries({"kind": "tally", "options": ["a", "b", "c"]}) == 3
    for bad in ({"kind": "tally", "options": ["a"]}, {"kind": "tally", "options": list("abcdefghijklmnopq")}, {}):
        with pytest.raises(BallotError, match="neither"):
            entries(bad)


def test_a_poll_matching_genesis_passes(poll, genesis):
    assert check_poll_keys(poll, genesis) == genesis["app_state"]["validators"]


def _lying(poll, change):
    poll = copy.deepcopy(poll)
    change(poll)
    return poll


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p: p["validators"].pop(), "lists 3 validators"),
        (lambda p: p.update(validators=None), "lists no validators"),
        (lambda p: p["validators"].__setitem__(1, p["validators"][0]), "validator 1"),
        (lambda p: p["validators"][2].update(enc_key=_entry(2, random_scalar())["enc_key"]), "validator 2"),
        (lambda p: p["validators"].reverse(), "validator 0"),
        (lambda p: p.update(threshold=0), "threshold 0; the genesis registry allows 1 <= t <= 2"),  # tally, §18.1
        (lambda p: p.update(threshold=3), "threshold 3"),
        (lambda p: p.update(kind="unanimity", options=[], threshold=2), "threshold 2; .* allows 1 <= t <= 1"),
        (lambda p: p.update(threshold="1"), "threshold '1'"),
        (lambda p: p.update(threshold=None), "threshold None"),
        (lambda p: p.update(options=["only"]), "neither"),
    ],
)
def test_a_node_that_lies_about_the_poll_is_not_voted_through(poll, genesis, change, match):
    with pytest.raises(BallotError, match=match):
        check_poll_keys(_lying(poll, change), genesis)


def test_genesis_without_a_registry_or_too_few_validators_is_refused(poll, genesis):
    with pytest.raises(BallotError, match="no validator registry"):
        check_poll_keys(poll, {"app_state": {}})
    small = {"chain_id": CHAIN, "app_state": {"validators": genesis["app_state"]["validators"][:2]}}
    two = dict(poll, validators=poll["validators"][:2])
    assert check_poll_keys(two, small)  # a tally of 2 validators opens on chain with t = 1: both must post
    with pytest.raises(BallotError, match="threshold 1; the genesis registry allows no t at all"):  # MPyC: 2t+1 > 2
        check_poll_keys(dict(two, kind="unanimity", options=[]), small)


def test_the_registry_keys_need_their_proofs_of_possession(genesis):
    assert len(registry_keys(genesis)) == M
    copied = copy.deepcopy(genesis)
    copied["app_state"]["validators"][1]["enc_key"] = copied["app_state"]["validators"][0]["enc_key"]
    with pytest.raises(BallotError, match="entry 1"):
        registry_keys(copied)
    other_chain = dict(genesis, chain_id="another-chain")
    with pytest.raises(BallotError, match="entry 0: proof of possession"):
        registry_keys(other_chain)
    missing = copy.deepcopy(genesis)
    del missing["app_state"]["validators"][3]["enc_proof"]
    with pytest.raises(BallotError, match="entry 3 lacks"):
        registry_keys(missing)


def test_the_ballot_verifies_and_each_validator_opens_checked_shares(poll, genesis):
    key = SigningKey.generate()
    tx = _tx(build_ballot(key, poll, "green", CHAIN, 5, genesis))
    assert (tx["type"], tx["signer"], tx["nonce"]) == ("cast_ballot", key.public_hex, 5)
    assert {k: tx["body"][k] for k in ("poll", "m", "t", "k")} == {"poll": 3, "m": M, "t": 1, "k": 3}
    context = poll_context(poll, genesis)
    parsed = verify_ballot(context, key.public_bytes, bytes.fromhex(tx["body"]["ballot"]))
    assert not isinstance(parsed, Rejected)
    # Every validator's pairs open and lie on the committed polynomials; t+1 value shares give the vote.
    pairs = [open_ballot(context, key.public_bytes, parsed, i, x) for i, x in enumerate(SECRETS)]
    assert all(not isinstance(p, Rejected) for p in pairs)
    vote = [reconstruct([p[e][0] for p in pairs], 1) for e in range(3)]  # all m on one degree-t line
    assert vote == [0, 1, 0]


def test_a_ballot_is_bound_to_its_voter_and_poll(poll, genesis):
    key = SigningKey.generate()
    raw = bytes.fromhex(_tx(build_ballot(key, poll, "red", CHAIN, 1, genesis))["body"]["ballot"])
    context = poll_context(poll, genesis)
    assert isinstance(verify_ballot(context, SigningKey.generate().public_bytes, raw), Rejected)
    assert isinstance(verify_ballot(poll_context(dict(poll, id=4), genesis), key.public_bytes, raw), Rejected)


def test_a_unanimity_ballot_has_one_entry(poll, genesis):
    unanimity = dict(poll, kind="unanimity", options=[])
    tx = _tx(build_ballot(SigningKey.generate(), unanimity, "yes", CHAIN, 1, genesis))
    assert tx["body"]["k"] == 1 and len(tx["body"]["ballot"]) // 2 == 609  # §5: m=4, t=1, unanimity


def test_build_ballot_takes_a_json_genesis_and_a_prebuilt_context(poll, genesis):
    key = SigningKey.generate()
    assert _tx(build_ballot(key, poll, "red", CHAIN, 6, json.dumps(genesis)))["nonce"] == 6
    context = poll_context(poll, genesis)
    tx = _tx(build_ballot(key, poll, "blue", CHAIN, 7, genesis, context))
    assert not isinstance(verify_ballot(context, key.public_bytes, bytes.fromhex(tx["body"]["ballot"])), Rejected)


def test_build_ballot_refuses_a_genesis_of_another_chain(poll, genesis):
    with pytest.raises(BallotError, match="serves other"):
        build_ballot(SigningKey.generate(), poll, "red", "other", 1, genesis)


def test_nothing_is_built_for_a_lying_poll(poll, genesis):
    with pytest.raises(BallotError, match="threshold 0"):
        build_ballot(SigningKey.generate(), dict(poll, threshold=0), "red", CHAIN, 1, genesis)
