"""The CLI a person uses: durations, drop reports, privacy defaults, human output (pure and on a real testnet)."""
import threading
import time

import pytest

from abci_app import codes
from mpc_tx import tx as txcodec
from mpc_tx.cli import CliError, DropWatch, blocks_for, dropped_message, main, parse_close_in, span
from mpc_tx.keys import SigningKey

from netfixtures import client, running_testnet


# --- pure: durations, the drop decision ---------------------------------------------------------

@pytest.mark.parametrize("text, parsed", [("90s", ("seconds", 90)), ("10m", ("seconds", 600)),
                                           ("2h", ("seconds", 7200)), ("1d", ("seconds", 86400)),
                                           ("40b", ("blocks", 40)), ("40", ("blocks", 40)), (" 3M ", ("seconds", 180))])
def test_close_in_takes_times_and_blocks(text, parsed):
    assert parse_close_in(text) == parsed


@pytest.mark.parametrize("text", ["", "0s", "-5m", "5x", "1.5h", "m", "400d", "9999999999b"])
def test_close_in_refuses_what_it_cannot_read_and_says_what_it_takes(text):
    with pytest.raises(CliError, match="90s, 10m, 2h|more than a year"):
        parse_close_in(text)


def test_durations_become_blocks_and_read_back_as_time():
    assert blocks_for(90, 0.6) == 150 and blocks_for(1, 5.0) == 1
    assert (span(5), span(95), span(7300)) == ("5s", "1m35s", "2h01m")


def verdict(code, height, log="why"):
    return {"code": code, "code_name": codes.NAMES[code], "log": log, "height": height, "hash": "AB"}


def test_a_refusal_counts_as_a_drop_only_once_it_holds_at_a_later_height():
    watch = DropWatch()
    assert watch.observe(verdict(0, 10)) is None
    assert watch.observe(verdict(codes.POLL_CLOSED, 11)) is None       # maybe the tx is in block 11 already
    assert watch.observe(verdict(codes.POLL_CLOSED, 11)) is None       # same height: no new evidence
    assert watch.observe(None) is None                                 # a node without /check_tx: just wait
    dropped = watch.observe(verdict(codes.POLL_CLOSED, 12))
    assert dropped["code"] == codes.POLL_CLOSED
    assert DropWatch().observe({"code": "8", "height": 1}) is None     # a malformed verdict is no verdict


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
    for _attempt in range(5):     # node 1 may hear of the first by gossip before the second arrives: again
        key = SigningKey.generate()
        nonce, height = c0.next_nonce(key), net.rpc(0).height()
        raws = [txcodec.build(key, c0.chain_id, "create_poll", nonce,
                              {"question": f"Race {i}?", "kind": "unanimity", "options": [], "voters": None,
                               "close_height": height + 100, "max_ballots": 10, "max_revotes": 0,
                               "min_ballots": 3}) for i in range(2)]
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
    raw = txcodec.build(key, c.chain_id, "close_poll", c.next_nonce(key), {"poll": 10 ** 9})
    value, height = net.rpc(0).query("/check_tx", raw)
    assert value["code_name"] == "UNKNOWN_POLL" and value["hash"] == txcodec.tx_hash(raw)
    assert int(net.rpc(0).call("num_unconfirmed_txs")["total"]) == 0 or \
        txcodec.tx_hash(raw) not in str(net.rpc(0).call("unconfirmed_txs", limit="100"))


@pytest.mark.testnet
def test_create_with_a_duration_shows_the_close_as_clock_time(net, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MPCVOTE_KEYS", str(tmp_path / "keys"))
    common = ["--node", net.rpc_url(0), "--genesis", str(net.genesis_path())]
    assert main(common + ["keys", "new", "alice"]) == 0
    capsys.readouterr()
    assert main(common + ["poll", "create", "--key", "alice", "--kind", "unanimity", "--question", "Ship?",
                          "--close-in", "30s"]) == 0
    out, err = capsys.readouterr()
    assert "created at height" in out and "closes at height" in out and "(in " in out
    # 30 s in blocks at the measured interval, and read back as about 30 s (not 30 blocks)
    seconds = int(out.split("(in ")[1].split("s)")[0])
    assert 20 <= seconds <= 30, out
    assert "open to any key" in err                       # the privacy warning, with the reason
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
    assert client(net).receipt(poll, absent)["counted"] is None


def c_height(net, poll_id):
    return client(net).query(f"/poll/{poll_id}")["close_height"]
