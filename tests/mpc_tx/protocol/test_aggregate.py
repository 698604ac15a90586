"""Aggregation: running sums with revotes, validators' aggregate pairs, interpolation, the final check."""

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from mpc_tx.protocol.aggregate import (
    Aggregate,
    check_aggregate_pairs,
    check_opening,
    encode_aggregate_pairs,
    interpolate,
    open_tally,
    sum_pairs,
)
from mpc_tx.protocol.ballot import build_ballot, open_ballot, verify_ballot
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import L
from mpc_tx.protocol.seeded import SeededScalars

from protocolhelpers import test_poll
from protocolhelpers import BAD_SCALARS

POLL, KEYS = test_poll(5, 2, 3, True)


def _cast(choice: int, n: int, voter: bytes = b"\x01" * 32):
    values = [int(e == choice) for e in range(POLL.k)]
    raw = build_ballot(POLL, voter, values, SeededScalars(b"agg%d" % n))
    b = verify_ballot(POLL, voter, raw)
    pairs = [open_ballot(POLL, voter, b, i, x) for i, x in enumerate(KEYS)]
    return b, pairs


@pytest.fixture(scope="module")
def cast():
    return [_cast(choice, n) for n, choice in enumerate([0, 2, 2, 1, 2, 0])]


def _posts(ballots):
    """Return each validator's encoded aggregate pairs over ballots [(ballot, pairs)]."""
    return {i: encode_aggregate_pairs(sum_pairs(POLL.k, (p[i] for _, p in ballots))) for i in range(POLL.m)}


def _aggregate(ballots):
    agg = Aggregate(POLL)
    for b, _ in ballots:
        agg.add(b)
    return agg


def test_valid_pairs_interpolate_to_the_tally_from_every_subset(cast):
    agg = _aggregate(cast)
    posts = _posts(cast)
    checked = {i: check_aggregate_pairs(agg, i, posts[i]) for i in range(POLL.m)}
    assert all(not isinstance(p, Rejected) for p in checked.values())
    openings = set()
    for subset in itertools.combinations(range(POLL.m), POLL.t + 1):
        opening = interpolate(POLL.t, {i: checked[i] for i in subset})
        assert check_opening(agg, opening)
        openings.add(tuple(opening))
    assert len(openings) == 1
    assert open_tally(agg, checked) == [2, 1, 3]


def test_a_lying_validator_is_caught_and_the_rest_still_open(cast):
    agg = _aggregate(cast)
    posts = _posts(cast)
    liar = 3
    pairs = sum_pairs(POLL.k, (p[liar] for _, p in cast))
    lie = encode_aggregate_pairs([((pairs[0][0] + 1) % L, pairs[0][1])] + pairs[1:])
    verdict = check_aggregate_pairs(agg, liar, lie)
    assert isinstance(verdict, Rejected) and "validator 3" in verdict.reason
    # A pair valid for validator 3 is not valid for validator 4.
    assert isinstance(check_aggregate_pairs(agg, 4, posts[3]), Rejected)
    honest = {i: check_aggregate_pairs(agg, i, posts[i]) for i in range(POLL.m) if i != liar}
    assert open_tally(agg, honest) == [2, 1, 3]
    assert isinstance(open_tally(agg, dict(list(honest.items())[: POLL.t])), Rejected)


def test_bad_encodings_of_an_aggregate_pair_are_refused(cast):
    agg = _aggregate(cast)
    good = _posts(cast)[0]
    for at in range(0, len(good), 32):
        for label, data in BAD_SCALARS.items():
            if len(data) == 32:
                assert isinstance(check_aggregate_pairs(agg, 0, good[:at] + data + good[at + 32 :]), Rejected)
    for data in (b"", good[:-1], good + b"\0", None):
        assert isinstance(check_aggregate_pairs(agg, 0, data), Rejected)
    for i in (-1, POLL.m, None):
        assert isinstance(check_aggregate_pairs(agg, i, good), Rejected)


def test_a_zero_tally_and_an_empty_poll_open_without_error(cast):
    only_two = [cast[1], cast[2]]  # both for entry 2: entries 0 and 1 tally to zero
    agg = _aggregate(only_two)
    posts = _posts(only_two)
    checked = {i: check_aggregate_pairs(agg, i, posts[i]) for i in range(POLL.m)}
    assert open_tally(agg, checked) == [0, 0, 2]
    empty = Aggregate(POLL)
    zero = encode_aggregate_pairs(sum_pairs(POLL.k, []))
    checked = {i: check_aggregate_pairs(empty, i, zero) for i in range(POLL.m)}
    assert open_tally(empty, checked) == [0, 0, 0]


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=1, max_size=4), st.integers(0, 2), st.data())
def test_a_revote_leaves_the_aggregate_equal_to_the_fresh_sum(choices, new_choice, data):
    cast = [_cast(c, 100 + n) for n, c in enumerate(choices)]
    replaced = data.draw(st.integers(0, len(choices) - 1))
    revote = _cast(new_choice, 999)
    running = _aggregate(cast)
    running.remove(cast[replaced][0])
    running.add(revote[0])
    fresh_set = [c for n, c in enumerate(cast) if n != replaced] + [revote]
    fresh = _aggregate(reversed(fresh_set))
    assert running.encode() == fresh.encode() and running.count == fresh.count == len(choices)
    posts = _posts(fresh_set)
    checked = {i: check_aggregate_pairs(running, i, posts[i]) for i in range(POLL.m)}
    expected = [0] * POLL.k
    for n, c in enumerate(choices):
        if n != replaced:
            expected[c] += 1
    expected[new_choice] += 1
    assert open_tally(running, checked) == expected


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.binary(min_size=192, max_size=192)), st.integers(-1, 5))
def test_any_pair_bytes_are_refused_never_raised(data, i):
    agg = Aggregate(POLL)
    result = check_aggregate_pairs(agg, i, data)
    if data == bytes(192) and 0 <= i < POLL.m:
        assert result == [(0, 0)] * POLL.k  # the empty poll's only valid post
    else:
        assert isinstance(result, Rejected) and result.reason
