"""The voter's side of a ballot: the vote's encoding, the poll's keys checked against genesis, sealed shares."""

import copy
import json

import pytest

from mpc_tx.client.ballot import BallotError, build_ballot, check_poll_keys, encode_vote, seal_ballot
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol import x25519_envelope as envelope
from mpc_tx.protocol.keys import EncryptionKey, SigningKey
from mpc_tx.protocol.records import snapshot_validators
from mpc_tx.protocol.sharing import reconstruct

CHAIN = "mpcvote-test"
M = 4
ENC = [EncryptionKey.generate() for _ in range(M)]


def _registry():
    return [
        {
            "index": i,
            "name": f"node{i}",
            "power": 10,
            "attest_key": SigningKey.generate().public_hex,
            "enc_key": ENC[i].public_hex,
            "mpc_host": "127.0.0.1",
            "mpc_port": 27000 + 10 * i,
            "mpc_ports": 4,
            "tls_sha256": f"{i:064x}",
        }
        for i in range(M)
    ]


@pytest.fixture
def genesis():
    return {"chain_id": CHAIN, "app_state": {"validators": _registry()}}


@pytest.fixture
def poll(genesis):
    return {
        "id": 3,
        "kind": "tally",
        "options": ["red", "green", "blue"],
        "validators": snapshot_validators(genesis["app_state"]["validators"]),
        "threshold": (M - 1) // 2,
        "field": str(envelope.L),
    }


def test_encode_vote():
    tally = {"id": 1, "kind": "tally", "options": ["a", "b", "c"]}
    assert encode_vote(tally, "b") == [0, 1, 0]
    assert encode_vote({"kind": "unanimity"}, "yes") == [1] and encode_vote({"kind": "unanimity"}, "no") == [0]
    with pytest.raises(BallotError, match="options a, b, c"):
        encode_vote(tally, "d")
    with pytest.raises(BallotError):
        encode_vote({"kind": "unanimity"}, "maybe")


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
        (lambda p: p["validators"][2].update(enc_key=EncryptionKey.generate().public_hex), "validator 2"),
        (lambda p: p["validators"].reverse(), "validator 0"),
        (lambda p: p.update(threshold=0), "threshold 0"),
        (lambda p: p.update(field="7"), "another share field"),
    ],
)
def test_a_node_that_lies_about_the_poll_is_not_voted_through(poll, genesis, change, match):
    with pytest.raises(BallotError, match=match):
        check_poll_keys(_lying(poll, change), genesis)


def test_genesis_without_a_registry_or_too_few_validators_is_refused(poll, genesis):
    with pytest.raises(BallotError, match="no validator registry"):
        check_poll_keys(poll, {"app_state": {}})
    small = {"app_state": {"validators": genesis["app_state"]["validators"][:2]}}
    two = dict(poll, validators=poll["validators"][:2])
    with pytest.raises(BallotError, match="at least 3"):
        check_poll_keys(two, small)


def test_sealed_shares_open_only_for_their_validator_and_rebuild_the_vote(poll):
    voter = SigningKey.generate().public_hex
    payloads = seal_ballot(poll, [0, 1, 0], CHAIN, voter)
    assert len(payloads) == M
    opened = [
        envelope.open_(ENC[i], bytes.fromhex(p), chain_id=CHAIN, poll_id=3, voter=voter, validator=i, entries=3)
        for i, p in enumerate(payloads)
    ]
    t = (M - 1) // 2
    assert [reconstruct([s[e] for s in opened], t) for e in range(3)] == [0, 1, 0]
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(
            ENC[1], bytes.fromhex(payloads[0]), chain_id=CHAIN, poll_id=3, voter=voter, validator=0, entries=3
        )
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(
            ENC[0], bytes.fromhex(payloads[0]), chain_id=CHAIN, poll_id=4, voter=voter, validator=0, entries=3
        )


def test_build_ballot_is_a_signed_cast_ballot(poll, genesis):
    key = SigningKey.generate()
    raw = build_ballot(key, poll, "blue", CHAIN, 5, genesis)
    tx = txcodec.decode(raw)
    txcodec.verify(tx)
    assert (tx.type, tx.signer, tx.nonce, tx.body["poll"], len(tx.body["payloads"])) == (
        "cast_ballot",
        key.public_hex,
        5,
        3,
        M,
    )
    assert txcodec.decode(build_ballot(key, poll, "red", CHAIN, 6, json.dumps(genesis))).nonce == 6


def test_build_ballot_refuses_a_genesis_of_another_chain(poll, genesis):
    with pytest.raises(BallotError, match="serves other"):
        build_ballot(SigningKey.generate(), poll, "red", "other", 1, genesis)
