"""Public identities of a CometBFT home: its node id and its consensus key.

Both are derived from key files that also hold private keys; only public parts
leave this module.
"""

import base64
import hashlib
import json
import os

__all__ = ["node_id", "consensus_key", "consensus_address"]

_ED25519_PRIV = "tendermint/PrivKeyEd25519"
_ED25519_PUB = "tendermint/PubKeyEd25519"


def node_id(home) -> str:
    """Return the p2p node id of home: sha256(node public key)[:20] in hex."""
    path = os.path.join(home, "config", "node_key.json")
    priv = _field(path, "priv_key", _ED25519_PRIV)
    # An ed25519 priv_key value is seed (32 bytes) || public key (32 bytes).
    if len(priv) != 64:
        raise ValueError(f"{path}: priv_key is not a 64-byte ed25519 key")
    return hashlib.sha256(priv[32:]).digest()[:20].hex()


def consensus_key(home) -> bytes:
    """Return the 32-byte ed25519 public key the validator in home signs blocks with."""
    path = os.path.join(home, "config", "priv_validator_key.json")
    pub = _field(path, "pub_key", _ED25519_PUB)
    if len(pub) != 32:
        raise ValueError(f"{path}: pub_key is not a 32-byte ed25519 key")
    return pub


def consensus_address(pub_key: bytes) -> str:
    """Return a validator's address as CometBFT prints it: sha256(pub)[:20], upper-case hex."""
    return hashlib.sha256(pub_key).digest()[:20].hex().upper()


def _field(path, name: str, key_type: str) -> bytes:
    # Messages name the file and field only: the file holds a private key.
    with open(path, "rb") as f:
        doc = json.load(f)
    item = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(item, dict) or item.get("type") != key_type:
        raise ValueError(f"{path}: {name} is not of type {key_type}")
    try:
        return base64.b64decode(item.get("value", ""), validate=True)
    except ValueError:
        raise ValueError(f"{path}: {name} is not base64") from None
