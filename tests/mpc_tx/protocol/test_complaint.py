"""Complaints: a cheating voter is named, a lying validator is named, neither can frame the other."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mpc_tx.protocol.ballot import open_ballot, parse_ballot, verify_ballot
from mpc_tx.protocol.complaint import BALLOT_BAD, COMPLAINT_FALSE, Verdict, adjudicate, make_complaint
from mpc_tx.protocol.encoding import TAG_DLEQ, Rejected
from mpc_tx.protocol.envelope import encode_pairs
from mpc_tx.protocol.group import G, L, base, mul
from mpc_tx.protocol.proofs import prove_dleq
from mpc_tx.protocol.seeded import SeededScalars

from protocolhelpers import TX_HASH, VOTER, build_known, reseal, test_poll
from protocolhelpers import BAD_SCALARS, bad_point_encodings

I = 2  # the complaining validator


@pytest.fixture(scope="module")
def setting():
    poll, keys = test_poll(4, 1, 2, True)
    raw, rho = build_known(poll, [1, 0])
    return poll, keys, raw, rho


def _complain(poll, keys, raw, i=I, tx_hash=TX_HASH):
    return make_complaint(poll, tx_hash, parse_ballot(poll, raw), i, keys[i], SeededScalars(b"complaint"))


def _judge(poll, raw, complaint, i=I, tx_hash=TX_HASH):
    return adjudicate(poll, VOTER, tx_hash, raw, i, complaint)


def test_a_complaint_about_a_good_share_is_false(setting):
    poll, keys, raw, _ = setting
    for i in range(poll.m):
        verdict = _judge(poll, raw, _complain(poll, keys, raw, i), i)
        assert verdict == Verdict(COMPLAINT_FALSE, f"share {i} opens and matches the ballot's commitments")


def _cheating_ballots(poll, keys, raw, rho):
    honest = open_ballot(poll, VOTER, verify_ballot(poll, VOTER, raw), I, keys[I])
    wrong_value = [(honest[0][0] + 1, honest[0][1])] + honest[1:]
    plaintext = encode_pairs(honest)
    return {
        "does not match": reseal(poll, raw, rho, I, encode_pairs(wrong_value)),
        "scalar >= l": reseal(poll, raw, rho, I, L.to_bytes(32, "little") + plaintext[32:]),
        "2^255-1": reseal(poll, raw, rho, I, plaintext[:32] + (2**255 - 1).to_bytes(32, "little") + plaintext[64:]),
        "garbage ciphertext": reseal(poll, raw, rho, I, b"", ciphertext=bytes(range(2 * 64 + 16))),
        "another validator's pair": reseal(
            poll, raw, rho, I, encode_pairs(open_ballot(poll, VOTER, verify_ballot(poll, VOTER, raw), 0, keys[0]))
        ),
    }


def test_a_bad_share_puts_the_ballot_out(setting):
    poll, keys, raw, rho = setting
    for name, bad in _cheating_ballots(poll, keys, raw, rho).items():
        b = verify_ballot(poll, VOTER, bad)
        assert not isinstance(b, Rejected), name  # the chain accepts it: only validator I can tell
        assert isinstance(open_ballot(poll, VOTER, b, I, keys[I]), Rejected), name
        for i in range(poll.m):
            if i != I:
                assert not isinstance(open_ballot(poll, VOTER, b, i, keys[i]), Rejected)
        verdict = _judge(poll, bad, _complain(poll, keys, bad))
        assert isinstance(verdict, Verdict) and verdict.outcome == BALLOT_BAD, (name, verdict)
        # Another validator's complaint about the same ballot is false.
        assert _judge(poll, bad, _complain(poll, keys, bad, 0), 0).outcome == COMPLAINT_FALSE


def test_a_validator_cannot_frame_a_voter(setting):
    poll, keys, raw, _ = setting
    b = parse_ballot(poll, raw)
    rng = SeededScalars(b"liar")
    r = rng()
    fake_k = mul(r, b.e_point)  # a K it knows the log of, but not x_I·E
    lies = {
        "fake K, proof with r": fake_k.encode()
        + prove_dleq(TAG_DLEQ, (poll.header, TX_HASH, I), G, poll.keys[I], b.e_point, fake_k, r, rng),
        "fake K, honest proof": fake_k.encode() + _complain(poll, keys, raw)[32:],
        "another validator's key": _complain(poll, keys, raw, 0),
        "another tx hash": _complain(poll, keys, raw, tx_hash=b"\x33" * 32),
    }
    for name, complaint in lies.items():
        verdict = _judge(poll, raw, complaint)
        assert isinstance(verdict, Rejected), name
        assert verdict.reason == "complaint proof: does not verify", (name, verdict)


def test_bad_encodings_in_every_complaint_position_are_refused(setting):
    poll, keys, raw, _ = setting
    good = _complain(poll, keys, raw)
    for label, data in bad_point_encodings().items():
        if len(data) == 32:
            assert _judge(poll, raw, data + good[32:]).reason.startswith("K:"), label
    assert _judge(poll, raw, bytes(32) + good[32:]).reason == "K: the identity is not allowed here"
    for at in (32, 64):
        for label, data in list(BAD_SCALARS.items()) + [("zero", bytes(32))]:
            if len(data) == 32:
                verdict = _judge(poll, raw, good[:at] + data + good[at + 32 :])
                assert isinstance(verdict, Rejected), (at, label)
    for byte in range(96):
        bad = bytearray(good)
        bad[byte] ^= 0x04
        assert isinstance(_judge(poll, raw, bytes(bad)), Rejected)
    for data in (b"", good[:-1], good + b"\0", None, "x" * 96):
        assert isinstance(_judge(poll, raw, data), Rejected)


def test_malformed_context_is_refused(setting):
    poll, keys, raw, _ = setting
    good = _complain(poll, keys, raw)
    for i in (-1, poll.m, "2", None):
        assert isinstance(_judge(poll, raw, good, i=i), Rejected)
    for tx_hash in (b"", b"\0" * 31, "22" * 32):
        assert isinstance(_judge(poll, raw, good, tx_hash=tx_hash), Rejected)
    assert _judge(poll, raw[:-1], good).reason.startswith("complaint: the ballot does not verify")


def test_the_oracle_is_closed_for_a_ballot_without_a_proof_of_rho(setting):
    poll, keys, raw, _ = setting
    # A ballot whose E is the victim's plus dG does not verify, so no complaint about it is judged.
    off = 1
    forged = raw[:off] + (parse_ballot(poll, raw).e_point + base(5)).encode() + raw[off + 32 :]
    verdict = _judge(poll, forged, _complain(poll, keys, raw))
    assert isinstance(verdict, Rejected) and "proof of rho" in verdict.reason


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(complaint=st.one_of(st.binary(max_size=200), st.binary(min_size=96, max_size=96)), i=st.integers(-2, 6))
def test_any_complaint_bytes_are_judged_or_refused_never_raised(setting, complaint, i):
    poll, _, raw, _ = setting
    verdict = _judge(poll, raw, complaint, i=i)
    assert isinstance(verdict, Rejected) and verdict.reason
