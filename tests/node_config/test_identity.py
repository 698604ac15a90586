"""A CometBFT home's public identities, read from key files built here (no cometbft process)."""

import base64
import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, PrivateFormat, NoEncryption

from node_config.identity import consensus_address, consensus_key, node_id


def _raw_keys():
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return seed, public


def _home(tmp_path, node_key=None, validator_key=None):
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    if node_key is not None:
        (config / "node_key.json").write_text(json.dumps(node_key))
    if validator_key is not None:
        (config / "priv_validator_key.json").write_text(json.dumps(validator_key))
    return tmp_path


def _b64(raw):
    return base64.b64encode(raw).decode()


def test_node_id_is_sha256_of_the_public_half_cut_to_20_bytes(tmp_path):
    seed, public = _raw_keys()
    home = _home(tmp_path, node_key={"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": _b64(seed + public)}})
    assert node_id(home) == hashlib.sha256(public).digest()[:20].hex()
    assert node_id(str(home)) == node_id(home) and len(node_id(home)) == 40


def test_consensus_key_and_address(tmp_path):
    seed, public = _raw_keys()
    home = _home(
        tmp_path,
        validator_key={
            "address": "",
            "pub_key": {"type": "tendermint/PubKeyEd25519", "value": _b64(public)},
            "priv_key": {"type": "tendermint/PrivKeyEd25519", "value": _b64(seed + public)},
        },
    )
    assert consensus_key(home) == public
    address = consensus_address(public)
    assert address == hashlib.sha256(public).hexdigest()[:40].upper()


@pytest.mark.parametrize(
    "doc",
    [
        {"priv_key": {"type": "tendermint/PrivKeySecp256k1", "value": _b64(os.urandom(64))}},
        {"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": _b64(os.urandom(32))}},
        {"priv_key": {"type": "tendermint/PrivKeyEd25519", "value": "not base64!"}},
        {"priv_key": "x"},
        {},
        [],
    ],
)
def test_bad_node_keys_are_refused_without_showing_the_key(tmp_path, doc):
    home = _home(tmp_path, node_key=doc)
    with pytest.raises(ValueError) as err:
        node_id(home)
    assert "node_key.json" in str(err.value)
    value = (
        doc.get("priv_key", {}).get("value")
        if isinstance(doc, dict) and isinstance(doc.get("priv_key"), dict)
        else None
    )
    if value:
        assert value not in str(err.value)


def test_bad_validator_keys_are_refused(tmp_path):
    home = _home(tmp_path, validator_key={"pub_key": {"type": "tendermint/PubKeyEd25519", "value": _b64(b"x" * 33)}})
    with pytest.raises(ValueError, match="32-byte"):
        consensus_key(home)
    with pytest.raises(FileNotFoundError):
        node_id(home)
