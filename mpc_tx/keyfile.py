"""Key files: one key per JSON file, created with mode 0600.

``{"type": "ed25519", "seed": "<hex>"}`` (attestation and voter keys) or
``{"type": "ristretto255-scalar", "secret": "<hex of LE32(x)>"}`` (encryption keys, 0 < x < l;
docs/PROTOCOL.md §17). A file other users may read or write is refused. Errors name the
file and the problem only, never its content.
"""

import json
import os
import stat

from mpc_tx.protocol.keys import KEY_BYTES, EncryptionKey, SigningKey

__all__ = ["KeyFileError", "load_signing_key", "load_encryption_key", "save_key", "ENC_KEY_TYPE"]

ENC_KEY_TYPE = "ristretto255-scalar"
_TYPES = {SigningKey: ("ed25519", "seed"), EncryptionKey: (ENC_KEY_TYPE, "secret")}
# Key types this code once wrote and no longer reads: say what to do instead of "wrong type".
_RETIRED = {"x25519": "an X25519 key from before ristretto255 keys; it must be regenerated (a new validator home)"}


class KeyFileError(ValueError):
    """A key file that is missing, malformed or of the wrong type."""


def load_signing_key(path) -> SigningKey:
    """Read an ed25519 key file written by save_key()."""
    return SigningKey.from_seed(_read_key_file(path, "ed25519", "seed"))


def load_encryption_key(path) -> EncryptionKey:
    """Read a ristretto255 encryption key file written by save_key()."""
    secret = _read_key_file(path, ENC_KEY_TYPE, "secret")
    try:
        return EncryptionKey.from_secret(secret)
    except ValueError:
        raise KeyFileError(f"key file {os.fspath(path)} has a secret that is not a scalar in 1..l-1") from None


def save_key(key, path, *, overwrite: bool = False) -> None:
    """Write key to a new file readable only by its owner."""
    key_type, field = _TYPES[type(key)]
    _write_key_file(path, {"type": key_type, field: key.secret_bytes().hex()}, overwrite)


def _write_key_file(path, doc: dict, overwrite: bool) -> None:
    data = json.dumps(doc).encode()
    if overwrite:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    # O_EXCL: the mode is set at creation, never widened by an existing file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read_key_file(path, key_type: str, field: str) -> bytes:
    # Errors name the file and the problem only: parser messages may quote content.
    try:
        with open(path, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            raw = f.read()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {os.fspath(path)}: {exc.strerror}") from None
    # As ssh does: a private key others could read may already be someone else's.
    if mode & 0o077:
        raise KeyFileError(
            f"key file {os.fspath(path)} is open to other users (mode {mode:04o}); it must be 0600 (chmod 600)"
        )
    try:
        doc = json.loads(raw)
    except ValueError:
        raise KeyFileError(f"key file {os.fspath(path)} is not JSON") from None
    found = doc.get("type") if isinstance(doc, dict) else None
    if found != key_type:
        if isinstance(found, str) and found in _RETIRED and key_type == ENC_KEY_TYPE:
            raise KeyFileError(f"key file {os.fspath(path)} is {_RETIRED[found]}")
        raise KeyFileError(f"key file {os.fspath(path)} does not hold a key of type {key_type}")
    if set(doc) != {"type", field}:
        raise KeyFileError(f"key file {os.fspath(path)} must hold exactly 'type' and '{field}'")
    value = doc.get(field)
    if not isinstance(value, str) or len(value) != 2 * KEY_BYTES:
        raise KeyFileError(f"key file {os.fspath(path)} has no 32-byte {field}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise KeyFileError(f"key file {os.fspath(path)} has a {field} that is not hex") from None
