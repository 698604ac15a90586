"""Validators as MPC parties on a real 4-validator testnet: outcomes, bad ballots, absent and faulty workers."""

import os
import subprocess
import time

import pytest

from mpc_tx.protocol import x25519_envelope as envelope, tx as txcodec
from mpc_tx.client.cli import _outcome_words, job_reason, local_jobs, progress_words
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.sharing import share

from netfixtures import client, FAULTY_WORKER, block_search_count, running_testnet, Voters, wait_committed

pytestmark = pytest.mark.testnet

A, D = 12, 70  # attempt and deadline, in blocks: short for tests


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    params = {"mpc_attempt_blocks": A, "mpc_deadline_blocks": D}
    with running_testnet(tmp_path_factory.mktemp("mpc"), workers=True, params=params) as net:
        yield net


def test_the_workers_block_subscription_wakes_on_a_real_node(net):
    from urllib.parse import urlsplit
    from mpc_tx.worker.follower import BlockWaker

    url = urlsplit(net.rpc_url(2))
    waker = BlockWaker(url.hostname, url.port).start()
    try:
        assert waker.wait(10)  # the node's answer to the subscription
        height = net.rpc(2).height()
        assert waker.wait(10) and waker.wait(10)  # and then each new block
        assert waker.connected and net.rpc(2).height() > height
    finally:
        waker.stop()


def open_poll(net, kind="unanimity", options=(), **kw):
    c = client(net)
    creator = SigningKey.generate()
    res = c.create_poll(creator, "Q?", kind, options, close_in=300, max_ballots=1000, **kw)
    return c.query(f"/poll/{res['poll']}"), creator


def vote_all(net, poll, choices):
    voters = Voters(net, len(choices))
    hashes, errors = voters.submit_all(poll, choices)
    assert errors == []
    wait_committed(net.rpc(0), hashes)
    return voters


def close(net, poll, creator):
    return client(net).close_poll(creator, poll["id"])


def outcome(net, poll_id, timeout=120):
    return client(net, poll_id % 4).outcome(poll_id, wait=True, timeout=timeout)


def crafted_ballot(net, poll, per_entry_shares, tamper=None):
    """A ballot from a client built here: arbitrary shares, optional payload tampering per validator."""
    c = client(net)
    key = SigningKey.generate()
    m = len(poll["validators"])
    payloads = []
    for i, v in enumerate(poll["validators"]):
        shares = [s[i] for s in per_entry_shares]
        enc_key = v["enc_key"]
        if tamper and tamper.get(i) == "wrong-validator":
            enc_key = poll["validators"][(i + 1) % m]["enc_key"]  # sealed to another validator's key
        payload = envelope.seal(
            enc_key, shares, chain_id=c.chain_id, poll_id=poll["id"], voter=key.public_hex, validator=i
        )
        if tamper and tamper.get(i) == "garbage":
            payload = os.urandom(len(payload))
        payloads.append(payload.hex())
    raw = txcodec.build(
        key, c.chain_id, "cast_ballot", time.time_ns() // 1000, {"poll": poll["id"], "payloads": payloads}
    )
    c.submit(raw)
    return key.public_hex


def test_three_demo_polls(net):
    p1, c1 = open_poll(net)
    p2, c2 = open_poll(net)
    p3, c3 = open_poll(net, "tally", ("a", "b", "c"))
    vote_all(net, p1, ["yes"] * 5)
    vote_all(net, p2, ["yes"] * 4 + ["no"])
    voters = vote_all(net, p3, ["a"] * 7 + ["b"] * 9 + ["c"] * 4)
    # one voter changes their mind: the later ballot counts, and a revote is no extra ballot
    changer = voters.keys[0]
    # (each submit waits for its commit, so the order on chain is the order here)
    client(net, 1).submit(voters.ballot(p3, changer, "c"))
    client(net, 3).submit(voters.ballot(p3, changer, "a"))
    for p, c in ((p1, c1), (p2, c2), (p3, c3)):
        close(net, p, c)
    late = voters.ballot(p3, SigningKey.generate(), "a")
    res = net.rpc(0).broadcast_tx_sync(late)
    assert int(res["code"]) == 8  # POLL_CLOSED
    o1, o2, o3 = outcome(net, p1["id"]), outcome(net, p2["id"]), outcome(net, p3["id"])
    assert o1["result"]["outcome"] == {"unanimous": True}
    assert o2["result"]["outcome"] == {"unanimous": False}
    assert o3["result"]["outcome"] == {"tally": {"a": 7, "b": 9, "c": 4}}
    assert o3["result"]["counted"] == 20 and o3["ballots"] == 20
    for o in (o1, o2, o3):
        assert o["status"] == "final" and len(o["attesters"]) >= 3
    # another node than the one that answered: it indexes the block when it commits it, maybe later
    assert block_search_count(net.rpc(1), f"outcome_final.poll_id={p3['id']}") == 1


def test_bad_ballots_veto_or_are_excluded_identically_by_all(net):
    m, t = 4, 1
    una, cu = open_poll(net)
    vote_all(net, una, ["yes"] * 3)
    crafted_ballot(net, una, [share(2, m, t)])  # a 2 must not turn a 'no' into a 'yes' (or count)
    tal, ct = open_poll(net, "tally", ("a", "b"))
    vote_all(net, tal, ["a"] * 3 + ["b"] * 2)
    bad = {
        "two": crafted_ballot(net, tal, [share(2, m, t), share(0, m, t)]),
        "both": crafted_ballot(net, tal, [share(1, m, t), share(1, m, t)]),
        "not-a-polynomial": crafted_ballot(net, tal, [[1, 2, 3, 5], share(0, m, t)]),
        "wrong-validator": crafted_ballot(net, tal, [share(1, m, t), share(0, m, t)], tamper={0: "wrong-validator"}),
        "garbage": crafted_ballot(net, tal, [share(0, m, t), share(1, m, t)], tamper={2: "garbage"}),
    }
    close(net, una, cu)
    close(net, tal, ct)
    ou, ot = outcome(net, una["id"]), outcome(net, tal["id"])
    assert ou["status"] == "final" and ou["result"]["outcome"] == {"unanimous": False}
    assert ot["status"] == "final" and ot["result"]["outcome"] == {"tally": {"a": 3, "b": 2}}
    same = client(net, tal["id"] % 4)  # the node that answered `outcome`: another may be a block behind
    order = [b["voter"] for b in same.query(f"/poll/{tal['id']}/ballots?limit=100")["ballots"]]
    index = {name: order.index(voter) for name, voter in bad.items()}
    assert ot["result"]["excluded"] == sorted(index.values())
    assert ot["result"]["counted"] == 5
    unusable = ot["result"]["unusable"]
    assert unusable[0] == [index["wrong-validator"]] and unusable[2] == [index["garbage"]]
    assert unusable[1] == unusable[3] == []
    atts = same.query(f"/poll/{tal['id']}/attestations")["attestations"]
    assert len({a["digest"] for a in atts}) == 1 and ot["dissenters"] == []  # every party saw the same


def test_small_polls_are_withheld_by_default_and_an_empty_one_says_no_ballots(net):
    # With the chain's defaults (min_ballots floor 3), one "yes" in a unanimity poll, or two
    # ballots in a tally, would tell each voter the others' votes: nothing is revealed.
    una, cu = open_poll(net)
    tal, ct = open_poll(net, "tally", ("a", "b"))
    empty, ce = open_poll(net, "tally", ("a", "b"))
    assert una["min_ballots"] == tal["min_ballots"] == 3
    vote_all(net, una, ["yes"])
    vote_all(net, tal, ["a", "b"])
    for p, c in ((una, cu), (tal, ct), (empty, ce)):
        close(net, p, c)
    ou, ot, oe = outcome(net, una["id"]), outcome(net, tal["id"]), outcome(net, empty["id"])
    assert ou["result"]["outcome"] == ot["result"]["outcome"] == oe["result"]["outcome"] == {"withheld": True}
    assert (ou["result"]["counted"], ot["result"]["counted"], oe["result"]["counted"]) == (1, 2, 0)
    assert _outcome_words(oe["result"], oe["ballots"], 3) == "no ballots"
    assert _outcome_words(ot["result"], ot["ballots"], 3).startswith("withheld: 2 ballots counted, fewer than")


def _wait_blocks(net, n):
    net.wait_height(net.rpc(0).height() + n, timeout=60, nodes=[0])


def test_absent_worker_delays_then_deadline_names_it(net):
    net.stop(3, "worker")
    try:
        early, ce = open_poll(net)
        vote_all(net, early, ["yes"] * 3)
        close(net, early, ce)  # fails at its deadline: worker 3 is away through it
        _wait_blocks(net, 2 * A)
        later, cl = open_poll(net)
        vote_all(net, later, ["yes"] * 3)
        assert client(net).query(f"/poll/{early['id']}/outcome")["status"] == "closed"  # no outcome from 3 of 4
        progress = client(net).standing(early["id"])  # what `outcome` shows meanwhile: who is missing, when
        assert "node3" in progress["missing"] and "node3" not in progress["attested"]
        assert progress["deadline"]["height"] == client(net).query(f"/poll/{early['id']}")["deadline_height"]
        assert progress["next_attempt"]["height"] <= progress["deadline"]["height"]
        words = progress_words(early["id"], progress)
        assert "node3" in words.split("waiting for", 1)[1] and "it fails at height" in words
        worker3 = next(j for j in local_jobs(net.dir) if j["validator"] == "node3")["worker"]
        assert not worker3["up"] and job_reason(
            {"state": "waiting", "reason": "poll open"}, worker3, "closed"
        ).startswith("worker down")
        e = outcome(net, early["id"], timeout=120)
        close(net, later, cl)  # its deadline is far: worker 3 comes back before it
        assert e["status"] == "failed" and e["result"]["code"] == "deadline" and e["result"]["absent"] == [3]
        _wait_blocks(net, A)
        assert client(net).query(f"/poll/{later['id']}/outcome")["status"] == "closed"
    finally:
        net.start(3, "worker")
    lo = outcome(net, later["id"], timeout=120)
    assert lo["status"] == "final" and lo["result"]["outcome"] == {"unanimous": True}
    assert lo["final_height"] <= lo["closed_height"] + D


def _children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "mpc_tx.mpc.job"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_killed_mpc_child_next_attempt_succeeds(net):
    poll, creator = open_poll(net, "tally", ("x", "y"))
    vote_all(net, poll, ["x"] * 10 + ["y"] * 5)
    worker = net.pid(1, "worker")
    close(net, poll, creator)
    deadline, killed = time.monotonic() + 30, None
    while killed is None and time.monotonic() < deadline:
        for child in _children(worker):
            os.kill(child, 9)
            killed = child
        time.sleep(0.01)
    assert killed, "the worker never started an MPC child"
    out = outcome(net, poll["id"])
    assert out["status"] == "final" and out["result"]["outcome"] == {"tally": {"x": 10, "y": 5}}
    assert out["final_height"] >= out["closed_height"] + A  # decided by a later attempt


def test_worker_with_corrupted_shares_gives_no_wrong_outcome(net):
    net.stop(2, "worker")
    net.start(2, "worker", env={"MPCVOTE_WORKER_FAULT": "corrupt-shares"}, entry=str(FAULTY_WORKER))
    try:
        poll, creator = open_poll(net)
        vote_all(net, poll, ["yes"] * 4)
        close(net, poll, creator)
        out = outcome(net, poll["id"])
        assert out["status"] == "failed" and out["result"]["code"] == "inconsistent_shares"
    finally:
        net.stop(2, "worker")
        net.start(2, "worker")


def test_no_share_or_private_key_in_logs_or_state(net):
    poll, creator = open_poll(net)
    known = [share(1, 4, 1)]
    crafted_ballot(net, poll, known)
    close(net, poll, creator)
    assert outcome(net, poll["id"])["status"] == "final"
    secrets = []
    for s in known[0]:
        secrets += [str(s).encode(), f"{s:064x}".encode(), s.to_bytes(32, "big")]
    import json as _json

    for v in net.validators:
        mpc = os.path.join(v["home"], "mpc")
        seed = _json.load(open(os.path.join(mpc, "attest_key.json")))["seed"]
        secret = _json.load(open(os.path.join(mpc, "enc_key.json")))["secret"]
        secrets += [seed.encode(), secret.encode(), bytes.fromhex(seed), bytes.fromhex(secret)]
    scanned = 0
    for folder in [str(net.dir / "logs")] + [os.path.join(v["home"], "app") for v in net.validators]:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                data = open(os.path.join(root, name), "rb").read()
                scanned += len(data)
                for secret in secrets:
                    assert secret not in data, f"a secret appears in {os.path.join(root, name)}"
    assert scanned > 10000


def test_polls_k_apart_closing_together_are_both_final(net):
    # Under the old ports (registered port + (poll + attempt) mod K), polls whose ids differ
    # by K and that close at one height took the same port on every attempt.
    c = client(net)
    K = c.query(f"/poll/{open_poll(net)[0]['id']}")["validators"][0]["mpc_ports"]
    creator = SigningKey.generate()
    at = c.rpc.height() + 40 + 2 * K
    first = c.create_poll(creator, "Q?", "unanimity", (), close_height=at, max_ballots=100)["poll"]
    for _ in range(K - 1):
        c.create_poll(creator, "filler", "unanimity", (), close_in=2000, max_ballots=10)
    last = c.create_poll(creator, "Q?", "tally", ("a", "b"), close_height=at, max_ballots=100)["poll"]
    assert last - first == K
    vote_all(net, c.query(f"/poll/{first}"), ["yes"] * 3)
    vote_all(net, c.query(f"/poll/{last}"), ["a", "b", "b"])
    a, b = outcome(net, first, timeout=240), outcome(net, last, timeout=240)
    assert a["closed_height"] == b["closed_height"] == at
    assert a["status"] == b["status"] == "final"
    assert a["result"]["outcome"] == {"unanimous": True} and b["result"]["outcome"] == {"tally": {"a": 1, "b": 2}}
    assert a["dissenters"] == b["dissenters"] == [] and a["final_height"] < a["closed_height"] + A


def test_killed_worker_leaves_no_mpc_child(net):
    net.stop(3, "worker")  # party 3 away: the others' children wait for it until their deadline
    try:
        poll, creator = open_poll(net)
        vote_all(net, poll, ["yes"] * 3)
        worker = net.pid(1, "worker")
        close(net, poll, creator)
        child = None
        for _ in range(600):  # the close commits, the worker starts its job (bounded wait)
            found = _children(worker)
            if found:
                child = found[0]
                break
            time.sleep(0.05)
        assert child, "the worker never started an MPC child"
        os.kill(worker, 9)
        for _ in range(200):
            if (
                not os.path.exists(f"/proc/{child}")
                or open(f"/proc/{child}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
            ):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the MPC child outlived its killed worker")
    finally:
        net.start(1, "worker")
        net.start(3, "worker")
    # The restarted workers find no job of a predecessor holding a port: the poll is decided.
    out = outcome(net, poll["id"], timeout=240)
    assert out["status"] == "final" and out["result"]["outcome"] == {"unanimous": True}
