"""The ristretto255 validation layer: canonical points, reduced scalars, total arithmetic."""

import hashlib

import pytest
from hypothesis import given, settings, strategies as st
import rbcl

from mpc_tx.protocol import group
from protocolhelpers import BAD_SCALARS, P_FIELD, bad_point_encodings, point, top_bit
from mpc_tx.protocol.group import (
    G,
    H,
    IDENTITY,
    L,
    Invalid,
    Point,
    base,
    mul,
    msm,
    parse_point,
    parse_scalar,
    encode_scalar,
)


def test_libsodium_quirks_that_the_layer_exists_for():
    valid = point(2).encode()
    assert rbcl.crypto_core_ristretto255_is_valid_point(top_bit(valid))
    assert rbcl.crypto_core_ristretto255_add(valid, b"\x01" * 32) == bytes(32)
    with pytest.raises(RuntimeError):
        rbcl.crypto_scalarmult_ristretto255(bytes(32), valid)


def test_parse_point_accepts_canonical_encodings():
    for seed in range(5):
        p = point(seed)
        assert parse_point(p.encode(), "P") == p


@pytest.mark.parametrize("name", list(bad_point_encodings()))
def test_parse_point_refuses_bad_encodings(name):
    data = bad_point_encodings()[name]
    with pytest.raises(Invalid) as err:
        parse_point(data, "X_3", allow_identity=True)
    assert err.value.reason.startswith("X_3: ")


def test_identity_policy_is_per_field():
    with pytest.raises(Invalid, match="identity"):
        parse_point(bytes(32), "E")
    assert parse_point(bytes(32), "A[0][0]", allow_identity=True) == IDENTITY


def test_parse_point_refuses_non_bytes():
    for data in (None, 5, "00" * 32, [0] * 32):
        with pytest.raises(Invalid):
            parse_point(data, "P")


def test_parse_scalar_bounds():
    assert parse_scalar(bytes(32), "z") == 0
    assert parse_scalar((L - 1).to_bytes(32, "little"), "z") == L - 1
    for name, data in BAD_SCALARS.items():
        with pytest.raises(Invalid) as err:
            parse_scalar(data, "z")
        assert err.value.reason.startswith("z: "), name


def test_points_come_only_from_the_layer():
    with pytest.raises(TypeError):
        Point(point(3).encode())
    with pytest.raises(TypeError):
        point(3) + point(4).encode()


def test_arithmetic_is_total():
    p = point(5)
    assert base(0) == IDENTITY
    assert base(L) == IDENTITY
    assert mul(0, p) == IDENTITY
    assert mul(7, IDENTITY) == IDENTITY
    assert mul(0, IDENTITY) == IDENTITY
    assert msm([], []) == IDENTITY
    assert msm([0, 0], [p, IDENTITY]) == IDENTITY
    assert p - p == IDENTITY
    assert p + IDENTITY == p
    assert IDENTITY.is_identity() and not p.is_identity()


def test_arithmetic_is_the_group_law():
    a, b = 123456789, L - 5
    assert base(a) + base(b) == base(a + b)
    assert mul(a, H) + mul(b, H) == mul((a + b) % L, H)
    assert mul(L - 1, H) == -H
    assert msm([a, b, 3], [G, H, H]) == base(a) + mul(b, H) + mul(3, H)
    assert mul(a, G) == base(a)


def test_generators():
    assert G == base(1)
    assert H == group.hash_to_point(b"mpcvote/v1/generator/H")
    assert H != G and not H.is_identity()
    assert group.hash_to_point(b"mpcvote/v1/generator/H").encode() == rbcl.crypto_core_ristretto255_from_hash(
        hashlib.sha512(b"mpcvote/v1/generator/H").digest()
    )


def test_secret_scalar_arithmetic_matches_ints():
    a, b, c = L - 1, L - 2, 987654321
    assert group.secret_mul_add(a, b, c) == (a + b * c) % L
    coefficients = [L - 3, 5, L - 7, 11]
    x = 4
    assert group.secret_poly_eval(coefficients, x) == sum(cf * x**j for j, cf in enumerate(coefficients)) % L
    assert group.secret_poly_eval([], 3) == 0


def test_scalar_encoding_round_trip():
    for v in (0, 1, L - 1, 2**200):
        assert parse_scalar(encode_scalar(v), "s") == v
    assert encode_scalar(L) == bytes(32)
    assert group.hash_to_scalar(b"x") < L
    assert 0 < group.random_scalar() < L


def test_point_repr_is_short():
    assert len(repr(point(6))) < 24


# An independent decoder written from RFC 9496 §4.3.1, to show the layer accepts exactly what
# an RFC 9496 implementation accepts (libsodium alone does not: the top bit).
_D = (-121665 * pow(121666, -1, P_FIELD)) % P_FIELD
_SQRT_M1 = pow(2, (P_FIELD - 1) // 4, P_FIELD)


def _negative(x: int) -> bool:
    return x % P_FIELD % 2 == 1


def _sqrt_ratio_m1(u: int, v: int):
    p = P_FIELD
    r = (u * pow(v, 3, p)) * pow(u * pow(v, 7, p), (p - 5) // 8, p) % p
    check = v * r * r % p
    correct, flipped, flipped_i = check == u % p, check == -u % p, check == -u * _SQRT_M1 % p
    if flipped or flipped_i:
        r = r * _SQRT_M1 % p
    if _negative(r):
        r = -r % p
    return correct or flipped, r


def rfc9496_accepts(data: bytes) -> bool:
    """Return whether RFC 9496 decoding accepts data."""
    p = P_FIELD
    s = int.from_bytes(data, "little")
    if len(data) != 32 or s >= p or _negative(s):
        return False
    ss = s * s % p
    u1, u2 = (1 - ss) % p, (1 + ss) % p
    u2_sqr = u2 * u2 % p
    v = (-(_D * u1 * u1) - u2_sqr) % p
    was_square, invsqrt = _sqrt_ratio_m1(1, v * u2_sqr % p)
    den_x = invsqrt * u2 % p
    den_y = invsqrt * den_x * v % p
    x = 2 * s * den_x % p
    if _negative(x):
        x = -x % p
    y = u1 * den_y % p
    return was_square and not _negative(x * y % p) and y != 0


def _layer_accepts(data: bytes) -> bool:
    try:
        return parse_point(data, "P", allow_identity=True).encode() == data
    except Invalid:
        return False


def test_the_layer_accepts_exactly_what_rfc9496_accepts():
    samples = [bytes(32), P_FIELD.to_bytes(32, "little"), (P_FIELD - 1).to_bytes(32, "little")]
    samples += [n.to_bytes(32, "little") for n in range(0, 64)]
    for seed in range(40):
        valid = point(seed).encode()
        samples += [
            valid,
            top_bit(valid),
            valid[:1] + bytes([valid[1] ^ 4]) + valid[2:],
            bytes([valid[0] ^ 1]) + valid[1:],
        ]
    samples += [hashlib.sha256(b"%d" % n).digest() for n in range(60)]
    accepted = 0
    for data in samples:
        assert _layer_accepts(data) == rfc9496_accepts(data), data.hex()
        accepted += _layer_accepts(data)
    assert accepted >= 41  # the 40 valid points and the identity, at least


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_any_32_bytes_parse_or_are_refused_with_a_reason(data):
    try:
        p = parse_point(data, "P", allow_identity=True)
    except Invalid as exc:
        assert exc.reason.startswith("P: ")
        assert not rfc9496_accepts(data)
    else:
        assert p.encode() == data and rfc9496_accepts(data)


def test_reasons_never_quote_the_value():
    secret = (L + 123456789).to_bytes(32, "little")
    with pytest.raises(Invalid) as err:
        parse_scalar(secret, "share")
    for rendering in (secret.hex(), str(L + 123456789), str(123456789)):
        assert rendering not in str(err.value)
    bad = top_bit(point(9).encode())
    with pytest.raises(Invalid) as err:
        parse_point(bad, "K")
    assert bad.hex()[:8] not in str(err.value)
