"""The CLI a person uses: durations, drop reports, privacy defaults, human output (pure and on a real testnet)."""

import os
import re
import sys
import threading
from pathlib import Path

import pexpect
import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol import tx as txcodec
from mpc_tx.client.cli import (
    Client,
    CliError,
    DropWatch,
    _table,
    blocks_for,
    dropped_message,
    job_reason,
    main,
    parse_close_in,
    span,
)
from mpc_tx.protocol.keys import SigningKey

from netfixtures import client, running_testnet


# --- pure: durations, the drop decision ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("90s", ("seconds", 90)),
        ("10m", ("seconds", 600)),
        ("2h", ("seconds", 7200)),
        ("1d", ("seconds", 86400)),
        ("40b", ("blocks", 40)),
        ("40", ("blocks", 40)),
        (" 3M ", ("seconds", 180)),
    ],
)
def test_close_in_takes_times_and_blocks(text, parsed):
    assert parse_close_in(text) == parsed


@pytest.mark.parametrize("text", ["", "0s", "-5m", "5x", "1.5h", "m", "400d", "9999999999b"])
def test_close_in_refuses_what_it_cannot_read_and_says_what_it_takes(text):
    with pytest.raises(CliError, match="90s, 10m, 2h|more than a year"):
        parse_close_in(text)


def test_durations_become_blocks_and_read_back_as_time():
    assert blocks_for(90, 0.6) == 150 and blocks_for(1, 5.0) == 1
    assert (span(5), span(95), span(7300)) == ("5s", "1m35s", "2h01m")


def test_waits_show_nothing_without_progress_and_one_spinner_when_nested(capsys):
    quiet = Client("http://127.0.0.1:9", progress=False)
    with quiet._spinner() as show:
        show("waiting for commit")
        assert quiet._status is None
    shown = Client("http://127.0.0.1:9", progress=True)
    with shown._spinner() as show:
        show("waiting for the outcome")
        outer = shown._status
        with shown._spinner() as inner:  # a query inside the wait: the same line, new words
            inner("waiting for the node")
            assert shown._status is outer
        assert shown._status is outer
    assert shown._status is None
    # stderr is not a terminal here: rich's transient status leaves nothing behind.
    assert capsys.readouterr() == ("", "")


def test_tables_are_aligned_plain_text_whatever_the_question_says():
    text = _table(
        ["id", "kind", "question"],
        [(7, "tally", "[bold]Venue?[/] :smile:"), (12, "unanimity", "x" * 300)],
        right={"id"},
    )
    assert text.splitlines() == [
        "id  kind       question",
        " 7  tally      [bold]Venue?[/] :smile:",  # no markup, no emoji codes, no colour
        "12  unanimity  " + "x" * 300,  # never wrapped or cut
    ]


def verdict(code, height, log="why"):
    return {"code": code, "code_name": codes.NAMES[code], "log": log, "height": height, "hash": "AB"}


def test_a_refusal_counts_as_a_drop_only_once_it_holds_at_a_later_height():
    watch = DropWatch()
    assert watch.observe(verdict(0, 10)) is None
    assert watch.observe(verdict(codes.POLL_CLOSED, 11)) is None  # maybe the tx is in block 11 already
    assert watch.observe(verdict(codes.POLL_CLOSED, 11)) is None  # same height: no new evidence
    assert watch.observe(None) is None  # a node without /check_tx: just wait
    dropped = watch.observe(verdict(codes.POLL_CLOSED, 12))
    assert dropped["code"] == codes.POLL_CLOSED
    assert DropWatch().observe({"code": "8", "height": 1}) is None  # a malformed verdict is no verdict


def test_an_acceptance_between_refusals_starts_over():
    watch = DropWatch()
    watch.observe(verdict(codes.REPLAY, 5))
    watch.observe(verdict(0, 6))
    assert watch.observe(verdict(codes.REPLAY, 7)) is None
    assert watch.observe(verdict(codes.REPLAY, 8)) is not None


def test_drop_message_names_code_reason_and_that_it_will_not_commit():
    text = dropped_message("AB" * 32, verdict(codes.POLL_CLOSED, 40, "poll 3 closed at height 39"))
    assert text.startswith("POLL_CLOSED: poll 3 closed at height 39.")
    assert "left the mempool without a block" in text and "will not commit" in text


# --- a real testnet ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_testnet(tmp_path_factory.mktemp("cli"), workers=False) as net:
        yield net


@pytest.mark.testnet
def test_a_worker_that_posted_or_abstained_is_done_whatever_its_worker_or_the_chain_says_now():
    down = {"up": False}
    for state, said in (("posted", "aggregate pairs posted"), ("abstained", "abstain: 1 counted ballot")):
        assert job_reason({"state": state, "reason": said}, down, "final") == said
    assert job_reason({"state": "posting", "reason": "x"}, down, "closed") == "worker down (it last said: x)"


def test_too_near_close_is_refused_at_once_with_the_minimum(net):
    c = client(net)
    with pytest.raises(CliError) as err:
        c.create_poll(SigningKey.generate(), "Lunch?", "unanimity", close_in=2)
    assert err.value.code == codes.BAD_POLL and "too near" in str(err.value) and "at least 5 blocks" in str(err.value)


@pytest.mark.testnet
def test_polls_default_to_the_chain_min_ballots_floor(net):
    c = client(net)
    res = c.create_poll(SigningKey.generate(), "Lunch?", "unanimity", close_in=40)
    assert c.query(f"/poll/{res['poll']}")["min_ballots"] == 3 == c.params()["min_ballots_floor"]
    with pytest.raises(CliError) as err:
        c.create_poll(SigningKey.generate(), "Lunch?", "unanimity", close_in=40, min_ballots=1)
    assert err.value.code == codes.BAD_POLL and "floor of 3" in str(err.value)


@pytest.mark.testnet
def test_a_tx_dropped_from_the_mempool_is_reported_with_its_code_not_a_timeout(net):
    # Two txs of one key with one nonce, through two nodes: a proposer's mempool holds only
    # the first it saw (CheckTx refuses the other as a REPLAY), so exactly one commits and
    # the other leaves its node's mempool at the recheck, never in a block.
    c0, c1 = client(net, 0), client(net, 1)
    for _attempt in range(5):  # node 1 may hear of the first by gossip before the second arrives: again
        key = SigningKey.generate()
        nonce, height = c0.next_nonce(key), net.rpc(0).height()
        raws = [
            txcodec.build(
                key,
                c0.chain_id,
                "create_poll",
                nonce,
                {
                    "question": f"Race {i}?",
                    "kind": "unanimity",
                    "options": [],
                    "voters": None,
                    "close_height": height + 100,
                    "max_ballots": 10,
                    "max_revotes": 0,
                    "min_ballots": 3,
                    "threshold": None,
                },
            )
            for i in range(2)
        ]
        sent = [c.rpc.broadcast_tx_sync(raw) for c, raw in zip((c0, c1), raws)]
        if all(int(s["code"]) == 0 for s in sent):
            break
    assert all(int(s["code"]) == 0 for s in sent), sent
    hashes = [s["hash"] for s in sent]
    outcomes = [None, None]

    def wait(i, c):
        try:
            outcomes[i] = c.wait_commit(hashes[i], raws[i], timeout=60)
        except CliError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=wait, args=(i, c)) for i, c in enumerate((c0, c1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    committed = [o for o in outcomes if isinstance(o, dict)]
    dropped = [o for o in outcomes if isinstance(o, CliError)]
    assert len(committed) == 1 and len(dropped) == 1, outcomes
    assert dropped[0].code == codes.REPLAY
    assert "left the mempool without a block" in str(dropped[0]) and "not committed within" not in str(dropped[0])


@pytest.mark.testnet
def test_check_tx_query_over_rpc_leaves_the_mempool_alone(net):
    c = client(net)
    key = SigningKey.generate()
    raw = txcodec.build(key, c.chain_id, "close_poll", c.next_nonce(key), {"poll": 10**9})
    value, height = net.rpc(0).query("/check_tx", raw)
    assert value["code_name"] == "UNKNOWN_POLL" and value["hash"] == txcodec.tx_hash(raw)
    assert int(net.rpc(0).call("num_unconfirmed_txs")["total"]) == 0 or txcodec.tx_hash(raw) not in str(
        net.rpc(0).call("unconfirmed_txs", limit="100")
    )


@pytest.mark.testnet
def test_create_with_a_duration_shows_the_close_as_clock_time(net, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPCVOTE_KEYS", str(tmp_path / "keys"))
    common = ["--node", net.rpc_url(0), "--genesis", str(net.genesis_path())]
    assert main(common + ["keys", "new", "alice"]) == 0
    capsys.readouterr()
    assert (
        main(
            common
            + ["poll", "create", "--key", "alice", "--kind", "unanimity", "--question", "Ship?", "--close-in", "30s"]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert "created at height" in out and "closes at height" in out and "(in " in out
    # 30 s in blocks at the measured interval, and read back as about 30 s (not 30 blocks)
    seconds = int(out.split("(in ")[1].split("s)")[0])
    assert 20 <= seconds <= 30, out
    assert "open to any key" in err  # the privacy warning, with the reason
    poll_id = int(out.split()[1])
    assert main(common + ["poll", "show", str(poll_id)]) == 0
    out = capsys.readouterr().out
    assert "closes at height" in out and "withheld below 3" in out
    assert main(common + ["polls"]) == 0
    listed = capsys.readouterr().out
    assert listed.splitlines()[0].split()[:4] == ["id", "kind", "status", "ballots"]
    assert f"(height {c_height(net, poll_id)})" in listed


@pytest.mark.testnet
def test_receipt_shows_the_counted_ballot_proven_and_what_it_replaced(net):
    c = client(net)
    creator, voter, absent = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    poll = c.create_poll(creator, "Venue?", "tally", ["a", "b"], close_in=200)["poll"]
    first = c.vote(voter, poll, "a")
    second = client(net, 2).vote(voter, poll, "b")
    r = client(net, 1).receipt(poll, voter)
    assert r["counted"]["hash"] == second["hash"] and r["counted"]["height"] == second["height"]
    assert r["counted"]["verified"] and r["counted"]["revote"] == 1
    assert [t["hash"] for t in r["replaced"]] == [first["hash"]]
    assert r["disqualified"] is None and r["proofs"] == "verified by this client against the genesis registry"
    assert client(net).receipt(poll, absent)["counted"] is None


def c_height(net, poll_id):
    return client(net).query(f"/poll/{poll_id}")["close_height"]


@pytest.mark.testnet
def test_a_tx_by_unique_prefix_and_revotes_marked_in_txs(net, tmp_path, capsys, monkeypatch):
    keys = tmp_path / "keys"
    monkeypatch.setenv("MPCVOTE_KEYS", str(keys))
    common = ["--node", net.rpc_url(0), "--genesis", str(net.genesis_path())]
    for name in ("alice", "bob"):
        assert main(common + ["keys", "new", name]) == 0
    c = client(net)
    c.keys_dir = keys
    alice, bob = c.key("alice"), c.key("bob")
    poll = c.create_poll(alice, "Venue?", "tally", ["a", "b"], close_in=200)["poll"]
    first, second = c.vote(bob, poll, "a"), c.vote(bob, poll, "b")
    capsys.readouterr()
    assert main(common + ["tx", second["hash"][:10].lower()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"tx {second['hash']}\n") and "committed, OK" in out and "(bob)" in out
    assert "revote 1: it replaced" in out and "encrypted shares" in out
    assert main(common + ["verify-tx", second["hash"][:10]]) == 0
    assert f"tx {second['hash']} verified in block {second['height']}" in capsys.readouterr().out
    assert main(common + ["vote", str(poll), "bb", "--key", "bob"]) == 1
    assert "has the options a, b; did you mean 'b'?" in capsys.readouterr().err
    assert main(common + ["tx", "XYZ"]) == 1
    assert "not a tx hash" in capsys.readouterr().err
    assert main(common + ["tx", "AB" * 32]) == 1
    assert "no committed tx " + "AB" * 32 in capsys.readouterr().err
    assert main(common + ["tx", "ABABABAB"]) == 1  # a prefix of nothing recent: a clear error
    assert "no tx whose hash starts with ABABABAB in the latest" in capsys.readouterr().err
    assert main(common + ["txs", "--poll", str(poll)]) == 0
    rows = capsys.readouterr().out.splitlines()
    by_hash = {r.split()[1]: r for r in rows[1:]}
    assert "replaced by a later ballot" in by_hash[first["hash"][:16]] and "(bob)" in by_hash[first["hash"][:16]]
    assert "revote 1, counted" in by_hash[second["hash"][:16]]


def test_a_mistyped_key_or_option_gets_a_did_you_mean(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPCVOTE_KEYS", str(tmp_path / "keys"))
    assert main(["keys", "new", "alice"]) == 0
    assert main(["keys", "show", "alcie"]) == 1
    assert "did you mean 'alice'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["poll", "create", "--key", "alice", "--kind", "tally", "--question", "Q?", "--close-inn", "5m"])
    assert "did you mean --close-in?" in capsys.readouterr().err


def test_an_unreachable_node_error_says_what_to_try(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPCVOTE_KEYS", str(tmp_path / "keys"))
    assert main(["--node", "http://127.0.0.1:9", "polls"]) == 1  # port 9 (discard): nothing listens
    err = capsys.readouterr().err
    assert "cannot reach the node" in err and "scripts/testnet status" in err and "--node URL" in err


# --- what a person reads: the main flow in a terminal (pexpect, a real pty) -------------------


@pytest.fixture(scope="module")
def worker_net(tmp_path_factory):
    with running_testnet(tmp_path_factory.mktemp("cli-term"), workers=True) as net:
        yield net


class Terminal:
    """Run mpcvote commands in a pseudo-terminal, as a person would, with only the local testnet's defaults."""

    def __init__(self, net, keys):
        self.env = dict(os.environ, MPCVOTE_TESTNET=str(net.dir), MPCVOTE_KEYS=str(keys), COLUMNS="120")

    def run(self, *args, expect=(), status=0, timeout=120):
        """Run one command; wait for each expected pattern in order; return everything shown."""
        term = pexpect.spawn(
            MPCVOTE[0], MPCVOTE[1:] + list(args), env=self.env, encoding="utf-8", timeout=timeout, dimensions=(40, 160)
        )
        seen = ""
        for pattern in expect:
            term.expect(pattern)
            seen += term.before + term.after
        term.expect(pexpect.EOF)
        seen += term.before
        term.close()
        assert term.exitstatus == status, seen
        return seen


MPCVOTE = (
    [str(Path(sys.executable).parent / "mpcvote")]
    if (Path(sys.executable).parent / "mpcvote").exists()
    else [sys.executable, "-m", "mpc_tx.client.cli"]
)


@pytest.mark.testnet
def test_main_flow_reads_right_in_a_terminal(worker_net, tmp_path):
    t = Terminal(worker_net, tmp_path / "keys")
    for name in ("alice", "bob", "carol", "dave"):
        t.run("keys", "new", name, expect=[rf"{name}: [0-9a-f]{{64}}"])
    created = t.run(
        "poll",
        "create",
        "--key",
        "alice",
        "--kind",
        "tally",
        "--options",
        "a,b",
        "--question",
        "Venue?",
        "--close-in",
        "2m",
        "--threshold",
        "1",
        expect=[
            r"warning: this poll is open to any key",
            r"poll (\d+) created at height \d+",
            r"closes at height \d+, about \d\d:\d\d:\d\d \(in (1m\d\ds|2m0\ds)\)",
        ],
    )
    poll = re.search(r"poll (\d+) created", created).group(1)
    for name, choice in (("bob", "a"), ("carol", "b"), ("dave", "a"), ("bob", "b")):
        t.run("vote", poll, choice, "--key", name, expect=[rf"ballot for poll {poll} committed at height \d+"])
    receipt = t.run(
        "receipt",
        poll,
        "--key",
        "bob",
        expect=[
            rf"poll {poll}: the ballot of bob \([0-9a-f]{{12}}…\) counts",
            r"proven against the genesis validators",
            r"it replaced 1 earlier ballot",
            r"ballot proofs: verified by this client against the genesis registry",
        ],
    )
    counted = re.search(r"tx ([0-9A-F]{64}) in block", receipt).group(1)
    t.run("tx", counted[:8], expect=[rf"tx {counted}", r"committed, OK", r"cast_ballot by [0-9a-f]{12}… \(bob\)"])
    t.run(
        "poll",
        "show",
        poll,
        expect=[
            rf"poll {poll}: Venue\?",
            r"3 ballots \(outcome withheld below 3\)",
            r"threshold t=1 \(any 2 validators together could read every ballot, forever\)",
            r"warning: this poll is open",
        ],
    )
    t.run(
        "ballots",
        poll,
        expect=[
            rf"poll {poll} \(open\): 3 ballots counted, threshold t=1",
            r"\(bob\)\s+\d+\s+[0-9A-F]{12}…\s+1\s+1\s+counted",
            r"0 complaint",
        ],
    )
    t.run("poll", "close", poll, "--key", "alice", expect=[rf"poll {poll} closed at height \d+"])
    t.run("outcome", poll, "--wait", expect=[rf"poll {poll}: a 1, b 2", r"counted 3, final at height \d+"])
    t.run(
        "polls",
        expect=[
            r"id\s+kind\s+status\s+ballots\s+close\s+outcome\s+question",
            rf"{poll}\s+tally\s+final\s+3\s+closed at \d+\s+a 1, b 2\s+Venue\?",
        ],
    )
    t.run(
        "vote",
        poll,
        "a",
        "--key",
        "carol",
        status=1,
        expect=[rf"error: not voting: poll {poll} was closed early at height \d+"],
    )
    t.run(
        "vote",
        poll,
        "a",
        "--key",
        "carol",
        "--trust-node",
        status=1,
        expect=[
            r"error: rejected by CheckTx: poll \d+ closed at height \d+ \(code 8 POLL_CLOSED\); "
            r"your earlier ballot \(height \d+, tx [0-9A-F]{12}…\) still counts"
        ],
    )


@pytest.mark.testnet
def test_a_revote_dropped_at_the_close_says_poll_closed_and_that_the_first_ballot_counts(tmp_path):
    # One tx per block, and a queue of other txs ahead of the revote: it passes CheckTx, cannot
    # reach a block before the close, and the recheck after the closing block drops it.
    with running_testnet(tmp_path, workers=False, params={"max_block_txs": 1}) as chain:
        c = client(chain)
        creator, voter = SigningKey.generate(), SigningKey.generate()
        poll = c.create_poll(creator, "Lunch?", "unanimity", close_in=25)["poll"]
        first = c.vote(voter, poll, "yes")
        close_height = c.query(f"/poll/{poll}")["close_height"]
        queue = 10 + close_height - chain.rpc(0).height()
        for i in range(queue):
            filler = SigningKey.generate()
            raw = txcodec.build(
                filler,
                c.chain_id,
                "create_poll",
                1,
                {
                    "question": f"Filler {i}?",
                    "kind": "unanimity",
                    "options": [],
                    "voters": None,
                    "close_height": close_height + 1000 + i,
                    "max_ballots": 10,
                    "max_revotes": 0,
                    "min_ballots": 3,
                    "threshold": None,
                },
            )
            chain.rpc(0).broadcast_tx_sync(raw)
        with pytest.raises(CliError) as err:
            c.vote(voter, poll, "no")
        text = str(err.value)
        assert err.value.code == codes.POLL_CLOSED, text
        assert text.startswith(f"POLL_CLOSED: poll {poll} closed at height {close_height}. "), text
        assert "passed CheckTx but left the mempool without a block" in text
        assert f"your earlier ballot (height {first['height']}, tx {first['hash'][:12]}…) still counts" in text
        assert "not committed within" not in text
        assert c.query(f"/poll/{poll}/ballot/{voter.public_hex}")["tx"] == first["hash"]


# --- pure: verifiable-ballot displays, --threshold, the client's own proof check ---------------


def _genesis(tmp_path, m=4):
    """Write a genesis file whose registry carries ristretto keys and their proofs of possession."""
    import base64
    import json

    from mpc_tx.protocol.group import random_scalar
    from mpc_tx.protocol.registry import prove_key_possession

    entries = []
    for i in range(m):
        consensus = SigningKey.generate().public_bytes
        enc_key, proof = prove_key_possession(b"stub-chain", consensus, random_scalar())
        entries.append(
            {
                "index": i,
                "name": f"node{i}",
                "pub_key": base64.b64encode(consensus).decode(),
                "power": 10,
                "attest_key": SigningKey.generate().public_hex,
                "enc_key": enc_key.hex(),
                "enc_proof": proof.hex(),
                "mpc_host": "127.0.0.1",
                "mpc_port": 27000 + 10 * i,
                "mpc_ports": 4,
                "tls_sha256": f"{i:064x}",
            }
        )
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps({"chain_id": "stub-chain", "app_state": {"validators": entries}}))
    return path


class StubClient(Client):
    """A Client whose node answers from a dict of query paths; what it would broadcast is kept."""

    def __init__(self, tmp_path, answers: dict, genesis=None):
        super().__init__("http://127.0.0.1:9", tmp_path / "keys", genesis)
        self.answers, self.sent, self._chain_id = answers, [], "stub-chain"
        self.rpc.height = lambda: 100

    def query(self, path):
        return self.answers[path]

    def next_nonce(self, key):
        return 1

    def submit(self, raw, wait=True, timeout=60.0):
        self.sent.append(raw)
        return {"hash": txcodec.tx_hash(raw)}


def test_create_poll_sends_the_threshold_and_the_cli_takes_it(tmp_path):
    from mpc_tx.client.cli import _parser
    from mpc_tx.protocol import canonical

    c = StubClient(tmp_path, {"/params": {"min_ballots_floor": 3}})
    c.create_poll(SigningKey.generate(), "Q?", "tally", ["a", "b"], close_in=50, threshold=2, wait=False)
    c.create_poll(SigningKey.generate(), "Q?", "unanimity", close_in=50, wait=False)
    assert [canonical.decode(raw)["body"]["threshold"] for raw in c.sent] == [2, None]
    args = ["poll", "create", "--key", "a", "--question", "q", "--kind", "tally"]
    assert _parser().parse_args(args + ["--threshold", "1"]).threshold == 1
    assert _parser().parse_args(args).threshold is None


POLL = {
    "id": 7,
    "status": "closed",
    "threshold": 1,
    "ballots": 1,
    "complaints_until": 40,
    "counted_fixed_height": None,
    "named_validators": [2],
}


def test_the_ballots_command_shows_each_standing_the_complaints_and_the_window(tmp_path, capsys):
    from mpc_tx.client.cli import _human_ballots

    good, bad = "a" * 64, "b" * 64
    c = StubClient(
        tmp_path,
        {
            "/poll/7": POLL,
            "/poll/7/ballots?limit=100": {
                "poll": 7,
                "next": None,
                "ballots": [
                    {
                        "voter": good,
                        "ballot": "01" * 609,
                        "tx": "C" * 64,
                        "height": 30,
                        "revotes": 1,
                        "replaced": ["D" * 64],
                        "disqualified": None,
                    },
                    {
                        "voter": bad,
                        "ballot": "01" * 609,
                        "tx": "E" * 64,
                        "height": 31,
                        "revotes": 0,
                        "replaced": [],
                        "disqualified": {"by": 1, "height": 33, "reason": "share 1: does not match"},
                    },
                ],
            },
            "/poll/7/complaints": {
                "complaints": [
                    {
                        "validator": 1,
                        "voter": bad,
                        "ballot_tx": "E" * 64,
                        "verdict": "ballot_bad",
                        "reason": "share 1: does not match",
                        "height": 33,
                    },
                    {
                        "validator": 2,
                        "voter": good,
                        "ballot_tx": "C" * 64,
                        "verdict": "complaint_false",
                        "reason": "the share checks",
                        "height": 34,
                    },
                ]
            },
        },
    )
    res = c.ballots(7)
    assert [b["bytes"] for b in res["ballots"]] == [609, 609] and all("ballot" not in b for b in res["ballots"])
    assert (res["complaints_until"], res["named_validators"], res["threshold"]) == (40, [2], 1)
    text = _human_ballots(c, res)
    assert "complaints taken until height 40; then the counted set is fixed" in text
    assert "named validators (a complaint of theirs was false): 2" in text
    assert re.search(r"aaaaaaaaaaaa…\s+30\s+CCCCCCCCCCCC…\s+1\s+1\s+counted", text)
    assert "DISQUALIFIED by validator 1 at height 33: share 1: does not match" in text
    assert "validator 1 about bbbbbbbbbbbb…'s ballot EEEEEEEEEEEE…: bad share: ballot disqualified" in text
    assert "validator 2 about aaaaaaaaaaaa…'s ballot CCCCCCCCCCCC…: share was good: complaint refused" in text
    assert "01" * 20 not in text


def test_a_receipt_says_a_ballot_was_disqualified_and_how_to_count_again():
    from mpc_tx.client.cli import _human_receipt

    disqualified = {"hash": "E" * 64, "height": 31, "revote": 0, "verified": True, "by": 1}
    disqualified.update(disqualified_height=33, reason="share 1: does not match")
    r = {
        "poll": 7,
        "voter": "b" * 64,
        "poll_status": "open",
        "counted_fixed_height": None,
        "counted": None,
        "replaced": [],
        "proofs": "verified by this client against the genesis registry",
        "disqualified": disqualified,
    }
    text = _human_receipt(r, "bob")
    assert "DISQUALIFIED by validator 1's complaint at height 33: share 1: does not match" in text
    assert "a revote within the cap, with fresh shares, would count" in text
    assert f"tx {'E' * 64} in block 31 (proven against the genesis validators)" in text
    assert "(the poll is closed: it does not count)" in _human_receipt(dict(r, poll_status="closed"), "bob")


def test_a_counted_ballot_is_final_only_once_the_counted_set_is_fixed():
    from mpc_tx.client.cli import _human_receipt

    counted = {"hash": "C" * 64, "height": 30, "revote": 0, "verified": False}
    r = {"poll": 7, "voter": "a" * 64, "poll_status": "closed", "counted_fixed_height": None, "counted": counted}
    r.update(disqualified=None, replaced=[], proofs="verified by this client against the genesis registry")
    assert "a complaint may still disqualify it until the counted set is fixed" in _human_receipt(r, "al")
    fixed = _human_receipt(dict(r, counted_fixed_height=44), "al")
    assert "the counted set was fixed at height 44: this is final" in fixed and "the node's word, not proven" in fixed


def test_the_client_checks_a_ballots_proofs_itself(tmp_path):
    from mpc_tx.client.ballot import ballot_body, poll_context
    from mpc_tx.protocol.records import snapshot_validators
    import json

    genesis_path = _genesis(tmp_path)
    genesis = json.loads(genesis_path.read_text())
    poll = {
        "id": 7,
        "kind": "tally",
        "options": ["a", "b", "c"],
        "threshold": 1,
        "validators": snapshot_validators(genesis["app_state"]["validators"]),
    }
    voter = SigningKey.generate()
    body = ballot_body(poll_context(poll, genesis), 7, voter.public_bytes, [0, 0, 1])
    c = StubClient(tmp_path, {}, genesis=str(genesis_path))
    assert (
        c.check_proofs(poll, voter.public_hex, body["ballot"]) == "verified by this client against the genesis registry"
    )
    assert c.check_proofs(poll, SigningKey.generate().public_hex, body["ballot"]).startswith(
        "do NOT verify: proof of rho"
    )
    flipped = body["ballot"][:-2] + ("00" if body["ballot"][-2:] != "00" else "01")
    assert c.check_proofs(poll, voter.public_hex, flipped).startswith("do NOT verify")
    assert c.check_proofs(dict(poll, threshold=0), voter.public_hex, body["ballot"]).startswith("not checked:")
    assert c.check_proofs(poll, voter.public_hex, "zz") == "not checked: the ballot is not hex"


def test_vote_sends_a_verifiable_ballot_and_nothing_for_a_poll_that_does_not_fit_genesis(tmp_path):
    import json

    from mpc_tx.client.ballot import poll_context
    from mpc_tx.protocol import canonical
    from mpc_tx.protocol.ballot import verify_ballot
    from mpc_tx.protocol.encoding import Rejected
    from mpc_tx.protocol.records import snapshot_validators

    genesis_path = _genesis(tmp_path)
    genesis = json.loads(genesis_path.read_text())
    poll = {
        "id": 7,
        "kind": "tally",
        "options": ["a", "b", "c"],
        "threshold": 1,
        "validators": snapshot_validators(genesis["app_state"]["validators"]),
    }
    c = StubClient(tmp_path, {"/poll/7": poll}, genesis=str(genesis_path))
    c.trust_node = True  # the node's poll as such: the genesis checks still run
    voter = SigningKey.generate()
    res = c.vote(voter, 7, "b")
    assert res["ballot"] == {"m": 4, "t": 1, "k": 3, "bytes": 1569}
    body = canonical.decode(c.sent[0])["body"]
    assert set(body) == {"poll", "m", "t", "k", "ballot"}
    parsed = verify_ballot(poll_context(poll, genesis), voter.public_bytes, bytes.fromhex(body["ballot"]))
    assert not isinstance(parsed, Rejected)
    lying = dict(poll, validators=poll["validators"][:1] * 4)
    c.answers["/poll/7"] = lying
    with pytest.raises(CliError, match="validator 1 of poll 7 does not match genesis registry entry 1"):
        c.vote(voter, 7, "b")
    assert len(c.sent) == 1  # nothing more was broadcast


def test_a_poll_in_its_complaint_window_says_when_the_counted_set_is_fixed(tmp_path):
    from mpc_tx.client.cli import progress_words

    poll = {"validators": [{"index": i, "name": f"node{i}"} for i in range(4)], "close_height": 20}
    c = StubClient(tmp_path, {"/poll/7": dict(poll, complaints_until=26, counted_fixed_height=None)})
    c.when = lambda height: {"height": height, "past": False, "at": "12:00:00", "in_seconds": 3}
    out = {"status": "closed", "closed_height": 20, "deadline_height": None}
    standing = c.standing(7, out)
    assert standing == {"status": "complaints", "complaints_until": c.when(26)}
    assert progress_words(7, standing) == (
        "poll 7: closed; complaints taken until height 26 (about 12:00:00 (in 3s)), "
        "then the counted set is fixed and the MPC starts"
    )


def test_a_tally_after_its_fix_says_who_posted_aggregate_pairs(tmp_path):
    from mpc_tx.client.cli import _human_outcome, progress_words

    poll = {
        "validators": [{"index": i, "name": f"node{i}"} for i in range(4)],
        "close_height": 20,
        "kind": "tally",
        "threshold": 2,
        "complaints_until": 26,
        "counted_fixed_height": 27,
    }
    posts = [{"validator": 0, "verdict": "valid"}, {"validator": 3, "verdict": "named"}]
    c = StubClient(tmp_path, {"/poll/7": poll, "/poll/7/aggregates": {"poll": 7, "aggregates": posts}})
    c.when = lambda height: {"height": height, "past": False, "at": "12:00:00", "in_seconds": 3}
    standing = c.standing(7, {"status": "closed", "closed_height": 20, "deadline_height": 327})
    assert (
        standing["valid"] == ["node0"] and standing["named"] == ["node3"] and standing["missing"] == ["node1", "node2"]
    )
    assert progress_words(7, standing) == (
        "poll 7: counted set fixed; valid aggregate pairs from node0 (3 open the tally); named for a wrong pair: "
        "node3; waiting for node1, node2; it fails at height 327 (about 12:00:00 (in 3s)) without them"
    )
    final = {
        "id": 7,
        "status": "final",
        "ballots": 3,
        "final_height": 30,
        "attesters": [],
        "result": {"status": "ok", "ballots": "d" * 64, "counted": 3, "outcome": {"tally": {"a": 2, "b": 1}}},
    }
    assert "opened on chain from aggregate pairs; `mpcvote verify 7` rechecks it" in _human_outcome(final)
