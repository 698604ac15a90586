"""Validators as MPC parties on a real 4-validator testnet: outcomes, bad ballots, absent and faulty workers.

Ballots are §17's verifiable ballots: a ballot whose proofs fail is refused by CheckTx and
never counts; a ballot whose proofs hold but whose share is bad for validator i is put out
by i's complaint, judged by the chain in the poll's complaint window; the MPC runs over the
counted set fixed after that window (docs/PROTOCOL.md §17).
"""

import json
import os
import subprocess
import time

import pytest

from mpc_tx.protocol import codes
from mpc_tx.client.cli import _outcome_words, job_reason, local_jobs, progress_words
from mpc_tx.protocol.ballot import open_ballot, parse_ballot
from mpc_tx.protocol.context import ciphertext_size
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import mul
from mpc_tx.protocol.keys import SigningKey

from badballots import SHARE_FAULTS, bad_share_ballot, cast_ballot_tx, chain_poll, one_hot_values, rigged_ballot
from netfixtures import (
    client,
    FAULTY_WORKER,
    block_search_count,
    search_count,
    registry_enc_keys,
    running_testnet,
    validator_secrets,
    Voters,
    wait_committed,
    wait_for,
)
from protocolhelpers import craft_ballot, field_offsets, resign

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


def outcome(net, poll_id, timeout=180):
    return client(net, poll_id % 4).outcome(poll_id, wait=True, timeout=timeout)


def context(net, poll):
    """Return poll's protocol context (§17), as a voter's client builds it."""
    k = max(1, len(poll["options"]))
    return chain_poll(client(net).chain_id, poll["id"], poll["threshold"], k, registry_enc_keys(net))


def values_of(poll, choice):
    if poll["kind"] == "unanimity":
        return [int(choice == "yes")]
    return one_hot_values(len(poll["options"]), poll["options"].index(choice))


def ballot_tx(net, poll, key, raw):
    """Return a signed cast_ballot tx carrying the ballot bytes raw (built here, as any client could)."""
    c = client(net)
    return cast_ballot_tx(key, c.chain_id, c.next_nonce(key), context(net, poll), poll["id"], raw)


def send_crafted(net, poll, build):
    """Submit build(ctx, voter bytes) from a fresh key and wait for its commit; return (voter hex, tx hash)."""
    key = SigningKey.generate()
    raw = build(context(net, poll), key.public_bytes)
    return key.public_hex, client(net).submit(ballot_tx(net, poll, key, raw))["hash"]


def refused(net, poll, build, node=0):
    """Send build(ctx, voter bytes) from a fresh key through CheckTx; return (code, log)."""
    key = SigningKey.generate()
    res = net.rpc(node).broadcast_tx_sync(ballot_tx(net, poll, key, build(context(net, poll), key.public_bytes)))
    return int(res["code"]), res.get("log", "")


def swapped_envelopes(ctx, voter, values, a=0, b=1):
    """Return a ballot whose envelopes a and b are swapped, the proof of rho redone by its voter: proofs hold."""
    raw, rho = craft_ballot(ctx, values, os.urandom(16), voter)
    start, size = field_offsets(ctx)["envelopes"], ciphertext_size(ctx.k)
    env = [raw[start + i * size : start + (i + 1) * size] for i in range(ctx.m)]
    env[a], env[b] = env[b], env[a]
    return resign(ctx, raw[:start] + b"".join(env) + raw[start + ctx.m * size :], rho, voter)


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
    assert int(res["code"]) == codes.POLL_CLOSED
    o1, o2, o3 = outcome(net, p1["id"]), outcome(net, p2["id"]), outcome(net, p3["id"])
    assert o1["result"]["outcome"] == {"unanimous": True}
    assert o2["result"]["outcome"] == {"unanimous": False}
    assert o3["result"]["outcome"] == {"tally": {"a": 7, "b": 9, "c": 4}}
    assert o3["result"]["counted"] == 20 and o3["ballots"] == 20
    for o in (o1, o2, o3):
        assert o["status"] == "final" and len(o["attesters"]) >= 3
        assert set(o["result"]) == {"status", "ballots", "outcome", "counted"}  # §17's ok form
    # another node than the one that answered: it indexes the block when it commits it, maybe later.
    # A unanimity outcome is final in end block (a block event); a tally in its final aggregate tx (§18.6).
    assert block_search_count(net.rpc(1), f"outcome_final.poll_id={p1['id']}") == 1
    final_tx = search_count(net.rpc(1), "tx_search", f"outcome_final.poll_id={p3['id']}")
    assert int(final_tx["total_count"]) == 1 and final_tx["txs"][0]["hash"].upper() == o3["final_tx"]
    assert block_search_count(net.rpc(1), f"outcome_final.poll_id={p3['id']}", timeout=0) == 0


def test_bad_ballots_are_refused_or_put_out_by_a_complaint_identically_by_all(net):
    una, cu = open_poll(net)
    vote_all(net, una, ["yes"] * 3)
    # A 2 in a unanimity poll, [5, -4] or [1, 1] in a tally: their proofs fail, CheckTx refuses them.
    tal, ct = open_poll(net, "tally", ("a", "b"))
    vote_all(net, tal, ["a"] * 3 + ["b"] * 2)
    for poll, build, reason in (
        (una, lambda ctx, v: rigged_ballot(ctx, v, weight=2), "bit proof 0"),
        (tal, lambda ctx, v: rigged_ballot(ctx, v, weight=5), "bit proof 0"),
        (tal, lambda ctx, v: craft_ballot(ctx, [1, 1], os.urandom(16), v)[0], "sum"),
    ):
        for node in range(4):
            code, log = refused(net, poll, build, node)
            assert code == codes.BAD_BALLOT and reason in log, (reason, node, code, log)
    # Ballots whose proofs hold but whose share is bad for one validator: the chain takes them,
    # and that validator's worker complains; the chain judges the complaint and puts them out.
    a = values_of(tal, "a")
    bad = {
        (i, fault): send_crafted(net, tal, lambda ctx, v, i=i, fault=fault: bad_share_ballot(ctx, v, a, i, fault))
        for i, fault in enumerate(SHARE_FAULTS)
    }
    swapped = send_crafted(net, tal, lambda ctx, v: swapped_envelopes(ctx, v, a))  # bad for 0 and 1 both
    una_bad = send_crafted(net, una, lambda ctx, v: bad_share_ballot(ctx, v, [0], 3))  # a "no" bad for 3
    close(net, una, cu)
    close(net, tal, ct)
    ou, ot = outcome(net, una["id"]), outcome(net, tal["id"])
    assert ou["status"] == "final" and ou["result"]["outcome"] == {"unanimous": True}  # the bad "no" is out
    assert ot["status"] == "final" and ot["result"]["outcome"] == {"tally": {"a": 3, "b": 2}}
    assert ot["result"]["counted"] == ot["ballots"] == 5 and ou["result"]["counted"] == ou["ballots"] == 3
    same = client(net, tal["id"] % 4)  # the node that answered `outcome`: another may be a block behind
    complaints = same.query(f"/poll/{tal['id']}/complaints?limit=100")["complaints"]
    verdicts = {(c["validator"], c["voter"]): c["verdict"] for c in complaints}
    for (i, fault), (voter, tx) in bad.items():
        assert verdicts.pop((i, voter)) == "ballot_bad", fault
        assert same.query(f"/poll/{tal['id']}/ballot/{voter}")["disqualified"]["by"] == i, fault
    # The swapped ballot: both cheated validators complain; the first puts it out, the second is moot.
    assert sorted([verdicts.pop((0, swapped[0])), verdicts.pop((1, swapped[0]))]) == ["ballot_bad", "moot"]
    assert verdicts == {}  # no complaint about an honest ballot
    assert same.query(f"/poll/{tal['id']}")["named_validators"] == []
    una_complaints = same.query(f"/poll/{una['id']}/complaints?limit=100")["complaints"]
    assert [(c["validator"], c["voter"], c["verdict"]) for c in una_complaints] == [(3, una_bad[0], "ballot_bad")]
    # the tally is opened on chain (§18.3): every post lands valid over the one fixed set, nobody is named
    posts = same.query(f"/poll/{tal['id']}/aggregates")["aggregates"]
    assert len(posts) >= tal["threshold"] + 1 and {p["verdict"] for p in posts} == {"valid"}, posts
    assert set(ot["attesters"]) <= {p["validator"] for p in posts} and ot["dissenters"] == []
    atts = same.query(f"/poll/{una['id']}/attestations")["attestations"]
    assert len({a["digest"] for a in atts}) == 1 and ou["dissenters"] == []  # every MPC party saw the same


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


def _fixed(net, poll_id):
    """Wait (bounded) until the poll's counted set is fixed; return its record."""
    c = client(net)
    return wait_for(
        f"poll {poll_id}'s counted set fixed",
        lambda: (r := c.query(f"/poll/{poll_id}"))["counted_fixed_height"] is not None and r,
        timeout=60,
    )


def test_absent_worker_delays_then_deadline_names_it(net):
    net.stop(3, "worker")
    try:
        early, ce = open_poll(net)
        vote_all(net, early, ["yes"] * 3)
        close(net, early, ce)  # fails at its deadline: worker 3 is away through it
        _fixed(net, early["id"])
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
        e = outcome(net, early["id"], timeout=180)
        close(net, later, cl)  # its deadline is far: worker 3 comes back before it
        assert e["status"] == "failed" and e["result"]["code"] == "deadline" and e["result"]["absent"] == [3]
        _fixed(net, later["id"])
        _wait_blocks(net, A)
        assert client(net).query(f"/poll/{later['id']}/outcome")["status"] == "closed"
    finally:
        net.start(3, "worker")
    lo = outcome(net, later["id"], timeout=180)
    assert lo["status"] == "final" and lo["result"]["outcome"] == {"unanimous": True}
    assert lo["final_height"] <= lo["deadline_height"]


def _children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "mpc_tx.mpc.job"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_killed_mpc_child_next_attempt_succeeds(net):
    poll, creator = open_poll(net)  # a unanimity poll: a tally runs no MPC (it is opened on chain, §18)
    vote_all(net, poll, ["yes"] * 10)
    worker = net.pid(1, "worker")
    close(net, poll, creator)
    deadline, killed = time.monotonic() + 60, None  # the complaint window first, then the MPC
    while killed is None and time.monotonic() < deadline:
        for child in _children(worker):
            os.kill(child, 9)
            killed = child
        time.sleep(0.01)
    assert killed, "the worker never started an MPC child"
    out = outcome(net, poll["id"])
    assert out["status"] == "final" and out["result"]["outcome"] == {"unanimous": True}
    start = client(net).query(f"/poll/{poll['id']}")["mpc_start"]
    assert out["final_height"] >= start + A  # decided by a later attempt


def test_worker_with_corrupted_shares_gives_no_wrong_outcome(net):
    net.stop(2, "worker")
    net.start(2, "worker", env={"MPCVOTE_WORKER_FAULT": "corrupt-shares"}, entry=str(FAULTY_WORKER))
    try:
        poll, creator = open_poll(net)
        vote_all(net, poll, ["yes"] * 4)
        close(net, poll, creator)
        out = outcome(net, poll["id"])
        assert out["status"] == "failed" and out["result"]["code"] == "inconsistent_shares"
        # Worker 2's shares were checked at the commit: it complained about none of them.
        assert client(net).query(f"/poll/{poll['id']}/complaints")["complaints"] == []
    finally:
        net.stop(2, "worker")
        net.start(2, "worker")


def test_no_share_or_private_key_in_logs_or_state(net):
    poll, creator = open_poll(net)
    ctx = context(net, poll)
    key = SigningKey.generate()
    raw, rho = craft_ballot(ctx, [1], os.urandom(16), key.public_bytes)  # rho known: every share is known here
    client(net).submit(ballot_tx(net, poll, key, raw))
    close(net, poll, creator)
    assert outcome(net, poll["id"])["status"] == "final"
    parsed = parse_ballot(ctx, raw)
    scalars, points, secrets = [rho], [], []
    for i in range(4):
        x, _ = validator_secrets(net, i)
        pairs = open_ballot(ctx, key.public_bytes, parsed, i, x)
        assert not isinstance(pairs, Rejected)
        scalars += [x] + [s for pair in pairs for s in pair]  # the key, then the value and blinding shares
        points.append(mul(rho, ctx.keys[i]).encode())  # K_i, the key of validator i's envelope
        seed = json.load(open(os.path.join(net.validators[i]["home"], "mpc", "attest_key.json")))["seed"]
        secrets += [seed.encode(), bytes.fromhex(seed)]
    for s in scalars:
        little = s.to_bytes(32, "little")
        secrets += [str(s).encode(), f"{s:064x}".encode(), s.to_bytes(32, "big"), little, little.hex().encode()]
    for p in points:
        secrets += [p, p.hex().encode()]
    scanned = 0
    folders = [str(net.dir / "logs")]
    folders += [os.path.join(v["home"], sub) for v in net.validators for sub in ("app", "worker", "data")]
    for folder in folders:
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
    # both unanimity: only an MPC job takes ports (a tally is opened on chain, §18)
    last = c.create_poll(creator, "Q?", "unanimity", (), close_height=at, max_ballots=100)["poll"]
    assert last - first == K
    vote_all(net, c.query(f"/poll/{first}"), ["yes"] * 3)
    vote_all(net, c.query(f"/poll/{last}"), ["yes", "no", "yes"])
    a, b = outcome(net, first, timeout=240), outcome(net, last, timeout=240)
    assert a["closed_height"] == b["closed_height"] == at
    assert a["status"] == b["status"] == "final"
    assert a["result"]["outcome"] == {"unanimous": True} and b["result"]["outcome"] == {"unanimous": False}
    starts = [c.query(f"/poll/{p}")["mpc_start"] for p in (first, last)]
    assert a["dissenters"] == b["dissenters"] == [] and a["final_height"] < starts[0] + A  # the first attempt
    assert b["final_height"] < starts[1] + A


def test_killed_worker_leaves_no_mpc_child(net):
    net.stop(3, "worker")  # party 3 away: the others' children wait for it until their deadline
    try:
        poll, creator = open_poll(net)
        vote_all(net, poll, ["yes"] * 3)
        worker = net.pid(1, "worker")
        close(net, poll, creator)
        child = None
        for _ in range(1200):  # the close commits, the window passes, the worker starts its job (bounded)
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
