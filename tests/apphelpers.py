"""Helpers for driving the Application directly: a genesis registry, keys, block runs."""
import base64
import hashlib
import json
import os

from abci_app.app import Application
from abci_app.pb import abci
from mpc_tx import tx as txcodec
from mpc_tx.keys import SigningKey, EncryptionKey

CHAIN = "test-chain"


class Chain:
    """An Application with m registered validators, driven block by block."""

    def __init__(self, home, m=4, params=None):
        self.home = str(home)
        self.attest = [SigningKey.generate() for _ in range(m)]
        self.enc = [EncryptionKey.generate() for _ in range(m)]
        self.cons = [bytes.fromhex(SigningKey.generate().public_hex) for _ in range(m)]   # valid ed25519 points
        self.registry = [{
            "index": i, "name": f"node{i}", "address": hashlib.sha256(self.cons[i]).digest()[:20].hex().upper(),
            "pub_key": base64.b64encode(self.cons[i]).decode(), "power": 10,
            "attest_key": self.attest[i].public_hex, "enc_key": self.enc[i].public_hex,
            "mpc_host": "127.0.0.1", "mpc_port": 40000 + 20 * i, "mpc_ports": 4,
            "tls_cert": "-----BEGIN CERTIFICATE-----\n...", "tls_sha256": f"{i:064x}"} for i in range(m)]
        self.genesis = {"chain_id": CHAIN, "app_state": {"params": params or {}, "validators": self.registry}}
        self.app = Application(self.home)
        self.height = 0
        self.nonces = {}

    def init(self):
        req = abci.RequestInitChain(chain_id=CHAIN, app_state_bytes=json.dumps(self.genesis["app_state"]).encode(),
                                    initial_height=1)
        for c in self.cons:
            req.validators.add(pub_key={"ed25519": c}, power=10)
        return self.app.init_chain(req)

    def reopen(self):
        self.app.close()
        self.app = Application(self.home)

    def tx(self, key, type_, body, nonce=None, chain_id=CHAIN):
        if nonce is None:
            nonce = self.nonces.get(key.public_hex, 0) + 1
            self.nonces[key.public_hex] = nonce
        return txcodec.build(key, chain_id, type_, nonce, body)

    def block(self, *txs, commit=True, block_hash=None):
        self.height += 1
        res = self.app.finalize_block(abci.RequestFinalizeBlock(
            txs=list(txs), height=self.height, hash=block_hash or self.height.to_bytes(32, "big")))
        if commit:
            self.app.commit(abci.RequestCommit())
        return res

    def check(self, raw):
        return self.app.check_tx(abci.RequestCheckTx(tx=raw))

    def query(self, path, data=b""):
        res = self.app.query(abci.RequestQuery(path=path.encode() if isinstance(path, str) else path, data=data))
        return res.code, (json.loads(res.value) if res.value else None)


def poll_body(close_height, kind="unanimity", options=(), voters=None, max_ballots=100,
              max_revotes=2, min_ballots=3, question="Ship it?"):
    return {"question": question, "kind": kind, "options": list(options), "voters": voters,
            "close_height": close_height, "max_ballots": max_ballots, "max_revotes": max_revotes,
            "min_ballots": min_ballots}


def payloads(m, entries=1):
    return [os.urandom(32 + 32 * entries + 16).hex() for _ in range(m)]
