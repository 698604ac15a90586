"""Fixtures of the node_config tests: public registry entries made in memory (no cometbft)."""

import base64
import hashlib

import pytest

from mpc_tx.mpc import tls
from mpc_tx.protocol.keys import EncryptionKey, SigningKey


def entry_for(name: str, host: str, chain_id: str, *, port: int = 26670, consensus=None, enc=None) -> dict:
    """Return a valid exported entry of a validator named name at host, bound to chain_id."""
    consensus = consensus or SigningKey.generate()
    enc = enc or EncryptionKey.generate()
    cert, _key = tls.make_party_cert(name, host)
    pub = consensus.public_bytes
    return {
        "chain_id": chain_id,
        "name": name,
        "address": hashlib.sha256(pub).digest()[:20].hex().upper(),
        "pub_key": base64.b64encode(pub).decode(),
        "power": 1,
        "attest_key": SigningKey.generate().public_hex,
        "enc_key": enc.public_hex,
        "enc_proof": enc.prove_possession(chain_id, pub).hex(),
        "mpc_host": host,
        "mpc_port": port,
        "mpc_ports": 4,
        "tls_cert": cert.decode(),
        "tls_sha256": tls.cert_fingerprint(cert),
        "node_id": hashlib.sha256(name.encode()).hexdigest()[:40],
        "p2p": f"{host}:26656",
    }


@pytest.fixture(name="entry_for")
def _entry_for():
    """The entry maker itself, for tests that need particular entries."""
    return entry_for


@pytest.fixture(scope="module")
def entries():
    """Four valid entries of chain mpcvote-t, at 10.0.0.1..4."""
    return [entry_for(f"v{i}", f"10.0.0.{i + 1}", "mpcvote-t") for i in range(4)]


@pytest.fixture(scope="module")
def template():
    """A CometBFT genesis as `cometbft init` writes it (its own fields only matter)."""
    return {
        "genesis_time": "2026-12-01T21:00:00.123Z",
        "chain_id": "test-chain-x",
        "initial_height": "0",
        "consensus_params": {
            "block": {"max_bytes": "22020096", "max_gas": "-1"},
            "evidence": {"max_age_num_blocks": "100000", "max_age_duration": "172800000000000", "max_bytes": "1048576"},
            "validator": {"pub_key_types": ["ed25519"]},
            "version": {"app": "0"},
            "abci": {"vote_extensions_enable_height": "0"},
        },
        "validators": [],
        "app_hash": "",
    }
