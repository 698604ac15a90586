"""Keys of voters and validators: ed25519 to sign, ristretto255 to receive ballot shares.

The arithmetic only; key files are I/O and live in mpc_tx.keyfile. Secret bytes
never appear in a repr, a log line or an error message.
"""

import nacl.bindings as nacl_bindings
import nacl.exceptions as nacl_exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from . import group, registry

__all__ = ["SigningKey", "EncryptionKey", "verify"]

KEY_BYTES = 32
SIGNATURE_BYTES = 64
_HEX_DIGITS = frozenset("0123456789abcdef")
_RAW = dict(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)


class _Key:
    """What both key kinds share: the public half, a repr without the secret, no pickling."""

    __slots__ = ("public_bytes",)

    @property
    def public_hex(self) -> str:
        """Return the 32-byte public key as lower-case hex."""
        return self.public_bytes.hex()

    def __repr__(self):
        return f"{type(self).__name__}(public={self.public_hex})"

    __str__ = __repr__

    def __reduce__(self):
        # Pickling would copy the secret into places (queues, caches) nobody audits.
        name = type(self).__name__
        article = "an" if name[0] in "AEIOU" else "a"
        raise TypeError(f"{article} {name} is not picklable; pass its key file instead")


class SigningKey(_Key):
    """An ed25519 key that signs attestations, votes and other transactions."""

    __slots__ = ("_private",)

    def __init__(self, private):
        self._private = private
        self.public_bytes = private.public_key().public_bytes(**_RAW)

    @classmethod
    def generate(cls) -> "SigningKey":
        """Create a fresh random key."""
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "SigningKey":
        """Rebuild the key from its 32-byte seed."""
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != KEY_BYTES:
            raise ValueError("an ed25519 seed is 32 bytes")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    def secret_bytes(self) -> bytes:
        """Return the 32-byte seed: for writing a key file (mpc_tx.keyfile), nothing else."""
        return self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def sign(self, msg: bytes) -> bytes:
        """Sign msg; the 64-byte signature covers exactly these bytes."""
        if not isinstance(msg, (bytes, bytearray, memoryview)):
            raise TypeError("sign() takes the message as bytes")
        return self._private.sign(bytes(msg))


class EncryptionKey(_Key):
    """A validator's ristretto255 key X = x·G, to which voters encrypt its shares of their ballots."""

    __slots__ = ("_x",)

    def __init__(self, x: int):
        if type(x) is not int or not 0 < x < group.L:
            raise ValueError("an encryption key's secret is a scalar in 1..l-1")
        self._x = x
        self.public_bytes = group.base(x).encode()

    @classmethod
    def generate(cls) -> "EncryptionKey":
        """Create a fresh random key."""
        return cls(group.random_scalar())

    @classmethod
    def from_secret(cls, secret: bytes) -> "EncryptionKey":
        """Rebuild the key from LE32(x), 0 < x < l (ValueError otherwise)."""
        if not isinstance(secret, (bytes, bytearray)) or len(secret) != KEY_BYTES:
            raise ValueError("an encryption key's secret is 32 bytes")
        # Reduced and nonzero only: one key, one spelling, and never the identity.
        return cls(int.from_bytes(bytes(secret), "little"))

    @property
    def scalar(self) -> int:
        """Return the secret x: for opening envelopes (ballot.open_ballot) and complaints, nothing else."""
        return self._x

    def secret_bytes(self) -> bytes:
        """Return LE32(x): for writing a key file (mpc_tx.keyfile), nothing else."""
        return group.encode_scalar(self._x)

    def prove_possession(self, chain_id: str, consensus_key: bytes) -> bytes:
        """Return the 64-byte proof that the holder of consensus_key knows x, on chain chain_id (§15)."""
        if not isinstance(chain_id, str):
            raise ValueError("chain_id is a string")
        try:
            _key, proof = registry.prove_key_possession(chain_id.encode(), bytes(consensus_key), self._x)
        except group.Invalid as exc:
            raise ValueError(exc.reason) from None
        return proof


def verify(public_hex: str, signature: bytes, msg: bytes) -> bool:
    """Tell whether signature is public_hex's ed25519 signature of msg; never raise."""
    try:
        if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE_BYTES:
            return False
        if not isinstance(msg, (bytes, bytearray, memoryview)):
            return False
        if not _is_key_hex(public_hex):
            return False
        # libsodium verifies about twice as fast as OpenSSL here, and it is on the
        # consensus path (every CheckTx). It is also the stricter of the two
        # (canonical S, no small-order keys); every node runs the same pinned version.
        nacl_bindings.crypto_sign_open(bytes(signature) + bytes(msg), bytes.fromhex(public_hex))
        return True
    except (InvalidSignature, nacl_exceptions.BadSignatureError, nacl_exceptions.CryptoError, TypeError, ValueError):
        return False


def _is_key_hex(text) -> bool:
    # Only the canonical lower-case form: one key, one spelling.
    return isinstance(text, str) and len(text) == 2 * KEY_BYTES and _HEX_DIGITS.issuperset(text)
