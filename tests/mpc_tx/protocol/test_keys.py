"""Tests of mpc_tx.protocol.keys: signing keys and encryption keys (key files: test_keyfile)."""

import json

import pytest

from mpc_tx.protocol import group, registry
from mpc_tx.protocol.keys import EncryptionKey, SigningKey, verify
from mpc_tx.keyfile import save_key


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


@pytest.mark.parametrize(
    "public, sig, msg",
    [
        (None, b"\0" * 64, b"m"),
        ("zz" * 32, b"\0" * 64, b"m"),
        ("00" * 31, b"\0" * 64, b"m"),
        ("AB" * 32, b"\0" * 64, b"m"),  # upper case is not the canonical spelling
        ("00" * 32, b"\0" * 64, b"m"),
        ("00" * 32, None, b"m"),
        ("00" * 32, b"\0" * 63, b"m"),
        ("00" * 32, "x" * 64, b"m"),
        ("00" * 32, b"\0" * 64, None),
        ("00" * 32, b"\0" * 64, 5),
        (["not", "hashable"], b"\0" * 64, b"m"),
    ],
)
def test_verify_returns_false_on_garbage(public, sig, msg):
    assert verify(public, sig, msg) is False


def test_verify_rejects_message_given_as_int():
    key = SigningKey.generate()
    sig = key.sign(bytes(5))
    assert not verify(key.public_hex, sig, 5)  # bytes(5) would be five zero bytes
    with pytest.raises(TypeError):
        key.sign(5)


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


def test_encryption_key_is_x_times_g():
    key = EncryptionKey.generate()
    assert 0 < key.scalar < group.L
    assert key.public_bytes == group.base(key.scalar).encode() and len(key.public_bytes) == 32
    assert key.public_hex == key.public_bytes.hex()
    assert key.secret_bytes() == key.scalar.to_bytes(32, "little")
    again = EncryptionKey.from_secret(key.secret_bytes())
    assert again.public_bytes == key.public_bytes and again.scalar == key.scalar
    group.parse_point(key.public_bytes, "X")  # a valid, canonical, non-identity point


@pytest.mark.parametrize(
    "secret",
    [
        bytes(32),  # x = 0: the identity as a key
        group.L.to_bytes(32, "little"),  # x = l: not reduced
        (group.L + 1).to_bytes(32, "little"),  # another spelling of x = 1
        b"\xff" * 32,
        b"\x01" * 31,
        b"\x01" * 33,
        "01" * 32,
        None,
    ],
)
def test_encryption_key_secret_must_be_a_scalar_in_range(secret):
    with pytest.raises(ValueError):
        EncryptionKey.from_secret(secret)


def test_encryption_key_from_the_largest_and_smallest_scalars():
    assert EncryptionKey.from_secret((1).to_bytes(32, "little")).public_bytes == group.G.encode()
    top = EncryptionKey.from_secret((group.L - 1).to_bytes(32, "little"))
    assert top.public_bytes == (-group.G).encode()  # l - 1 = -1


def test_proof_of_possession_binds_chain_and_consensus_key():
    key = EncryptionKey.generate()
    consensus = SigningKey.generate().public_bytes
    proof = key.prove_possession("mpcvote-test", consensus)
    assert len(proof) == registry.PROOF_BYTES
    assert registry.verify_key_possession(b"mpcvote-test", consensus, key.public_bytes, proof) == group.parse_point(
        key.public_bytes, "X"
    )
    other = SigningKey.generate().public_bytes
    for chain, ck in ((b"mpcvote-other", consensus), (b"mpcvote-test", other)):
        assert isinstance(registry.verify_key_possession(chain, ck, key.public_bytes, proof), registry.Rejected)
    # Another key cannot reuse the proof.
    stranger = EncryptionKey.generate().public_bytes
    assert isinstance(registry.verify_key_possession(b"mpcvote-test", consensus, stranger, proof), registry.Rejected)


@pytest.mark.parametrize("chain_id, consensus", [(b"bytes", bytes(32)), ("", bytes(32)), ("c", bytes(31))])
def test_proof_of_possession_refuses_bad_identities(chain_id, consensus):
    with pytest.raises(ValueError):
        EncryptionKey.generate().prove_possession(chain_id, consensus)
