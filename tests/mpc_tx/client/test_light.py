"""The light client (mpc_tx/client/light.py); verified poll reads are test_verified.py's.

Units on headers, commits, tx proofs and block results taken from a real 4-validator
testnet at test time, and tampered copies of each; then a lying proxy in front of
one node (tests/lyingproxy.py): every lie is refused with a clear error and nothing
is broadcast; and CometBFT's own light client (`cometbft light`) agrees with ours.
"""

import base64
import copy
import hashlib
import json
import random
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from mpc_tx.protocol import tx as txcodec
from mpc_tx.client.cli import Client
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.light import (
    LightClient,
    ValidatorSet,
    VerifyError,
    header_hash,
    merkle_root,
    results_hash,
    verify_signed_header,
    verify_tx_proof,
)
from mpc_tx.client.rpc import Rpc
from node_config.generate import find_cometbft
from node_config.ports import free_ports

from lyingproxy import LyingProxy
from lightchain import light_chain, poll_rewrite, refused, vote_through

EMPTY = hashlib.sha256(b"").digest()


# --- pure units: no node --------------------------------------------------------------------
def test_merkle_root_is_rfc6962_with_cometbft_split():
    leaf = lambda x: hashlib.sha256(b"\x00" + x).digest()  # noqa: E731
    inner = lambda a, b: hashlib.sha256(b"\x01" + a + b).digest()  # noqa: E731
    assert merkle_root([]) == EMPTY
    assert merkle_root([b"a"]) == leaf(b"a")
    assert merkle_root([b"a", b"b"]) == inner(leaf(b"a"), leaf(b"b"))
    # 3 items split 2 + 1; 5 items split 4 + 1 (the largest power of two below n)
    assert merkle_root([b"a", b"b", b"c"]) == inner(inner(leaf(b"a"), leaf(b"b")), leaf(b"c"))
    four = inner(inner(leaf(b"a"), leaf(b"b")), inner(leaf(b"c"), leaf(b"d")))
    assert merkle_root([b"a", b"b", b"c", b"d", b"e"]) == inner(four, leaf(b"e"))


@pytest.mark.parametrize(
    "junk",
    [
        None,
        0,
        "x",
        [],
        {},
        {"header": None, "commit": None},
        {"header": {"chain_id": "c"}, "commit": {}},
        {"header": [], "commit": []},
    ],
)
def test_verifier_is_total_on_junk(junk):
    vals = ValidatorSet.from_genesis(
        {
            "validators": [
                {
                    "pub_key": {"type": "tendermint/PubKeyEd25519", "value": base64.b64encode(b"k" * 32).decode()},
                    "power": "1",
                }
            ]
        }
    )
    with pytest.raises(VerifyError):
        verify_signed_header(vals, "c", junk)
    with pytest.raises(VerifyError):
        header_hash(junk)
    with pytest.raises(VerifyError):
        verify_tx_proof(junk, EMPTY, EMPTY)
    if not isinstance(junk, dict):
        with pytest.raises(VerifyError):
            results_hash([junk])


def test_create_and_close_put_their_effect_in_the_result_data(tmp_path):
    from apphelpers import Chain, poll_body

    chain = Chain(tmp_path)
    chain.init()
    creator, other = SigningKey.generate(), SigningKey.generate()
    res = chain.block(chain.tx(creator, "create_poll", poll_body(50)), chain.tx(creator, "create_poll", poll_body(50)))
    assert [r.data for r in res.tx_results] == [b'{"poll_id":1}', b'{"poll_id":2}']
    close = chain.tx(creator, "close_poll", {"poll": 2})
    res = chain.block(chain.tx(other, "close_poll", {"poll": 2}), close)
    assert res.tx_results[0].code != 0 and res.tx_results[0].data == b""
    # §18.4: the close is the poll's first event; its data carries the running digest R_0 -> close
    from apphelpers import context_of
    from mpc_tx.protocol import running

    poll = chain.query("/poll/2")[1]
    expected = running.step(
        running.start(context_of(poll).header), running.close_event(2, hashlib.sha256(close).digest())
    )
    data = running.parse_data(res.tx_results[1].data)
    assert (data["closed_height"], data["poll_id"], data["events"], data["running"]) == (2, 2, 1, expected)
    assert poll["running"] == expected.hex()
    # canonical bytes: every node hashes the same result data into last_results_hash
    from mpc_tx.protocol import canonical

    assert canonical.encode(canonical.decode(res.tx_results[1].data)) == res.tx_results[1].data


def test_genesis_without_validators_is_refused():
    with pytest.raises(VerifyError, match="no validators"):
        ValidatorSet.from_genesis({"validators": []})
    with pytest.raises(VerifyError, match="only ed25519"):
        ValidatorSet.from_genesis({"validators": [{"pub_key": {"type": "x", "value": ""}, "power": "1"}]})


# --- a real chain ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A testnet with: poll `open` (tally), poll `closed` (closed early), a block of several txs."""
    yield from light_chain(tmp_path_factory)


def light(chain, i=0, url=None):
    return LightClient(Rpc(url or chain["net"].rpc_url(i)), chain["genesis"])


def signed_header(chain, height, i=0):
    return chain["net"].rpc(i).call("commit", height=str(height))["signed_header"]


def full_commit(chain, low=4):
    """A signed header whose commit carries all four signatures (a late precommit may be absent)."""
    for height in range(low, chain["net"].rpc(0).height()):
        signed = signed_header(chain, height)
        if all(s["block_id_flag"] == 2 for s in signed["commit"]["signatures"]):
            return signed
    raise AssertionError("no commit with all four signatures")


@pytest.mark.testnet
def test_genesis_set_hash_is_the_headers_validators_hash(chain):
    vals = ValidatorSet.from_genesis(chain["genesis"])
    header = signed_header(chain, 2)["header"]
    assert vals.hash.hex().upper() == header["validators_hash"] == header["next_validators_hash"]


@pytest.mark.testnet
def test_header_hash_matches_the_block_id_of_real_blocks(chain):
    rpc = chain["net"].rpc(1)
    top = rpc.height()
    for height in [1, 2, 3] + list(range(max(4, top - 5), top + 1)):  # 1: an empty last_block_id
        block = rpc.call("block", height=str(height))
        assert header_hash(block["block"]["header"]).hex().upper() == block["block_id"]["hash"]


@pytest.mark.testnet
def test_real_commits_verify_on_every_node(chain):
    vals, chain_id = ValidatorSet.from_genesis(chain["genesis"]), chain["genesis"]["chain_id"]
    for i in range(4):
        top = chain["net"].rpc(i).height()
        for height in (1, top // 2, top):
            got = verify_signed_header(vals, chain_id, signed_header(chain, height, i), height)
            assert got.height == height and got.signed_power * 3 > got.total_power * 2


def _refused(chain, signed, match, height=None):
    vals, chain_id = ValidatorSet.from_genesis(chain["genesis"]), chain["genesis"]["chain_id"]
    with pytest.raises(VerifyError, match=match):
        verify_signed_header(vals, chain_id, signed, height)


@pytest.mark.testnet
@pytest.mark.parametrize(
    "field,value",
    [
        ("app_hash", "00" * 32),
        ("data_hash", "11" * 32),
        ("last_results_hash", "22" * 32),
        ("time", "2030-01-01T00:00:00.5Z"),
        ("proposer_address", "33" * 20),
        ("consensus_hash", "44" * 32),
        ("last_commit_hash", "55" * 32),
        ("evidence_hash", "66" * 32),
    ],
)
def test_a_tampered_header_field_is_refused(chain, field, value):
    signed = full_commit(chain)
    signed["header"][field] = value
    _refused(chain, signed, "the header was altered")


@pytest.mark.testnet
def test_tampered_versions_heights_and_ids_are_refused(chain):
    signed = full_commit(chain)
    h = int(signed["header"]["height"])
    for change, match in [
        (lambda s: s["header"]["version"].update(app="7"), "altered"),
        (lambda s: s["header"]["last_block_id"]["parts"].update(total=2), "altered"),
        (lambda s: s["header"].update(height=str(h + 1)), f"commit is for height {h}"),
        (lambda s: (s["header"].update(height=str(h + 1)), s["commit"].update(height=str(h + 1))), "altered"),
        (lambda s: s["header"].update(chain_id="other"), "is for chain 'other'"),
        (lambda s: s["header"].update(validators_hash="77" * 32), "validators_hash .* is not the genesis"),
        (lambda s: s["header"].update(next_validators_hash="77" * 32), "next_validators_hash"),
    ]:
        forged = copy.deepcopy(signed)
        change(forged)
        _refused(chain, forged, match)
    _refused(chain, copy.deepcopy(signed), f"asked for the header at height {h - 1}", height=h - 1)


@pytest.mark.testnet
def test_tampered_signatures_are_refused(chain):
    signed = full_commit(chain)
    bad = copy.deepcopy(signed)
    sig = bytearray(base64.b64decode(bad["commit"]["signatures"][0]["signature"]))
    sig[5] ^= 1
    bad["commit"]["signatures"][0]["signature"] = base64.b64encode(bytes(sig)).decode()
    _refused(chain, bad, "signature 0 .* does not verify")
    # a signature's own timestamp is signed
    bad = copy.deepcopy(signed)
    bad["commit"]["signatures"][0]["timestamp"] = "2030-01-01T00:00:00Z"
    _refused(chain, bad, "signature 0 .* does not verify")
    # too little power: two of four marked absent
    bad = copy.deepcopy(signed)
    for s in bad["commit"]["signatures"][:2]:
        s.update(block_id_flag=1, validator_address="", timestamp="0001-01-01T00:00:00Z", signature=None)
    _refused(chain, bad, "signed by 2 of 4 voting power; more than 2 is needed")
    # votes for nil count for nothing either
    bad = copy.deepcopy(signed)
    for s in bad["commit"]["signatures"][1:3]:
        s["block_id_flag"] = 3
    _refused(chain, bad, "signed by 2 of 4")
    # in genesis order instead of the set's order, or one missing
    bad = copy.deepcopy(signed)
    bad["commit"]["signatures"].reverse()
    _refused(chain, bad, "signature 0 is from")
    bad = copy.deepcopy(signed)
    bad["commit"]["signatures"].pop()
    _refused(chain, bad, "has 3 signatures for 4")


@pytest.mark.testnet
def test_random_mutations_never_raise_anything_but_verify_error(chain):
    signed, rng = full_commit(chain), random.Random(7)
    vals, chain_id = ValidatorSet.from_genesis(chain["genesis"]), chain["genesis"]["chain_id"]
    junk = [None, 0, -1, 2**70, "", "zz", "0" * 65, [], {}, True, "2026-13-45T99:99:99Z"]
    for _ in range(300):
        forged = copy.deepcopy(signed)
        node, key = forged, None
        for _depth in range(4):  # walk down to a random leaf
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = rng.choice(keys)
            if not isinstance(node[key], (dict, list)) or rng.random() < 0.3:
                break
            node = node[key]
        if key is not None:
            node[key] = rng.choice(junk)
        try:
            verify_signed_header(vals, chain_id, forged)
        except VerifyError:
            pass


@pytest.mark.testnet
def test_tx_proofs_of_a_block_with_several_txs(chain):
    rpc, lc = chain["net"].rpc(2), light(chain, 2)
    by_height = {}
    for h, r in chain["batch"].items():
        by_height.setdefault(int(r["height"]), []).append(h)
    height, hashes = max(by_height.items(), key=lambda kv: len(kv[1]))
    block = rpc.call("block", height=str(height))
    txs = [base64.b64decode(t) for t in block["block"]["data"]["txs"]]
    assert len(txs) >= 2
    data_hash = lc.header(height).data_hash
    assert merkle_root([hashlib.sha256(t).digest() for t in txs]) == data_hash
    for h in hashes:
        answer = rpc.call("tx", hash=base64.b64encode(bytes.fromhex(h)).decode(), prove=True)
        tx, index, total = verify_tx_proof(answer["proof"], data_hash, bytes.fromhex(h))
        assert tx == txs[index] and total == len(txs)
        verified = lc.tx(h)
        assert verified.code == 0 and list(json.loads(verified.data)) == ["poll_id"]
        assert verified.tx == tx and txcodec.decode(tx).type == "create_poll"
        # tampered proofs
        for change, match in [
            (lambda p: p.update(data=base64.b64encode(b"x" + tx).decode()), "does not hash to"),
            (lambda p: p["proof"].update(index=str((index + 1) % total)), "data_hash|aunts"),
            (lambda p: p["proof"]["aunts"].__setitem__(0, base64.b64encode(b"\0" * 32).decode()), "data_hash"),
            (lambda p: p["proof"].update(leaf_hash=base64.b64encode(b"\0" * 32).decode()), "leaf hash"),
        ]:
            forged = copy.deepcopy(answer["proof"])
            change(forged)
            with pytest.raises(VerifyError, match=match):
                verify_tx_proof(forged, data_hash, bytes.fromhex(h))
        # A proof names its leaf by the left/right path only: another total can give the same
        # path (4 leaves and 3 share it for index 0). The block's result count, proven by the
        # next header, pins the total, so the client refuses it.
        forged = copy.deepcopy(answer)
        forged["proof"]["proof"]["total"] = str(total + 1)
        with pytest.raises(VerifyError, match="counts|data_hash|aunts"):
            lc._check_tx(forged, bytes.fromhex(h))


@pytest.mark.testnet
def test_results_hash_of_real_blocks_and_tampered_results(chain):
    rpc, lc = chain["net"].rpc(3), light(chain, 3)
    height = int(chain["close_tx"]["height"])
    results = rpc.call("block_results", height=str(height))["txs_results"]
    assert results_hash(results) == lc.header(height + 1).last_results_hash
    assert results_hash(rpc.call("block_results", height="2")["txs_results"]) == lc.header(3).last_results_hash
    # log, events, info and codespace are not hashed; code and data are
    same = copy.deepcopy(results)
    same[0].update(log="anything", events=[], info="x", codespace="y")
    assert results_hash(same) == results_hash(results)
    for change in (
        lambda r: r.update(code=7),
        lambda r: r.update(data=base64.b64encode(b"{}").decode()),
        lambda r: r.update(gas_used="1"),
    ):
        forged = copy.deepcopy(results)
        change(forged[0])
        assert results_hash(forged) != results_hash(results)


@pytest.mark.testnet
def test_create_and_close_results_carry_their_effect(chain):
    lc = light(chain, 1)
    created = lc.tx(chain["closed"]["hash"])
    assert created.code == 0 and created.data == b'{"poll_id":%d}' % chain["closed"]["poll"]
    closed = lc.tx(chain["close_tx"]["hash"])
    from mpc_tx.protocol import running

    data = running.parse_data(closed.data)  # §18.4: the close is an event, its data the running digest after it
    assert (data["closed_height"], data["poll_id"]) == (closed.height, chain["closed"]["poll"]), data
    poll, _h = chain["net"].rpc(1).query(f"/poll/{chain['closed']['poll']}")
    if poll["events"] == data["events"]:  # nothing after the close (no complaint): the poll's digest is this one
        assert poll["running"] == data["running"].hex()


@pytest.mark.testnet
def test_cli_verify_header_and_verify_tx(chain, capsys):
    from mpc_tx.client.cli import main

    base = ["--node", chain["net"].rpc_url(0), "--genesis", str(chain["net"].genesis_path()), "--json"]
    assert main(base + ["verify-header", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verified"] and out["hash"] == chain["net"].rpc(1).call("block", height="3")["block_id"]["hash"]
    assert main(base + ["verify-tx", chain["open"]["hash"]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verified"] and out["data"] == '{"poll_id":%d}' % chain["open"]["poll"]
    assert main(base + ["verify-tx", "AB" * 32]) == 1
    assert "error" in json.loads(capsys.readouterr().out)


# --- a lying node ---------------------------------------------------------------------------------


def commit_rewrite(change):
    def rewrite(method, params, result):
        if method == "commit":
            change(result["signed_header"])
        return result

    return rewrite


@pytest.mark.testnet
def test_honest_node_through_the_proxy_votes_as_before(chain):
    error, methods, _ = vote_through(chain, lambda m, p, r: r)
    assert error is None
    assert "broadcast_tx_sync" in methods and "commit" in methods


def _flip_signature(signed):
    first = next(s for s in signed["commit"]["signatures"] if s["block_id_flag"] == 2)
    sig = bytearray(base64.b64decode(first["signature"]))
    sig[0] ^= 0xFF
    first["signature"] = base64.b64encode(bytes(sig)).decode()


def _two_absent(signed):
    for s in signed["commit"]["signatures"][:2]:
        s.update(block_id_flag=1, validator_address="", timestamp="0001-01-01T00:00:00Z", signature=None)


def _other_validators(signed):
    signed["header"]["validators_hash"] = hashlib.sha256(b"a validator set of the forger's").hexdigest().upper()


@pytest.mark.testnet
@pytest.mark.parametrize(
    "forge,match",
    [
        (_flip_signature, r"signature \d .* does not verify"),
        (_two_absent, "signed by [0-2] of 4 voting power"),
        (_other_validators, "validators_hash .* is not the genesis"),
    ],
)
def test_forged_headers_are_refused(chain, forge, match):
    refused(chain, commit_rewrite(forge), match)


@pytest.mark.testnet
def test_a_misreported_ballot_commit_is_caught(chain):
    """After the broadcast, the ballot's commit and result are proven too, not taken from /tx."""

    def misplace(method, params, result):
        if method == "tx" and params.get("prove") and b'"cast_ballot"' in base64.b64decode(result["tx"]):
            result["height"] = str(int(result["height"]) - 1)
        return result

    error, methods, url = vote_through(chain, misplace)
    assert error and "says it committed, but that does not verify" in error and url in error, error
    assert "broadcast_tx_sync" in methods


@pytest.mark.testnet
def test_trust_node_skips_verification(chain):
    def rotate(poll):
        poll["options"] = poll["options"][1:] + poll["options"][:1]

    with LyingProxy(chain["net"].rpc_url(0), poll_rewrite(chain["open"]["poll"], rotate)) as proxy:
        c = Client(proxy.url, keys_dir=chain["tmp"] / "keys", genesis=str(chain["net"].genesis_path()))
        c.trust_node = True
        res = c.vote(SigningKey.generate(), chain["open"]["poll"], "a")
        assert res["height"] > 0 and "commit" not in proxy.methods()


# --- CometBFT's own light client as the oracle ------------------------------------------------------
class CometLight:
    """`cometbft light` serving its verifying proxy on a free loopback port, stopped by PID.

    Its traps: a witness is mandatory; --trusting-period defaults to 168 h (our chains
    are minutes old); a restart that reuses its home with an older trust root asks y/n
    on stdin (so: a fresh home each time, stdin from /dev/null); one process per home.
    """

    def __init__(self, chain_id, primary, witness, height, block_hash):
        (self.port,), self.home = free_ports(1), tempfile.mkdtemp(prefix="cmtlight")
        self.log = open(f"{self.home}/light.log", "wb")
        # A fresh home each time: reusing one with an older trust root asks y/n on stdin.
        self.proc = subprocess.Popen(
            [
                str(find_cometbft(None)),
                "light",
                chain_id,
                "--primary",
                primary,
                "--witnesses",
                witness,
                "--height",
                str(height),
                "--hash",
                block_hash.hex().upper(),
                "--home-dir",
                self.home,
                "--laddr",
                f"tcp://127.0.0.1:{self.port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def commit(self, height):
        """Return (signed header, None) the light proxy verified at `height`, or (None, its error)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "commit", "params": {"height": str(height)}}).encode()
        for _ in range(100):  # bounded: until its proxy listens
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}/", body, {"Content-Type": "application/json"}
                )
                doc = json.load(urllib.request.urlopen(req, timeout=30))
                break
            except urllib.error.HTTPError as exc:  # an RPC error: the answer is in the body
                doc = json.loads(exc.read() or b"{}")
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"cometbft light exited: {open(self.log.name).read()[-500:]}")
                time.sleep(0.1)
        else:
            raise RuntimeError("cometbft light never answered")
        if doc.get("error") or "result" not in doc:
            return None, str(doc.get("error") or doc)
        return doc["result"]["signed_header"], None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.mark.testnet
def test_cometbft_light_agrees_on_every_header(chain):
    net, lc = chain["net"], light(chain, 0)
    oracle = CometLight(chain["genesis"]["chain_id"], net.rpc_url(0), net.rpc_url(1), 1, lc.header(1).hash)
    try:
        vals, chain_id = ValidatorSet.from_genesis(chain["genesis"]), chain["genesis"]["chain_id"]
        top = min(net.rpc(0).height(), 200)
        for height in range(2, top + 1):  # every header both see, up to a bound
            theirs, error = oracle.commit(height)
            assert error is None, error
            assert header_hash(theirs["header"]) == lc.header(height).hash
            assert theirs["commit"]["block_id"]["hash"] == lc.header(height).hash.hex().upper()
            # and what it serves verified, ours accepts too
            assert verify_signed_header(vals, chain_id, theirs, height).hash == lc.header(height).hash
    finally:
        oracle.stop()


@pytest.mark.testnet
def test_cometbft_light_also_refuses_the_forged_headers(chain):
    net, lc = chain["net"], light(chain, 1)
    target = net.rpc(0).height() - 1
    for forge in (_flip_signature, _two_absent, _other_validators):

        def rewrite(method, params, result, forge=forge):
            if method == "commit" and int(result["signed_header"]["header"]["height"]) == target:
                forge(result["signed_header"])
            return result

        with LyingProxy(net.rpc_url(0), rewrite) as proxy:
            with pytest.raises(VerifyError):
                LightClient(Rpc(proxy.url), chain["genesis"]).header(target)
            oracle = CometLight(chain["genesis"]["chain_id"], proxy.url, net.rpc_url(1), 1, lc.header(1).hash)
            try:
                theirs, error = oracle.commit(target)
            finally:
                oracle.stop()
            # It either fails, or drops the lying primary for its witness: never the forged answer.
            honest = signed_header(chain, target, 1)
            assert error is not None or (
                theirs["header"] == honest["header"]
                and theirs["commit"]["signatures"] == honest["commit"]["signatures"]
            ), forge
