"""Shamir sharing over GF(L): layout, reconstruction, and the degree-t consistency test."""

import itertools

import gmpy2
import pytest

from mpc_tx.protocol.sharing import L, on_degree, reconstruct, share, share_vector


def test_field_is_the_ed25519_group_order():
    assert L == 7237005577332262213973186563042994240857116359379907606001950938285454250989
    assert gmpy2.is_prime(L)


@pytest.mark.parametrize("m,t", [(1, 0), (3, 1), (4, 1), (5, 2), (7, 3)])
def test_any_t_plus_one_shares_reconstruct(m, t):
    secret = 123456789 % L
    shares = share(secret, m, t)
    assert len(shares) == m and all(0 <= s < L for s in shares)
    for subset in itertools.combinations(range(m), t + 1):
        assert reconstruct({i: shares[i] for i in subset}) == secret
    assert reconstruct(shares, t) == secret


def test_party_i_holds_f_of_i_plus_one():
    shares = share(42, 3, 1)
    # f(x) = 42 + c x: the slope from f(1), f(2) gives back f(0) and f(3).
    c = (shares[1] - shares[0]) % L
    assert (shares[0] - c) % L == 42
    assert (shares[0] + 2 * c) % L == shares[2]


def test_shares_are_fresh_and_values_reduced():
    assert share(1, 3, 1) != share(1, 3, 1)
    assert reconstruct(share(-1, 3, 1)) == L - 1
    assert share(5, 3, 0) == [5, 5, 5]


def test_share_vector_is_per_party():
    values = [1, 0, 2, L - 1]
    per_party = share_vector(values, 5, 2)
    assert len(per_party) == 5 and all(len(row) == len(values) for row in per_party)
    for e, value in enumerate(values):
        assert reconstruct({i: per_party[i][e] for i in (0, 2, 4)}) == value


@pytest.mark.parametrize("m,t", [(3, 1), (4, 1), (5, 2), (7, 2)])
def test_on_degree_detects_any_single_bad_share(m, t):
    shares = share(7, m, t)
    assert on_degree(shares, t)
    for i in range(m):
        bad = list(shares)
        bad[i] = (bad[i] + 1) % L
        assert not on_degree(bad, t)


def test_on_degree_bounds():
    assert on_degree(share(3, 2, 1), 1)  # m = t+1: any shares fit
    assert on_degree(share(3, 4, 1), 2)  # degree 1 is at most 2
    assert not on_degree(share(3, 4, 2), 1)
    with pytest.raises(ValueError):
        on_degree([1, 2], 2)


def test_reconstruct_with_threshold_checks_consistency():
    shares = share(9, 4, 1)
    assert reconstruct([shares[0], None, shares[2], None], 1) == 9
    shares[3] = (shares[3] + 5) % L
    with pytest.raises(ValueError):
        reconstruct(shares, 1)
    with pytest.raises(ValueError):
        reconstruct({0: shares[0]}, 1)
    with pytest.raises(ValueError):
        reconstruct({})
    with pytest.raises(ValueError):
        share(1, 3, 3)
