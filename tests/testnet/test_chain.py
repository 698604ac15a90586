"""A real 4-validator testnet on loopback: ballots through several nodes, crashes, resets."""

import threading
import time

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import RpcError
from node_config.lifecycle import next_chain_id

from netfixtures import client, running_testnet, search_count, Voters, wait_committed

pytestmark = pytest.mark.testnet


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_testnet(tmp_path_factory.mktemp("core"), workers=False) as net:
        yield net


def new_poll(net, close_in=400, **kw):
    c = client(net)
    creator = SigningKey.generate()
    res = c.create_poll(
        creator, "Adopt the budget?", kw.pop("kind", "unanimity"), close_in=close_in, max_ballots=1000, **kw
    )
    return c.query(f"/poll/{res['poll']}"), creator


def ballots_on(net, i, poll_id):
    c = client(net, i)
    voters, after = [], None
    while True:
        page = c.query(f"/poll/{poll_id}/ballots?limit=100" + (f"&after={after}" if after else ""))
        voters += [b["voter"] for b in page["ballots"]]
        if not page["next"]:
            return voters
        after = page["next"]


def test_fifty_voters_through_different_nodes(net):
    poll, _ = new_poll(net)
    voters = Voters(net, 50)
    start_height, t0 = net.rpc(0).height(), time.monotonic()
    hashes, errors = voters.submit_all(poll, ["yes"] * 50)
    assert errors == [] and len(hashes) == 50
    committed = wait_committed(net.rpc(1), hashes)
    elapsed, blocks = time.monotonic() - t0, net.rpc(0).height() - start_height
    print(
        f"\n50 ballots committed in {elapsed:.2f} s over {blocks} blocks: "
        f"{50 / elapsed:.1f} ballots/s, {blocks / elapsed:.2f} blocks/s"
    )
    assert all(int(r["tx_result"].get("code", 0)) == 0 for r in committed.values())
    top = max(int(r["height"]) for r in committed.values())
    net.wait_height(top + 1, timeout=30)
    expected = sorted(k.public_hex for k in voters.keys)
    answers = [ballots_on(net, i, poll["id"]) for i in range(4)]
    assert all(sorted(a) == expected for a in answers)  # every ballot exactly once, on every node
    assert len({tuple(a) for a in answers}) == 1  # identical answers, same order
    assert net.status()["agree"]
    found = search_count(net.rpc(2), "tx_search", f"ballot.poll_id={poll['id']}", want=50, per_page="100")
    assert int(found["total_count"]) == 50
    assert {t["hash"] for t in found["txs"]} == set(hashes)


def test_poll_closing_at_height_found_by_block_search(net):
    poll, _ = new_poll(net, close_in=8)  # min_close_blocks 5, and one block to be included
    net.wait_height(poll["close_height"] + 1, timeout=30)
    query = f"poll_closed.poll_id={poll['id']}"
    found = search_count(net.rpc(3), "block_search", query)
    assert int(found["total_count"]) == 1
    assert int(found["blocks"][0]["block"]["header"]["height"]) == poll["close_height"]


def test_kill_node_and_app_mid_load_loses_nothing(net):
    poll, _ = new_poll(net)
    voters = Voters(net, 120)
    out = {}
    load = threading.Thread(
        target=lambda: out.update(zip(("hashes", "errors"), voters.submit_all(poll, ["no"] * 120, threads=3)))
    )
    load.start()
    time.sleep(1.0)
    killed_at = net.rpc(0).height()
    net.kill(2, "node")
    net.kill(2, "app")
    load.join(180)
    hashes = out["hashes"]
    assert len(hashes) >= 100, out["errors"][:5]
    # A tx node 2 accepted but had not yet gossiped died with its mempool (a mempool is not
    # durable): as a client would, send what has not committed again, through node 0.
    try:
        wait_committed(net.rpc(0), hashes, timeout=30)
    except TimeoutError:
        for h in hashes:
            try:
                net.rpc(0).tx(h)
            except Exception:
                try:
                    net.rpc(0).broadcast_tx_sync(voters.raw[h])
                except RpcError:
                    pass  # already in node 0's mempool: it commits from there
    wait_committed(net.rpc(0), hashes)
    # the other three go on without it (3 of 4 equal powers is more than 2/3)
    net.wait_height(killed_at + 3, timeout=60, nodes=[0, 1, 3])
    net.start(2, "app")
    net.start(2, "node")
    top = net.rpc(0).height()
    net.wait_height(top, timeout=120, nodes=[2])
    committed_voters = sorted({voters.sent[h][0] for h in hashes})
    assert sorted(ballots_on(net, 2, poll["id"])) == committed_voters  # the restarted node has them all
    assert net.status()["agree"]


def test_reset_then_up_starts_a_new_chain_with_a_new_chain_id(net):
    old = client(net)
    key = SigningKey.generate()
    signed_before = txcodec.build(
        key,
        old.chain_id,
        "create_poll",
        old.next_nonce(key),
        {
            "question": "Again?",
            "kind": "unanimity",
            "options": [],
            "voters": None,
            "close_height": 400,
            "max_ballots": 10,
            "max_revotes": 0,
            "min_ballots": 3,
            "threshold": None,
        },
    )
    new_id = net.reset()
    assert new_id == next_chain_id(old.chain_id) != old.chain_id
    for i in range(4):
        net.start_validator(i, worker=False)
    net.wait_height(2, timeout=90)
    c = client(net)
    assert c.chain_id == new_id == net.manifest["chain_id"]
    assert c.query("/polls")["polls"] == []
    res = net.rpc(1).broadcast_tx_sync(signed_before)  # signed for the old chain: never replayed here
    assert int(res["code"]) == codes.WRONG_CHAIN
    assert net.status()["agree"]


def test_chain_ids_after_resets_count_up_and_stay_within_cometbft_limit():
    assert next_chain_id("mpcvote-local") == "mpcvote-local-r2"
    assert next_chain_id("mpcvote-local-r2") == "mpcvote-local-r3"
    assert next_chain_id("x-rated") == "x-rated-r2"
    long = next_chain_id("c" * 50)
    assert len(long) == 50 and long.endswith("-r2") and next_chain_id(long).endswith("-r3")


def test_status_names_a_stopped_node_a_killed_app_and_a_killed_worker(tmp_path):
    from node_config.testnet_cli import human_status, _app_cell, _node_cell, _worker_cell

    with running_testnet(tmp_path, workers=True) as net:
        net.wait_height(net.rpc(0).height() + 2, timeout=60)
        net.stop(1, "node")
        net.kill(2, "app")
        net.kill(3, "worker")
        status = net.status()
        node0, node1, node2, node3 = status["nodes"]
        assert node0["height"] is not None and node0["app"]["height"] == node0["height"]
        assert _worker_cell(node0).startswith("up h ")  # its heartbeat, with the height followed
        assert _node_cell(node1) == "down" and _app_cell(node1).startswith("up")
        assert _app_cell(node2) == "down"
        assert _node_cell(node3).startswith("up h ") and _worker_cell(node3) == "down"
        assert status["reachable_agree"] and not status["agree"]  # the others agree; not every node is up
        text = human_status(status)
        assert "node1: node down (no process)" in text
        assert f"{status['reachable']} of 4 nodes answer; their app hashes agree" in text
