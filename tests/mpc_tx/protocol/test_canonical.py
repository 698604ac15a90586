"""The one canonical encoding: sorted keys, no white space, no floats, bounded depth, one encoding per value."""

import pytest

from mpc_tx.protocol.canonical import CanonicalError, decode, encode


@pytest.mark.parametrize(
    "value",
    [
        0,
        -(1 << 63),
        (1 << 63) - 1,
        "",
        "é ✓ \n \" \\",
        True,
        False,
        None,
        [],
        {},
        [1, "a", None, [True]],
        {"b": 1, "a": {"d": [], "c": "x"}},
    ],
)
def test_round_trip(value):
    assert decode(encode(value)) == value
    assert encode(decode(encode(value))) == encode(value)


def test_keys_sorted_and_no_white_space():
    assert (
        encode({"b": 1, "a": [1, 2], "c": {"z": None, "y": "é"}}) == '{"a":[1,2],"b":1,"c":{"y":"é","z":null}}'.encode()
    )


def test_dict_order_does_not_change_the_bytes():
    assert encode({"x": 1, "y": 2}) == encode({"y": 2, "x": 1})


@pytest.mark.parametrize(
    "value",
    [1.0, 1.5, [0.5], {"a": float("nan")}, b"bytes", (1, 2), {1: "a"}, 1 << 63, -(1 << 63) - 1, [1 << 64], "\ud800"],
)
def test_refuses_what_has_no_canonical_encoding(value):
    with pytest.raises(CanonicalError):
        encode(value)


def test_depth_is_bounded():
    deep = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CanonicalError, match="deeply"):
        encode(deep)
    shallow = 1
    for _ in range(10):
        shallow = {"a": shallow}
    assert decode(encode(shallow)) == shallow


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 1}',  # a space
        b' {"a":1}',
        b'{"a":1}\n',
        b'{"a":1,"a":2}',  # a duplicate key
        b"1.0",
        b"1e3",
        b"NaN",
        b"Infinity",
        b'"\\u0041"',  # an escape where the character itself is the encoding
        b"01",
        b"-0",
        b"\xff",
        b"",
        b"[1,]",
        b'"\\ud800"',  # a lone surrogate
        b"9223372036854775808",  # one past the 64-bit range
    ],
)
def test_decode_refuses_every_other_encoding(data):
    with pytest.raises(CanonicalError):
        decode(data)


def test_decode_refuses_deep_nesting_without_a_recursion_error():
    with pytest.raises(CanonicalError):
        decode(b"[" * 100000 + b"]" * 100000)
