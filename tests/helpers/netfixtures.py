"""A real testnet for tests: cometbft nodes, apps (and workers) on loopback, stopped by PID."""

import base64
import contextlib
import json
import threading
import time
from pathlib import Path

from mpc_tx.client.ballot import build_ballot
from mpc_tx.client.cli import Client, Session
from mpc_tx.keyfile import load_encryption_key, load_signing_key
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import Rpc, RpcError
from node_config.lifecycle import Testnet
from node_config.ports import STRIDE, free_port_base

__all__ = [
    "FAULTY_APP",
    "FAULTY_WORKER",
    "BAD_TXS_ENV",
    "client",
    "make_testnet",
    "running_testnet",
    "Voters",
    "search_count",
    "block_search_count",
    "wait_committed",
    "faulty_worker",
    "write_bad_txs",
    "validator_secrets",
    "registry_enc_keys",
    "wait_for",
    "tx_events",
    "committed",
    "block_txs",
]

# Test entry points with fault switches (what a validator runs has none).
FAULTY_APP = Path(__file__).resolve().parents[1] / "faults" / "app.py"
FAULTY_WORKER = Path(__file__).resolve().parents[1] / "faults" / "worker.py"
# The ballot-proposer's file of txs to add to its proposals (tests/faults/app.py).
BAD_TXS_ENV = "MPCVOTE_BAD_TXS"


def client(net, i=0):
    """A client of node i; the clients of one testnet share a Session (each read sees every commit made)."""
    if not hasattr(net, "session"):
        net.session = Session()
    return Client(net.rpc_url(i), genesis=str(net.genesis_path()), session=net.session)


def make_testnet(tmp, validators=4, **options):
    # Each test run takes its own free port range, so a developer's own testnet (26600+) is untouched.
    net = Testnet(Path(tmp) / "net")
    net.generate(
        validators,
        port_base=free_port_base(STRIDE * validators),
        block_time=options.pop("block_time", "200ms"),
        **options,
    )
    return net


@contextlib.contextmanager
def running_testnet(tmp, workers: bool, params: dict | None = None, faulty_apps: dict | None = None):
    """A 4-validator testnet committing blocks; every process it started is stopped by PID after.

    faulty_apps: {validator: (fault, extra env)}, apps started from tests/faults/app.py.
    """
    net = make_testnet(tmp)
    if params:
        net.set_params(params)
    try:
        for i in range(4):
            if faulty_apps and i in faulty_apps:
                fault, env = faulty_apps[i]
                net.start(i, "app", env={"MPCVOTE_FAULT": fault, **env}, entry=str(FAULTY_APP))
            net.start_validator(i, worker=workers)
        net.wait_height(2, timeout=90)
        yield net
    finally:
        net.down()


class Voters:
    """Voter keys that submit ballots through several nodes concurrently, and remember what they sent."""

    def __init__(self, net, n):
        self.net = net
        self.keys = [SigningKey.generate() for _ in range(n)]
        self.genesis = json.loads(net.genesis_path().read_text())
        self.sent = {}  # tx hash -> (voter, choice)
        self.raw = {}  # tx hash -> the tx's bytes (to send again through another node)
        self.nonce = {}

    def ballot(self, poll, voter, choice):
        nonce = self.nonce[voter.public_hex] = max(self.nonce.get(voter.public_hex, 0) + 1, time.time_ns() // 1000)
        return build_ballot(voter, poll, choice, self.genesis["chain_id"], nonce, self.genesis)

    def submit_all(self, poll, choices, threads=4, nodes=None):
        """Submit one ballot per voter (choices[i] for voter i), spread over the nodes; return tx hashes."""
        nodes = nodes or list(range(len(self.net.validators)))
        work = list(enumerate(choices))
        hashes, errors, lock = [], [], threading.Lock()

        def run(worker_index):
            rpcs = {i: Rpc(self.net.rpc_url(i)) for i in nodes}
            while True:
                with lock:
                    if not work:
                        return
                    i, choice = work.pop()
                node = nodes[i % len(nodes)]
                raw = self.ballot(poll, self.keys[i], choice)
                for attempt in range(20):  # a node that is down: try the next one
                    try:
                        res = rpcs[node].broadcast_tx_sync(raw)
                        break
                    except Exception:
                        node = nodes[(nodes.index(node) + 1) % len(nodes)]
                        time.sleep(0.1)
                else:
                    with lock:
                        errors.append(f"voter {i}: no node reachable")
                    continue
                with lock:
                    if int(res["code"]) == 0:
                        hashes.append(res["hash"])
                        self.sent[res["hash"]] = (self.keys[i].public_hex, choice)
                        self.raw[res["hash"]] = raw
                    else:
                        errors.append(f"voter {i}: code {res['code']} {res.get('log')}")

        ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        return hashes, errors


def search_count(rpc, method, query, want=1, timeout=30, **params):
    """Total of an event search (block_search or tx_search) on one node, waiting (bounded)
    until it reaches `want`: a node indexes a block's events after it commits it, so a
    node a block behind, or its indexer, may not have them yet."""
    deadline = time.monotonic() + timeout
    while True:
        found = rpc.call(method, query=query, **params)
        if int(found["total_count"]) >= want or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def block_search_count(rpc, query, timeout=30):
    return int(search_count(rpc, "block_search", query, timeout=timeout)["total_count"])


def wait_committed(rpc, hashes, timeout=90):
    """Wait until every tx hash is committed, through a node's brief absence; return {hash: tx result}."""
    return rpc.wait_txs(hashes, timeout, 0.3, through_errors=True)


@contextlib.contextmanager
def faulty_worker(net, i: int, fault: str):
    """Run validator i's worker from tests/faults/worker.py (MPCVOTE_WORKER_FAULT=fault), then the honest one again."""
    net.stop(i, "worker")
    try:
        net.start(i, "worker", env={"MPCVOTE_WORKER_FAULT": fault}, entry=str(FAULTY_WORKER))
        yield
    finally:
        net.stop(i, "worker")
        net.start(i, "worker")


def write_bad_txs(path, txs):
    """Give the ballot-proposer these txs to propose (atomically: it never reads half a file)."""
    path = Path(path)
    part = path.with_suffix(".part")
    part.write_text("".join(raw.hex() + "\n" for raw in txs))
    part.replace(path)


def validator_secrets(net, i: int) -> tuple[int, SigningKey]:
    """Return validator i's encryption scalar x_i and its attestation key, read from its home (tests act as i)."""
    home = Path(net.validators[i]["home"]) / "mpc"
    return load_encryption_key(home / "enc_key.json").scalar, load_signing_key(home / "attest_key.json")


def registry_enc_keys(net) -> list[str]:
    """Return the registry's encryption keys (hex of X_i) from the genesis, in validator order."""
    genesis = json.loads(net.genesis_path().read_text())
    return [v["enc_key"] for v in genesis["app_state"]["validators"]]


def wait_for(what: str, probe, timeout=60.0, every=0.3):
    """Return probe()'s first truthy answer, polling (bounded); raise AssertionError naming what after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def tx_events(rpc, query: str, event_type: str, per_page=100) -> list[dict]:
    """Return the attributes of every event_type event in the txs a tx_search finds (first page)."""
    found = rpc.call("tx_search", query=query, per_page=str(per_page))
    out = []
    for t in found["txs"]:
        for ev in t["tx_result"].get("events") or []:
            if ev["type"] == event_type:
                out.append({a["key"]: a["value"] for a in ev["attributes"]})
    return out


def committed(rpc, tx_hash: str) -> bool:
    """Return whether a node has the tx in a block."""
    try:
        rpc.tx(tx_hash)
        return True
    except RpcError as exc:
        if "not found" in str(exc):
            return False
        raise


def block_txs(rpc, low: int, high: int) -> list[bytes]:
    """Return every tx of the blocks low..high on one node."""
    out = []
    for h in range(low, high + 1):
        out += [base64.b64decode(t) for t in rpc.call("block", height=str(h))["block"]["data"]["txs"] or []]
    return out
