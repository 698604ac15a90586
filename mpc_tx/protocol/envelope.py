"""Hashed ElGamal: validator i's share pairs, encrypted under a key derived from rho·X_i = x_i·E.

key = HKDF-SHA256(ikm = K, salt = none, info = frame(TAG_KDF, poll header, voter, i,
E, X_i, commitments digest)); ChaCha20-Poly1305 under that key with a zero nonce
(one key per ballot and validator) and associated data frame(TAG_AD, poll header,
voter, i, E, commitments digest). The plaintext is k pairs (f_e(i+1), g_e(i+1)),
each scalar 32 bytes little-endian; `decode_pairs` is the one decoder shared by the
validator and the complaint judge.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .context import PollContext, ciphertext_size
from .encoding import TAG_AD, TAG_KDF, frame
from .group import SCALAR_BYTES, Invalid, Point, encode_scalar, parse_scalar

__all__ = ["envelope_key", "seal", "open_", "encode_pairs", "decode_pairs"]

_NONCE = bytes(12)


def envelope_key(
    poll: PollContext, voter: bytes, i: int, e_point: Point, k_point: Point, commitments_digest: bytes
) -> bytes:
    """Return the 32-byte AEAD key of validator i's envelope in one ballot."""
    info = frame(TAG_KDF, poll.header, voter, i, e_point, poll.keys[i], commitments_digest)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(k_point.encode())


def _ad(poll, voter, i, e_point, commitments_digest) -> bytes:
    return frame(TAG_AD, poll.header, voter, i, e_point, commitments_digest)


def encode_pairs(pairs) -> bytes:
    """Return the plaintext of k share pairs."""
    return b"".join(encode_scalar(f) + encode_scalar(g) for f, g in pairs)


def decode_pairs(plaintext: bytes, k: int) -> list[tuple[int, int]]:
    """Return k share pairs from exactly k·2·32 bytes of canonical scalars, or raise Invalid."""
    if len(plaintext) != 2 * SCALAR_BYTES * k:
        raise Invalid(f"share: the plaintext is not {k} pairs")
    scalars = [parse_scalar(plaintext[j : j + SCALAR_BYTES], "share") for j in range(0, len(plaintext), SCALAR_BYTES)]
    return list(zip(scalars[0::2], scalars[1::2]))


def seal(
    poll: PollContext, voter: bytes, i: int, e_point: Point, k_point: Point, commitments_digest: bytes, plaintext: bytes
) -> bytes:
    """Return validator i's envelope of plaintext."""
    key = envelope_key(poll, voter, i, e_point, k_point, commitments_digest)
    return ChaCha20Poly1305(key).encrypt(_NONCE, plaintext, _ad(poll, voter, i, e_point, commitments_digest))


def open_(
    poll: PollContext,
    voter: bytes,
    i: int,
    e_point: Point,
    k_point: Point,
    commitments_digest: bytes,
    ciphertext: bytes,
) -> bytes:
    """Return the plaintext of validator i's envelope, or raise Invalid."""
    if len(ciphertext) != ciphertext_size(poll.k):
        raise Invalid(f"envelope {i}: wrong length")
    key = envelope_key(poll, voter, i, e_point, k_point, commitments_digest)
    try:
        return ChaCha20Poly1305(key).decrypt(
            _NONCE, bytes(ciphertext), _ad(poll, voter, i, e_point, commitments_digest)
        )
    except InvalidTag:
        raise Invalid(f"envelope {i}: does not decrypt") from None
