"""The tally opened on chain on a real 4-validator testnet (docs/PROTOCOL.md §18), every poll against the clear text.

One testnet for the module, honest apps. Workers are honest, except while a test swaps
one for a Byzantine one (tests/faults/worker.py wrong-aggregate) or stops one so that a
poll waits between its fix and its final post. The test also acts as a validator (the
keys are on this machine): it computes validator i's pairs from i's secret key and the
counted ballots read from state, and sends aggregate posts whose answer it knows. Each
poll is closed early by its creator, one close per block (distinct close heights), and
every wait is bounded. The last test runs `mpcvote verify` on every poll of the module,
and through a node that hides, adds or alters one ballot.
"""

import base64
import itertools

import pytest

from mpc_tx.client.cli import CliError
from mpc_tx.protocol import events, tally, tx as txcodec
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.keys import SigningKey

from badballots import bad_share_ballot
from netfixtures import client, faulty_worker, running_testnet, wait_for
from tallyhelpers import (
    TallyPoll,
    aggregate_events,
    aggregate_records,
    aggregate_tx,
    all_ballots,
    check_tx,
    counted_ballots,
    event_count,
    fresh_aggregate,
    recomputed_digest,
    run_verify,
    stored_aggregate,
    validator_pairs,
)
from tallyproxy import Add, Alter, Hide, TallyProxy

pytestmark = pytest.mark.testnet

A, D = 12, 200  # MPC attempt (unanimity) and deadline, in blocks: a held poll waits well within D
VICTIM = 1  # the validator a bad-share ballot cheats (its worker is honest and complains)
LIAR = 2  # the validator whose worker posts a wrong aggregate (for one poll)
STOPPED = 3  # the validator stopped before a close (f = 1 of 4)
HELD = 3  # the validator whose worker is stopped so that a poll waits for its post

# §18.6's codes (mpc_tx/protocol/codes.py gains them with the chain's part; the numbers are the contract).
NOT_TALLY, AGGREGATE_WINDOW, TOO_FEW_BALLOTS, ALREADY_AGGREGATED, BAD_AGGREGATE = 27, 28, 29, 30, 31
BAD_POLL = 10


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onchain-tally")
    params = {"mpc_attempt_blocks": A, "mpc_deadline_blocks": D}
    with running_testnet(tmp, workers=True, params=params) as net:
        net.polls = []  # every poll the module made, for `mpcvote verify`
        net.keys_dir = tmp / "keys"
        yield net


def new_poll(net, kind="tally", **kw) -> TallyPoll:
    return TallyPoll(net, kind, **kw)


def _ended(net, p: TallyPoll, out: dict):
    """Let node 0 (every read below, and verify) reach the block after the end; remember the poll for verify."""
    net.wait_height(int(out["final_height"]) + 1, timeout=60, nodes=[0])
    net.polls.append(p)


def _zeros(k: int) -> bytes:
    """Pairs of the right shape for k entries (every scalar 0): they pass the stateless checks."""
    return bytes(64 * k)


def _window(p: TallyPoll) -> int:
    return 1 + 1 + p.c.params().get("complaint_slack_blocks", 2)  # f + 1 with equal power, plus slack


def judged_posts(net, p: TallyPoll, sums: tally.Sums, fixed: int) -> list:
    """Return the poll's aggregate posts in chain order, each judged again here and checked against its record."""
    records = aggregate_records(p.c, p.id)
    where = {}
    for r in records:
        found = net.rpc(0).tx(r["tx"])
        where[r["validator"]] = (int(found["height"]), int(found["index"]))
        assert where[r["validator"]][0] == r["height"] >= fixed, r  # over the fixed set, never before it
        assert txcodec.decode(base64.b64decode(found["tx"])).type == "aggregate"
    records.sort(key=lambda r: where[r["validator"]])
    posts = []
    for r in records:
        post = tally.judge_pairs(sums, p.m, r["validator"], bytes.fromhex(r["pairs"]))
        assert not isinstance(post, Rejected), (r, post)
        assert post.verdict == r["verdict"], (r, post)
        posts.append(post)
    return posts


def finish(net, p: TallyPoll, closed=False, named=()) -> dict:
    """Close (unless closed), wait for the outcome; check it, the counted set and the opening against the clear text."""
    if not closed:
        p.close()
    out = p.outcome()
    assert out["status"] == "final", out
    _ended(net, p, out)
    result = out["result"]
    assert result["status"] == "ok" and result["outcome"] == p.clear(), (result, p.votes)
    assert result["counted"] == len(p.votes)
    record = p.record()
    counted = counted_ballots(p.c, p.id)
    assert {b["voter"] for b in counted} == set(p.votes)
    assert record["ballots"] == len(counted)
    assert result["ballots"] == record["ballots_digest"] == recomputed_digest(counted)
    assert record["named_validators"] == sorted(named)
    assert record["complaints_until"] == record["closed_height"] + _window(p)
    assert record["counted_fixed_height"] == record["complaints_until"] + 1
    # A is the fresh sum over the counted set read from state (never the order of operations).
    sums = fresh_aggregate(p, counted)
    stored = stored_aggregate(p.c, p.id)
    assert stored["aggregate"] == sums.encode().hex() and stored["ballots"] == len(counted)
    if p.kind != "tally":
        return record
    assert record["mpc_slot"] is None and record["mpc_start"] is None
    assert event_count(net, events.MPC_STARTED, p.id) == 0  # no MPC job ran for a tally
    wait_for("the outcome_final event indexed", lambda: event_count(net, events.OUTCOME_FINAL, p.id), timeout=30)
    assert event_count(net, events.OUTCOME_FINAL, p.id) == 1  # opened once
    posts = judged_posts(net, p, sums, record["counted_fixed_height"])
    valid = [post for post in posts if post.verdict == tally.VALID]
    assert len(valid) == p.t + 1, posts  # the t+1-th made it final; later ones are refused, not recorded
    assert sorted(post.validator for post in posts if post.verdict == tally.NAMED) == sorted(named)
    opening = tally.open_tally(sums, len(counted), p.k > 1, posts)
    assert not isinstance(opening, Rejected), opening
    assert dict(zip(p.options, opening.counts)) == result["outcome"]["tally"]
    assert tally.tally_result(p.options, record["ballots_digest"], len(counted), list(opening.counts)) == result
    final = net.rpc(0).tx(record["final_tx"])  # the final tx is the last valid post
    assert int(final["height"]) == record["final_height"]
    final_tx = txcodec.decode(base64.b64decode(final["tx"]))
    assert final_tx.type == "aggregate" and final_tx.body["validator"] == opening.validators[-1]
    return record


def test_thresholds_by_kind_and_an_honest_unanimity_poll_still_runs_in_mpyc(net):
    una, tal = new_poll(net, "unanimity"), new_poll(net, "tally")
    assert una.t == 1  # MPyC's range, (m-1)//2 with m = 4
    assert tal.t == 2  # the on-chain tally's range tops at m-f-1
    for kind, t in (("tally", 3), ("unanimity", 2)):
        c, key = una.c, SigningKey.generate()
        body = {
            "question": "Out of range?",
            "kind": kind,
            "options": ["a", "b"] if kind == "tally" else [],
            "voters": None,
            "close_height": c.rpc.height() + 600,
            "max_ballots": 100,
            "max_revotes": 0,
            "min_ballots": c.params().get("min_ballots_floor", 0),
            "threshold": t,
        }
        res = check_tx(net, txcodec.build(key, c.chain_id, "create_poll", c.next_nonce(key), body))
        assert res["code"] == BAD_POLL, (kind, t, res)
    for _ in range(3):
        una.vote("yes")
    record = finish(net, una)
    assert una.clear() == {"unanimous": True}
    assert event_count(net, events.MPC_STARTED, una.id) >= 1  # unanimity keeps its MPyC job
    assert record["named_validators"] == []


def test_an_option_with_no_votes_opens_as_zero(net):
    p = new_poll(net, threshold=1)  # t = 1: any two valid posts open it
    for choice in ("a", "b", "a", "b", "a"):
        p.vote(choice)
    finish(net, p)
    assert p.clear() == {"tally": {"a": 3, "b": 2, "c": 0}}


def test_f_validators_stopped_before_the_close_do_not_stop_the_tally(net):
    p = new_poll(net)  # t = m-f-1 = 2: the three up must all post
    for choice in ("a", "b", "b", "c"):
        p.vote(choice)
    net.stop_validator(STOPPED)
    try:
        finish(net, p)
        assert STOPPED not in {r["validator"] for r in aggregate_records(p.c, p.id)}
    finally:
        net.start_validator(STOPPED, worker=True)
    top = net.rpc(0).height()
    net.wait_height(top + 2, timeout=180)  # every node, the restarted one too, past the outcome
    wait_for("every node agreeing on the app hash", lambda: net.status()["agree"], timeout=60)
    assert client(net, STOPPED).outcome(p.id)["result"] == p.outcome()["result"]  # it replayed the same tally


def test_a_wrong_aggregate_names_its_validator_and_the_tally_stands(net):
    with faulty_worker(net, LIAR, "wrong-aggregate"):
        p = new_poll(net)
        for choice in ("c", "a", "c", "b"):
            p.vote(choice)
        # With HELD's worker down, the poll waits after its fix with two valid posts and the lie:
        # the lie is judged whatever the order of the posts, and does not make it final.
        net.stop(HELD, "worker")
        try:
            p.close()
            posted = wait_for(
                "the posts of validators 0, 1 and the liar",
                lambda: (lambda r: r if {0, 1, LIAR} <= {x["validator"] for x in r} else None)(
                    aggregate_records(p.c, p.id)
                ),
                timeout=120,
            )
            mine = [r for r in posted if r["validator"] == LIAR]
            assert len(mine) == 1 and mine[0]["verdict"] == "named", mine
            assert "does not match the commitments" in mine[0]["reason"]
            assert all(r["verdict"] == "valid" for r in posted if r["validator"] != LIAR), posted
            record = p.record()
            assert record["status"] == "closed" and record["named_validators"] == [LIAR]
            # The test posts HELD's honest pairs (as its worker would): the third valid post makes it final.
            res = p.c.submit(aggregate_tx(net, p, HELD, validator_pairs(net, p, HELD)))
            assert events.OUTCOME_FINAL in res["events"], res
        finally:
            net.start(HELD, "worker")
        record = finish(net, p, closed=True, named=[LIAR])
    assert record["final_tx"] == res["hash"]
    named = [e for e in aggregate_events(net, p.id) if e.get("verdict") == "named"]
    assert [(e["poll_id"], e["validator"]) for e in named] == [(str(p.id), str(LIAR))]


def test_aggregate_posts_refused_early_twice_for_unanimity_and_below_min_ballots(net):
    una = new_poll(net, "unanimity")
    for _ in range(3):
        una.vote("yes")
    res = check_tx(net, aggregate_tx(net, una, 0, _zeros(1)))
    assert res["code"] == NOT_TALLY, res

    p = new_poll(net)
    for choice in ("a", "b", "c"):
        p.vote(choice)
    res = check_tx(net, aggregate_tx(net, p, 0, _zeros(p.k)))
    assert res["code"] == AGGREGATE_WINDOW, res  # open: before the fix

    # Only validators 0 and 1 post (t+1 = 3 valid needed): the poll waits after its fix.
    net.stop(LIAR, "worker")
    net.stop(HELD, "worker")
    try:
        close = p.close()
        # In the complaint window too (C..C+W): /check_tx answers on the committed state of a height it names.
        verdict, at = net.rpc(0).query("/check_tx", aggregate_tx(net, p, 0, _zeros(p.k)))
        if at < close + _window(p):  # judged for a block inside the window (the node has ~W blocks to race past)
            assert verdict["code"] == AGGREGATE_WINDOW, (at, verdict)
        fixed = p.wait_fixed()
        assert fixed["status"] == "closed" and fixed["complaints_until"] == close + _window(p)
        first = wait_for(
            "the posts of validators 0 and 1",
            lambda: (lambda r: r if {x["validator"] for x in r} == {0, 1} else None)(aggregate_records(p.c, p.id)),
            timeout=120,
        )
        again = check_tx(net, aggregate_tx(net, p, 0, validator_pairs(net, p, 0)))
        assert again["code"] == ALREADY_AGGREGATED, again
        short = check_tx(net, aggregate_tx(net, p, LIAR, _zeros(1)))  # 64 bytes for a poll of k = 3
        assert short["code"] == BAD_AGGREGATE, short
        assert aggregate_records(p.c, p.id) == first  # refused posts leave no record and name nobody
        assert p.record()["status"] == "closed" and p.record()["named_validators"] == []
        p.c.submit(aggregate_tx(net, p, LIAR, validator_pairs(net, p, LIAR)))
        finish(net, p, closed=True)
        late = check_tx(net, aggregate_tx(net, p, HELD, validator_pairs(net, p, HELD)))
        assert late["code"] == AGGREGATE_WINDOW, late  # final: no pair is wanted any more
    finally:
        net.start(LIAR, "worker")
        net.start(HELD, "worker")

    floor = p.c.params().get("min_ballots_floor", 0)
    w = new_poll(net, min_ballots=max(floor, 3))
    for choice in ("a", "b")[: w.record()["min_ballots"] - 1]:
        w.vote(choice)
    w.close()
    out = w.outcome()
    assert out["status"] == "final", out
    _ended(net, w, out)
    record = w.record()
    assert out["result"] == {
        "status": "ok",
        "ballots": record["ballots_digest"],
        "outcome": {"withheld": True},
        "counted": len(w.votes),
    }
    assert record["final_height"] == record["counted_fixed_height"]  # final at once, at the fix
    assert record["mpc_slot"] is None and event_count(net, events.MPC_STARTED, w.id) == 0
    res = check_tx(net, aggregate_tx(net, w, 0, _zeros(w.k)))
    assert res["code"] == TOO_FEW_BALLOTS, res
    assert aggregate_records(w.c, w.id) == []

    record = finish(net, una)
    assert una.clear() == {"unanimous": True}


def test_only_one_counted_set_is_ever_opened(net):
    p = new_poll(net)
    for choice in ("a", "b", "c"):
        p.vote(choice)
    cheat = SigningKey.generate()
    bad_tx = p.send(cheat, bad_share_ballot(p.ctx, bytes.fromhex(cheat.public_hex), p.values("a"), VICTIM))
    changer, first = p.vote("a")
    _, second = p.vote("b", key=changer)  # the revote counts: A - C(first) + C(second)
    wait_for(
        f"validator {VICTIM}'s complaint disqualifying the bad-share ballot",
        lambda: (p.c.query(f"/poll/{p.id}/ballot/{cheat.public_hex}")["disqualified"] or {}).get("by") == VICTIM,
        timeout=90,
    )
    before = stored_aggregate(p.c, p.id)
    counted = counted_ballots(p.c, p.id)
    assert before["aggregate"] == fresh_aggregate(p, counted).encode().hex() and before["ballots"] == 4
    everyone = all_ballots(p.c, p.id)
    assert {b["tx"] for b in everyone} == set(b["tx"] for b in counted) | {bad_tx}
    assert before["aggregate"] != fresh_aggregate(p, everyone).encode().hex()  # the disqualified one is out

    record = finish(net, p)
    assert record["ballots_digest"] == recomputed_digest(counted)  # the set at the fix is the one read before
    assert p.c.query(f"/poll/{p.id}/ballot/{changer.public_hex}")["replaced"] == [first]
    # Every valid post is over the fixed set, so any t+1 of them open the same tally: there is one opening.
    sums = fresh_aggregate(p, counted)
    posts = [q for q in judged_posts(net, p, sums, record["counted_fixed_height"]) if q.verdict == tally.VALID]
    absent = [q for q in range(p.m) if q not in {x.validator for x in posts}]
    extra = [tally.judge_pairs(sums, p.m, i, validator_pairs(net, p, i, sums)) for i in absent]
    openings = {
        tally.open_tally(sums, 4, True, list(chosen)).counts
        for chosen in itertools.combinations(posts + extra, p.t + 1)
    }
    assert openings == {tuple(record["result"]["outcome"]["tally"][o] for o in p.options)}
    # After the final tx nothing reopens it: A is frozen, a late post and a late ballot are refused.
    for i in absent:
        late = check_tx(net, aggregate_tx(net, p, i, validator_pairs(net, p, i, sums)))
        assert late["code"] == AGGREGATE_WINDOW, late
    with pytest.raises(CliError):
        p.vote("c")  # the poll is closed: a new ballot cannot change the fixed set
    net.wait_height(net.rpc(0).height() + 2, timeout=60)
    assert stored_aggregate(p.c, p.id) == before
    assert p.record()["result"] == record["result"] and p.record()["final_tx"] == record["final_tx"]
    assert event_count(net, events.OUTCOME_FINAL, p.id) == 1


def _verify_ok(net, p: TallyPoll, url=None):
    out = run_verify(url or net.rpc_url(0), net.genesis_path(), p.id, net.keys_dir)
    assert out["rc"] == 0, (p.id, p.kind, out)
    doc = out["json"]
    if isinstance(doc, dict) and isinstance(doc.get("result"), dict) and "outcome" in doc["result"]:
        record = p.record()["result"]
        if p.kind == "tally" or doc["result"]["outcome"] == {"withheld": True}:
            assert doc["result"] == record, (p.id, doc)
        else:  # a unanimity outcome is attested from MPC, not recomputed: verify vouches for the counted set only
            assert doc["result"]["outcome"] is None, (p.id, doc)
            assert (doc["result"]["ballots"], doc["result"]["counted"]) == (record["ballots"], record["counted"])
    return out


def _verify_fails(net, p: TallyPoll, lie, what: str):
    with TallyProxy(net.rpc_url(0), lie) as proxy:
        out = run_verify(proxy.url, net.genesis_path(), p.id, net.keys_dir)
    assert out["rc"] != 0, (what, out)
    assert "Traceback" not in out["stderr"], (what, out["stderr"][-2000:])  # a named failure, not a crash
    doc = out["json"]  # a failed verify names its failure and vouches for no result
    assert isinstance(doc, dict) and doc["ok"] is False and doc["failure"] and doc["result"] is None, (what, out)
    return out


def test_verify_passes_on_every_poll_and_fails_through_a_node_that_hides_adds_or_alters_a_ballot(net):
    p = new_poll(net)
    for choice in ("b", "a", "c", "b", "a"):
        p.vote(choice)
    finish(net, p)
    closes = [q.record()["closed_height"] for q in net.polls]
    assert len(set(closes)) == len(closes), closes  # one close per block: no two polls share C
    for q in net.polls:
        _verify_ok(net, q)

    rpc = net.rpc(0)
    ballots = counted_ballots(p.c, p.id)
    located = sorted((int(rpc.tx(b["tx"])["height"]), int(rpc.tx(b["tx"])["index"]), b["tx"]) for b in ballots)
    height, index, middle = located[len(located) // 2]  # not the last ballot: a later event must expose it
    like = rpc.call("tx", hash=base64.b64encode(bytes.fromhex(middle)).decode(), prove=True)
    lies = {
        "hides one ballot": Hide(middle, height, index),
        "adds one ballot": Add(p.unsent("c"), like),
        "alters one ballot's bytes": Alter(middle, height, index, "tx"),
        "alters one ballot's result data": Alter(middle, height, index, "result"),
    }
    with TallyProxy(net.rpc_url(0), Hide("00" * 32, 0, 0)) as proxy:  # a lie about no tx: the proxy is transparent
        _verify_ok(net, p, url=proxy.url)
    for what, lie in lies.items():
        _verify_fails(net, p, lie, what)
    _verify_ok(net, p)  # the honest node still verifies (nothing above touched the chain)
