"""The hostile ballots of badballots: refused by verify_ballot, or (the bad share) taken and then judged bad."""

import pytest

from mpc_tx.protocol import canonical
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot, verify_ballot
from mpc_tx.protocol.complaint import BALLOT_BAD, COMPLAINT_FALSE, adjudicate, make_complaint
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.seeded import SeededScalars

from badballots import (
    hostile,
    SHARE_FAULTS,
    bad_share_ballot,
    cast_ballot_tx,
    chain_poll,
    complaint_oracle_ballot,
    flipped_proof_ballot,
    one_hot_values,
    rigged_ballot,
    rigged_values,
)
from protocolhelpers import TX_HASH, VOTER, test_poll

SHAPES = [(4, 1, 1, False), (4, 1, 3, True), (7, 2, 2, True)]


def _reason(poll, raw, voter=VOTER) -> str:
    result = verify_ballot(poll, voter, raw)
    assert isinstance(result, Rejected), "a hostile ballot verified"
    return result.reason


def _values(poll):
    return one_hot_values(poll.k, poll.k - 1) if poll.one_hot else [1]


@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_the_rigged_ballot_fails_only_on_its_bit_proofs(m, t, k, one_hot):
    poll, secret_keys = test_poll(m, t, k, one_hot)
    raw = rigged_ballot(poll, VOTER, weight=5, seed=b"rigged")
    assert len(raw) == poll.ballot_size()
    assert _reason(poll, raw) == "bit proof 0: does not verify"
    # Everything else holds: had the chain skipped the bit proofs, every share would check
    # and the ballot would add 5 to one option and take 4 from another.
    b = parse_ballot(poll, raw)
    pairs = [open_ballot(poll, VOTER, b, i, x) for i, x in enumerate(secret_keys)]
    assert not any(isinstance(p, Rejected) for p in pairs)
    assert rigged_values(k) == ([5, -4] + [0] * (k - 2) if one_hot else [5])


@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_a_flipped_bit_proof_byte_is_refused_even_with_the_proof_of_rho_redone(m, t, k, one_hot):
    poll, _ = test_poll(m, t, k, one_hot)
    for entry in range(k):
        raw = flipped_proof_ballot(poll, VOTER, _values(poll), entry=entry)
        assert len(raw) == poll.ballot_size()
        assert _reason(poll, raw) == f"bit proof {entry}: does not verify"


@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_the_complaint_oracle_ballot_fails_on_its_proof_of_rho(m, t, k, one_hot):
    poll, _ = test_poll(m, t, k, one_hot)
    victim = build_ballot(poll, b"\x33" * 32, _values(poll), SeededScalars(b"victim"))
    forged = complaint_oracle_ballot(poll, VOTER, victim)
    assert len(forged) == poll.ballot_size()
    assert forged[1:33] != victim[1:33]
    assert _reason(poll, forged) == "proof of rho: does not verify"
    # The same ballot in the victim's own name fails too (its E is not the victim's).
    assert _reason(poll, complaint_oracle_ballot(poll, b"\x33" * 32, victim)) == "proof of rho: does not verify"


@pytest.mark.parametrize("fault", SHARE_FAULTS)
@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_a_bad_share_ballot_verifies_and_only_its_victims_complaint_puts_it_out(m, t, k, one_hot, fault):
    poll, secret_keys = test_poll(m, t, k, one_hot)
    i = m - 2
    raw = bad_share_ballot(poll, VOTER, _values(poll), i, fault=fault, seed=b"bad-share")
    b = verify_ballot(poll, VOTER, raw)
    assert not isinstance(b, Rejected), b
    for j, x in enumerate(secret_keys):
        opened = open_ballot(poll, VOTER, b, j, x)
        assert isinstance(opened, Rejected) == (j == i), (j, opened)
        verdict = adjudicate(poll, VOTER, TX_HASH, raw, j, make_complaint(poll, TX_HASH, b, j, x))
        assert verdict.outcome == (BALLOT_BAD if j == i else COMPLAINT_FALSE), (j, verdict)


def test_the_builders_build_honest_ballots_when_nothing_is_corrupted():
    poll, secret_keys = test_poll(4, 1, 3, True)
    honest = bad_share_ballot(poll, VOTER, [0, 1, 0], 0, seed=b"x")
    assert not isinstance(verify_ballot(poll, VOTER, honest), Rejected)
    with pytest.raises(ValueError):
        bad_share_ballot(poll, VOTER, [0, 1, 0], 0, fault="nonsense")


def test_cast_ballot_tx_carries_the_shape_and_the_hex_ballot():
    keys = [x.encode().hex() for x in test_poll(4, 1, 3, True)[0].keys]
    poll = chain_poll("chain-x", 7, 1, 3, keys)
    assert (poll.poll_id, poll.chain_id, poll.one_hot, poll.m) == (b"7", b"chain-x", True, 4)
    assert chain_poll("chain-x", 7, 1, 1, keys).one_hot is False
    raw = rigged_ballot(poll, bytes(32))
    key = SigningKey.generate()
    doc = canonical.decode(cast_ballot_tx(key, "chain-x", 5, poll, 7, raw))
    assert doc["type"] == "cast_ballot" and doc["signer"] == key.public_hex and doc["nonce"] == 5
    assert doc["body"] == {"poll": 7, "m": 4, "t": 1, "k": 3, "ballot": raw.hex()}


@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_the_reliability_scenarios_garbage_share_verifies_and_fails_only_its_victim(m, t, k, one_hot):
    poll, secret_keys = test_poll(m, t, k, one_hot)
    raw = hostile.garbage_share(poll, VOTER, _values(poll), 1)
    b = verify_ballot(poll, VOTER, raw)
    assert not isinstance(b, Rejected), b
    for j, x in enumerate(secret_keys):
        opened = open_ballot(poll, VOTER, b, j, x)
        assert isinstance(opened, Rejected) == (j == 1), (j, opened)
    assert open_ballot(poll, VOTER, b, 1, secret_keys[1]).reason == "envelope 1: does not decrypt"


def test_the_reliability_scenarios_poll_context_is_the_chains():
    keys = [x.encode().hex() for x in test_poll(4, 1, 3, True)[0].keys]
    genesis = {"chain_id": "chain-x", "app_state": {"validators": [{"enc_key": x} for x in keys]}}
    tally = {"id": 9, "kind": "tally", "options": ["a", "b", "c"], "threshold": 1}
    assert hostile.poll_context(genesis, tally) == chain_poll("chain-x", 9, 1, 3, keys)
    una = {"id": 10, "kind": "unanimity", "options": [], "threshold": 1}
    assert hostile.poll_context(genesis, una) == chain_poll("chain-x", 10, 1, 1, keys)
    assert hostile.ballot_values(tally, "b") == [0, 1, 0]
    assert hostile.ballot_values(una, "yes") == [1] and hostile.ballot_values(una, "no") == [0]
    raw = hostile.ballot_tx(SigningKey.generate(), "chain-x", hostile.poll_context(genesis, una), 10, b"\x01")
    assert canonical.decode(raw)["body"] == {"poll": 10, "m": 4, "t": 1, "k": 1, "ballot": "01"}
