"""Ballots: verified by the state machine in CheckTx, ProcessProposal and FinalizeBlock; eligibility,
revotes and their cap; the stored record and digest."""

import hashlib

import pytest

from abci_app import checks
from abci_app.abci.pb import abci
from abci_app.handlers.ballots import encode_record
from abci_app.store.keys import digest_key
from mpc_tx.protocol import canonical, codes
from mpc_tx.protocol.ballot import parse_ballot
from mpc_tx.protocol.keys import SigningKey

from apphelpers import ballot_body, ballot_tx, context_of, create, result_codes
from protocolhelpers import build_known, craft_ballot, field_offsets, resign

ACCEPT, REJECT = abci.ResponseProcessProposal.ACCEPT, abci.ResponseProcessProposal.REJECT


def proposal(chain, txs):
    return chain.app.process_proposal(abci.RequestProcessProposal(txs=txs, height=chain.height + 1)).status


def prepared(chain, txs):
    return list(chain.app.prepare_proposal(abci.RequestPrepareProposal(txs=txs, max_tx_bytes=1 << 20)).txs)


def _voter_bytes(key):
    return bytes.fromhex(key.public_hex)


def _rigged(poll, voter):
    # A voter who gives one option k votes and takes k-1 from another: commitments to non-bits,
    # with bit proofs run as if the value were 1 (they cannot verify).
    k = context_of(poll).k
    raw, _rho = craft_ballot(context_of(poll), [k, -(k - 1)] + [0] * (k - 2), b"rigged", _voter_bytes(voter))
    return raw


def _bad_bit_proof(poll, voter):
    # A bit proof scalar changed, and the proof of rho redone over it: only the bit proof fails.
    context = context_of(poll)
    raw, rho = build_known(context, [0, 1, 0], b"bad proof", _voter_bytes(voter))
    at = field_offsets(context)["bits"] + 128 + 40
    raw = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :]
    return resign(context, raw, rho, _voter_bytes(voter))


def _oracle(poll, voter, victim_raw):
    # E' = E_victim + d·G with the attacker's own commitments and proofs, garbage envelopes.
    context = context_of(poll)
    victim_e = parse_ballot(context, victim_raw).e_point
    raw, _rho = craft_ballot(context, [1, 0, 0], b"oracle", _voter_bytes(voter), victim_e=victim_e)
    return raw


@pytest.fixture
def tally(chain):
    poll_id = create(chain, SigningKey.generate(), kind="tally", options=("a", "b", "c"), threshold=1)
    return chain.query(f"/poll/{poll_id}")[1]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda poll, voter, victim: _rigged(poll, voter), "bit proof 0: does not verify"),
        (lambda poll, voter, victim: _bad_bit_proof(poll, voter), "bit proof 1"),
        (lambda poll, voter, victim: _oracle(poll, voter, victim), "proof of rho: does not verify"),
        (lambda poll, voter, victim: victim, "proof of rho: does not verify"),  # another voter's ballot, copied
        (lambda poll, voter, victim: ballot_body(dict(poll, id=poll["id"] + 1), voter)["ballot"], "proof of rho"),
    ],
    ids=["rigged", "bad-bit-proof", "complaint-oracle", "copied", "other-poll"],
)
def test_a_ballot_that_does_not_verify_is_refused_everywhere(chain, tally, make, reason):
    victim = SigningKey.generate()
    victim_raw = bytes.fromhex(ballot_body(tally, victim)["ballot"])
    assert result_codes(chain.block(chain.tx(victim, "cast_ballot", ballot_body(tally, victim, raw=victim_raw)))) == [0]
    voter = SigningKey.generate()
    raw = make(tally, voter, victim_raw)
    if isinstance(raw, str):
        raw = bytes.fromhex(raw)
    bad = chain.tx(voter, "cast_ballot", ballot_body(tally, voter, raw=raw))
    good = chain.tx(SigningKey.generate(), "cast_ballot", ballot_body(tally, SigningKey.generate()))
    checked = chain.check(bad)
    assert checked.code == codes.BAD_BALLOT and reason in checked.log
    assert proposal(chain, [good, bad]) == REJECT  # a Byzantine proposer's block is refused
    assert prepared(chain, [bad, good]) == []  # good's signer is not its ballot's voter: refused too
    before = chain.app.info(None).last_block_app_hash
    res = chain.block(bad)  # blocksync and replay skip ProcessProposal: FinalizeBlock refuses it too
    assert result_codes(res) == [codes.BAD_BALLOT] and reason in res.tx_results[0].log
    assert chain.app.info(None).last_block_app_hash == before
    assert chain.query(f"/poll/{tally['id']}")[1]["ballots"] == 1


def test_proposals_take_verified_ballots(chain, tally):
    voters = [SigningKey.generate() for _ in range(3)]
    txs = [chain.tx(v, "cast_ballot", ballot_body(tally, v, [0, 0, 1])) for v in voters]
    assert proposal(chain, txs) == ACCEPT and prepared(chain, txs) == txs
    assert result_codes(chain.block(*txs)) == [0, 0, 0]


@pytest.mark.parametrize(
    "change, code, reason, stateless",
    [
        (lambda b: dict(b, m=3), codes.BAD_BALLOT, "m is 3: this chain's polls have 4 validators", True),
        (
            lambda b: dict(b, ballot=b["ballot"][:-2]),
            codes.BAD_BALLOT,
            "the ballot is 1568 bytes; for (m, t, k) = (4, 1, 3) it is 1569",
            True,
        ),
        (lambda b: dict(b, t=2), codes.BAD_BALLOT, "for (m, t, k) = (4, 2, 3) it is 1665", True),
        (lambda b: dict(b, poll=99), codes.BAD_BALLOT, "proof of rho", True),
    ],
)
def test_size_and_shape_are_checked_before_state(chain, tally, change, code, reason, stateless):
    voter = SigningKey.generate()
    raw = chain.tx(voter, "cast_ballot", change(ballot_body(tally, voter)))
    checked = chain.check(raw)
    assert checked.code == code and reason in checked.log, checked.log
    assert proposal(chain, [raw]) == (REJECT if stateless else ACCEPT)


def test_a_ballot_for_other_t_or_k_verifies_but_the_state_refuses_it(chain, tally):
    """Valid for (m, t, k) = (4, 2, 3) or (4, 1, 1): the proposal holds it, FinalizeBlock refuses it."""
    voter = SigningKey.generate()
    for poll, values, said in (
        (dict(tally, threshold=2), [1, 0, 0], "t = 2, k = 3"),
        (dict(tally, kind="unanimity", options=[]), [1], "t = 1, k = 1"),
    ):
        raw = chain.tx(voter, "cast_ballot", ballot_body(poll, voter, values))
        assert proposal(chain, [raw]) == ACCEPT
        checked = chain.check(raw)
        assert (
            checked.code == codes.BAD_BALLOT
            and "the poll's t is 1 and its k is 3" in checked.log
            and said in checked.log
        )
        res = chain.block(raw)
        assert result_codes(res) == [codes.BAD_BALLOT]


def test_a_ballot_is_verified_once(chain, tally, monkeypatch):
    """CheckTx verifies; the proposal and FinalizeBlock reuse the result (cached by tx hash)."""
    calls = []
    real = checks.verify_ballot
    monkeypatch.setattr(checks, "verify_ballot", lambda *a: calls.append(1) or real(*a))
    voter = SigningKey.generate()
    raw = chain.tx(voter, "cast_ballot", ballot_body(tally, voter))
    assert chain.check(raw).code == 0 and len(calls) == 1
    assert proposal(chain, [raw]) == ACCEPT and prepared(chain, [raw]) == [raw]
    assert result_codes(chain.block(raw)) == [0] and len(calls) == 1
    other = SigningKey.generate()
    unseen = chain.tx(other, "cast_ballot", ballot_body(tally, other))
    assert proposal(chain, [unseen]) == ACCEPT and len(calls) == 2  # a ballot first seen in a proposal
    assert result_codes(chain.block(unseen)) == [0] and len(calls) == 2


def test_eligibility_revote_and_cap(chain):
    creator = SigningKey.generate()
    alice, bob = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator, voters=sorted([alice.public_hex]), max_revotes=1)
    assert result_codes(chain.block(ballot_tx(chain, bob, poll_id))) == [codes.NOT_ELIGIBLE]
    first = ballot_tx(chain, alice, poll_id)
    assert result_codes(chain.block(first)) == [0]
    second = ballot_tx(chain, alice, poll_id, values=[0])
    assert result_codes(chain.block(second)) == [0]
    assert result_codes(chain.block(ballot_tx(chain, alice, poll_id))) == [codes.REVOTE_LIMIT]
    _, page = chain.query(f"/poll/{poll_id}/ballots")
    (record,) = page["ballots"]
    assert record["ballot"] == canonical.decode(second)["body"]["ballot"]  # the later ballot replaced the first
    assert record["replaced"] == [
        canonical.decode(first) and __import__("mpc_tx.protocol.tx").protocol.tx.tx_hash(first)
    ]
    assert record["revotes"] == 1 and record["disqualified"] is None
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 1


def test_ballot_digest_is_of_the_voter_and_the_ballot_bytes(chain, tally):
    voter = SigningKey.generate()
    body = ballot_body(tally, voter)
    assert result_codes(chain.block(chain.tx(voter, "cast_ballot", body))) == [0]
    state, _ctx = chain.staged()
    expected = hashlib.sha256(voter.public_hex.encode() + bytes.fromhex(body["ballot"])).hexdigest()
    assert state.get(digest_key(tally["id"], voter.public_hex)) == expected


@pytest.mark.parametrize("replaced", [[], ["CD" * 32], ["CD" * 32, "EF" * 32]])
def test_ballot_record_encoding_is_canonical(replaced):
    record = {
        "voter": "ab" * 32,
        "ballot": "0f9e" * 80,
        "height": 12,
        "revotes": len(replaced),
        "tx": "AB" * 32,
        "replaced": replaced,
        "disqualified": None,
    }
    assert encode_record(record) == canonical.encode(record)
