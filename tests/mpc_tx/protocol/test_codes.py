"""Return codes: one name per value, NAMES lists every code, a TxError shows its code's name and reason only."""

from mpc_tx.protocol import codes


def _constants():
    return {name: getattr(codes, name) for name in codes.__all__ if name.isupper() and name != "NAMES"}


def test_every_code_has_its_own_value():
    values = list(_constants().values())
    assert all(type(v) is int for v in values)
    assert len(set(values)) == len(values)
    assert codes.OK == 0


def test_names_lists_every_code_under_its_name():
    assert codes.NAMES == {value: name for name, value in _constants().items()}


def test_every_code_is_exported():
    exported = {n for n in codes.__all__ if n.isupper()}
    defined = {n for n, v in vars(codes).items() if n.isupper() and type(v) is int}
    assert defined <= exported


def test_tx_error_carries_code_and_reason():
    err = codes.TxError(codes.BAD_BALLOT, "payloads must be hex")
    assert err.code == codes.BAD_BALLOT and err.reason == "payloads must be hex"
    assert str(err) == "payloads must be hex"
    assert repr(err) == "TxError(BAD_BALLOT, 'payloads must be hex')"


def test_tx_error_repr_holds_nothing_but_code_name_and_reason():
    secret = "5ecre7" * 10
    err = codes.TxError(codes.BAD_SIGNATURE, "signature does not verify")
    err.key = secret  # whatever a caller hangs on it does not reach the repr
    assert secret not in repr(err) and secret not in str(err)
    assert repr(codes.TxError(1234, "x")) == "TxError(1234, 'x')"
