"""A real testnet for tests: cometbft nodes, apps (and workers) on loopback, stopped by PID."""

import contextlib
import json
import threading
import time
from pathlib import Path

from mpc_tx.client.ballot import build_ballot
from mpc_tx.client.cli import Client, Session
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import Rpc
from node_config.lifecycle import Testnet
from node_config.ports import STRIDE, free_port_base


# Test entry points with fault switches (what a validator runs has none).
FAULTY_APP = Path(__file__).resolve().parents[1] / "faults" / "app.py"
FAULTY_WORKER = Path(__file__).resolve().parents[1] / "faults" / "worker.py"


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
def running_testnet(tmp, workers: bool, params: dict | None = None):
    """A 4-validator testnet committing blocks; every process it started is stopped by PID after."""
    net = make_testnet(tmp)
    if params:
        net.set_params(params)
    try:
        for i in range(4):
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
