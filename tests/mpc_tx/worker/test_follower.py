"""The worker against a fake node: which polls it waits on, queues, starts and forgets; its shares and complaints."""

import importlib.util
import json
import stat
import threading
from pathlib import Path

import pytest

from mpc_tx.protocol import canonical, tx as txcodec
from mpc_tx.protocol.ballot import build_ballot
from mpc_tx.protocol.complaint import BALLOT_BAD, COMPLAINT_FALSE, adjudicate
from mpc_tx.protocol.group import L
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.sharing import reconstruct
from mpc_tx.worker import attest, shares
from mpc_tx.worker.attest import Attester
from mpc_tx.worker.follower import CountedSetError, ShareError, Worker
from mpc_tx.worker.polljob import job_input

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


# ---------------------------------------------------------------- shares, complaints, restarts (§17)


def _faults():
    """The Byzantine worker entry point (tests/faults/worker.py), loaded by path."""
    path = Path(__file__).resolve().parents[3] / "tests" / "faults" / "worker.py"
    spec = importlib.util.spec_from_file_location("fault_worker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _voter():
    key = SigningKey.generate()
    return key, bytes.fromhex(key.public_hex)


def _complaints_sent(node):
    return [tx["body"] for tx in node.sent if tx["type"] == "complain"]


def test_the_worker_needs_its_registry_keys(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    vals.home(tmp_path, 1)
    (tmp_path / "v1").rename(tmp_path / "v0")  # validator 1's keys in validator 0's home
    with pytest.raises(SystemExit, match="are not validator 0's keys"):
        kit.make_worker(vals, tmp_path, 0, node)


def test_a_good_ballot_is_held_and_complained_of_by_nobody(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    tx = kit.ballot_tx(key, build_ballot(vals.ctx, voter, [0, 0, 1]))
    workers = [kit.make_worker(vals, tmp_path, i, node) for i in range(vals.m)]
    for w in workers:
        w.take_ballot(tx)
        tx_hash, opened = w.polljobs[kit.POLL_ID].shares[key.public_hex]
        assert tx_hash == txcodec.tx_hash(tx) and opened.good
    assert node.sent == []
    shares_of = [w.polljobs[kit.POLL_ID].shares[key.public_hex][1].values for w in workers]
    assert [reconstruct([s[e] for s in shares_of], 1) for e in range(3)] == [0, 0, 1]
    assert not (tmp_path / "v0" / "mpc" / "complaints").exists()


def test_a_bad_share_is_complained_of_at_once_stored_first_and_puts_the_ballot_out(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    raw = kit.bad_ballot(vals, voter, [1, 0, 0], 2)
    tx = kit.ballot_tx(key, raw)
    node.add(key.public_hex, tx)
    honest = kit.make_worker(vals, tmp_path, 0, node)
    honest.take_ballot(tx)
    assert node.sent == []  # validator 0's share checks
    w = kit.make_worker(vals, tmp_path, 2, node)
    w.take_ballot(tx)
    [body] = _complaints_sent(node)
    assert node.sent[0]["signer"] == vals.attest[2].public_hex
    assert (body["poll"], body["validator"], body["voter"], body["ballot_tx"]) == (
        kit.POLL_ID,
        2,
        key.public_hex,
        txcodec.tx_hash(tx),
    )
    stored = tmp_path / "v2" / "mpc" / "complaints" / kit.CHAIN / str(kit.POLL_ID) / txcodec.tx_hash(tx)
    assert canonical.decode(stored.read_bytes()) == body and stat.S_IMODE(stored.stat().st_mode) == 0o600
    verdict = adjudicate(vals.ctx, voter, bytes.fromhex(body["ballot_tx"]), raw, 2, bytes.fromhex(body["complaint"]))
    assert verdict.outcome == BALLOT_BAD
    w.take_ballot(tx)  # seen again (a re-read block): neither opened nor sent again
    assert len(_complaints_sent(node)) == 1


def test_a_restarted_worker_sends_the_stored_bytes_again_and_never_new_ones(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    tx = kit.ballot_tx(key, kit.bad_ballot(vals, voter, [0, 1, 0], 1))
    node.add(key.public_hex, tx)
    node.codes = [5] * attest.SUBMIT_TRIES  # the node refuses every try: the complaint stays unsent
    first = kit.make_worker(vals, tmp_path, 1, node)
    first.take_ballot(tx)
    stored = first.complaints.load(kit.POLL_ID, txcodec.tx_hash(tx))
    assert _complaints_sent(node) == [stored] * attest.SUBMIT_TRIES and first.unsent
    # The worker dies; a new one on the same home catches up: the stored bytes, then the poll's ballots.
    node.sent.clear()
    second = kit.make_worker(vals, tmp_path, 1, node)
    second.follow()
    assert _complaints_sent(node) == [stored]
    assert (kit.POLL_ID, txcodec.tx_hash(tx)) in second.settled
    # Its catch-up opened the ballot again (bad) but made no second complaint: the store answers.
    assert not second.polljobs[kit.POLL_ID].shares[key.public_hex][1].good
    third = kit.make_worker(vals, tmp_path, 1, node)
    node.codes = [24]  # ALREADY_COMPLAINED: settled, never retried
    node.sent.clear()
    third.check_ballot(vals.record, key.public_hex, txcodec.tx_hash(tx), canonical.decode(tx)["body"]["ballot"])
    assert _complaints_sent(node) == [stored] and (kit.POLL_ID, txcodec.tx_hash(tx)) in third.settled
    third.check_ballot(vals.record, key.public_hex, txcodec.tx_hash(tx), canonical.decode(tx)["body"]["ballot"])
    assert len(_complaints_sent(node)) == 1
    assert first.complaints.load(kit.POLL_ID, txcodec.tx_hash(tx)) == stored  # never rewritten


def _fixed(kit, vals, node, counted):
    digest = shares.counted_digest(
        [shares.ballot_digest(v, bytes.fromhex(node.ballots[v]["ballot"])) for v in sorted(counted)]
    )
    vals.record.update(status="closed", counted_fixed_height=20, ballots=len(counted), ballots_digest=digest)


def test_the_job_takes_the_checked_value_shares_of_exactly_the_fixed_counted_set(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    voters = [_voter() for _ in range(4)]
    votes = {}
    for n, (key, voter) in enumerate(voters):
        votes[key.public_hex] = [0, n % 2, 1 - n % 2]
        raw = build_ballot(vals.ctx, voter, votes[key.public_hex])
        if n == 2:
            raw = kit.bad_ballot(vals, voter, votes[key.public_hex], 3)
        node.add(key.public_hex, kit.ballot_tx(key, raw))
    bad_voter = voters[2][0].public_hex
    node.complaints = [
        {"validator": 3, "voter": bad_voter, "ballot_tx": node.ballots[bad_voter]["tx"], "verdict": "ballot_bad"}
    ]
    counted = sorted(k.public_hex for k, _ in voters if k.public_hex != bad_voter)
    w = kit.make_worker(vals, tmp_path, 0, node)
    with pytest.raises(CountedSetError, match="not fixed"):
        w.sync_ballots(vals.record)
    _fixed(kit, vals, node, counted)
    values = w.sync_ballots(vals.record)  # opened now: the follower never saw these blocks
    others = [kit.make_worker(vals, tmp_path, i, node).sync_ballots(vals.record) for i in (1, 2)]
    assert len(values) == len(counted) == 3
    for j, voter in enumerate(counted):  # voter order, the disqualified ballot left out
        assert [reconstruct([values[j][e], others[0][j][e], others[1][j][e]], 1) for e in range(3)] == votes[voter]
    job = job_input(vals.record, 0, 0, values, w.tls, 5, chain_id=kit.CHAIN)
    assert job["shares"] == [[str(v) for v in s] for s in values]
    assert job["tls"]["peers"] == [f"-----CERT {i}-----" for i in range(4)] and "ca" not in job["tls"]
    # Another set than the fixed one (a digest that differs): the job never runs over it.
    vals.record["ballots_digest"] = "00" * 32
    with pytest.raises(CountedSetError, match="ballots_digest"):
        w.sync_ballots(vals.record)


def test_a_worker_without_a_checked_share_of_a_counted_ballot_takes_no_part(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    node.add(key.public_hex, kit.ballot_tx(key, kit.bad_ballot(vals, voter, [1, 0, 0], 1)))
    _fixed(kit, vals, node, [key.public_hex])  # nobody complained in time: the ballot counts
    node.codes = [25]  # COMPLAINT_WINDOW: too late, settled
    w = kit.make_worker(vals, tmp_path, 1, node)
    with pytest.raises(ShareError):
        w.sync_ballots(vals.record)
    assert (kit.POLL_ID, node.ballots[key.public_hex]["tx"]) in w.settled


def test_a_false_complaint_worker_complains_of_good_ballots_with_a_valid_proof_and_still_computes(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    raw = build_ballot(vals.ctx, voter, [0, 1, 0])
    tx = kit.ballot_tx(key, raw)
    node.add(key.public_hex, tx)
    w = kit.make_worker(vals, tmp_path, 3, node, cls=_faults().FalseComplaint)
    w.take_ballot(tx)
    [body] = _complaints_sent(node)
    verdict = adjudicate(vals.ctx, voter, bytes.fromhex(body["ballot_tx"]), raw, 3, bytes.fromhex(body["complaint"]))
    assert verdict.outcome == COMPLAINT_FALSE  # the chain names validator 3
    _fixed(kit, vals, node, [key.public_hex])
    assert len(w.sync_ballots(vals.record)) == 1


def test_a_cannot_decrypt_worker_can_only_complain_falsely_and_refuse(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    raw = build_ballot(vals.ctx, voter, [1, 0, 0])
    tx = kit.ballot_tx(key, raw)
    node.add(key.public_hex, tx)
    w = kit.make_worker(vals, tmp_path, 0, node, cls=_faults().CannotDecrypt)
    w.take_ballot(tx)
    [body] = _complaints_sent(node)
    verdict = adjudicate(vals.ctx, voter, bytes.fromhex(body["ballot_tx"]), raw, 0, bytes.fromhex(body["complaint"]))
    assert verdict.outcome == COMPLAINT_FALSE
    _fixed(kit, vals, node, [key.public_hex])
    with pytest.raises(ShareError):  # no list of ballots to exclude: it has nothing to input
        w.sync_ballots(vals.record)


def test_a_corrupt_shares_worker_inputs_shares_off_its_checked_ones(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    node.add(key.public_hex, kit.ballot_tx(key, build_ballot(vals.ctx, voter, [1, 0, 0])))
    _fixed(kit, vals, node, [key.public_hex])
    honest = kit.make_worker(vals, tmp_path, 1, node).sync_ballots(vals.record)
    corrupt = kit.make_worker(vals, tmp_path, 1, node, cls=_faults().CorruptShares).sync_ballots(vals.record)
    assert corrupt == [[(v + 1) % L for v in honest[0]]]


def test_workers_compute_unanimity_of_the_fixed_set_over_real_mpyc_links(kit, tmp_path):
    """Real ballots, a complaint that put one out, three workers, their MPC jobs on loopback, their attestations."""
    from mpc_tx.mpc.local import party_cert
    from mpc_tx.mpc.tls import cert_fingerprint
    from node_config.ports import free_ports

    vals = kit.Validators(m=3, options=())
    node = kit.FakeNode(vals)
    certs = [party_cert(f"party {i}", "127.0.0.1") for i in range(3)]
    ports = free_ports(3, "127.0.0.1")
    for v, (cert, _), port in zip(vals.record["validators"], certs, ports):
        v.update(tls_sha256=cert_fingerprint(cert), mpc_port=port, mpc_ports=1)
    votes = [[1], [1], [1], [0], [1]]  # the one 0 is the ballot the complaint puts out
    voters = [_voter() for _ in votes]
    for n, ((key, voter), vote) in enumerate(zip(voters, votes)):
        raw = kit.bad_ballot(vals, voter, vote, 1) if n == 3 else build_ballot(vals.ctx, voter, vote)
        node.add(key.public_hex, kit.ballot_tx(key, raw))
    out = voters[3][0].public_hex
    node.complaints = [{"validator": 1, "voter": out, "ballot_tx": node.ballots[out]["tx"], "verdict": "ballot_bad"}]
    _fixed(kit, vals, node, sorted(k.public_hex for k, _ in voters if k.public_hex != out))
    vals.record.update(mpc_slot=0, mpc_start=20, seed="5e" * 32)
    workers = [kit.make_worker(vals, tmp_path, i, node) for i in range(3)]
    for w, (cert, key) in zip(workers, certs):
        w.tls = {"cert": cert.decode(), "key": key.decode(), "peers": [c.decode() for c, _ in certs]}
        w.params = {"mpc_attempt_blocks": 30}
    threads = [threading.Thread(target=w.run_job, args=(vals.record, 0, 30.0)) for w in workers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    attested = [tx for tx in node.sent if tx["type"] == "submit_outcome"]
    assert sorted(tx["body"]["validator"] for tx in attested) == [0, 1, 2]
    for tx in attested:
        assert tx["body"]["result"] == {
            "status": "ok",
            "ballots": vals.record["ballots_digest"],
            "outcome": {"unanimous": True},
            "counted": 4,
        }


# ---------------------------------------------------------------- a tally's aggregate post (§18.3)

TALLY_VOTES = [[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]]


def _tally(kit, votes=TALLY_VOTES, bad_for=None, put_out=False):
    """Return validators and a node serving a fixed tally poll; ballot 3's share is bad for `bad_for`.

    With put_out, a complaint put that ballot out (the counted set leaves it out).
    """
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    for n, vote in enumerate(votes):
        key, voter = _voter()
        bad = bad_for is not None and n == 3
        raw = kit.bad_ballot(vals, voter, vote, bad_for) if bad else build_ballot(vals.ctx, voter, vote)
        node.add(key.public_hex, kit.ballot_tx(key, raw))
        if bad and put_out:
            node.complaints.append(
                {"validator": bad_for, "voter": key.public_hex, "ballot_tx": node.ballots[key.public_hex]["tx"]}
                | {"verdict": "ballot_bad"}
            )
    out = {c["voter"] for c in node.complaints}
    _fixed(kit, vals, node, sorted(v for v in node.ballots if v not in out))
    return vals, node


def _step(w):
    """One step of the worker's main loop, and the post it started, to its end."""
    w.step()
    thread = w.polljobs[7].thread  # the kit's poll
    if thread is not None:
        thread.join(10)


def _posts(node):
    return [tx for tx in node.sent if tx["type"] == "aggregate"]


def _sums(node):
    from mpc_tx.protocol import tally

    stored = node.stored_aggregate()
    return tally.decode_sums(3, 1, bytes.fromhex(stored["aggregate"])), stored["ballots"]


def test_tally_workers_post_pairs_the_chain_judges_valid_and_run_no_mpc(kit, tmp_path):
    from mpc_tx.protocol import tally

    vals, node = _tally(kit, bad_for=3, put_out=True)
    vals.record["mpc_slot"] = 0  # even with a slot (the chain gives none), a tally runs no MPC job
    sums, n = _sums(node)
    assert n == 4
    judged = []
    for i in range(vals.m):
        w = kit.make_worker(vals, tmp_path, i, node)
        w.run_job = lambda *args: pytest.fail("a tally poll started an MPC job")
        _step(w)
        [tx] = _posts(node)[i:]
        assert tx["signer"] == vals.attest[i].public_hex and set(tx["body"]) == {"poll", "validator", "pairs"}
        assert (tx["body"]["poll"], tx["body"]["validator"]) == (kit.POLL_ID, i)
        post = tally.judge_pairs(sums, vals.m, i, bytes.fromhex(tx["body"]["pairs"]))
        assert post.verdict == tally.VALID
        judged.append(post)
        stored = tmp_path / f"v{i}" / "mpc" / "aggregates" / kit.CHAIN / str(kit.POLL_ID)
        assert canonical.decode(stored.read_bytes()) == tx["body"] and stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert w.polljobs[kit.POLL_ID].state == "posted"
        _step(w)  # posted: never again
        assert len(_posts(node)) == i + 1
    opening = tally.open_tally(sums, n, True, judged)
    assert opening.counts == (3, 0, 1) and opening.validators == (0, 1)  # ballot 3 ([0, 1, 0]) was put out
    assert [tx["type"] for tx in node.sent if tx["type"] != "aggregate"] == ["complain"]  # validator 3's, at sync


def test_a_worker_whose_share_of_a_counted_ballot_does_not_check_abstains_and_is_never_named(kit, tmp_path):
    vals, node = _tally(kit, bad_for=1)  # nobody complained in time: the ballot counts
    node.codes = [25]  # its late complaint: COMPLAINT_WINDOW, settled
    w = kit.make_worker(vals, tmp_path, 1, node)
    _step(w)
    _step(w)
    assert _posts(node) == [] and w.polljobs[kit.POLL_ID].state == "abstained"
    assert "1 counted ballots whose share does not check" in w.polljobs[kit.POLL_ID].status["reason"]
    assert w.aggregates.load(kit.POLL_ID) is None
    for i in (0, 2, 3):  # the others post valid pairs: t+1 = 2 of them open the tally
        _step(kit.make_worker(vals, tmp_path, i, node))
    assert sorted(tx["body"]["validator"] for tx in _posts(node)) == [0, 2, 3]


def test_a_worker_abstains_on_a_chain_aggregate_other_than_the_counted_ballots(kit, tmp_path):
    vals, node = _tally(kit)
    stored = node.stored_aggregate()
    node.aggregate = {"aggregate": stored["aggregate"], "ballots": 4}
    w = kit.make_worker(vals, tmp_path, 0, node)
    _step(w)
    assert _posts(node) == [] and "the chain counts 4 ballots" in w.polljobs[kit.POLL_ID].status["reason"]
    vals.record["ballots_digest"] = "00" * 32  # another counted set than the ballots read
    w = kit.make_worker(vals, tmp_path, 2, node)
    _step(w)
    assert _posts(node) == [] and "ballots_digest" in w.polljobs[kit.POLL_ID].status["reason"]


def test_a_restarted_worker_sends_its_stored_post_again_and_never_other_pairs(kit, tmp_path):
    vals, node = _tally(kit)
    node.codes = [5] * attest.SUBMIT_TRIES  # the node refuses every try: the post stays unsent
    first = kit.make_worker(vals, tmp_path, 2, node)
    _step(first)
    stored = first.aggregates.load(kit.POLL_ID)
    assert [tx["body"] for tx in _posts(node)] == [stored] * attest.SUBMIT_TRIES
    assert first.polljobs[kit.POLL_ID].state == "posting"
    # The worker dies. The chain's aggregate now differs from the ballots (a recomputation
    # would abstain): the restarted worker sends the stored bytes, it computes nothing new.
    node.sent.clear()
    node.aggregate = {"aggregate": "00" * 3 * 2 * 32, "ballots": 5}
    second = kit.make_worker(vals, tmp_path, 2, node)
    second.aggregate_pairs = lambda poll: pytest.fail("a stored post was computed again")
    _step(second)
    assert [tx["body"] for tx in _posts(node)] == [stored] and second.polljobs[kit.POLL_ID].state == "posted"
    third = kit.make_worker(vals, tmp_path, 2, node)
    node.sent.clear()
    node.codes = [30]  # ALREADY_AGGREGATED: settled, never retried
    _step(third)
    _step(third)
    assert [tx["body"] for tx in _posts(node)] == [stored] and third.polljobs[kit.POLL_ID].state == "posted"
    assert "settled" in third.polljobs[kit.POLL_ID].status["reason"]


def test_a_post_the_chain_does_not_show_is_sent_again_after_some_blocks(kit, tmp_path):
    from mpc_tx.worker.follower import RECHECK_BLOCKS

    vals, node = _tally(kit)
    w = kit.make_worker(vals, tmp_path, 0, node)
    _step(w)
    [sent] = [tx["body"] for tx in _posts(node)]
    node.top += RECHECK_BLOCKS
    _step(w)  # on chain: nothing more
    assert len(_posts(node)) == 1
    node.aggregates.clear()  # dropped from the mempool
    node.top += RECHECK_BLOCKS - 1
    _step(w)
    assert len(_posts(node)) == 1  # not yet
    node.top += 1
    _step(w)  # seen missing
    _step(w)  # sent again: the same body
    assert [tx["body"] for tx in _posts(node)] == [sent, sent]


def test_a_wrong_aggregate_worker_is_named_and_the_tally_still_opens(kit, tmp_path):
    from mpc_tx.protocol import tally

    vals, node = _tally(kit)
    sums, n = _sums(node)
    liar = kit.make_worker(vals, tmp_path, 2, node, cls=_faults().WrongAggregate)
    _step(liar)
    for i in (0, 3):
        _step(kit.make_worker(vals, tmp_path, i, node))
    judged = [
        tally.judge_pairs(sums, vals.m, tx["body"]["validator"], bytes.fromhex(tx["body"]["pairs"]))
        for tx in _posts(node)
    ]
    assert [(p.validator, p.verdict) for p in judged] == [(2, tally.NAMED), (0, tally.VALID), (3, tally.VALID)]
    assert judged[0].reason == "aggregate pair 0 of validator 2: does not match the commitments"
    opening = tally.open_tally(sums, n, True, judged)
    assert opening.counts == (3, 1, 1) and opening.validators == (0, 3)
    assert liar.polljobs[kit.POLL_ID].state == "posted"


def test_a_withheld_tally_gets_no_post_and_a_cannot_decrypt_worker_abstains(kit, tmp_path):
    vals, node = _tally(kit)
    vals.record["min_ballots"] = 6  # 5 counted: the chain wants no pair (it is final at the fix)
    w = kit.make_worker(vals, tmp_path, 1, node)
    _step(w)
    assert _posts(node) == [] and w.polljobs[kit.POLL_ID].status["reason"] == "withheld below min_ballots"
    vals.record["min_ballots"] = 0
    node.codes = [26] * len(node.ballots)  # its false complaints: refused (settled)
    liar = kit.make_worker(vals, tmp_path, 0, node, cls=_faults().CannotDecrypt)
    _step(liar)
    assert _posts(node) == [] and liar.polljobs[kit.POLL_ID].state == "abstained"


def test_a_tally_worker_waits_through_the_complaint_window(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    vals.record["status"] = "closed"  # closed, not fixed: complaints are still taken
    w = kit.make_worker(vals, tmp_path, 0, node)
    w.step()
    assert w.polljobs[kit.POLL_ID].status["reason"] == "complaint window" and _posts(node) == []


def test_after_a_restart_complaints_of_a_fixed_set_are_settled_without_a_try(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    tx = kit.ballot_tx(key, kit.bad_ballot(vals, voter, [0, 0, 1], 0))
    node.add(key.public_hex, tx)
    kit.make_worker(vals, tmp_path, 0, node).take_ballot(tx)
    assert len(_complaints_sent(node)) == 1
    _fixed(kit, vals, node, [key.public_hex])
    node.sent.clear()
    restarted = kit.make_worker(vals, tmp_path, 0, node)
    restarted.follow()
    assert node.sent == [] and (kit.POLL_ID, txcodec.tx_hash(tx)) in restarted.settled


def test_what_is_not_a_ballot_of_a_known_poll_is_passed_over(kit, tmp_path):
    vals = kit.Validators()
    node = kit.FakeNode(vals)
    key, voter = _voter()
    w = kit.make_worker(vals, tmp_path, 0, node)
    good = build_ballot(vals.ctx, voter, [1, 0, 0]).hex()
    for raw in (
        b"not json",
        b"[1, 2]",
        txcodec.build(key, kit.CHAIN, "submit_outcome", 1, {"poll": kit.POLL_ID, "validator": 0, "result": {}}),
        txcodec.build(key, kit.CHAIN, "cast_ballot", 1, {"poll": str(kit.POLL_ID), "ballot": good}),
        txcodec.build(key, kit.CHAIN, "cast_ballot", 1, {"poll": kit.POLL_ID, "ballot": 5}),
        txcodec.build(key, kit.CHAIN, "cast_ballot", 1, {"poll": kit.POLL_ID}),
        txcodec.build(key, kit.CHAIN, "cast_ballot", 1, {"poll": kit.POLL_ID, "ballot": "zz"}),  # opens to nothing
    ):
        w.take_ballot(raw)
    assert node.sent == []
    held = w.polljobs[kit.POLL_ID].shares if kit.POLL_ID in w.polljobs else {}
    assert all(not opened.good and opened.ballot is None for _, opened in held.values())
