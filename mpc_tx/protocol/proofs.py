"""Sigma proofs made non-interactive by Fiat-Shamir: a log, a bit (CDS), DLEQ, a linked blinding.

Every proof is sent as challenges and responses, each a canonical scalar (< l);
the verifier recomputes the commitments and the challenge. A challenge is
SHA-512 of frame(tag, *context, generators, statement, commitments) reduced mod l:
the caller's context carries the poll header, (m, t, k) and any entry index.
Verifiers raise Invalid with the proof's name; callers turn that into a rejection.
"""

from .encoding import frame
from .group import G, H, Invalid, Point, base, encode_scalar, hash_to_scalar, mul, parse_scalar, secret_mul_add, L

__all__ = [
    "DLOG_BYTES",
    "BIT_BYTES",
    "DLEQ_BYTES",
    "LINK_BYTES",
    "prove_dlog",
    "verify_dlog",
    "prove_bit",
    "verify_bit",
    "prove_dleq",
    "verify_dleq",
    "prove_link",
    "verify_link",
]

DLOG_BYTES = 64
BIT_BYTES = 128
DLEQ_BYTES = 64
LINK_BYTES = 96


def _challenge(tag: bytes, context, *items) -> int:
    return hash_to_scalar(frame(tag, *context, *items))


def _scalars(proof, count: int, name: str) -> list[int]:
    if not isinstance(proof, (bytes, bytearray)) or len(proof) != 32 * count:
        raise Invalid(f"{name}: must be {32 * count} bytes")
    return [parse_scalar(proof[32 * j : 32 * j + 32], f"{name} scalar {j}") for j in range(count)]


def prove_dlog(tag: bytes, context, gen: Point, pub: Point, secret: int, rng) -> bytes:
    """Return a proof of knowledge of secret with pub = secret·gen."""
    w = rng()
    a = mul(w, gen)
    c = _challenge(tag, context, gen, pub, a)
    return encode_scalar(c) + encode_scalar(secret_mul_add(w, c, secret))


def verify_dlog(tag: bytes, context, gen: Point, pub: Point, proof, name: str) -> None:
    """Raise Invalid unless proof shows knowledge of log_gen(pub)."""
    c, z = _scalars(proof, 2, name)
    a = mul(z, gen) - mul(c, pub)
    if _challenge(tag, context, gen, pub, a) != c:
        raise Invalid(f"{name}: does not verify")


def prove_bit(tag: bytes, context, commitment: Point, value: int, blinding: int, rng) -> bytes:
    """Return a CDS proof that commitment = value·G + blinding·H with value in {0, 1}."""
    if value not in (0, 1):
        raise ValueError("a bit proof needs a value of 0 or 1")
    ys = (commitment, commitment - G)
    # The simulated branch is the other value; the client branches on its own vote
    # here (a timing channel on the voter's machine only, docs/PROTOCOL.md §9).
    other = 1 - value
    c_sim, z_sim, w = rng(), rng(), rng()
    a = [None, None]
    a[other] = mul(z_sim, H) - mul(c_sim, ys[other])
    a[value] = mul(w, H)
    c = _challenge(tag, context, H, ys[0], ys[1], a[0], a[1])
    c_real = (c - c_sim) % L
    z_real = secret_mul_add(w, c_real, blinding)
    cs, zs = [0, 0], [0, 0]
    cs[other], zs[other] = c_sim, z_sim
    cs[value], zs[value] = c_real, z_real
    return b"".join(encode_scalar(x) for x in (cs[0], cs[1], zs[0], zs[1]))


def verify_bit(tag: bytes, context, commitment: Point, proof, name: str) -> None:
    """Raise Invalid unless proof shows commitment or commitment - G is a multiple of H."""
    c0, c1, z0, z1 = _scalars(proof, 4, name)
    y0, y1 = commitment, commitment - G
    a0 = mul(z0, H) - mul(c0, y0)
    a1 = mul(z1, H) - mul(c1, y1)
    if _challenge(tag, context, H, y0, y1, a0, a1) != (c0 + c1) % L:
        raise Invalid(f"{name}: does not verify")


def prove_dleq(tag: bytes, context, g1: Point, p1: Point, g2: Point, p2: Point, secret: int, rng) -> bytes:
    """Return a proof that log_g1(p1) = log_g2(p2) = secret."""
    w = rng()
    a1, a2 = mul(w, g1), mul(w, g2)
    c = _challenge(tag, context, g1, p1, g2, p2, a1, a2)
    return encode_scalar(c) + encode_scalar(secret_mul_add(w, c, secret))


def verify_dleq(tag: bytes, context, g1: Point, p1: Point, g2: Point, p2: Point, proof, name: str) -> None:
    """Raise Invalid unless proof shows log_g1(p1) = log_g2(p2)."""
    c, z = _scalars(proof, 2, name)
    a1 = mul(z, g1) - mul(c, p1)
    a2 = mul(z, g2) - mul(c, p2)
    if _challenge(tag, context, g1, p1, g2, p2, a1, a2) != c:
        raise Invalid(f"{name}: does not verify")


def prove_link(tag: bytes, context, v: Point, w: Point, z: Point, a: int, b: int, rng) -> bytes:
    """Return a proof of knowledge of (a, b) with v = a·G + b·H and z = b·w."""
    u1, u2 = rng(), rng()
    t1, t2 = base(u1) + mul(u2, H), mul(u2, w)
    c = _challenge(tag, context, G, H, w, v, z, t1, t2)
    return encode_scalar(c) + encode_scalar(secret_mul_add(u1, c, a)) + encode_scalar(secret_mul_add(u2, c, b))


def verify_link(tag: bytes, context, v: Point, w: Point, z: Point, proof, name: str) -> None:
    """Raise Invalid unless proof shows z = b·w for the b of some opening v = a·G + b·H."""
    c, za, zb = _scalars(proof, 3, name)
    t1 = base(za) + mul(zb, H) - mul(c, v)
    t2 = mul(zb, w) - mul(c, z)
    if _challenge(tag, context, G, H, w, v, z, t1, t2) != c:
        raise Invalid(f"{name}: does not verify")
