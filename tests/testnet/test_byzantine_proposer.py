"""Byzantine proposers on a real 4-validator testnet: their junk and over-full blocks are
rejected by ProcessProposal, the chain goes on, and a mempool larger than the cap drains.

node3's app proposes junk after the mempool's txs (tests/faults/app.py junk-proposer);
node2's app repeats a mempool tx past max_block_txs (crowded-proposer). Both still vote
as honest validators do, so the honest proposers' blocks commit.
"""

import base64

import pytest

from mpc_tx.protocol.codes import NAMES
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import RpcError

from netfixtures import FAULTY_APP, make_testnet, wait_committed

pytestmark = pytest.mark.testnet

CAP = 8
FAULTS = {3: "junk-proposer", 2: "crowded-proposer"}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    net = make_testnet(tmp_path_factory.mktemp("byzantine-proposer"))
    net.set_params({"max_block_txs": CAP})
    try:
        for i in range(4):
            if i in FAULTS:
                net.start(i, "app", env={"MPCVOTE_FAULT": FAULTS[i]}, entry=str(FAULTY_APP))
            net.start_validator(i, worker=False)
        net.wait_height(2, timeout=90)
        yield net
    finally:
        net.down()


def rejections(net, i: int) -> str:
    return "\n".join(
        line
        for line in net.log_file(i, "app").read_text(errors="replace").splitlines()
        if "rejected the proposal" in line
    )


def create_poll_tx(chain_id: str, close_height: int) -> bytes:
    body = {
        "question": "Byzantine?",
        "kind": "unanimity",
        "options": [],
        "voters": None,
        "close_height": close_height,
        "max_ballots": 10,
        "max_revotes": 0,
        "min_ballots": 3,
        "threshold": None,
    }
    return txcodec.build(SigningKey.generate(), chain_id, "create_poll", 1, body)


def test_junk_and_overfull_proposals_are_rejected_and_the_chain_goes_on(net):
    rpc = [net.rpc(i) for i in range(4)]
    chain_id = rpc[0].status()["node_info"]["network"]
    start = rpc[0].height()
    hashes = []
    # Bounded: a few bursts of txs (each burst more than the cap), until both faulty
    # proposers have had a turn with a full mempool, or 240 txs.
    while len(hashes) < 240:
        height = rpc[0].height()
        for k in range(40):
            # Each poll its own close height: at most max_closings_per_height close at one.
            res = rpc[k % 2].broadcast_tx_sync(create_poll_tx(chain_id, height + 500 + len(hashes)))
            assert int(res["code"]) == 0, res
            hashes.append(res["hash"])
        wait_committed(rpc[0], hashes, timeout=120)
        honest = rejections(net, 0) + rejections(net, 1)
        if "fails" in honest and "over max_block_txs" in honest:
            break
    honest = rejections(net, 0) + rejections(net, 1)
    assert "fails MALFORMED" in honest or "fails BAD_SIGNATURE" in honest, "the junk proposer was never rejected"
    assert "over max_block_txs" in honest, "the crowded proposer was never rejected"

    found = wait_committed(rpc[0], hashes, timeout=120)
    assert all(int(r["tx_result"].get("code", 0)) == 0 for r in found.values())
    top = rpc[0].height()
    for h in range(start, top + 1):
        txs = rpc[0].call("block", height=str(h))["block"]["data"]["txs"] or []
        assert len(txs) <= CAP, f"block {h} holds {len(txs)} txs, over the cap"
        for raw in txs:
            txcodec.decode(base64.b64decode(raw))  # raises on junk: none was committed
    net.wait_height(top + 3, timeout=60)  # and the chain goes on, on every node
    status = net.status()
    assert status["agree"], status
    for i in range(4):
        assert net.pid(i, "node") and net.pid(i, "app"), f"node{i} stopped"


def test_junk_sent_to_the_faulty_nodes_rpc_is_still_refused(net):
    """The faulty apps differ only as proposers: their CheckTx refuses junk like any other."""
    for i in FAULTS:
        try:
            res = net.rpc(i).broadcast_tx_sync(b"\x00junk")
        except RpcError as err:
            raise AssertionError(f"node{i}: {err}")
        assert NAMES[int(res["code"])] == "MALFORMED"
