"""Ballots: honest ones verify and open; every tampered or badly encoded field is refused, never raised."""

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from mpc_tx.protocol import ballot as ballot_mod
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot, share_check, verify_ballot
from mpc_tx.protocol.context import ballot_size
from mpc_tx.protocol.encoding import TAG_BIT, TAG_RHO, TAG_SUM, Rejected
from mpc_tx.protocol.group import G, H, L, base, msm
from mpc_tx.protocol.proofs import prove_dlog, verify_bit, verify_dlog
from mpc_tx.protocol.seeded import SeededScalars

from protocolhelpers import VOTER, build_known, craft_ballot, field_offsets, resign, test_poll
from protocolhelpers import BAD_SCALARS, bad_point_encodings

SHAPES = [(4, 1, 1, False), (4, 1, 3, True), (7, 3, 1, True), (7, 2, 2, True)]


def _replace(raw: bytes, at: int, data: bytes) -> bytes:
    return raw[:at] + data + raw[at + len(data) :]


def _rejected(poll, raw, voter=VOTER) -> str:
    result = verify_ballot(poll, voter, raw)
    assert isinstance(result, Rejected), "a bad ballot verified"
    assert isinstance(result.reason, str) and result.reason
    return result.reason


@pytest.mark.parametrize("m,t,k,one_hot", SHAPES)
def test_honest_ballots_verify_and_every_share_checks(m, t, k, one_hot):
    poll, secret_keys = test_poll(m, t, k, one_hot)
    choices = (
        [[1 if e == j else 0 for e in range(k)] for j in range(k)]
        if one_hot
        else [list(v) for v in itertools.product((0, 1), repeat=k)]
    )
    for n, values in enumerate(choices):
        raw = build_ballot(poll, VOTER, values, SeededScalars(b"honest%d" % n))
        assert len(raw) == poll.ballot_size() == ballot_size(m, t, k, one_hot)
        b = verify_ballot(poll, VOTER, raw)
        assert not isinstance(b, Rejected), b
        shares = [open_ballot(poll, VOTER, b, i, x) for i, x in enumerate(secret_keys)]
        assert all(not isinstance(s, Rejected) for s in shares)
        # The shares of validators 1..t+1 interpolate to the values (Lagrange at 0).
        xs = list(range(1, t + 2))
        for e in range(k):
            value = 0
            for x in xs:
                lam = 1
                for y in xs:
                    if y != x:
                        lam = lam * y * pow(y - x, -1, L) % L
                value += lam * shares[x - 1][e][0]
            assert value % L == values[e]


def test_ballot_size_formula():
    # version + E + C + envelopes + bit proofs + sum proof + proof of rho
    assert ballot_size(4, 1, 1, False) == 1 + 32 + 64 + 4 * 80 + 128 + 64
    assert ballot_size(4, 1, 3, True) == 1 + 32 + 192 + 4 * 208 + 384 + 64 + 64
    assert ballot_size(7, 3, 3, True) == 1 + 32 + 384 + 7 * 208 + 384 + 64 + 64


def test_builder_refuses_values_a_proof_could_not_cover():
    poll, _ = test_poll(4, 1, 3, True)
    for values in ([0, 0, 0], [1, 1, 0], [2, 0, 0], [0, 1]):
        with pytest.raises(ValueError):
            build_ballot(poll, VOTER, values)


@pytest.fixture(scope="module")
def tally():
    poll, keys = test_poll(4, 1, 2, True)
    raw, rho = build_known(poll, [0, 1])
    return poll, keys, raw


def _fields(poll):
    """Yield (name, offset, kind) for every 32-byte field of a ballot."""
    off = field_offsets(poll)
    yield "E", off["E"], "point"
    for n in range(poll.k * (poll.t + 1)):
        yield f"C{n}", off["C"] + 32 * n, "point"
    for n in range(4 * poll.k):
        yield f"bit scalar {n}", off["bits"] + 32 * n, "scalar"
    if poll.one_hot:
        for n in range(2):
            yield f"sum scalar {n}", off["sum"] + 32 * n, "scalar"
    for n in range(2):
        yield f"rho scalar {n}", off["rho"] + 32 * n, "scalar"


def test_every_field_flipped_is_refused(tally):
    poll, _, raw = tally
    assert not isinstance(verify_ballot(poll, VOTER, raw), Rejected)
    for name, at, _ in _fields(poll):
        for bit in (0, 8 * 31 + 6):
            bad = bytearray(raw)
            bad[at + bit // 8] ^= 1 << (bit % 8)
            _rejected(poll, bytes(bad))
    off = field_offsets(poll)
    for at in (off["version"], off["envelopes"], off["bits"] - 1):
        bad = bytearray(raw)
        bad[at] ^= 1
        _rejected(poll, bytes(bad))


def test_bad_encodings_in_every_position_are_refused(tally):
    poll, _, raw = tally
    points = {k: v for k, v in bad_point_encodings().items() if len(v) == 32}
    points["identity"] = bytes(32)
    scalars = {k: v for k, v in BAD_SCALARS.items() if len(v) == 32}
    scalars["zero"] = bytes(32)
    for name, at, kind in _fields(poll):
        for label, data in itertools.chain(points.items(), scalars.items()):
            reason = _rejected(poll, _replace(raw, at, data))
            if kind == "point" and label in points:
                assert reason.startswith(("E:", "C[")), (name, label, reason)


def test_context_is_bound(tally):
    poll, keys, raw = tally
    assert "proof of rho" in _rejected(poll, raw, voter=b"\x12" * 32)
    other_poll, _ = test_poll(4, 1, 2, True, seed=b"other")
    assert "proof of rho" in _rejected(other_poll, raw)


def test_wrong_lengths_and_types_are_refused(tally):
    poll, _, raw = tally
    for data in (b"", raw[:-1], raw + b"\0", raw * 2, None, "ab", 12):
        _rejected(poll, data)
    assert "voter" in _rejected(poll, raw, voter="11" * 32)
    assert "voter" in _rejected(poll, raw, voter=b"")


_POLL_4_1_2, _ = test_poll(4, 1, 2, True)
_SIZE = _POLL_4_1_2.ballot_size()


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2 * _SIZE),
        st.binary(min_size=_SIZE, max_size=_SIZE),
        st.binary(min_size=_SIZE - 1, max_size=_SIZE - 1).map(lambda b: b"\x01" + b),
    )
)
def test_random_bytes_are_refused_never_raised(data):
    _rejected(_POLL_4_1_2, data)


def test_complaint_oracle_ballot_is_refused_by_its_proof_of_rho(tally):
    poll, _, victim_raw = tally
    victim = parse_ballot(poll, victim_raw)
    forged, d = craft_ballot(poll, [1, 0], b"attacker", victim_e=victim.e_point)
    f = parse_ballot(poll, forged)
    assert f.e_point == victim.e_point + base(d)
    # Everything but the proof of rho verifies: the attacker knows its own openings.
    statement = (poll.header, VOTER, f.e_point, f.commitments_digest)
    for e, (row, proof) in enumerate(zip(f.commitments, f.bit_proofs)):
        verify_bit(TAG_BIT, statement + (e,), row[0], proof, "bit")
    verify_dlog(TAG_SUM, statement, H, msm([1, 1], [row[0] for row in f.commitments]) - G, f.sum_proof, "sum")
    assert _rejected(poll, forged) == "proof of rho: does not verify"
    # Nor does the victim's own proof of rho, nor one for d·G, cover E'.
    rho_context = ballot_mod._rho_context(poll, VOTER, forged[:-64])
    for attempt in (victim_raw[-64:], prove_dlog(TAG_RHO, rho_context, G, base(d), d, SeededScalars(b"x"))):
        assert _rejected(poll, forged[:-64] + attempt) == "proof of rho: does not verify"


def test_a_value_of_two_or_a_double_vote_is_refused():
    poll, _ = test_poll(4, 1, 3, True)
    assert _rejected(poll, craft_ballot(poll, [2, 0, 0], b"two")[0]) == "bit proof 0: does not verify"
    assert _rejected(poll, craft_ballot(poll, [0, 0, L - 1], b"minus")[0]) == "bit proof 2: does not verify"
    assert _rejected(poll, craft_ballot(poll, [1, 1, 0], b"double")[0]) == "sum-to-one proof: does not verify"
    assert _rejected(poll, craft_ballot(poll, [0, 0, 0], b"none")[0]) == "sum-to-one proof: does not verify"
    assert not isinstance(verify_ballot(poll, VOTER, craft_ballot(poll, [0, 1, 0], b"fine")[0]), Rejected)


def test_each_proof_is_checked_even_under_a_fresh_proof_of_rho(tally):
    poll, _, raw = tally
    rho = build_known(poll, [0, 1])[1]
    off = field_offsets(poll)
    for name, at in [
        ("bit proof 0", off["bits"] + 40),
        ("bit proof 1", off["bits"] + 128 + 100),
        ("sum-to-one proof", off["sum"] + 3),
    ]:
        bad = resign(poll, raw[:at] + bytes([raw[at] ^ 2]) + raw[at + 1 :], rho)
        assert _rejected(poll, bad) == f"{name}: does not verify"


def test_share_check_refuses_a_wrong_pair(tally):
    poll, keys, raw = tally
    b = verify_ballot(poll, VOTER, raw)
    pairs = open_ballot(poll, VOTER, b, 1, keys[1])
    assert share_check(poll, b, 1, pairs)
    assert not share_check(poll, b, 2, pairs)
    assert not share_check(poll, b, 1, [(pairs[0][0] + 1, pairs[0][1])] + pairs[1:])
    assert not share_check(poll, b, 1, pairs[:1])
    assert isinstance(open_ballot(poll, VOTER, b, 1, keys[2]), Rejected)


def test_ballot_repr_holds_no_field():
    poll, _ = test_poll(4, 1, 1, False)
    b = verify_ballot(poll, VOTER, build_ballot(poll, VOTER, [1]))
    assert repr(b).startswith("Ballot(") and len(repr(b)) < 60


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([(4, 1, 2), (5, 2, 3), (7, 3, 2)]), st.binary(min_size=1, max_size=8), st.data())
def test_honest_ballots_always_verify_and_pass_the_share_check(shape, seed, data):
    m, t, k = shape
    poll, keys = test_poll(m, t, k, True)
    values = [0] * k
    values[data.draw(st.integers(0, k - 1))] = 1
    b = verify_ballot(poll, VOTER, build_ballot(poll, VOTER, values, SeededScalars(seed)))
    assert not isinstance(b, Rejected), b
    for i, x in enumerate(keys):
        pairs = open_ballot(poll, VOTER, b, i, x)
        assert not isinstance(pairs, Rejected) and share_check(poll, b, i, pairs)


_HONEST_RAW = build_ballot(_POLL_4_1_2, VOTER, [1, 0], SeededScalars(b"mutate"))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, _SIZE - 1), st.integers(1, 255))
def test_any_single_byte_change_to_a_valid_ballot_is_refused(at, mask):
    assert not isinstance(verify_ballot(_POLL_4_1_2, VOTER, _HONEST_RAW), Rejected)
    bad = bytearray(_HONEST_RAW)
    bad[at] ^= mask
    _rejected(_POLL_4_1_2, bytes(bad))
