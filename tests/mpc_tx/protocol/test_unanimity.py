"""Public unanimity: masks and openings verify, liars are refused, the outcome is right from any t+1."""

import itertools

import pytest

from mpc_tx.protocol.aggregate import Aggregate, sum_pairs
from mpc_tx.protocol.ballot import build_ballot, open_ballot, verify_ballot
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import G, H, base, mul
from mpc_tx.protocol.seeded import SeededScalars
from mpc_tx.protocol.unanimity import (
    ALL_YES,
    NOT_ALL_YES,
    check_mask,
    check_open,
    combine_masks,
    make_mask,
    make_open,
    unanimity_commitment,
    unanimity_outcome,
)

from protocolhelpers import test_poll
from protocolhelpers import BAD_SCALARS, bad_point_encodings

POLL, KEYS = test_poll(5, 2, 1, False, seed=b"unanimity")


def _run(values, seed=b"u"):
    """Return (aggregate, each validator's aggregate pair) after ballots with values."""
    agg = Aggregate(POLL)
    pairs = {i: [] for i in range(POLL.m)}
    for n, v in enumerate(values):
        voter = bytes([n + 1]) * 32
        b = verify_ballot(POLL, voter, build_ballot(POLL, voter, [v], SeededScalars(seed + b"%d" % n)))
        agg.add(b)
        for i, x in enumerate(KEYS):
            pairs[i].append(open_ballot(POLL, voter, b, i, x))
    return agg, {i: sum_pairs(1, p) for i, p in pairs.items()}


def _rounds(agg, pairs, rng):
    masks = [check_mask(agg, j, make_mask(agg, j, rng(), rng)) for j in range(POLL.m)]
    assert all(not isinstance(m, Rejected) for m in masks)
    rd, w = combine_masks(masks)
    opens = {i: make_open(agg, i, pairs[i][0], w, rng) for i in range(POLL.m)}
    return rd, w, opens


@pytest.mark.parametrize(
    "values,expected", [([1, 1, 1], ALL_YES), ([1, 0, 1], NOT_ALL_YES), ([0, 0, 0], NOT_ALL_YES), ([1], ALL_YES)]
)
def test_the_outcome_from_every_t_plus_1_subset(values, expected):
    agg, pairs = _run(values)
    rng = SeededScalars(b"rounds")
    rd, w, opens = _rounds(agg, pairs, rng)
    checked = {i: check_open(agg, i, w, data) for i, data in opens.items()}
    assert all(not isinstance(z, Rejected) for z in checked.values())
    for subset in itertools.combinations(range(POLL.m), POLL.t + 1):
        assert unanimity_outcome(agg, rd, w, {i: checked[i] for i in subset}) == expected
    assert isinstance(unanimity_outcome(agg, rd, w, {0: checked[0], 1: checked[1]}), Rejected)


def test_a_lying_opener_is_refused_and_the_rest_still_decide():
    agg, pairs = _run([1, 1, 1])
    rng = SeededScalars(b"liar")
    rd, w, opens = _rounds(agg, pairs, rng)
    f, s = pairs[1][0]
    shifted = mul(s + 1, w)  # would turn "all yes" into "not all yes" if it were counted
    lies = [shifted.encode() + opens[1][32:], make_open(agg, 1, pairs[2][0], w, rng), opens[2]]
    for lie in lies:
        verdict = check_open(agg, 1, w, lie)
        assert isinstance(verdict, Rejected) and verdict.reason == "unanimity open proof: does not verify"
    honest = {i: check_open(agg, i, w, opens[i]) for i in range(POLL.m)}
    assert unanimity_outcome(agg, rd, w, {0: honest[0], 1: shifted, 2: honest[2]}) == NOT_ALL_YES
    checked = {**honest, 1: check_open(agg, 1, w, lies[0])}
    assert unanimity_outcome(agg, rd, w, checked) == ALL_YES


def test_masks_bind_their_statement_and_refuse_bad_encodings():
    agg, _ = _run([1, 1])
    rng = SeededScalars(b"mask")
    r = rng()
    good = make_mask(agg, 0, r, rng)
    assert check_mask(agg, 0, good) == (mul(r, unanimity_commitment(agg)), mul(r, H))
    assert check_mask(agg, 1, good).reason == "unanimity mask proof: does not verify"
    # Q_j with a different log than P_j: it would let j choose W.
    q_other = mul(r + 1, H).encode()
    assert isinstance(check_mask(agg, 0, good[:32] + q_other + good[64:]), Rejected)
    assert check_mask(agg, 0, good[:32] + bytes(32) + good[64:]).reason.startswith("Q_j: ")
    for label, data in bad_point_encodings().items():
        if len(data) == 32:
            assert check_mask(agg, 0, data + good[32:]).reason.startswith("P_j: "), label
            assert check_mask(agg, 0, good[:32] + data + good[64:]).reason.startswith("Q_j: "), label
    for at in (64, 96):
        for data in list(BAD_SCALARS.values()) + [bytes(32)]:
            if len(data) == 32:
                assert isinstance(check_mask(agg, 0, good[:at] + data + good[at + 32 :]), Rejected)
    for data in (b"", good[:-1], good + b"\0", None):
        assert isinstance(check_mask(agg, 0, data), Rejected)
    assert isinstance(check_mask(agg, POLL.m, good), Rejected)


def test_opens_refuse_bad_encodings_in_every_position():
    agg, pairs = _run([1, 1])
    rng = SeededScalars(b"open")
    rd, w, opens = _rounds(agg, pairs, rng)
    good = opens[3]
    assert not isinstance(check_open(agg, 3, w, good), Rejected)
    assert isinstance(check_open(agg, 3, w + G, good), Rejected)
    for label, data in bad_point_encodings().items():
        if len(data) == 32:
            assert check_open(agg, 3, w, data + good[32:]).reason.startswith("Z_i: "), label
    for at in (32, 64, 96):
        for data in list(BAD_SCALARS.values()) + [bytes(32)]:
            if len(data) == 32:
                assert isinstance(check_open(agg, 3, w, good[:at] + data + good[at + 32 :]), Rejected)
    for data in (b"", good[:-1], None):
        assert isinstance(check_open(agg, 3, w, data), Rejected)


def test_w_must_not_be_the_identity():
    agg, _ = _run([1])
    rng = SeededScalars(b"w")
    r = rng()
    masks = [check_mask(agg, 0, make_mask(agg, 0, r, rng)), check_mask(agg, 1, make_mask(agg, 1, -r, rng))]
    assert combine_masks(masks) == Rejected("unanimity: W is the identity")
    assert combine_masks([]) == Rejected("unanimity: W is the identity")


def test_only_unanimity_polls():
    tally_poll, _ = test_poll(4, 1, 2, True)
    with pytest.raises(ValueError):
        unanimity_commitment(Aggregate(tally_poll))
    assert unanimity_commitment(Aggregate(POLL)) == base(0)
