"""Bad input through a real node's RPC: each refused with its code, and nothing stored changes.

One 4-validator testnet on loopback (no MPC workers: nothing here needs an
outcome). Every case sends one tx through `broadcast_tx_sync` or
`broadcast_tx_commit`, checks the code (and its name) in the response, and
compares what every node answers for `/polls`, `/poll/ID` and
`/poll/ID/ballots`, and the app hash all nodes carry at a common height, before
and after.
"""

import base64
import http.client
import json
import os
import random
import signal
import threading
import time
from urllib.parse import urlsplit

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol import canonical, tx as txcodec
from mpc_tx.client.ballot import build_ballot, poll_context
from mpc_tx.protocol.ballot import build_ballot as build_protocol_ballot
from mpc_tx.protocol.context import ciphertext_size
from mpc_tx.client.cli import Client, CliError, Session
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import QueryError, RpcError

from lyingproxy import LyingProxy, query_values
from netfixtures import running_testnet
from apphelpers import HOSTILE_PATHS
from badballots import cast_ballot_tx, chain_poll
from protocolhelpers import field_offsets

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
        self.open = c.create_poll(self.creator, "Adopt the budget?", "unanimity", close_in=2000, max_revotes=1)["poll"]
        self.closed = c.create_poll(self.creator, "Move the meeting?", "unanimity", close_in=2000)["poll"]
        c.vote(self.voter, self.open, "yes")
        c.vote(self.voter, self.open, "no")  # the one revote allowed
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
    settled = settled_app_hash(net)  # first: then every node has applied every committed tx
    return stored(net, world.polls), settled


def assert_unchanged(net, world, before):
    after = snapshot(net, world)
    assert after[0] == before[0], "a refused tx changed what the nodes store"
    assert after[1][0] > before[1][0] and after[1][1] == before[1][1], (
        f"app hash moved from {before[1]} to {after[1]} over blocks with only refused txs"
    )


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
    body = {
        "question": "x" * 70_000,
        "kind": "unanimity",
        "options": [],
        "voters": None,
        "close_height": 10_000,
        "max_ballots": 10,
        "max_revotes": 0,
        "min_ballots": 0,
    }
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
    doc["sig"] = voter.sign(other).hex()  # the voter's signature, of other bytes
    return canonical.encode(doc)


def over_the_revote_cap(w):
    return w.ballot(w.voter, w.open, "yes")  # a third ballot; the poll allows one revote


def after_the_close(w):
    return w.ballot(SigningKey.generate(), w.closed)


def unknown_poll(w):
    # A ballot whose proofs hold for poll 10^9 (they are checked before the poll is looked up).
    voter = SigningKey.generate()
    open_ctx = poll_context(w.poll(w.open), w.genesis)
    keys = [v["enc_key"] for v in w.genesis["app_state"]["validators"]]
    ctx = chain_poll(w.chain_id, 10**9, open_ctx.t, open_ctx.k, keys)
    raw = build_protocol_ballot(ctx, voter.public_bytes, [1])
    return cast_ballot_tx(voter, w.chain_id, w.nonce(voter), ctx, 10**9, raw)


def attestation_by_non_validator(w):
    poll = w.poll(w.closed)
    result = {
        "status": "ok",
        "outcome": {"unanimous": True},
        "counted": poll["ballots"],
        "ballots": poll["ballots_digest"],
    }
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
    assert net.rpc(2).height() > 0  # and the node is still serving


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


def test_ballot_with_envelopes_swapped_between_validators_is_refused(net, world):
    # §17: a ballot is no longer opaque. Its proof of rho covers the whole ballot body, so a
    # ballot whose envelopes for validators 0 and 1 were swapped on the way (by a relay, or a
    # node) fails it: refused by every node's CheckTx, never stored. (A voter who swaps its
    # own envelopes and redoes the proof is put out by a complaint: tests/testnet/test_mpc.py.)
    voter = SigningKey.generate()
    doc = json.loads(world.ballot(voter, world.open))
    ctx = poll_context(world.poll(world.open), world.genesis)
    raw = bytes.fromhex(doc["body"]["ballot"])
    start, size = field_offsets(ctx)["envelopes"], ciphertext_size(ctx.k)
    env0, env1 = raw[start : start + size], raw[start + size : start + 2 * size]
    swapped = raw[:start] + env1 + env0 + raw[start + 2 * size :]
    assert len(swapped) == len(raw) and swapped != raw
    tx = world.tx(voter, "cast_ballot", dict(doc["body"], ballot=swapped.hex()), nonce=doc["nonce"])
    before = snapshot(net, world)
    for node in NODES:
        res = sync(net, tx, node=node)
        assert_refused(res, codes.BAD_BALLOT)
        assert "proof of rho" in res["log"], res
    res = commit(net, tx, node=3)
    assert int(res["tx_result"].get("code", 0)) == 0 and res["height"] == "0", res
    assert_refused(res["check_tx"], codes.BAD_BALLOT)
    assert_unchanged(net, world, before)
    for node in NODES:
        with pytest.raises(QueryError) as err:
            net.rpc(node).query(f"/poll/{world.open}/ballot/{voter.public_hex}")
        assert err.value.code == codes.NOT_FOUND


def test_nodes_agree_at_the_end(net, world):
    time.sleep(0.5)
    status = net.status()
    assert status["agree"], status
    assert all(n["height"] and n["peers"] == 3 for n in status["nodes"]), status


# --- hostile requests: none stops a node ---------------------------------------------------------


def _get(url: str, timeout=10.0):
    """One GET on the node's URI interface (where `path=0x..` hands the app raw bytes)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + "?" + parts.query)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def test_hostile_battery_against_every_node_and_the_chain_goes_on(net, world):
    """Every hostile query path (as raw bytes and as a JSON string) and garbage txs, on every node."""
    before = snapshot(net, world)
    rng = random.Random(8)
    garbage = [
        b"\x00",
        b"{",
        b"[]",
        b"null",
        b'{"type":"create_poll"}',
        os.urandom(1),
        os.urandom(200),
        bytes(rng.randrange(256) for _ in range(5000)),
        b"\xff" * 64,
        "{\"é\":1}".encode(),
    ]
    sent = 0
    for node in NODES:
        base = net.rpc_url(node)
        for path in HOSTILE_PATHS:
            res = _get(f"{base}/abci_query?path=0x{path.hex()}")["result"]["response"]
            assert int(res.get("code", 0)) != 0, (node, path, res)
            sent += 1
        for path in HOSTILE_PATHS[:20]:
            text = path.decode("utf-8", "replace")
            try:
                net.rpc(node).query(text)
                raise AssertionError(f"{text!r} answered with code 0")
            except QueryError as err:
                assert err.code in (codes.BAD_QUERY, codes.UNKNOWN_PATH, codes.NOT_FOUND), (text, err)
            sent += 1
        for raw in garbage:
            res = sync(net, raw, node=node)
            assert int(res["code"]) in (codes.MALFORMED, codes.TOO_LARGE), (raw[:16], res)
            sent += 1
    assert sent >= 50 * len(NODES)
    for node in NODES:
        assert net.pid(node, "node") and net.pid(node, "app"), f"node{node} stopped"
    assert_unchanged(net, world, before)  # and the chain committed blocks after it all


# --- the client trusts the genesis registry, not a node ------------------------------------------


def test_a_node_listing_one_validator_four_times_gets_no_ballot(net, world):
    def duplicate_validator_0(path, value):
        if path == f"/poll/{world.open}":
            value["validators"] = [dict(value["validators"][0]) for _ in value["validators"]]
            return value
        return None

    # With the light client's checks (the default) and without them (--trust-node): refused either way.
    for trust_node in (False, True):
        with LyingProxy(net.rpc_url(1), query_values(duplicate_validator_0)) as proxy:
            liar = Client(proxy.url, genesis=str(net.genesis_path()), trust_node=trust_node)
            with pytest.raises(CliError) as err:
                liar.vote(SigningKey.generate(), world.open, "yes")
        assert proxy.url in str(err.value) and proxy.submitted() == []
    assert "does not match genesis registry" in str(err.value)


@pytest.mark.parametrize("lie", ["near 2^63", "an hour ahead", "negative", "not a number"])
def test_an_implausible_account_nonce_is_refused(net, world, lie):
    values = {
        "near 2^63": (1 << 63) - 5,
        "an hour ahead": time.time_ns() // 1000 + 2 * 3600 * 10**6,
        "negative": -1,
        "not a number": "12",
    }

    def lie_about_nonce(path, value):
        if path.startswith("/account/"):
            value["nonce"] = values[lie]
            return value
        return None

    with LyingProxy(net.rpc_url(2), query_values(lie_about_nonce)) as proxy:
        liar = Client(proxy.url, genesis=str(net.genesis_path()))
        with pytest.raises(CliError) as err:
            liar.vote(SigningKey.generate(), world.open, "yes")
    assert proxy.url in str(err.value) and "not signing" in str(err.value)
    assert proxy.submitted() == []


def test_an_honest_proxy_changes_nothing(net, world):
    with LyingProxy(net.rpc_url(2), query_values(lambda path, value: None)) as proxy:
        res = Client(proxy.url, genesis=str(net.genesis_path())).vote(SigningKey.generate(), world.open, "yes")
    assert res["height"] > 0 and proxy.submitted() == ["broadcast_tx_sync"]


# --- read-your-writes ----------------------------------------------------------------------------


def test_vote_through_a_lagging_node_right_after_a_create_through_another(net):
    session = Session()
    first = Client(net.rpc_url(0), genesis=str(net.genesis_path()), session=session)
    lagging = Client(net.rpc_url(3), genesis=str(net.genesis_path()), session=session)
    lagging.chain_id  # read before the node is paused
    pid = net.pid(3, "node")
    os.kill(pid, signal.SIGSTOP)
    try:
        created = first.create_poll(SigningKey.generate(), "Lunch at noon?", "unanimity", close_in=400)
        threading.Timer(1.0, os.kill, (pid, signal.SIGCONT)).start()
        # Node 3 wakes up a block or more behind: it must not answer "no poll" to this session.
        res = lagging.vote(SigningKey.generate(), created["poll"], "yes")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert res["height"] > created["height"]


def test_session_survives_the_process(tmp_path):
    """The CLI's next command (a new process) waits for the commit the last one made."""
    path = tmp_path / "keys" / ".session"
    Session(path).saw("chain-a/ABC", 120)
    again = Session(path)
    again.load("chain-a/ABC")
    assert again.seen == 120
    other = Session(path)
    other.load("chain-a/DEF")  # the same chain id made again: a new first block
    assert other.seen == 0
