"""Scenario 7: Byzantine ballots and complaints under load (docs/PROTOCOL.md §17).

Three validators misbehave, each in one way, for one poll under load:
- b's app proposes invalid ballots (tests/faults/app.py ballot-proposer; a flipped bit-proof
  byte, the complaint oracle), which every node's CheckTx refuses too;
- w's worker complains about good ballots (tests/faults/worker.py false-complaint);
- voters send ballots whose proofs hold but whose envelope for validator v is garbage.
Expected: the invalid ballots never commit and b's proposals with them are rejected; v's
worker complains and each bad-share ballot is disqualified, its voter named; w's complaints
are judged false and w is named; the outcome equals the clear text over the load's ballots.
"""

import time
from pathlib import Path

from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.protocol import canonical
from mpc_tx.protocol.codes import BAD_BALLOT
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.tx import tx_hash

from toolkit.reliability.hostile import ballot_tx, ballot_values, flipped_bit_proof, garbage_share, oracle, poll_context

__all__ = ["byzantine_ballots"]

_TESTS = Path(__file__).resolve().parents[3] / "tests" / "faults"
FAULTY_APP, FAULTY_WORKER = _TESTS / "app.py", _TESTS / "worker.py"
BAD_SHARES = 3


def _wait(probe, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = probe()
        if answer:
            return answer
        time.sleep(0.5)
    return None


def _rejections(h, offsets: dict) -> int:
    """Count the honest apps' log lines, since offsets, rejecting a proposal for a BAD_BALLOT."""
    n = 0
    for i, at in offsets.items():
        with open(h.net.log_file(i, "app"), "rb") as f:
            f.seek(at)
            n += sum(b"rejected the proposal" in line and b"BAD_BALLOT" in line for line in f)
    return n


def _complaints(h, poll_id: int) -> list[dict]:
    """Return every complaint record of the poll (pages of up to 1000)."""
    out, after = [], None
    for _ in range(1000):
        page = h.query(f"/poll/{poll_id}/complaints?limit=1000" + (f"&after={after}" if after else ""))
        out += page["complaints"]
        after = page["next"]
        if after is None:
            return out
    raise RuntimeError("too many complaint pages")


def _swap_app(h, run, i: int, env: dict | None, why: str):
    """Restart validator i's app (and node): from tests/faults/app.py with env, or the honest one."""
    for proc in ("node", "app"):
        pid = h.sup.stop(i, proc, why)
        run.fault(action="SIGTERM", process=proc, validator=i, pid=pid, height=h.top())
    if env is None:
        pid = h.sup.start(i, "app")
    else:
        pid = h.sup.start(i, "app", env=env, entry=str(FAULTY_APP))
    h.sup.start(i, "node")
    run.fault(action=why, process="app", validator=i, pid=pid, height=h.top())
    h.wait_caught_up(nodes=[i])


def _swap_worker(h, run, i: int, fault: str | None, why: str):
    pid = h.sup.stop(i, "worker", why)
    run.fault(action="SIGTERM", process="worker", validator=i, pid=pid, height=h.top())
    if fault is None:
        pid = h.sup.start(i, "worker")
    else:
        pid = h.sup.start(i, "worker", env={"MPCVOTE_WORKER_FAULT": fault}, entry=str(FAULTY_WORKER))
    run.fault(action=why, process="worker", validator=i, pid=pid, height=h.top())


def _send(h, node: int, raw: bytes) -> dict:
    rpc = Rpc(h.net.rpc_url(node), timeout=30.0)
    try:
        return rpc.broadcast_tx_sync(raw)
    finally:
        rpc.close()


def _committed(h, txid: str) -> bool:
    """Whether node0 has the tx in a block (an unreachable node is an error, not a no)."""
    rpc = Rpc(h.net.rpc_url(0), timeout=30.0)
    try:
        rpc.tx(txid)
        return True
    except RpcError as exc:
        if "not found" in str(exc):
            return False
        raise
    finally:
        rpc.close()


def byzantine_ballots(h, run, rng):
    """Run scenario 7 once (a body for Harness.run)."""
    b, w, v = rng.sample(h.nodes(), 3)  # the proposer, the liar, the victim of the bad shares
    bad_file = h.net.dir / f"bad-txs-{run.number}.hex"
    bad_file.write_text("")
    offsets = {i: h.net.log_file(i, "app").stat().st_size for i in h.nodes() if i != b}
    load = None
    try:
        _swap_app(h, run, b, {"MPCVOTE_FAULT": "ballot-proposer", "MPCVOTE_BAD_TXS": str(bad_file)}, "ballot-proposer")
        _swap_worker(h, run, w, "false-complaint", "false-complaint worker")
        poll, creator = h.new_poll(h.next_kind())
        ctx = poll_context(h.genesis, poll)
        chain_id = h.genesis["chain_id"]
        # A smaller load than the other scenarios': the liar complains about every ballot, and
        # each complaint is judged by every app (a decryption and a share check).
        load = h.start_load(poll, h.settings.min_in_flight, rng)
        first = _wait(load.committed_ballots, 120)
        if not first:
            run.fail("no ballot of the load committed in 120 s")
            return
        victim = bytes.fromhex(canonical.decode(first[0].raw)["body"]["ballot"])
        keys = [SigningKey.generate() for _ in range(2)]
        voters = [bytes.fromhex(k.public_hex) for k in keys]
        some = "a" if poll["kind"] == "tally" else "yes"
        hostile = {
            "flipped bit-proof byte": ballot_tx(
                keys[0], chain_id, ctx, poll["id"], flipped_bit_proof(ctx, voters[0], ballot_values(poll, some))
            ),
            "complaint oracle": ballot_tx(keys[1], chain_id, ctx, poll["id"], oracle(ctx, voters[1], victim)),
        }
        for what, tx in hostile.items():
            node = rng.randrange(len(h.nodes()))
            code = int(_send(h, node, tx)["code"])
            run.fault(action=f"invalid ballot: {what}", process="voter", validator=None, pid=None, node=node, code=code)
            if code != BAD_BALLOT:
                run.fail(f"CheckTx on node{node} answered {code} to the {what} ballot, not BAD_BALLOT")
        bad_file.with_suffix(".part").write_text("".join(tx.hex() + "\n" for tx in hostile.values()))
        bad_file.with_suffix(".part").replace(bad_file)
        cheats = {}
        for _ in range(BAD_SHARES):
            key = SigningKey.generate()
            choice = rng.choice(poll["options"] if poll["kind"] == "tally" else ["yes", "no"])
            raw = garbage_share(ctx, bytes.fromhex(key.public_hex), ballot_values(poll, choice), v)
            res = h.submit(lambda c, key=key, raw=raw: ballot_tx(key, c.chain_id, ctx, poll["id"], raw))
            cheats[key.public_hex] = res["hash"]
        run.fault(action=f"{BAD_SHARES} ballots with a bad share for validator {v}", process="voter", validator=v)
        if not _wait(lambda: _rejections(h, offsets), 90):
            run.fail(f"no honest app rejected validator {b}'s proposals of invalid ballots in 90 s")
        if not _wait(lambda: len(_bad(h, poll["id"], v)) >= BAD_SHARES, 90):
            run.fail(f"validator {v} did not complain about every bad-share ballot in 90 s")
        h.finish_load(load, run)
        bad_file.write_text("")
        closed, late = h.close_under_load(run, poll, creator, load)
        h.check_outcome(run, closed, [load, late])
        h.check_ballots(run, closed, load, late)
        _judge(h, run, poll["id"], w, v, cheats, hostile)
        run.notes.append(f"proposer {b}, liar {w}, victim of the bad shares {v}")
    finally:
        if load is not None:
            load.stop()
        bad_file.write_text("")
        _swap_worker(h, run, w, None, "honest worker again")
        _swap_app(h, run, b, None, "honest app again")


def _bad(h, poll_id: int, v: int) -> list[dict]:
    return [c for c in _complaints(h, poll_id) if c["validator"] == v and c["verdict"] == "ballot_bad"]


def _verdicts_for(complaint: dict, by_v: list) -> set:
    """The verdicts a false complaint may get: moot once v's complaint put the ballot out, false before."""
    out = [c["height"] for c in by_v if c["ballot_tx"] == complaint["ballot_tx"] and c["verdict"] == "ballot_bad"]
    if not out or out[0] > complaint["height"]:
        return {"complaint_false"}
    return {"moot"} if out[0] < complaint["height"] else {"moot", "complaint_false"}  # same block: either order


def _judge(h, run, poll_id: int, w: int, v: int, cheats: dict, hostile: dict):
    record = h.query(f"/poll/{poll_id}")
    complaints = _complaints(h, poll_id)
    by_w = [c for c in complaints if c["validator"] == w]
    by_v = [c for c in complaints if c["validator"] == v]
    others = [c for c in complaints if c["validator"] not in (w, v)]
    if not by_w:
        run.fail(f"the false-complaint worker {w} never complained")
    # About a bad-share ballot v put out first, w's complaint is moot; about any other, false.
    wrong = [c for c in by_w if c["verdict"] not in _verdicts_for(c, by_v)]
    if wrong:
        run.fail(f"complaints of validator {w} not judged false (or moot after a disqualification): {wrong[:3]}")
    if record["named_validators"] != ([w] if by_w else []):
        run.fail(f"named validators {record['named_validators']}, expected [{w}]")
    if {c["voter"]: c["ballot_tx"] for c in by_v if c["verdict"] == "ballot_bad"} != cheats or len(by_v) != len(cheats):
        run.fail(f"validator {v}'s complaints {by_v} are not exactly the bad-share ballots")
    if others:
        run.fail(f"honest validators complained: {others}")
    for voter, tx in cheats.items():
        ballot = h.query(f"/poll/{poll_id}/ballot/{voter}")
        if (ballot.get("disqualified") or {}).get("by") != v:
            run.fail(f"the bad-share ballot {tx[:12]} is not disqualified by validator {v}")
    for what, tx in hostile.items():
        if _committed(h, tx_hash(tx)):
            run.fail(f"the invalid {what} ballot was committed")
    run.notes.append(f"complaints: {len(by_w)} by the liar {w}, {len(by_v)} by the victim {v}")
