"""Tests of mpc_tx.protocol.keys: signing keys, encryption keys, key files."""
import json
import os
import stat

import pytest

from mpc_tx.protocol.keys import EncryptionKey, SigningKey, verify
from mpc_tx.keyfile import KeyFileError, load_signing_key, load_encryption_key, save_key


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _seed_hex(key: SigningKey, tmp_path) -> str:
    path = tmp_path / "peek.json"
    save_key(key, path)
    return json.loads(path.read_text())["seed"]


def test_sign_and_verify():
    key = SigningKey.generate()
    sig = key.sign(b"poll 7 closes")
    assert len(sig) == 64 and len(key.public_hex) == 64
    assert verify(key.public_hex, sig, b"poll 7 closes")
    assert not verify(key.public_hex, sig, b"poll 8 closes")
    assert not verify(SigningKey.generate().public_hex, sig, b"poll 7 closes")


def test_from_seed_is_deterministic():
    seed = bytes(range(32))
    assert SigningKey.from_seed(seed).public_hex == SigningKey.from_seed(seed).public_hex
    with pytest.raises(ValueError):
        SigningKey.from_seed(b"short")


@pytest.mark.parametrize("public, sig, msg", [
    (None, b"\0" * 64, b"m"),
    ("zz" * 32, b"\0" * 64, b"m"),
    ("00" * 31, b"\0" * 64, b"m"),
    ("AB" * 32, b"\0" * 64, b"m"),      # upper case is not the canonical spelling
    ("00" * 32, b"\0" * 64, b"m"),
    ("00" * 32, None, b"m"),
    ("00" * 32, b"\0" * 63, b"m"),
    ("00" * 32, "x" * 64, b"m"),
    ("00" * 32, b"\0" * 64, None),
    ("00" * 32, b"\0" * 64, 5),
    (["not", "hashable"], b"\0" * 64, b"m"),
])
def test_verify_returns_false_on_garbage(public, sig, msg):
    assert verify(public, sig, msg) is False


def test_verify_rejects_message_given_as_int():
    key = SigningKey.generate()
    sig = key.sign(bytes(5))
    assert not verify(key.public_hex, sig, 5)   # bytes(5) would be five zero bytes
    with pytest.raises(TypeError):
        key.sign(5)


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


@pytest.mark.parametrize("content", [
    b"", b"not json", b"[]", b'{"type":"ed25519"}', b'{"type":"ed25519","seed":"00"}',
    b'{"type":"ed25519","seed":"' + b"zq" * 32 + b'"}',
])
def test_load_rejects_malformed_files_without_quoting_them(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as info:
        load_signing_key(path)
    assert "zq" not in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(KeyFileError):
        load_encryption_key(tmp_path / "absent.json")


def test_reprs_hide_secrets(tmp_path):
    sk = SigningKey.generate()
    seed = _seed_hex(sk, tmp_path)
    for text in (repr(sk), str(sk), f"{sk}"):
        assert sk.public_hex in text and seed not in text
    ek = EncryptionKey.generate()
    path = tmp_path / "e.json"
    save_key(ek, path)
    secret = json.loads(path.read_text())["secret"]
    for text in (repr(ek), str(ek)):
        assert ek.public_hex in text and secret not in text


def test_keys_do_not_pickle():
    import pickle
    for key in (SigningKey.generate(), EncryptionKey.generate()):
        with pytest.raises(TypeError):
            pickle.dumps(key)
