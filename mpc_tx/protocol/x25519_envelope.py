"""Envelopes: one validator's Shamir shares of one ballot, encrypted to that validator.

payload = eph_pub (32 bytes) || ChaCha20-Poly1305 ciphertext of the shares, each
32 bytes big-endian. The key is HKDF-SHA256 of the X25519 secret between a fresh
ephemeral key and the validator's encryption key; the associated data binds the
chain, poll, voter and validator index, so a payload opens only where it was sealed.
"""

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

from . import canonical
from .keys import EncryptionKey

# The share field GF(L), L the prime order of the Ed25519 group; re-exported for callers.
from .sharing import L

__all__ = ["EnvelopeError", "L", "SHARE_BYTES", "payload_size", "seal", "open_"]

DOMAIN = b"mpcvote/ballot/v1"
SHARE_BYTES = 32
_PUB_BYTES = 32
_TAG_BYTES = 16
# Each payload has its own ephemeral key, hence its own AEAD key: a fixed nonce is safe.
_NONCE = bytes(12)


class EnvelopeError(ValueError):
    """A payload that cannot be sealed or opened (the message never holds a secret)."""


def payload_size(entries: int) -> int:
    """Return the byte length of a payload that carries entries shares."""
    return _PUB_BYTES + SHARE_BYTES * entries + _TAG_BYTES


def seal(enc_public_hex: str, shares: list[int], *, chain_id: str, poll_id, voter, validator: int) -> bytes:
    """Encrypt shares to the validator whose encryption key is enc_public_hex."""
    recipient = _public_bytes(enc_public_hex)
    if not isinstance(shares, (list, tuple)) or not shares:
        raise EnvelopeError("shares must be a non-empty list of field elements")
    if not all(type(s) is int and 0 <= s < L for s in shares):
        raise EnvelopeError("every share must be an int in [0, L)")
    ad = _associated_data(chain_id, poll_id, voter, validator)
    plaintext = b"".join(s.to_bytes(SHARE_BYTES, "big") for s in shares)
    ephemeral = EncryptionKey.generate()
    try:
        secret = ephemeral.exchange(recipient)
    except ValueError:
        raise EnvelopeError("the validator's encryption key is not a usable X25519 key") from None
    key = _derive(secret, ephemeral.public_bytes, recipient)
    return ephemeral.public_bytes + ChaCha20Poly1305(key).encrypt(_NONCE, plaintext, ad)


def open_(
    enc_key: EncryptionKey, payload: bytes, *, chain_id: str, poll_id, voter, validator: int, entries: int
) -> list[int]:
    """Decrypt and check a payload sealed to enc_key; return its entries shares."""
    if type(entries) is not int or entries < 1:
        raise EnvelopeError("entries must be a positive int")
    if not isinstance(payload, (bytes, bytearray)):
        raise EnvelopeError("payload must be bytes")
    if len(payload) != payload_size(entries):
        raise EnvelopeError(f"payload is {len(payload)} bytes, expected {payload_size(entries)} for {entries} shares")
    ad = _associated_data(chain_id, poll_id, voter, validator)
    eph_pub, ciphertext = bytes(payload[:_PUB_BYTES]), bytes(payload[_PUB_BYTES:])
    try:
        secret = enc_key.exchange(eph_pub)
        key = _derive(secret, eph_pub, enc_key.public_bytes)
        plaintext = ChaCha20Poly1305(key).decrypt(_NONCE, ciphertext, ad)
    except (InvalidTag, ValueError):
        # One message for every cause: which check failed tells an attacker nothing useful.
        raise EnvelopeError(
            "payload does not open: not sealed to this validator for this chain, poll and voter"
        ) from None
    shares = [int.from_bytes(plaintext[i : i + SHARE_BYTES], "big") for i in range(0, len(plaintext), SHARE_BYTES)]
    if not all(s < L for s in shares):
        raise EnvelopeError("payload holds a share outside the field [0, L)")
    return shares


def _associated_data(chain_id, poll_id, voter, validator) -> bytes:
    if not isinstance(chain_id, str) or not chain_id:
        raise EnvelopeError("chain_id must be a non-empty string")
    if type(validator) is not int or validator < 0:
        raise EnvelopeError("validator must be a party index (int >= 0)")
    try:
        return canonical.encode({"chain_id": chain_id, "poll": poll_id, "voter": voter, "validator": validator})
    except canonical.CanonicalError as exc:
        raise EnvelopeError(f"cannot bind the payload to its context: {exc}") from None


def _derive(secret: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    # Both public keys go into info so the key is tied to this exact exchange.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=DOMAIN, info=DOMAIN + eph_pub + recipient_pub).derive(secret)


def _public_bytes(enc_public_hex) -> bytes:
    try:
        raw = bytes.fromhex(enc_public_hex)
        x25519.X25519PublicKey.from_public_bytes(raw)
    except (TypeError, ValueError):
        raise EnvelopeError("enc_public_hex must be a 32-byte X25519 public key in hex") from None
    return raw
