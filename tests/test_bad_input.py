"""Bad input through a real node's RPC: each refused with its code, and nothing stored changes.

One 4-validator testnet on loopback (no MPC workers: nothing here needs an
outcome). Every case sends one tx through `broadcast_tx_sync` or
`broadcast_tx_commit`, checks the code (and its name) in the response, and
compares what every node answers for `/polls`, `/poll/ID` and
`/poll/ID/ballots`, and the app hash all nodes carry at a common height, before
and after.
"""
import base64
import json
import time

import pytest

from abci_app import codes
from mpc_tx import canonical, tx as txcodec
from mpc_tx.ballot import build_ballot
from mpc_tx.cli import Client
from mpc_tx.keys import SigningKey
from mpc_tx.rpc import RpcError

from netfixtures import running_testnet

pytestmark = pytest.mark.testnet

NODES = range(4)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_testnet(tmp_path_factory.mktemp("bad-input"), workers=False) as net:
        yield net


class World:
    """The polls and keys the cases act on, made with valid txs before any case runs.

    poll `open`: unanimity, open electorate, one revote; `voter` has cast a ballot and its revote.
    poll `closed`: unanimity, closed early by its creator, with one ballot.
    """

    def __init__(self, net):
        self.net = net
        self.client = Client(net.rpc_url(0), genesis=str(net.genesis_path()))
        self.genesis = json.loads(net.genesis_path().read_text())
        self.chain_id = self.genesis["chain_id"]
        self.creator, self.voter = SigningKey.generate(), SigningKey.generate()
        c = self.client
        self.open = c.create_poll(self.creator, "Adopt the budget?", "unanimity", close_in=2000,
                                  max_revotes=1)["poll"]
        self.closed = c.create_poll(self.creator, "Move the meeting?", "unanimity", close_in=2000)["poll"]
        c.vote(self.voter, self.open, "yes")
        c.vote(self.voter, self.open, "no")                     # the one revote allowed
        c.vote(self.voter, self.closed, "yes")
        c.close_poll(self.creator, self.closed)
        self.polls = (self.open, self.closed)

    def poll(self, poll_id):
        return self.client.query(f"/poll/{poll_id}")

    def nonce(self, key):
        return self.client.next_nonce(key)

    def ballot(self, key, poll_id, choice="yes", nonce=None):
        """Return a real ballot: shared, encrypted to the genesis keys, signed."""
        return build_ballot(key, self.poll(poll_id), choice, self.chain_id, nonce or self.nonce(key), self.genesis)

    def tx(self, key, type_, body, nonce=None, chain_id=None):
        return txcodec.build(key, chain_id or self.chain_id, type_, nonce or self.nonce(key), body)


@pytest.fixture(scope="module")
def world(net):
    return World(net)


# --- what is stored, and the app hash every node agrees on ---------------------------------

def stored(net, polls):
    """Return what every node answers for the polls; fail unless all nodes answer the same."""
    paths = ["/polls?limit=1000"] + [f"/poll/{p}{tail}" for p in polls for tail in ("", "/ballots?limit=1000")]
    answers = [{path: net.rpc(i).query(path)[0] for path in paths} for i in NODES]
    assert all(a == answers[0] for a in answers[1:]), "the nodes answer differently"
    return answers[0]


def settled_app_hash(net):
    """Return (height, app hash) at a height whose header covers every block committed before the call.

    A tx in the mempool now lands at the latest at the next block; the header two
    blocks on carries the app hash after it. Every node must carry the same hash there.
    """
    height = max(net.rpc(i).height() for i in NODES) + 2
    net.wait_height(height, timeout=30)
    hashes = {net.rpc(i).call("block", height=str(height))["block"]["header"]["app_hash"] for i in NODES}
    assert len(hashes) == 1, f"app hashes differ at height {height}: {hashes}"
    return height, hashes.pop()


def snapshot(net, world):
    settled = settled_app_hash(net)          # first: then every node has applied every committed tx
    return stored(net, world.polls), settled


def assert_unchanged(net, world, before):
    after = snapshot(net, world)
    assert after[0] == before[0], "a refused tx changed what the nodes store"
    assert after[1][0] > before[1][0] and after[1][1] == before[1][1], \
        f"app hash moved from {before[1]} to {after[1]} over blocks with only refused txs"


def sync(net, raw, node=0):
    return net.rpc(node).broadcast_tx_sync(raw)


def commit(net, raw, node=0):
    return net.rpc(node).call("broadcast_tx_commit", tx=base64.b64encode(raw).decode())


def assert_refused(res, code):
    """The response carries the code, its name's meaning, our codespace and a reason."""
    assert (int(res["code"]), codes.NAMES.get(int(res["code"]))) == (code, codes.NAMES[code]), res
    assert res.get("codespace") == "mpcvote" and res.get("log"), res


# --- the cases ------------------------------------------------------------------------------

def too_large_for_the_app(w):
    # ~70 KB: under the node's 1 MB, over the app's max_tx_bytes of 64 KiB.
    body = {"question": "x" * 70_000, "kind": "unanimity", "options": [], "voters": None,
            "close_height": 10_000, "max_ballots": 10, "max_revotes": 0, "min_ballots": 0}
    raw = w.tx(w.creator, "create_poll", body)
    assert 65_536 < len(raw) < 1_000_000
    return raw


def truncated(w):
    return w.ballot(SigningKey.generate(), w.open)[:-7]


def wrong_chain(w):
    # Signed for another chain: the signature verifies, the chain id does not match.
    voter = SigningKey.generate()
    doc = json.loads(w.ballot(voter, w.open))
    return w.tx(voter, "cast_ballot", doc["body"], chain_id=w.chain_id + "-fork")


def bad_signature(w):
    voter = SigningKey.generate()
    doc = json.loads(w.ballot(voter, w.open))
    other = txcodec.signing_bytes(doc["chain_id"], doc["type"], doc["signer"], doc["nonce"] + 1, doc["body"])
    doc["sig"] = voter.sign(other).hex()          # the voter's signature, of other bytes
    return canonical.encode(doc)


def over_the_revote_cap(w):
    return w.ballot(w.voter, w.open, "yes")        # a third ballot; the poll allows one revote


def after_the_close(w):
    return w.ballot(SigningKey.generate(), w.closed)


def unknown_poll(w):
    voter = SigningKey.generate()
    doc = json.loads(w.ballot(voter, w.open))
    return w.tx(voter, "cast_ballot", {"poll": 10**9, "payloads": doc["body"]["payloads"]})


def attestation_by_non_validator(w):
    poll = w.poll(w.closed)
    result = {"status": "ok", "outcome": {"unanimous": True}, "counted": poll["ballots"], "excluded": [],
              "unusable": [[] for _ in poll["validators"]], "ballots": poll["ballots_digest"]}
    return w.tx(SigningKey.generate(), "submit_outcome", {"poll": w.closed, "validator": 0, "result": result})


CASES = [
    # (case, how it is sent, expected code)
    (too_large_for_the_app, sync, codes.TOO_LARGE),
    (truncated, sync, codes.MALFORMED),
    (wrong_chain, sync, codes.WRONG_CHAIN),
    (bad_signature, commit, codes.BAD_SIGNATURE),
    (over_the_revote_cap, sync, codes.REVOTE_LIMIT),
    (after_the_close, commit, codes.POLL_CLOSED),
    (unknown_poll, sync, codes.UNKNOWN_POLL),
    (attestation_by_non_validator, commit, codes.NOT_VALIDATOR),
]


@pytest.mark.parametrize("make, send, code", CASES, ids=[c[0].__name__ for c in CASES])
def test_refused_with_its_code_and_nothing_stored_changes(net, world, make, send, code):
    raw = make(world)
    before = snapshot(net, world)
    res = send(net, raw, node=1)
    if send is commit:
        # CheckTx refused it: the node answers at once and never puts it in a block.
        assert int(res["tx_result"].get("code", 0)) == 0 and res["height"] == "0", res
        res = res["check_tx"]
    assert_refused(res, code)
    assert_unchanged(net, world, before)


def test_tx_over_the_nodes_limit_is_refused_by_the_node(net, world):
    # Over 1 MB the node refuses the request itself (its RPC body limit comes first: the tx
    # travels base64-encoded), before the app sees it.
    raw = too_large_for_the_app(world).replace(b"x" * 70_000, b"x" * 1_100_000)
    before = snapshot(net, world)
    with pytest.raises(RpcError) as err:
        sync(net, raw, node=2)
    assert "too large" in str(err.value).lower(), err.value
    assert_unchanged(net, world, before)
    assert net.rpc(2).height() > 0             # and the node is still serving


def test_replays_after_commit_are_refused(net, world):
    voter = SigningKey.generate()
    raw = world.ballot(voter, world.open)
    res = commit(net, raw)
    assert int(res["check_tx"]["code"]) == 0 and int(res["tx_result"].get("code", 0)) == 0, res
    before = snapshot(net, world)
    # The same bytes again: the node's mempool cache knows the committed tx and refuses it
    # itself, on every node (each saw it committed).
    for node in NODES:
        with pytest.raises(RpcError) as err:
            sync(net, raw, node=node)
        assert "already exists in cache" in str(err.value), err.value
    # The same nonce on other bytes (a fresh ballot, signed again): the app's nonce rule.
    nonce = json.loads(raw)["nonce"]
    assert_refused(sync(net, world.ballot(voter, world.open, "no", nonce=nonce), node=3), codes.REPLAY)
    assert_refused(sync(net, world.ballot(voter, world.open, "no", nonce=nonce - 1), node=2), codes.REPLAY)
    assert_unchanged(net, world, before)


def test_ballot_with_payloads_swapped_between_validators_is_accepted_as_opaque(net, world):
    # At this layer a ballot is opaque: one payload per validator, of the right size. A ballot
    # whose payloads are swapped between validators is stored and counted like any other; it is
    # the MPC layer that finds validator 0's payload undecryptable with validator 0's key (the
    # AEAD binds the validator index) and treats the ballot as invalid (a veto in a unanimity
    # poll). That is not tested here.
    voter = SigningKey.generate()
    doc = json.loads(world.ballot(voter, world.open))
    payloads = doc["body"]["payloads"]
    payloads[0], payloads[1] = payloads[1], payloads[0]
    raw = world.tx(voter, "cast_ballot", {"poll": world.open, "payloads": payloads})
    count = world.poll(world.open)["ballots"]
    res = commit(net, raw, node=3)
    assert int(res["check_tx"]["code"]) == 0 and int(res["tx_result"].get("code", 0)) == 0, res
    net.wait_height(int(res["height"]), timeout=30)
    answers = stored(net, world.polls)
    assert answers[f"/poll/{world.open}"]["ballots"] == count + 1
    stored_ballot = [b for b in answers[f"/poll/{world.open}/ballots?limit=1000"]["ballots"]
                     if b["voter"] == voter.public_hex]
    assert len(stored_ballot) == 1 and stored_ballot[0]["payloads"] == payloads
    assert stored_ballot[0]["tx"] == res["hash"]


def test_nodes_agree_at_the_end(net, world):
    time.sleep(0.5)
    status = net.status()
    assert status["agree"], status
    assert all(n["height"] and n["peers"] == 3 for n in status["nodes"]), status
