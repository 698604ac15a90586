"""Registry keys with a proof of possession, f from power, threshold ranges (docs/PROTOCOL.md §15)."""

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import G, base
from mpc_tx.protocol.proofs import prove_dlog
from mpc_tx.protocol.registry import (
    check_registry,
    check_threshold,
    complaint_window,
    default_threshold,
    max_faulty,
    prove_key_possession,
    threshold_range,
    verify_key_possession,
)
from mpc_tx.protocol.seeded import SeededScalars
from protocolhelpers import BAD_SCALARS, bad_point_encodings

CHAIN = b"mpcvote-test"


def _entry(n: int, chain=CHAIN):
    rng = SeededScalars(b"registry-%d" % n)
    consensus = bytes([n]) * 32
    x = rng()
    key, proof = prove_key_possession(chain, consensus, x, rng)
    return consensus, key, proof, x


def test_a_proof_verifies_and_gives_the_key():
    consensus, key, proof, x = _entry(1)
    assert verify_key_possession(CHAIN, consensus, key, proof) == base(x)


def test_the_proof_binds_chain_identity_and_key():
    consensus, key, proof, _ = _entry(1)
    other_consensus, other_key, other_proof, _ = _entry(2)
    assert isinstance(verify_key_possession(b"other-chain", consensus, key, proof), Rejected)
    assert isinstance(verify_key_possession(CHAIN, other_consensus, key, proof), Rejected)
    assert isinstance(verify_key_possession(CHAIN, consensus, other_key, proof), Rejected)
    assert isinstance(verify_key_possession(CHAIN, consensus, key, other_proof), Rejected)


def test_copying_another_validators_key_fails():
    # Validator 2 registers validator 1's key, with 1's proof, under its own identity.
    consensus_1, key_1, proof_1, _ = _entry(1)
    consensus_2, _, _, _ = _entry(2)
    assert isinstance(verify_key_possession(CHAIN, consensus_2, key_1, proof_1), Rejected)
    assert isinstance(check_registry(CHAIN, [(consensus_1, key_1, proof_1), (consensus_2, key_1, proof_1)]), Rejected)


def test_a_rogue_key_without_its_secret_has_no_proof():
    # X_rogue = X_1 + G: its holder does not know its log; a proof for some other secret fails.
    consensus_1, key_1, _, x1 = _entry(1)
    rogue = base(x1) + G
    consensus_2 = bytes([2]) * 32
    rng = SeededScalars(b"rogue")
    forged = prove_dlog(b"mpcvote/v1/proof/registry-key", (CHAIN, consensus_2), G, rogue, rng(), rng)
    assert isinstance(verify_key_possession(CHAIN, consensus_2, rogue.encode(), forged), Rejected)


@pytest.mark.parametrize("name", list(bad_point_encodings()) + ["identity"])
def test_bad_key_encodings_are_refused(name):
    consensus, _, proof, _ = _entry(1)
    data = bytes(32) if name == "identity" else bad_point_encodings()[name]
    result = verify_key_possession(CHAIN, consensus, data, proof)
    assert isinstance(result, Rejected) and result.reason.startswith("encryption key")


@pytest.mark.parametrize("name", list(BAD_SCALARS))
def test_bad_proof_scalars_are_refused(name):
    consensus, key, proof, _ = _entry(1)
    for position in (0, 1):
        scalars = [proof[:32], proof[32:]]
        scalars[position] = BAD_SCALARS[name]
        result = verify_key_possession(CHAIN, consensus, key, b"".join(scalars))
        assert isinstance(result, Rejected) and result.reason.startswith("proof of possession"), name


@pytest.mark.parametrize(
    "args",
    [
        (None, bytes(32), bytes(32), bytes(64)),
        ("chain", bytes(32), bytes(32), bytes(64)),
        (b"", bytes(32), bytes(32), bytes(64)),
        (b"x" * 256, bytes(32), bytes(32), bytes(64)),
        (CHAIN, bytes(31), bytes(32), bytes(64)),
        (CHAIN, "k" * 32, bytes(32), bytes(64)),
        (CHAIN, bytes(32), None, bytes(64)),
        (CHAIN, bytes(32), 5, bytes(64)),
        (CHAIN, bytes(32), bytes(32), None),
        (CHAIN, bytes(32), bytes(32), bytes(63)),
        (CHAIN, bytes(32), [], {}),
    ],
)
def test_wrong_types_and_lengths_are_rejected_not_raised(args):
    assert isinstance(verify_key_possession(*args), Rejected)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=40), st.binary(max_size=80))
def test_verifier_is_total(chain, consensus, key, proof):
    assert isinstance(verify_key_possession(chain, consensus, key, proof), Rejected)


def test_registry_accepts_distinct_proven_entries_in_order():
    entries = [_entry(n)[:3] for n in range(1, 5)]
    keys = check_registry(CHAIN, entries)
    assert keys == [verify_key_possession(CHAIN, *e) for e in entries]
    assert check_registry(CHAIN, entries[::-1]) == keys[::-1]


@pytest.mark.parametrize(
    "case, reason",
    [
        ("empty", "registry: need"),
        ("not a list", "registry: need"),
        ("short entry", "entry 1: need"),
        ("duplicate identity", "entry 1: consensus key registered twice"),
        ("bad proof", "entry 2: proof"),
        ("too many", "registry: need"),
    ],
)
def test_registry_refusals_name_the_entry(case, reason):
    entries = [_entry(n)[:3] for n in range(1, 4)]
    if case == "empty":
        entries = []
    elif case == "not a list":
        entries = {"a": 1}
    elif case == "short entry":
        entries[1] = entries[1][:2]
    elif case == "duplicate identity":
        entries[1] = entries[0]
    elif case == "bad proof":
        entries[2] = (entries[2][0], entries[2][1], entries[1][2])
    elif case == "too many":
        entries = entries * 400
    result = check_registry(CHAIN, entries)
    assert isinstance(result, Rejected) and result.reason.startswith(reason), result


def _brute_force_f(powers):
    total = sum(powers)
    return max(
        size
        for size in range(len(powers) + 1)
        for subset in itertools.combinations(powers, size)
        if 3 * sum(subset) < total
    )


@pytest.mark.parametrize("m", range(1, 31))
def test_f_with_equal_power(m):
    assert max_faulty([10] * m) == (m - 1) // 3


@pytest.mark.parametrize(
    "powers, f",
    [
        ([1, 1, 1, 10], 3),
        ([5, 5, 5], 0),
        ([1, 2, 3, 4], 2),
        ([100, 1, 1, 1, 1], 4),
        ([1], 0),
        ([1, 1], 0),
        ([2, 1, 1, 1], 1),
    ],
)
def test_f_with_unequal_power(powers, f):
    assert max_faulty(powers) == f == _brute_force_f(powers)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=9))
def test_f_is_the_largest_coalition_below_a_third(powers):
    assert max_faulty(powers) == _brute_force_f(powers)


@pytest.mark.parametrize("powers", [[], [0, 1], [-1, 2], [1.0, 2], [True, 1], [2**63], "1234", None, [1] * 1025])
def test_bad_powers_are_rejected_not_raised(powers):
    assert isinstance(max_faulty(powers), Rejected)
    assert isinstance(threshold_range(True, powers), Rejected)
    assert isinstance(default_threshold(False, powers), Rejected)
    assert isinstance(check_threshold(False, powers, 1), Rejected)


@pytest.mark.parametrize(
    "m, on_chain, mpyc",
    [
        (2, (1, 1), (1, 0)),
        (3, (1, 2), (1, 1)),
        (4, (1, 2), (1, 1)),
        (5, (1, 3), (1, 2)),
        (7, (2, 4), (2, 3)),
        (10, (3, 6), (3, 4)),
    ],
)
def test_threshold_ranges_with_equal_power(m, on_chain, mpyc):
    assert threshold_range(True, [1] * m) == on_chain
    assert threshold_range(False, [1] * m) == mpyc


def test_default_is_the_top_and_an_empty_range_refuses():
    assert default_threshold(True, [1] * 7) == 4
    assert default_threshold(False, [1] * 7) == 3
    refused = default_threshold(False, [1, 1])
    assert isinstance(refused, Rejected) and "empty" in refused.reason


@pytest.mark.parametrize(
    "t, ok",
    [
        (0, False),
        (1, True),
        (2, True),
        (3, False),
        (-1, False),
        ("1", False),
        (True, False),
        (None, False),
        (2**70, False),
    ],
)
def test_check_threshold(t, ok):
    result = check_threshold(True, [1, 1, 1, 1], t)
    assert (result == t) if ok else isinstance(result, Rejected)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=1, max_size=20), st.booleans())
def test_any_t_in_range_keeps_f_below_t_plus_one_and_leaves_t_plus_one_honest(powers, on_chain):
    low, high = threshold_range(on_chain, powers)
    f, m = max_faulty(powers), len(powers)
    for t in range(low, high + 1):
        assert f < t + 1  # f Byzantine validators never hold t+1 shares
        if on_chain:
            assert m - f >= t + 1  # t+1 contributions remain with f absent
        else:
            assert 2 * t + 1 <= m  # MPyC's multiplication


@pytest.mark.parametrize("m", [1, 2, 3, 4, 7, 10, 100])
def test_complaint_window_is_f_plus_one_with_equal_power(m):
    assert complaint_window([7] * m) == max_faulty([7] * m) + 1


@pytest.mark.parametrize(
    "powers, window",
    [
        ([1, 1, 1, 10], 1 + 4),  # f = 3; the 3 largest hold 12, capped at ceil(13/3) - 1 = 4
        ([10, 1, 1, 1, 1, 1, 1, 1, 1], 1 + 5),  # f = 5; the 5 largest hold 14, capped at 5
        ([2, 2, 2, 4], 1 + 3 // 2),  # f = 1; the largest holds 4, capped at 3; in units of g = 2
        ([5, 5, 5, 5, 5, 5, 5], 1 + 10 // 5),  # f = 2
        ([1, 1, 1, 1, 100], 1 + 34),  # the big one proposes nearly every block
    ],
)
def test_complaint_window_from_power(powers, window):
    assert complaint_window(powers) == window


@pytest.mark.parametrize("powers", [[], [0, 1], [-1], "abc", None, [1.5], [True, 1], [2**63]])
def test_complaint_window_is_total(powers):
    assert isinstance(complaint_window(powers), Rejected)
