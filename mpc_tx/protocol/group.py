"""The ristretto255 group and its scalar field GF(l): the validation layer over rbcl.

This is the only module that touches the curve library. rbcl 1.1.2 bundles
libsodium 1.0.18, which (measured) accepts point encodings with the top bit set,
turns an undecodable encoding into the identity inside add/sub, raises on a zero
scalar or the identity in scalar multiplication, and accepts scalars >= l. So:
points exist only as `Point` values made by `parse_point` (32 bytes, valid, the
canonical re-encoding, an explicit identity policy) or by arithmetic on such
values; scalars are ints in [0, l) made by `parse_scalar`; `base`, `mul` and
`msm` are total (a zero scalar or the identity gives the identity).

Timing: libsodium's scalar multiplications are constant-time, so `base` and `mul`
are the routines for secret scalars (x_i·E, rho·X_i, r_j·D). `msm` is for public
data only, so that a variable-time native routine may replace it. Secret scalar
arithmetic (`secret_mul_add`, `secret_poly_eval`) runs in libsodium too; CPython's
int <-> bytes conversion around it is the one step not strictly constant-time.
"""

import hashlib
import secrets

import rbcl

__all__ = [
    "L",
    "POINT_BYTES",
    "SCALAR_BYTES",
    "Invalid",
    "Point",
    "IDENTITY",
    "G",
    "H",
    "parse_point",
    "parse_scalar",
    "encode_scalar",
    "base",
    "mul",
    "msm",
    "hash_to_scalar",
    "hash_to_point",
    "random_scalar",
    "scalar_from_wide",
    "secret_mul_add",
    "secret_poly_eval",
]

L = 2**252 + 27742317777372353535851937790883648493
POINT_BYTES = 32
SCALAR_BYTES = 32
_IDENTITY_BYTES = bytes(POINT_BYTES)
# RFC 9496's encoding of the base point G.
_BASE_BYTES = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
# Versioned domain tag of the second generator H; see docs/PROTOCOL.md §2.
_H_TAG = b"mpcvote/v1/generator/H"


class Invalid(Exception):
    """An input that fails validation; `reason` names the field, never a secret value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Point:
    """A validated ristretto255 element, held as its canonical 32-byte encoding."""

    __slots__ = ("_encoding",)

    def __init__(self, encoding: bytes, _key=None):
        # Only this module may build a Point: a raw encoding must go through parse_point.
        if _key is not _TRUSTED:
            raise TypeError("make a Point with parse_point, base, mul or msm")
        self._encoding = encoding

    def encode(self) -> bytes:
        """Return the canonical 32-byte encoding."""
        return self._encoding

    def is_identity(self) -> bool:
        """Return whether this is the identity element."""
        return self._encoding == _IDENTITY_BYTES

    def __add__(self, other: "Point") -> "Point":
        if not isinstance(other, Point):
            return NotImplemented
        return _trusted(rbcl.crypto_core_ristretto255_add(self._encoding, other._encoding))

    def __sub__(self, other: "Point") -> "Point":
        if not isinstance(other, Point):
            return NotImplemented
        return _trusted(rbcl.crypto_core_ristretto255_sub(self._encoding, other._encoding))

    def __neg__(self) -> "Point":
        return IDENTITY - self

    def __eq__(self, other) -> bool:
        # Canonical encodings: equal points have equal bytes (and the identity is all zeros).
        return isinstance(other, Point) and self._encoding == other._encoding

    def __hash__(self) -> int:
        return hash(self._encoding)

    def __repr__(self) -> str:
        # Points are public in this protocol (K is revealed only in a complaint).
        return f"Point({self._encoding[:6].hex()}..)"


_TRUSTED = object()


def _trusted(encoding: bytes) -> Point:
    return Point(encoding, _TRUSTED)


IDENTITY = _trusted(_IDENTITY_BYTES)


def parse_point(data, field: str, *, allow_identity: bool = False) -> Point:
    """Return the point encoded by data, or raise Invalid naming field."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Invalid(f"{field}: not bytes")
    data = bytes(data)
    if len(data) != POINT_BYTES:
        raise Invalid(f"{field}: a point is {POINT_BYTES} bytes, got {len(data)}")
    # libsodium 1.0.18 masks the top bit before decoding; RFC 9496 rejects it.
    if data[31] & 0x80:
        raise Invalid(f"{field}: not a canonical point encoding (top bit set)")
    if not rbcl.crypto_core_ristretto255_is_valid_point(data):
        raise Invalid(f"{field}: not a valid ristretto255 encoding")
    # Never trust "every valid encoding is canonical": re-encode and compare.
    if rbcl.crypto_core_ristretto255_add(data, _IDENTITY_BYTES) != data:
        raise Invalid(f"{field}: not the canonical encoding of its point")
    if data == _IDENTITY_BYTES and not allow_identity:
        raise Invalid(f"{field}: the identity is not allowed here")
    return _trusted(data)


def parse_scalar(data, field: str) -> int:
    """Return the scalar encoded by data (32 bytes little-endian, < l), or raise Invalid."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Invalid(f"{field}: not bytes")
    data = bytes(data)
    if len(data) != SCALAR_BYTES:
        raise Invalid(f"{field}: a scalar is {SCALAR_BYTES} bytes, got {len(data)}")
    value = int.from_bytes(data, "little")
    if value >= L:
        raise Invalid(f"{field}: scalar not reduced (>= l)")
    return value


def encode_scalar(value: int) -> bytes:
    """Return the canonical 32-byte little-endian encoding of value mod l."""
    return (value % L).to_bytes(SCALAR_BYTES, "little")


def base(scalar: int) -> Point:
    """Return scalar·G in constant time; zero gives the identity."""
    return _trusted(rbcl.crypto_scalarmult_ristretto255_base_allow_scalar_zero(encode_scalar(scalar)))


def mul(scalar: int, point: Point) -> Point:
    """Return scalar·point in constant time; a zero scalar or the identity gives the identity."""
    if not isinstance(point, Point):
        raise TypeError("mul takes a Point")
    if point._encoding == _BASE_BYTES:
        return base(scalar)  # the same constant-time ladder, on libsodium's precomputed table
    # On the identity result libsodium returns an error and leaves the all-zero
    # output, which is the identity's encoding: no branch on the secret.
    return _trusted(rbcl.crypto_scalarmult_ristretto255_allow_scalar_zero(encode_scalar(scalar), point._encoding))


def msm(scalars, points) -> Point:
    """Return sum(s_j·P_j) over public data; empty or all-zero gives the identity."""
    scalars, points = list(scalars), list(points)
    if len(scalars) != len(points):
        raise ValueError("msm needs as many scalars as points")
    acc = IDENTITY
    for s, p in zip(scalars, points):
        s %= L
        if s == 0 or p.is_identity():
            continue  # public data: skipping is allowed here, never in mul
        # A coefficient of 1 (a sum, or x^0 in a share check) needs no ladder: ~60 µs saved each.
        acc = acc + (p if s == 1 else mul(s, p))
    return acc


def scalar_from_wide(data: bytes) -> int:
    """Return a 64-byte string reduced mod l (little-endian), as in RFC 9496."""
    if len(data) != 64:
        raise ValueError("scalar_from_wide takes 64 bytes")
    return int.from_bytes(data, "little") % L


def hash_to_scalar(data: bytes) -> int:
    """Return SHA-512(data) reduced mod l."""
    return scalar_from_wide(hashlib.sha512(data).digest())


def hash_to_point(data: bytes) -> Point:
    """Return the ristretto255 element of SHA-512(data) by the one-way map."""
    return _trusted(rbcl.crypto_core_ristretto255_from_hash(hashlib.sha512(data).digest()))


def random_scalar() -> int:
    """Return a uniformly random nonzero scalar from the OS generator."""
    while True:
        s = scalar_from_wide(secrets.token_bytes(64))
        if s:
            return s


def secret_mul_add(a: int, b: int, c: int) -> int:
    """Return (a + b·c) mod l with libsodium's constant-time scalar arithmetic."""
    bc = rbcl.crypto_core_ristretto255_scalar_mul(encode_scalar(b), encode_scalar(c))
    return int.from_bytes(rbcl.crypto_core_ristretto255_scalar_add(encode_scalar(a), bc), "little")


def secret_poly_eval(coefficients, x: int) -> int:
    """Return sum_j coefficients[j]·x^j mod l (Horner) with libsodium's scalar arithmetic."""
    xb = encode_scalar(x)
    acc = bytes(SCALAR_BYTES)
    for c in reversed(list(coefficients)):
        acc = rbcl.crypto_core_ristretto255_scalar_add(
            rbcl.crypto_core_ristretto255_scalar_mul(acc, xb), encode_scalar(c)
        )
    return int.from_bytes(acc, "little")


G = base(1)
if G.encode() != _BASE_BYTES:
    raise ImportError("the bundled libsodium's base point is not RFC 9496's")
H = hash_to_point(_H_TAG)
