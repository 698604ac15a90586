"""Tests of mpc_tx.keyfile: key files round trip with mode 0600, refuse to overwrite, never quote content."""

import json
import os
import stat

import pytest

from mpc_tx.keyfile import KeyFileError, load_encryption_key, load_signing_key, save_key
from mpc_tx.protocol import group
from mpc_tx.protocol.keys import EncryptionKey, SigningKey, verify


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _write_private(path, data) -> None:
    """Write a hand-made key file as save_key would: mode 0600."""
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, 0o600)


def test_signing_key_file_round_trip_and_mode(tmp_path):
    key = SigningKey.generate()
    path = tmp_path / "attest_key.json"
    save_key(key, path)
    assert _mode(path) == 0o600
    doc = json.loads(path.read_text())
    assert doc["type"] == "ed25519" and len(bytes.fromhex(doc["seed"])) == 32
    loaded = load_signing_key(path)
    assert loaded.public_hex == key.public_hex
    assert verify(key.public_hex, loaded.sign(b"x"), b"x")


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "k.json"
    save_key(SigningKey.generate(), path)
    with pytest.raises(FileExistsError):
        save_key(SigningKey.generate(), path)
    os.chmod(path, 0o644)
    key = SigningKey.generate()
    save_key(key, path, overwrite=True)
    assert _mode(path) == 0o600
    assert load_signing_key(path).public_hex == key.public_hex


def test_encryption_key_file_round_trip_and_mode(tmp_path):
    key = EncryptionKey.generate()
    path = tmp_path / "enc_key.json"
    save_key(key, path)
    assert _mode(path) == 0o600
    doc = json.loads(path.read_text())
    assert doc == {"type": "ristretto255-scalar", "secret": key.secret_bytes().hex()}
    assert int.from_bytes(bytes.fromhex(doc["secret"]), "little") == key.scalar
    loaded = load_encryption_key(path)
    assert loaded.public_hex == key.public_hex and loaded.scalar == key.scalar


def test_an_x25519_key_file_must_be_regenerated(tmp_path):
    path = tmp_path / "enc_key.json"
    _write_private(path, json.dumps({"type": "x25519", "secret": "ab" * 32}))
    with pytest.raises(KeyFileError) as info:
        load_encryption_key(path)
    assert "X25519" in str(info.value) and "regenerated" in str(info.value)
    assert "ab" * 32 not in str(info.value)


@pytest.mark.parametrize(
    "secret",
    [
        bytes(32).hex(),  # x = 0
        group.L.to_bytes(32, "little").hex(),  # not reduced
        "ff" * 32,
        "zq" * 32,
        "01" * 31,
        987654321987,  # not a string (a number no tmp path holds)
    ],
)
def test_an_encryption_key_file_out_of_range_or_malformed_is_refused_without_quoting(tmp_path, secret):
    path = tmp_path / "enc_key.json"
    _write_private(path, json.dumps({"type": "ristretto255-scalar", "secret": secret}))
    with pytest.raises(KeyFileError) as info:
        load_encryption_key(path)
    assert str(secret) not in str(info.value) and str(path) in str(info.value)


def test_a_key_file_with_extra_fields_is_refused(tmp_path):
    path = tmp_path / "enc_key.json"
    save_key(EncryptionKey.generate(), path)
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(dict(doc, public="00" * 32)))
    with pytest.raises(KeyFileError):
        load_encryption_key(path)


def test_load_checks_the_key_type(tmp_path):
    path = tmp_path / "enc.json"
    save_key(EncryptionKey.generate(), path)
    with pytest.raises(KeyFileError):
        load_signing_key(path)
    save_key(SigningKey.generate(), tmp_path / "sign.json")
    with pytest.raises(KeyFileError):
        load_encryption_key(tmp_path / "sign.json")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"type":"ed25519"}',
        b'{"type":"ed25519","seed":"00"}',
        b'{"type":"ed25519","seed":"' + b"zq" * 32 + b'"}',
    ],
)
def test_load_rejects_malformed_files_without_quoting_them(tmp_path, content):
    path = tmp_path / "bad.json"
    _write_private(path, content)
    with pytest.raises(KeyFileError) as info:
        load_signing_key(path)
    assert "zq" not in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(KeyFileError):
        load_encryption_key(tmp_path / "absent.json")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666, 0o602])
def test_a_key_file_open_to_other_users_is_refused(tmp_path, mode):
    path = tmp_path / "enc_key.json"
    save_key(EncryptionKey.generate(), path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*must be 0600"):
        load_encryption_key(path)
    os.chmod(path, 0o400)  # read-only for its owner is fine
    load_encryption_key(path)
