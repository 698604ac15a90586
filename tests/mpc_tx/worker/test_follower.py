"""The worker's main loop against a fake node: which polls it waits on, queues, starts, and forgets."""

import json
import threading

from mpc_tx.protocol.keys import SigningKey
from mpc_tx.worker.attest import Attester
from mpc_tx.worker.follower import Worker

KEY = SigningKey.generate()


def record(poll_id, status, slot=None, start=None, party=True):
    return {
        "id": poll_id,
        "status": status,
        "mpc_slot": slot,
        "mpc_start": start,
        "options": [],
        "ballots_digest": "ab" * 32,
        "validators": [{"index": 0, "attest_key": KEY.public_hex if party else "00" * 32, "mpc_ports": 4}],
    }


class FakeNode:
    def __init__(self, height, polls, attested=()):
        self.height_, self.polls, self.attested, self.reads = height, polls, list(attested), []

    def height(self):
        return self.height_

    def query(self, path):
        self.reads.append(path)
        if path == "/params":
            return {"mpc_attempt_blocks": 30}, None
        if path.startswith("/polls?"):
            return {"polls": [{"id": p["id"], "status": p["status"]} for p in self.polls.values()], "next": None}, None
        if path.endswith("/attestations"):
            return {"attestations": [{"validator": v} for v in self.attested]}, None
        return self.polls[int(path.split("/")[2])], None


def worker(tmp_path, node):
    w = Worker.__new__(Worker)  # no key files: the loop's state only
    w.index, w.chain_id, w.attest, w.state_dir = 0, "c", KEY, tmp_path
    w.attester = Attester(KEY, "c", 0)
    w.params, w.polljobs, w.lock, w.followed, w.block_interval = None, {}, threading.Lock(), None, 1.0
    w._local = threading.local()
    w._local.rpc = node
    w.started = []
    w.run_job = lambda poll, attempt, deadline: w.started.append((poll["id"], attempt, deadline))
    return w


def test_step_waits_queues_starts_and_forgets(tmp_path):
    node = FakeNode(
        105,
        {
            1: record(1, "open"),
            2: record(2, "closed"),
            3: record(3, "closed", slot=0, start=100),
            4: record(4, "final"),
            5: record(5, "closed", slot=1, start=100, party=False),
        },
    )
    w = worker(tmp_path, node)
    w.step()
    states = json.loads((tmp_path / "jobs.json").read_text())
    assert {k: v["state"] for k, v in states.items()} == {"1": "waiting", "2": "queued", "4": "done"}
    assert w.polljobs[4].done and w.polljobs[5].done and not w.polljobs[1].done
    # poll 3: five blocks into attempt 0 (too late to join), nothing started
    assert w.started == [] and w.polljobs[3].attempted == set()
    node.height_ = 130
    w.step()
    w.polljobs[3].thread.join(5)
    assert w.started == [(3, 1, 28.0)] and w.polljobs[3].attempted == {1}
    w.polljobs[3].thread = None
    w.step()  # the same attempt is never started twice
    assert w.started == [(3, 1, 28.0)]


def test_a_poll_that_gets_its_slot_is_read_again_and_started(tmp_path):
    node = FakeNode(100, {2: record(2, "closed")})
    w = worker(tmp_path, node)
    w.step()
    assert w.polljobs[2].state == "queued"
    node.polls[2] = record(2, "closed", slot=0, start=100)
    w.step()
    w.polljobs[2].thread.join(5)
    assert w.started == [(2, 0, 28.0)]


def test_a_worker_that_attested_still_joins_the_attempt(tmp_path):
    node = FakeNode(100, {3: record(3, "closed", slot=0, start=100)}, attested=[0])
    w = worker(tmp_path, node)
    w.step()
    w.polljobs[3].thread.join(5)
    assert w.started == [(3, 0, 28.0)] and w.polljobs[3].state == "attested"


def test_the_block_waker_subscribes_wakes_on_each_event_and_reconnects(monkeypatch):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import serve
    from mpc_tx.worker.follower import BlockWaker

    monkeypatch.setattr(BlockWaker, "RECONNECT_S", 0.05)
    links, go_on = [], threading.Event()

    def node(ws):  # answers the subscription, reports one block, and drops the first link
        links.append(json.loads(ws.recv()))
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {}}))
        go_on.wait(5)
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"query": "tm.event='NewBlockHeader'"}}))
        if len(links) > 1:
            try:
                ws.recv()  # the second link stays until the waker stops
            except ConnectionClosed:
                pass

    with serve(node, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        waker = BlockWaker("127.0.0.1", server.socket.getsockname()[1]).start()
        assert waker.wait(5)  # the subscription's answer
        go_on.set()
        assert waker.wait(5)  # a block
        assert waker.wait(5)  # the second link (events of one link may coalesce)
        assert links == [json.loads(BlockWaker.SUBSCRIBE)] * 2
        assert waker.connected
        waker.stop()
        waker._thread.join(5)
        assert not waker._thread.is_alive() and not waker.connected
        server.shutdown()


def test_the_block_waker_falls_back_to_timeouts_without_a_node():
    from mpc_tx.worker.follower import BlockWaker
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed: nothing listens
    waker = BlockWaker("127.0.0.1", port).start()
    assert not waker.wait(0.3) and not waker.connected
    waker.stop()
