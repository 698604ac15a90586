"""Fixtures of the worker tests: a validator's worker on a fake node, with real keys and real ballots (§17)."""

import hashlib
import json
import threading
from types import SimpleNamespace

import pytest

from mpc_tx.keyfile import save_key
from mpc_tx.protocol import canonical, tally, tx as txcodec
from mpc_tx.protocol.group import base, random_scalar
from mpc_tx.protocol.keys import EncryptionKey, SigningKey
from mpc_tx.worker import shares
from mpc_tx.worker.follower import Worker

from protocolhelpers import build_known, reseal

__all__ = ["kit"]

CHAIN, POLL_ID = "mpcvote-test", 7


class Validators:
    """m validators' keys and the poll record a node would serve for poll 7 (t = 1)."""

    def __init__(self, m=4, options=("a", "b", "c")):
        self.m = m
        self.x = [random_scalar() for _ in range(m)]
        self.attest = [SigningKey.generate() for _ in range(m)]
        self.record = {
            "id": POLL_ID,
            "status": "open",
            "kind": "tally" if options else "unanimity",
            "options": list(options),
            "threshold": 1,
            "min_ballots": 0,
            "seed": "00" * 32,
            "mpc_slot": None,
            "mpc_start": None,
            "ballots": 0,
            "ballots_digest": None,
            "counted_fixed_height": None,
            "validators": [
                {
                    "index": i,
                    "attest_key": self.attest[i].public_hex,
                    "enc_key": base(self.x[i]).encode().hex(),
                    "mpc_host": "127.0.0.1",
                    "mpc_port": 30000 + 10 * i,
                    "mpc_ports": 4,
                    "tls_sha256": hashlib.sha256(b"cert %d" % i).hexdigest(),
                }
                for i in range(m)
            ],
        }
        self.ctx = shares.poll_context(CHAIN, self.record)

    def genesis(self, path):
        doc = {
            "chain_id": CHAIN,
            "app_state": {
                "validators": [{**v, "tls_cert": f"-----CERT {v['index']}-----"} for v in self.record["validators"]]
            },
        }
        path.write_text(json.dumps(doc))
        return path

    def home(self, root, i):
        """Write validator i's key files and TLS files under root/i; return the home."""
        home = root / f"v{i}"
        (home / "mpc" / "tls").mkdir(parents=True, exist_ok=True)
        if not (home / "mpc" / "attest_key.json").exists():
            save_key(self.attest[i], home / "mpc" / "attest_key.json")
            save_key(EncryptionKey.from_secret(self.x[i].to_bytes(32, "little")), home / "mpc" / "enc_key.json")
            (home / "mpc" / "tls" / "party.crt").write_text(f"-----CERT {i}-----")
            (home / "mpc" / "tls" / "party.key").write_text("-----KEY-----")
        return home


def ballot_tx(voter: SigningKey, raw_ballot: bytes, nonce=1) -> bytes:
    """Return a signed cast_ballot tx of poll 7 (§17 body)."""
    body = {"poll": POLL_ID, "m": 4, "t": 1, "k": 3, "ballot": raw_ballot.hex()}
    return txcodec.build(voter, CHAIN, "cast_ballot", nonce, body)


def bad_ballot(vals: Validators, voter: bytes, values, i: int, seed=b"bad") -> bytes:
    """Return a ballot whose proofs verify but whose share for validator i does not check."""
    from mpc_tx.protocol.ballot import open_ballot, parse_ballot
    from mpc_tx.protocol.envelope import encode_pairs

    raw, rho = build_known(vals.ctx, values, seed=seed, voter=voter)
    honest = open_ballot(vals.ctx, voter, parse_ballot(vals.ctx, raw), i, vals.x[i])
    wrong = [(honest[0][0] + 1, honest[0][1])] + honest[1:]
    return reseal(vals.ctx, raw, rho, i, encode_pairs(wrong), voter=voter)


class FakeNode:
    """A node that serves poll 7, its ballots and its aggregate (§18), and records every tx broadcast to it."""

    def __init__(self, vals: Validators):
        self.vals = vals
        self.record = vals.record
        self.ballots = {}  # voter hex -> {"voter", "tx", "ballot", "disqualified"}
        self.complaints = []
        self.aggregates = []  # the records of the aggregate posts the node took
        self.aggregate = None  # the /aggregate answer, if not the one of the counted ballots
        self.sent, self.codes, self.nonce, self.top = [], [], 0, 10
        self.lock = threading.Lock()

    def counted(self) -> list:
        """Return the counted ballots' bytes in voter order (not disqualified, not put out by a complaint)."""
        out = {c["ballot_tx"] for c in self.complaints if c["verdict"] == "ballot_bad"}
        return [
            bytes.fromhex(b["ballot"])
            for _, b in sorted(self.ballots.items())
            if not b["disqualified"] and b["tx"] not in out
        ]

    def stored_aggregate(self) -> dict:
        """Return the chain's answer to /poll/7/aggregate: A over the counted ballots, and n."""
        if self.aggregate is not None:
            return self.aggregate
        k, t = max(1, len(self.record["options"])), self.record["threshold"]
        sums = tally.fresh_sums(k, t, [tally.commitments_of(self.vals.ctx, raw) for raw in self.counted()])
        return {"aggregate": sums.encode().hex(), "ballots": len(self.counted())}

    def add(self, voter_hex: str, tx_raw: bytes):
        body = canonical.decode(tx_raw)["body"]
        self.ballots[voter_hex] = {
            "voter": voter_hex,
            "tx": txcodec.tx_hash(tx_raw),
            "ballot": body["ballot"],
            "disqualified": None,
        }

    def height(self):
        return self.top

    def query(self, path):
        pid = POLL_ID
        if path.startswith("/account/"):
            return {"nonce": self.nonce}, None
        if path.startswith("/polls?"):
            return {"polls": [{"id": pid, "status": self.record["status"]}], "next": None}, None
        if path == f"/poll/{pid}":
            return self.record, None
        if path == "/params":
            return {"mpc_attempt_blocks": 30}, None
        if path == f"/poll/{pid}/complaints":
            return {"complaints": self.complaints}, None
        if path == f"/poll/{pid}/aggregate":
            return self.stored_aggregate(), None
        if path == f"/poll/{pid}/aggregates":
            return {"aggregates": self.aggregates}, None
        if path.startswith(f"/poll/{pid}/ballot/"):
            return self.ballots[path.rsplit("/", 1)[1]], None
        if path.startswith(f"/poll/{pid}/ballots?"):
            records = [self.ballots[v] for v in sorted(self.ballots)]
            if "fields=tx" in path:
                records = [{"voter": b["voter"], "tx": b["tx"]} for b in records]
            return {"poll": pid, "ballots": records, "next": None}, None
        raise AssertionError(f"unexpected query {path}")

    def broadcast_tx_sync(self, raw):
        with self.lock:
            self.sent.append(canonical.decode(raw))
            code = self.codes.pop(0) if self.codes else 0
            if code == 0:
                self.nonce = self.sent[-1]["nonce"]
                if self.sent[-1]["type"] == "aggregate":
                    self.aggregates.append(self.sent[-1]["body"])
        return {"code": code, "hash": txcodec.tx_hash(raw), "log": "" if code == 0 else "refused"}


def make_worker(vals: Validators, root, i: int, node: FakeNode, cls=Worker):
    """Return validator i's worker (its real constructor, key files and genesis), talking to node."""
    home = vals.home(root, i)
    genesis = vals.genesis(root / "genesis.json")
    worker = cls(home, i, "http://127.0.0.1:1", str(genesis))
    worker._local = SimpleNamespace(rpc=node)  # every thread's connection is the fake node
    worker.block_interval = 0.0
    return worker


@pytest.fixture
def kit():
    """The worker tests' kit: constants, the validators, a node and the builders above."""
    return SimpleNamespace(
        CHAIN=CHAIN,
        POLL_ID=POLL_ID,
        Validators=Validators,
        FakeNode=FakeNode,
        make_worker=make_worker,
        ballot_tx=ballot_tx,
        bad_ballot=bad_ballot,
    )
