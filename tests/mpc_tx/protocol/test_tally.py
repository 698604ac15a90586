"""The on-chain tally: the stored aggregate under any order, the pairs judged and named, the opening."""

import itertools
import random

import pytest

from hypothesis import given, settings, strategies as st

from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import H, L, base, mul
from mpc_tx.protocol.seeded import SeededScalars
from mpc_tx.protocol.tally import (
    NAMED,
    VALID,
    Post,
    Sums,
    add,
    commitments_of,
    decode_sums,
    empty_sums,
    encode_pairs,
    fresh_sums,
    judge_pairs,
    on_ballot,
    on_disqualify,
    open_tally,
    own_pairs,
    parse_pairs,
    subtract,
    sum_own_pairs,
    tally_result,
)

from protocolhelpers import BAD_SCALARS, bad_point_encodings, build_known, test_poll

M, T, K = 5, 2, 3


def _ballot(choice: int, seed: bytes, k: int = K, t: int = T, m: int = M):
    """Return (commitments, pairs per validator) of a one-hot ballot, as §6 builds them (no envelopes)."""
    rng = SeededScalars(seed)
    f = [[int(e == choice)] + [rng() for _ in range(t)] for e in range(k)]
    g = [[rng() for _ in range(t + 1)] for _ in range(k)]
    commitments = tuple(tuple(base(a) + mul(b, H) for a, b in zip(fe, ge)) for fe, ge in zip(f, g))

    def at(coefficients, x):
        return sum(c * pow(x, j, L) for j, c in enumerate(coefficients)) % L

    pairs = [[(at(fe, i + 1), at(ge, i + 1)) for fe, ge in zip(f, g)] for i in range(m)]
    return commitments, pairs


_POOL = [_ballot(n % K, b"tally/pool/%d" % n) for n in range(8)]


def _round(choices, seed=b"round"):
    """Return (sums, posts by validator, counted ballots) for ballots voting choices."""
    ballots = [_ballot(c, seed + b"/%d" % n) for n, c in enumerate(choices)]
    sums = fresh_sums(K, T, [c for c, _ in ballots])
    posts = {i: encode_pairs(sum_own_pairs(K, [p[i] for _, p in ballots])) for i in range(M)}
    return sums, posts, ballots


def _counts(choices):
    return tuple(sum(1 for c in choices if c == e) for e in range(K))


# --- the stored aggregate ------------------------------------------------------------------

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("cast"), st.integers(0, 3), st.integers(0, len(_POOL) - 1)),
        st.tuples(st.just("disqualify"), st.integers(0, 3), st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(_OPS, st.randoms(use_true_random=False))
def test_the_stored_aggregate_is_the_fresh_sum_under_any_sequence_of_counts_disqualifications_and_revotes(ops, rnd):
    sums = empty_sums(K, T)
    latest = {}  # voter -> (pool index, counted)
    for op, voter, n in ops:
        if op == "cast":
            current = latest.get(voter)
            replaced = _POOL[current[0]][0] if current is not None and current[1] else None
            sums = on_ballot(sums, replaced, _POOL[n][0])
            latest[voter] = (n, True)
        elif voter in latest and latest[voter][1]:  # a complaint judged a counted ballot bad
            sums = on_disqualify(sums, _POOL[latest[voter][0]][0])
            latest[voter] = (latest[voter][0], False)
        assert isinstance(sums, Sums)
    counted = [_POOL[n][0] for n, ok in latest.values() if ok]
    rnd.shuffle(counted)
    fresh = fresh_sums(K, T, counted)
    assert sums.encode() == fresh.encode()
    assert decode_sums(K, T, sums.encode()) == sums


def test_add_and_subtract_are_inverse_and_commute():
    a, b = _POOL[0][0], _POOL[1][0]
    zero = empty_sums(K, T)
    assert zero.encode() == bytes(32 * K * (T + 1))
    assert add(add(zero, a), b) == add(add(zero, b), a)
    assert subtract(add(zero, a), a) == zero
    assert subtract(zero, a).encode() != zero.encode()  # the identity is allowed, a negative sum too


def test_stored_encodings_are_parsed_with_the_identity_allowed_and_nothing_else():
    good = add(empty_sums(K, T), _POOL[0][0]).encode()
    assert isinstance(decode_sums(K, T, bytes(len(good))), Sums)
    for label, bad in bad_point_encodings().items():
        if len(bad) == 32:
            verdict = decode_sums(K, T, bad + good[32:])
            assert isinstance(verdict, Rejected) and verdict.reason.startswith("A[0][0]"), label
    assert decode_sums(K, T, good[:32] + bad_point_encodings()["all ones"] + good[64:]).reason.startswith("A[0][1]")
    for data in (b"", good[:-1], good + b"\0", None, "00" * len(good)):
        assert isinstance(decode_sums(K, T, data), Rejected)
    for k, t in ((0, 1), (257, 1), (3, -1), (3, 1024), (True, 1), ("3", 1)):
        assert isinstance(decode_sums(k, t, good), Rejected) and isinstance(empty_sums(k, t), Rejected)


def test_a_hand_made_sums_must_have_its_shape():
    for rows in ((), ((),), [[base(1)]], ((base(1),), (base(1), base(2))), ((b"\0" * 32,),)):
        with pytest.raises(ValueError):
            Sums(rows)
    assert Sums(((base(1),),)).k == 1


def test_commitments_of_wrong_shape_are_refused():
    zero = empty_sums(K, T)
    row = _POOL[0][0]
    for bad in (None, row[:2], row + row[:1], [r[:2] for r in row], [[b"\0" * 32] * (T + 1)] * K, "x"):
        assert isinstance(add(zero, bad), Rejected) and isinstance(on_ballot(zero, row, bad), Rejected)
        if bad is not None:
            assert isinstance(on_ballot(zero, bad, row), Rejected)
    assert isinstance(add("sums", row), Rejected)
    assert isinstance(fresh_sums(K, T, None), Rejected)


def test_commitments_of_a_stored_ballot_are_its_C():
    poll, _ = test_poll(4, 1, 3, True, seed=b"tally")
    raw, _ = build_known(poll, [0, 1, 0], seed=b"tally/ballot")
    commitments = commitments_of(poll, raw)
    assert len(commitments) == 3 and all(len(row) == 2 for row in commitments)
    assert commitments[1][0] != commitments[0][0]
    assert isinstance(commitments_of(poll, raw[:-1]), Rejected)
    assert isinstance(commitments_of(poll, raw[:33] + bytes(32) + raw[65:]), Rejected)
    assert isinstance(commitments_of(None, raw), Rejected)


# --- the pairs, the opening -----------------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(0, K - 1), max_size=6), st.data())
def test_any_t_plus_1_valid_posts_open_the_same_tally(choices, data):
    sums, posts, _ = _round(choices, b"subsets/%d" % len(choices))
    judged = {i: judge_pairs(sums, M, i, posts[i]) for i in range(M)}
    assert all(p.verdict == VALID for p in judged.values())
    subset = data.draw(st.sampled_from(list(itertools.combinations(range(M), T + 1))))
    order = data.draw(st.permutations(subset))
    opening = open_tally(sums, len(choices), True, [judged[i] for i in order])
    assert opening.counts == _counts(choices)
    assert opening.validators == tuple(order)
    every = {open_tally(sums, len(choices), True, [judged[i] for i in s]) for s in itertools.combinations(range(M), 3)}
    assert {(o.counts, o.blindings) for o in every} == {(opening.counts, opening.blindings)}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, M - 1), st.integers(0, K - 1), st.integers(0, 1), st.integers(1, L - 1), st.integers(0, M - 1))
def test_a_single_wrong_pair_is_named_and_never_changes_the_tally(liar, entry, half, delta, position):
    choices = [0, 2, 2, 1]
    sums, posts, _ = _round(choices)
    pairs = list(parse_pairs(K, posts[liar]))
    wrong = list(pairs[entry])
    wrong[half] = (wrong[half] + delta) % L
    pairs[entry] = tuple(wrong)
    post = judge_pairs(sums, M, liar, encode_pairs(pairs))
    assert post.verdict == NAMED and post.validator == liar
    assert post.reason == f"aggregate pair {entry} of validator {liar}: does not match the commitments"
    honest = [judge_pairs(sums, M, i, posts[i]) for i in range(M) if i != liar]
    ordered = honest[:position] + [post] + honest[position:]
    opening = open_tally(sums, len(choices), True, ordered)
    assert opening.counts == _counts(choices) and liar not in opening.validators


def test_a_post_valid_for_one_validator_names_another():
    sums, posts, _ = _round([1, 1, 0])
    assert judge_pairs(sums, M, 4, posts[3]).verdict == NAMED
    assert judge_pairs(sums, M, 3, posts[3]).verdict == VALID


def test_malformed_posts_are_refused_not_named():
    sums, posts, _ = _round([0, 1])
    good = posts[0]
    for at in range(0, len(good), 32):
        for label, bad in BAD_SCALARS.items():
            if len(bad) == 32:
                verdict = judge_pairs(sums, M, 0, good[:at] + bad + good[at + 32 :])
                assert verdict == Rejected(f"aggregate scalar {at // 32}: scalar not reduced (>= l)"), label
    for data in (b"", good[:-1], good + b"\0", good[:64], None, good.hex()):
        assert isinstance(judge_pairs(sums, M, 0, data), Rejected)
    for i in (-1, M, None, True, 1.0):
        assert isinstance(judge_pairs(sums, M, i, good), Rejected)
    for m in (T, 0, 1025, None):
        assert isinstance(judge_pairs(sums, m, 0, good), Rejected)


def test_a_worker_posts_its_valid_pairs_and_abstains_on_a_share_that_is_not_the_counted_one():
    sums, posts, ballots = _round([0, 2, 1])
    for i in range(M):
        assert own_pairs(sums, M, i, [p[i] for _, p in ballots]) == posts[i]
    # Validator 2 holds a bad share of ballot 1 (it missed its complaint): it abstains.
    held = [p[2] for _, p in ballots]
    held[1] = [((f + 1) % L, s) for f, s in held[1]]
    verdict = own_pairs(sums, M, 2, held)
    assert isinstance(verdict, Rejected) and verdict.reason.startswith("abstain: aggregate pair 0 of validator 2")
    # A share of a ballot outside the counted set (a disqualified one) is refused too.
    extra = _ballot(0, b"not counted")
    assert isinstance(own_pairs(sums, M, 2, [p[2] for _, p in ballots] + [extra[1][2]]), Rejected)
    for bad in (None, [[(0, 0)] * (K - 1)], [[(L, 0)] * K], [[(0,)] * K]):
        assert isinstance(own_pairs(sums, M, 0, bad), Rejected)


def test_an_option_at_zero_votes_and_an_empty_poll_open():
    sums, posts, _ = _round([2, 2])
    judged = [judge_pairs(sums, M, i, posts[i]) for i in range(M)]
    assert open_tally(sums, 2, True, judged).counts == (0, 0, 2)
    empty = empty_sums(K, T)
    zero = encode_pairs(sum_own_pairs(K, []))
    judged = [judge_pairs(empty, M, i, zero) for i in range(M)]
    assert all(p.verdict == VALID for p in judged)
    assert open_tally(empty, 0, True, judged).counts == (0, 0, 0)


def test_the_opening_needs_t_plus_1_valid_posts_and_the_final_check():
    choices = [0, 1, 2, 2]
    sums, posts, _ = _round(choices)
    judged = [judge_pairs(sums, M, i, posts[i]) for i in range(M)]
    assert open_tally(sums, 4, True, judged[:T]) == Rejected(f"tally: {T} valid aggregate posts, need {T + 1}")
    named = Post(4, NAMED, judged[4].pairs, "x")
    assert isinstance(open_tally(sums, 4, True, judged[:T] + [named]), Rejected)
    assert isinstance(open_tally(sums, 4, True, [judged[0], judged[0], judged[1]]), Rejected)
    # A forged "valid" post (never judged) fails the final check, as do a wrong n and a wrong sum.
    forged = Post(2, VALID, tuple((f, (s + 1) % L) for f, s in judged[2].pairs), "forged")
    assert open_tally(sums, 4, True, judged[:2] + [forged]) == Rejected(
        "tally: the opening of entry 0 does not match A[0][0]"
    )
    assert open_tally(sums, 1, True, judged) == Rejected("tally: entry 2 opens above the 1 counted ballots")
    assert open_tally(sums, 5, True, judged) == Rejected("tally: the entries sum to 4, not the 5 counted ballots")
    assert open_tally(sums, 5, False, judged).counts == (1, 1, 2)  # no sum rule without one_hot
    for bad in (None, [None], "posts", [Post(0, VALID, ((1, 2),), "short")]):
        assert isinstance(open_tally(sums, 4, True, bad), Rejected)
    for n, one_hot in ((-1, True), (None, True), (4, 1)):
        assert isinstance(open_tally(sums, n, one_hot, judged), Rejected)


def test_the_result_is_the_ok_form():
    result = tally_result(["a", "b", "c"], "ab" * 32, 4, (1, 1, 2))
    assert result == {
        "ballots": "ab" * 32,
        "counted": 4,
        "outcome": {"tally": {"a": 1, "b": 1, "c": 2}},
        "status": "ok",
    }
    for args in (
        (["a", "a"], "ab" * 32, 1, (0, 1)),
        (["a"], "AB" * 32, 1, (1,)),
        (["a"], "ab" * 32, 1, (1, 0)),
        (["a"], "ab" * 32, -1, (1,)),
        ("a", "ab" * 32, 1, (1,)),
    ):
        assert isinstance(tally_result(*args), Rejected)


_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 2**256),
    st.binary(max_size=200),
    st.text(max_size=8),
    st.lists(st.integers(-1, 3), max_size=4),
    st.lists(st.lists(st.integers(-1, L), max_size=3), max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(_JUNK, _JUNK, _JUNK, _JUNK)
def test_every_function_is_total(a, b, c, d):
    sums = fresh_sums(K, T, [_POOL[0][0]])
    for result in (
        empty_sums(a, b),
        decode_sums(a, b, c),
        fresh_sums(a, b, c),
        add(sums, a),
        subtract(a, b),
        on_ballot(sums, a, b),
        on_disqualify(sums, a),
        parse_pairs(a, b),
        encode_pairs(a),
        judge_pairs(sums, a, b, c),
        judge_pairs(a, b, c, d),
        sum_own_pairs(a, b),
        own_pairs(sums, a, b, c),
        open_tally(sums, a, b, c),
        tally_result(a, b, c, d),
        commitments_of(a, b),
    ):
        assert result is not None


def test_random_order_of_the_same_ballots_gives_the_same_bytes():
    commitments = [c for c, _ in _POOL]
    orders = [commitments[:]]
    for seed in range(3):
        shuffled = commitments[:]
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    assert len({fresh_sums(K, T, order).encode() for order in orders}) == 1
