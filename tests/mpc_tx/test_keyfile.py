"""Tests of mpc_tx.keyfile: key files round trip with mode 0600, refuse to overwrite, never quote content."""

import json
import os
import stat

import pytest

from mpc_tx.keyfile import KeyFileError, load_encryption_key, load_signing_key, save_key
from mpc_tx.protocol.keys import EncryptionKey, SigningKey, verify


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


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
    assert doc["type"] == "x25519" and len(bytes.fromhex(doc["secret"])) == 32
    loaded = load_encryption_key(path)
    assert loaded.public_hex == key.public_hex
    other = EncryptionKey.generate()
    assert loaded.exchange(other.public_bytes) == other.exchange(key.public_bytes)


def test_load_checks_the_key_type(tmp_path):
    path = tmp_path / "enc.json"
    save_key(EncryptionKey.generate(), path)
    with pytest.raises(KeyFileError):
        load_signing_key(path)


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
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as info:
        load_signing_key(path)
    assert "zq" not in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(KeyFileError):
        load_encryption_key(tmp_path / "absent.json")
