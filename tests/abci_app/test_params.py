"""Chain parameters from genesis: defaults, upper bounds, and the parameters refused."""

import pytest

from abci_app.params import DEFAULTS, LIMITS, resolve


def test_no_parameters_give_the_defaults():
    assert resolve(None) == DEFAULTS
    assert resolve({}) == DEFAULTS
    assert resolve(None) is not DEFAULTS  # a copy: a chain's params never alias the module's


def test_the_defaults_are_consistent():
    assert DEFAULTS["mpc_deadline_blocks"] > DEFAULTS["mpc_attempt_blocks"]
    assert DEFAULTS["min_close_blocks"] < DEFAULTS["max_poll_blocks"]
    assert DEFAULTS["min_ballots_floor"] <= DEFAULTS["max_ballots_limit"]
    assert set(LIMITS) <= set(DEFAULTS)
    assert all(DEFAULTS[key] <= bound for key, bound in LIMITS.items())


def test_a_given_parameter_overrides_only_itself():
    params = resolve({"max_tx_bytes": 1000, "mpc_attempt_blocks": 2})
    assert params["max_tx_bytes"] == 1000 and params["mpc_attempt_blocks"] == 2
    assert {k: v for k, v in params.items() if k not in ("max_tx_bytes", "mpc_attempt_blocks")} == {
        k: v for k, v in DEFAULTS.items() if k not in ("max_tx_bytes", "mpc_attempt_blocks")
    }


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_each_limit_is_inclusive(key):
    given = {key: LIMITS[key]}
    # keep the cross-parameter rules satisfied while one parameter sits at its bound
    if key == "mpc_attempt_blocks":
        given["mpc_deadline_blocks"] = LIMITS[key] + 1
    if key == "min_close_blocks":
        given["max_poll_blocks"] = LIMITS[key] + 1
    if key == "min_ballots_floor":
        given["max_ballots_limit"] = LIMITS[key]
    assert resolve(given)[key] == LIMITS[key]
    with pytest.raises(ValueError, match="at most"):
        resolve({**given, key: LIMITS[key] + 1})


@pytest.mark.parametrize("value", [0, -1, 1 << 63, True, 1.0, "5", None, [5]])
def test_a_value_that_is_not_a_positive_63_bit_integer_is_refused(value):
    with pytest.raises(ValueError, match="positive integer"):
        resolve({"max_voters": value})


def test_an_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown chain parameter 'max_txbytes'"):
        resolve({"max_txbytes": 10})


def test_an_unlimited_parameter_takes_any_63_bit_value():
    assert resolve({"max_voters": (1 << 63) - 1})["max_voters"] == (1 << 63) - 1


@pytest.mark.parametrize(
    "given, message",
    [
        ({"mpc_attempt_blocks": 300, "mpc_deadline_blocks": 300}, "mpc_deadline_blocks must exceed"),
        ({"mpc_attempt_blocks": 40, "mpc_deadline_blocks": 30}, "mpc_deadline_blocks must exceed"),
        ({"min_close_blocks": 100, "max_poll_blocks": 100}, "min_close_blocks must be below"),
        ({"min_ballots_floor": 11, "max_ballots_limit": 10}, "min_ballots_floor must be at most"),
    ],
)
def test_inconsistent_parameters_are_refused(given, message):
    with pytest.raises(ValueError, match=message):
        resolve(given)


def test_the_cross_parameter_rules_admit_their_edges():
    assert resolve({"mpc_attempt_blocks": 29, "mpc_deadline_blocks": 30})["mpc_deadline_blocks"] == 30
    assert resolve({"min_close_blocks": 99, "max_poll_blocks": 100})["min_close_blocks"] == 99
    assert resolve({"min_ballots_floor": 10, "max_ballots_limit": 10})["min_ballots_floor"] == 10
