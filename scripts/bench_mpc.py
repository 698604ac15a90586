#!/usr/bin/env python3
"""Close to final on a real testnet: unanimity against MPyC alone, a tally against the MPyC tally it replaced.

For each poll kind and ballot count it starts (once per validator count) a testnet
on loopback with apps, nodes and MPC workers, opens a poll, builds the ballots in
worker processes before the clock starts, sends them to every node with the toolkit's
load generator (batches of ``broadcast_tx_async``, at most ``window`` between mempool
and block, commits read from the blocks), closes the poll with ClosePoll and waits for
the outcome to be final.

A unanimity poll is decided by an MPyC job (docs/PROTOCOL.md §17): beside it, on the
same running testnet, each validator's envelopes of the counted ballots are opened with
that validator's key file (checked against the commitments), the jobs built as the
worker builds them, and the m parties run with ``mpc_tx.mpc.job.run_job`` on fresh
loopback ports ("MPyC alone": process start, connect and compute).

A tally is opened on chain from the validators' aggregate posts (§18): no MPC job. Its
"MPyC alone" is the MPyC tally it replaced, run from git (commit ``OLD_MPYC_COMMIT``,
``mpc_tx`` and ``node_config`` extracted to a temporary directory outside the tree): m
loopback parties on fresh shares of the same n 3-option ballots at t = (m-1)//2, the
threshold that program ran at (MPyC's 2t+1 bound), timed as above. The tally's aggregate
phase is read from the blocks: the block that fixes the counted set, the blocks the
aggregate posts landed in, and the t+1-th valid post, which makes the poll final.

    close_to_final_s  header time of the block where the outcome became final
                      minus that of the block that closed the poll
    fixed_to_final_s  from the block that fixes the counted set (the complaint window's end, §17) to the final one
    window_blocks     blocks from the close to the fixed counted set (the complaint window)
    mpyc_alone_s      unanimity: the m jobs on the same shares; tally: the old MPyC tally program
    ratio             unanimity: (fixed_to_final_s - 3 * block_interval_s) / mpyc_alone_s; target <= 1.5
                      tally: fixed_to_final_s / mpyc_alone_s (reported); target: final <= 3 blocks after the fix

Where the workers' time goes is read from their logs for a unanimity poll (detection of
the close, ballot sync, the job, the submission, until final). Every process is stopped
by its PID, on failure too; every load loop is bounded in count and time.

    .venv/bin/python scripts/bench_mpc.py [--quick] [--json] [--budget S] [--validators 4 3 5 7]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.load import build_ballots, run_load  # noqa: E402
from toolkit.measure import await_exec, check_ports_free, cpu_seconds, machine_busy_seconds  # noqa: E402
from mpc_tx.protocol import tx as txcodec  # noqa: E402
from mpc_tx.protocol.ballot import open_ballot, verify_ballot  # noqa: E402
from mpc_tx.protocol.encoding import Rejected  # noqa: E402
from mpc_tx.client.ballot import poll_context  # noqa: E402
from mpc_tx.client.cli import Client  # noqa: E402
from mpc_tx.protocol.keys import SigningKey  # noqa: E402
from mpc_tx.keyfile import load_encryption_key  # noqa: E402
from mpc_tx.client.rpc import Rpc  # noqa: E402
from mpc_tx.worker.attest import chain_result  # noqa: E402
from mpc_tx.worker.polljob import job_input  # noqa: E402
from node_config.lifecycle import Testnet  # noqa: E402
from node_config.ports import port_free  # noqa: E402

__all__ = [
    "mpc_rows",
    "Bench",
    "mpyc_alone",
    "OldMpycTally",
    "aggregate_phase",
    "worker_phases",
    "markdown",
    "write_plot",
    "main",
]

KINDS = ("unanimity", "tally")
OPTIONS = ["a", "b", "c"]
PORT_BASE = 21000  # testnets at PORT_BASE + 200 * k; MPyC alone from PORT_BASE + 1000
PORTS_PER_TESTNET = 200
ALONE_PORTS = (1000, 1999)  # offsets from the port base for the MPyC-alone runs
BLOCK_TIME = "200ms"
QUICK_BUDGET_S = 360.0
FULL_BUDGET_S = 1800.0
DOCS = ROOT / "docs"
OLD_MPYC_COMMIT = "281496c"  # the last tree whose MPC programs computed a tally (before issue 13)
TALLY_TARGET_BLOCKS = 3  # a tally: final at most 3 blocks after the fix (§18.1: W + 2 blocks from the close)


def _log(msg):
    print(f"[bench_mpc] {msg}", file=sys.stderr, flush=True)


# --- ballots and ingest ------------------------------------------------------------------------
def expected_choices(poll, n):
    """Every voter says yes (unanimity), or options a, b, c in turn (tally)."""
    if poll["kind"] == "unanimity":
        return ["yes"] * n
    return [OPTIONS[j % len(OPTIONS)] for j in range(n)]


def ingest(urls, txs, *, per_node=4, window=2000, timeout=600.0, drain=30.0) -> dict:
    """Send each tx with the toolkit's load generator, spread over urls; return when the blocks hold them all.

    At most `window` txs wait between acceptance and their block (every block makes
    the nodes recheck their whole mempool). Bounded: nothing is sent after `timeout`,
    and the wait for commits gives up after `drain` s without progress.
    """
    start_height = Rpc(urls[0]).height()
    res = run_load(
        urls,
        txs,
        watch_url=urls[0],
        start_height=start_height,
        connections=per_node * len(urls),
        window=window,
        timeout=timeout,
        drain=drain,
    )
    sent_s = max(res.submit_time.values(), default=res.started) - res.started
    committed_s = res.finished - res.started
    errors = {"refused": res.rpc_errors} if res.rpc_errors else {}
    if res.failed:
        errors["failed in a block"] = res.failed
    return {
        "accepted": res.sent,
        "committed": res.committed,
        "mempool_full_retries": res.full_retries,
        "errors": errors,
        "unsent": res.unsent,
        "send_s": round(sent_s, 2),
        "ingest_s": round(committed_s, 2),
        "ingest_tx_per_s": round(res.committed / committed_s, 1) if committed_s else None,
    }


# --- chain times ------------------------------------------------------------------------------
def _rfc3339(text: str) -> float:
    whole, _, frac = text.rstrip("Z").partition(".")
    base = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def header_time(rpc: Rpc, height: int) -> float:
    return _rfc3339(rpc.call("header", height=str(height))["header"]["time"])


def block_interval(rpc: Rpc, first: int, last: int) -> float:
    """Median seconds between consecutive headers first..last."""
    times = [header_time(rpc, h) for h in range(first, last + 1)]
    return statistics.median(b - a for a, b in zip(times, times[1:]))


def close_and_wait(client: Client, rpc: Rpc, creator: SigningKey, poll_id: int, timeout=300.0) -> dict:
    """Close the poll; watch (every 50 ms) for the close and the final outcome; return times and heights."""
    raw = txcodec.build(creator, client.chain_id, "close_poll", client.next_nonce(creator), {"poll": poll_id})
    sent = time.time()
    res = rpc.broadcast_tx_sync(raw)
    if int(res["code"]) != 0:
        raise RuntimeError(f"close_poll refused: code {res['code']} {res.get('log')}")
    closed_seen = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = rpc.query(f"/poll/{poll_id}/outcome")[0]
        now = time.time()
        if out["status"] != "open" and closed_seen is None:
            closed_seen = now
        if out["status"] in ("final", "failed"):
            return {"sent": sent, "closed_seen": closed_seen, "final_seen": now, "outcome": out}
        time.sleep(0.05)
    raise TimeoutError(f"poll {poll_id} not final {timeout:.0f} s after its close")


# --- MPyC alone -------------------------------------------------------------------------------
class PortPicker:
    """Fresh loopback ports from a range, never the same twice in one run (no TIME_WAIT reuse)."""

    def __init__(self, low, high):
        self.next, self.high = low, high

    def take(self, n):
        out = []
        while len(out) < n:
            if self.next > self.high:
                raise RuntimeError("out of fresh ports for the MPyC-alone runs")
            port, self.next = self.next, self.next + 1
            if port_free(port):
                out.append(port)
        return out


def decrypted_shares(net: Testnet, poll: dict, index: int) -> list:
    """Validator index's value shares f_e(i+1) of every counted ballot, in voter order (the job's input, §17)."""
    home = Path(net.validators[index]["home"])
    secret = load_encryption_key(home / "mpc" / "enc_key.json").scalar
    context = poll_context(poll, json.loads(net.genesis_path().read_text()))
    rpc = net.rpc(index)
    shares, after = [], None
    for _ in range(10_000):  # pages of 1000: bounded far above any poll here
        path = f"/poll/{poll['id']}/ballots?limit=1000" + (f"&after={after}" if after else "")
        page, _ = rpc.query(path)
        for b in page["ballots"]:
            if b.get("disqualified"):
                continue  # not counted: the MPC never sees it
            voter = bytes.fromhex(b["voter"])
            parsed = verify_ballot(context, voter, bytes.fromhex(b["ballot"]))
            pairs = parsed if isinstance(parsed, Rejected) else open_ballot(context, voter, parsed, index, secret)
            if isinstance(pairs, Rejected):  # every honest validator checked it: a bench ballot never fails
                raise RuntimeError(f"validator {index} cannot open a counted ballot: {pairs.reason}")
            shares.append([f for f, _g in pairs])
        after = page["next"]
        if after is None:
            return shares
    raise RuntimeError("too many ballot pages")


def _tls(net, index):
    """Validator index's certificate and key, and every party's self-signed certificate from the genesis registry."""
    tls = Path(net.validators[index]["home"]) / "mpc" / "tls"
    registry = json.loads(net.genesis_path().read_text())["app_state"]["validators"]
    return {
        "cert": (tls / "party.crt").read_text(),
        "key": (tls / "party.key").read_text(),
        "peers": [v["tls_cert"] for v in registry],
    }


def mpyc_alone(net: Testnet, poll: dict, ports: PortPicker, deadline_s=240.0) -> tuple[float, list]:
    """Run the poll's MPC with MPyC alone on the validators' decrypted shares; return (seconds, results).

    The jobs are the worker's (job_input), on fresh loopback ports; the clock runs from
    launching the m run_job calls to the last result.
    """
    from mpc_tx.mpc.job import run_job

    m = len(poll["validators"])
    fresh = ports.take(m)
    jobs = []
    for i in range(m):
        job = job_input(poll, i, 0, decrypted_shares(net, poll, i), _tls(net, i), deadline_s)
        job["parties"] = [dict(p, host="127.0.0.1", port=port) for p, port in zip(job["parties"], fresh)]
        jobs.append(job)
    results = [None] * m

    def go(i):
        results[i] = run_job(jobs[i], deadline_s + 5, stderr=subprocess.DEVNULL)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(m)]
    began = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(deadline_s + 30)
    return time.perf_counter() - began, results


# --- the MPyC tally it replaced -------------------------------------------------------------
# Run by a driver inside the extracted old tree: its own mpc_tx, imported before the repository's.
_OLD_DRIVER = """
import json, subprocess, sys, threading, time
from mpc_tx.mpc.job import run_job
from mpc_tx.mpc.local import local_jobs

m, n, k, deadline_s = (int(a) for a in sys.argv[1:5])
votes = [[int(e == j % k) for e in range(k)] for j in range(n)]
jobs = local_jobs(m, "tally", votes, k, deadline_s=deadline_s)
results = [None] * m

def go(i):
    results[i] = run_job(jobs[i], deadline_s + 5, stderr=subprocess.DEVNULL)

threads = [threading.Thread(target=go, args=(i,)) for i in range(m)]
began = time.perf_counter()
for th in threads:
    th.start()
for th in threads:
    th.join(deadline_s + 30)
print(json.dumps({"seconds": time.perf_counter() - began, "results": results}))
"""


class OldMpycTally:
    """The MPyC tally program of OLD_MPYC_COMMIT, extracted from git to a temporary directory outside the tree."""

    def __init__(self, workdir: Path):
        self.dir = Path(workdir) / f"mpyc-tally-{OLD_MPYC_COMMIT}"
        self.dir.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_MPYC_COMMIT, "mpc_tx", "node_config"],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(self.dir)], input=archive, check=True, timeout=60)
        (self.dir / "old_tally.py").write_text(_OLD_DRIVER)

    def run(self, m: int, n: int, k: int, deadline_s=240) -> tuple[float, list]:
        """Run the old tally of n k-option ballots with m loopback parties; return (seconds, results)."""
        env = {key: v for key, v in os.environ.items() if key != "PYTHONPATH"}
        proc = subprocess.run(
            [sys.executable, "old_tally.py", str(m), str(n), str(k), str(deadline_s)],
            cwd=self.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline_s + 120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the old MPyC tally failed: {proc.stderr[-500:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        return out["seconds"], out["results"]


# --- the aggregate phase of a tally -----------------------------------------------------------
def aggregate_phase(rpc: Rpc, poll_id: int, fixed: int, final: int) -> dict:
    """Read the poll's aggregate posts from the blocks fixed..final: where each landed and its verdict."""
    posts = []
    for h in range(fixed, final + 1):
        res = rpc.call("block_results", height=str(h))
        for tx in res.get("txs_results") or []:
            for ev in tx.get("events") or []:
                if ev.get("type") != "aggregate":
                    continue
                attrs = {a.get("key"): a.get("value") for a in ev.get("attributes") or []}
                if str(attrs.get("poll_id")) == str(poll_id):
                    posts.append((h, attrs.get("verdict")))
    valid = [h for h, verdict in posts if verdict == "valid"]
    per_block = {}
    for h, _ in posts:
        per_block[h - fixed] = per_block.get(h - fixed, 0) + 1
    return {
        "posts": len(posts),
        "valid": len(valid),
        "named": sum(1 for _, verdict in posts if verdict not in (None, "valid")),
        "first_post_blocks": (posts[0][0] - fixed) if posts else None,
        "posts_per_block": per_block,  # blocks after the fix -> posts in that block
        "fix_to_final_blocks": final - fixed,
    }


# --- worker logs ------------------------------------------------------------------------------
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _stamp(line):
    m = _STAMP.match(line)
    if not m:
        return None
    # logging's asctime is local time; time.time() and the header times are epochs.
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def worker_phases(log_texts: list[str], poll_id: int, closed_seen: float, final_seen: float, quorum: int) -> dict:
    """Where the workers' time went after the close, from their log lines (seconds; max over workers).

    detect: close seen by us to the worker's job thread starting; sync: its ballot
    sync; job: the MPC child process (start, parse, connect, program, exit);
    program: the MPC program inside it; submit: job end to its attestation accepted;
    to_final: the attestation that made the quorum to the outcome seen final.
    """
    per = []
    attempt_re = re.compile(rf"poll {poll_id}: attempt (\d+) with \d+ ballots \(synced in ([\d.]+) s")
    ended_re = re.compile(rf"poll {poll_id}: attempt (\d+) job ended in ([\d.]+) s")
    program_re = re.compile(r"MPC program done in ([\d.]+) s")
    for text in log_texts:
        w = {}
        for line in text.splitlines():
            t = _stamp(line)
            if t is None:
                continue
            if m := attempt_re.search(line):
                w = {"attempt": int(m.group(1)), "entry": t - float(m.group(2)), "sync": float(m.group(2))}
            elif "entry" in w and (m := program_re.search(line)):
                w["program"] = float(m.group(1))
            elif m := ended_re.search(line):
                w["job"], w["ended"] = float(m.group(2)), t
            elif f"poll {poll_id}: ok attestation: sent " in line and "submitted" not in w:
                w["submitted"] = t
        per.append(w)
    done = [w for w in per if "submitted" in w and "entry" in w]
    if not done:
        return {}

    def worst(key):
        vals = [w[key] for w in done if key in w]
        return round(max(vals), 3) if vals else None

    submissions = sorted(w["submitted"] for w in done)
    quorum_at = submissions[min(quorum, len(submissions)) - 1]
    return {
        "attempt": max(w["attempt"] for w in done),
        "detect_s": round(max(w["entry"] - closed_seen for w in done), 3),
        "sync_s": worst("sync"),
        "job_s": worst("job"),
        "program_s": worst("program"),
        "submit_s": round(max(w["submitted"] - w["ended"] for w in done if "ended" in w), 3)
        if any("ended" in w for w in done)
        else None,
        "quorum_to_final_s": round(final_seen - quorum_at, 3),
        "job_start_spread_s": round(max(w["entry"] for w in done) - min(w["entry"] for w in done), 3),
    }


# --- load on the machine --------------------------------------------------------------------


class LoadMeter:
    """Busy cores of processes other than ours (the testnet's and this one, children included)."""

    def __init__(self, pids):
        self.pids = list(pids) + [os.getpid()]
        self.t0, self.busy0, self.ours0 = time.monotonic(), machine_busy_seconds(), self._ours()

    def _ours(self):
        return sum(cpu_seconds(p, children=True) for p in self.pids)

    def other_cores(self):
        dt = time.monotonic() - self.t0
        if dt <= 0:
            return None
        return round(max(0.0, (machine_busy_seconds() - self.busy0) - (self._ours() - self.ours0)) / dt, 2)


# --- one testnet, several rows ------------------------------------------------------------------


class Bench:
    """A running m-validator testnet on which rows are measured one after the other."""

    def __init__(self, m, port_base, workdir, block_time=BLOCK_TIME, params=None):
        self.m, self.port_base = m, port_base
        self.old_tally = OldMpycTally(workdir)
        self.net = Testnet(Path(workdir) / f"net{m}")
        self.block_time, self.params = block_time, params or {}

    def __enter__(self):
        check_ports_free(self.port_base, 20 * self.m)
        _log(f"{self.m} validators: generating a testnet (ports {self.port_base}.., block time {self.block_time})")
        self.net.generate(self.m, port_base=self.port_base, block_time=self.block_time)
        if self.params:
            self.net.set_params(self.params)
        try:
            for i in range(self.m):
                self.net.start_validator(i)
                await_exec(self.net, [(i, proc) for proc in ("app", "node", "worker")])
            self.net.wait_height(3, timeout=120)
        except BaseException:
            self.net.down()
            raise
        self.genesis = json.loads(self.net.genesis_path().read_text())
        self.client = Client(self.net.rpc_url(0), genesis=str(self.net.genesis_path()))
        self.pids = [self.net.pid(i, p) for i in range(self.m) for p in ("app", "node", "worker")]
        return self

    def __exit__(self, *exc):
        self.net.down()

    def row(self, kind, n, ports: PortPicker) -> dict:
        net, rpc = self.net, self.net.rpc(0)
        row_began = time.monotonic()
        meter = LoadMeter([p for p in self.pids if p])
        creator = SigningKey.generate()
        created = self.client.create_poll(
            creator,
            f"Benchmark {kind} {n}?",
            kind,
            options=OPTIONS if kind == "tally" else (),
            close_in=50000,
            max_ballots=n,
            max_revotes=0,
            min_ballots=None,
        )
        poll = self.client.query(f"/poll/{created['poll']}")
        choices = expected_choices(poll, n)
        t0 = time.monotonic()
        txs = [b.raw for b in build_ballots(poll, self.genesis, choices)]
        build_s = time.monotonic() - t0
        _log(f"poll {poll['id']} ({kind}, {n} ballots, m={self.m}): built in {build_s:.1f} s; sending")
        sent = ingest([net.rpc_url(i) for i in range(self.m)], txs)
        _log(
            f"poll {poll['id']}: {sent['committed']} committed in {sent['ingest_s']} s "
            f"({sent['ingest_tx_per_s']} tx/s); closing"
        )
        if sent["committed"] != n:
            _log(f"poll {poll['id']}: WARNING {n - sent['committed']} ballots not committed: {sent['errors']}")
        offsets = [net.log_file(i, "worker").stat().st_size for i in range(self.m)]
        times = close_and_wait(self.client, rpc, creator, poll["id"])
        out = times["outcome"]
        closed, final = out["closed_height"], out["final_height"]
        if out["status"] != "final":
            _log(f"poll {poll['id']}: outcome {out['status']}: {out.get('result')}")
        net.wait_height(final + 10, timeout=60, nodes=[0])
        close_to_final = header_time(rpc, final) - header_time(rpc, closed)
        interval = block_interval(rpc, final, final + 10)
        logs = []
        for i, off in enumerate(offsets):
            with open(net.log_file(i, "worker"), "rb") as f:
                f.seek(off)
                logs.append(f.read().decode("utf-8", "replace"))
        poll = self.client.query(f"/poll/{poll['id']}")
        # The counted set is fixed after the complaint window (§17): window→final counts from
        # there, the window is a fixed number of blocks by design and is reported beside it.
        fixed = poll.get("counted_fixed_height") or closed
        fixed_to_final = header_time(rpc, final) - header_time(rpc, fixed)
        expected = {"unanimous": True} if kind == "unanimity" else {"tally": {o: choices.count(o) for o in OPTIONS}}
        row = {
            "kind": kind,
            "ballots": n,
            "validators": self.m,
            "threshold": poll.get("threshold"),
            "close_to_final_s": round(close_to_final, 3),
            "fixed_to_final_s": round(fixed_to_final, 3),
            "window_blocks": fixed - closed,
        }
        if kind == "unanimity":
            quorum = 2 * self.m // 3 + 1
            phases = worker_phases(logs, poll["id"], times["closed_seen"], times["final_seen"], quorum=quorum)
            _log(
                f"poll {poll['id']}: final at +{final - closed} blocks, {close_to_final:.2f} s; "
                f"workers {phases}; running MPyC alone"
            )
            alone_s, results = mpyc_alone(net, poll, ports)
            alone_ok = all(r and r["status"] == "ok" for r in results)
            same = alone_ok and chain_result(poll, results[0]) == out["result"]
            row.update(
                mpyc_alone_s=round(alone_s, 3),
                ratio=round((fixed_to_final - 3 * interval) / alone_s, 2),
                target_met=fixed_to_final <= 1.5 * alone_s + 3 * interval,
                workers=phases,
            )
        else:
            agg = aggregate_phase(rpc, poll["id"], fixed, final)
            _log(
                f"poll {poll['id']}: final at +{final - closed} blocks, {close_to_final:.2f} s; "
                f"aggregate phase {agg}; running the old MPyC tally"
            )
            alone_s, results = self.old_tally.run(self.m, n, len(OPTIONS))
            alone_ok = all(r and r["status"] == "ok" for r in results)
            # Other shares (fresh, t = (m-1)//2), the same votes: the old program must give the same tally.
            same = alone_ok and results[0].get("outcome") == {"tally": list(expected["tally"].values())}
            row.update(
                mpyc_alone_s=round(alone_s, 3),
                ratio=round(fixed_to_final / alone_s, 2),
                target_met=out["status"] == "final" and final - fixed <= TALLY_TARGET_BLOCKS,
                aggregate=agg,
            )
        if not same:
            _log(
                f"poll {poll['id']}: WARNING MPyC alone {'differs from' if alone_ok else 'failed beside'} "
                f"the chain's outcome: {results[0]}"
            )
        row.update(
            {
                "block_interval_s": round(interval, 3),
                "observed_close_to_final_s": round(times["final_seen"] - times["closed_seen"], 3),
                "blocks_close_to_final": final - closed,
                "status": out["status"],
                "outcome_as_expected": (out.get("result") or {}).get("outcome") == expected,
                "alone_matches_chain": same,
                "ingest": sent,
                "build_s": round(build_s, 1),
                "other_load_cores": meter.other_cores(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "row_s": round(time.monotonic() - row_began, 1),
            }
        )
        _log(f"row: {_short(row)}")
        return row


def _short(row):
    keys = ("kind", "ballots", "validators", "close_to_final_s", "mpyc_alone_s", "ratio", "block_interval_s")
    return {k: row[k] for k in keys}


def _estimate_row_s(rows, kind, n):
    """Guess a row's seconds from the largest row measured so far (per-ballot costs scale linearly)."""
    done = [r for r in rows if r["kind"] == kind] or rows
    ref = max(done, key=lambda r: r["ballots"])
    return 20.0 + ref["row_s"] * n / ref["ballots"]


def mpc_rows(
    quick: bool,
    *,
    validators=(4, 3, 5, 7),
    port_base=PORT_BASE,
    block_time=BLOCK_TIME,
    budget_s=None,
    params=None,
    keep=False,
) -> list[dict]:
    """Measure the rows: m=4 first; other validator counts and 10000 ballots only within the time budget.

    quick: 4 validators, 100 and 1000 ballots of each kind, and 10000 of a tally if
    it fits in QUICK_BUDGET_S in all. Otherwise every count of each kind at m=4, then
    the other validator counts while FULL_BUDGET_S allows.
    """
    budget = budget_s or (QUICK_BUDGET_S if quick else FULL_BUDGET_S)
    began = time.monotonic()
    ports = PortPicker(port_base + ALONE_PORTS[0], port_base + ALONE_PORTS[1])
    workdir = Path(tempfile.mkdtemp(prefix="mpcvote-bench-mpc-"))
    rows = []
    counts = [4] if quick else list(validators)
    try:
        for k, m in enumerate(counts):
            plan = [(kind, n) for n in (100, 1000) for kind in KINDS]
            big = [("tally", 10000)] if quick else [(kind, 10000) for kind in KINDS]
            if (
                m != 4
                and time.monotonic() - began + 60 + sum(_estimate_row_s(rows, kind, n) for kind, n in plan) > budget
            ):
                _log(f"{m} validators: skipped (time budget of {budget:.0f} s)")
                continue
            with Bench(m, port_base + PORTS_PER_TESTNET * k, workdir, block_time, params) as bench:
                for kind, n in plan:
                    rows.append(bench.row(kind, n, ports))
                for kind, n in big:
                    need = _estimate_row_s(rows, kind, n)
                    if (quick or m != 4) and time.monotonic() - began + need > budget:
                        _log(
                            f"{kind} with {n} ballots at m={m}: skipped (needs ~{need:.0f} s, "
                            f"{time.monotonic() - began:.0f} s of {budget:.0f} s used)"
                        )
                        continue
                    rows.append(bench.row(kind, n, ports))
    finally:
        if keep:
            _log(f"testnet homes and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows


# --- output ---------------------------------------------------------------------------------
def markdown(rows) -> str:
    """Two tables: unanimity (MPC job against MPyC alone), tally (opened on chain against the old MPyC tally)."""
    out = []
    una = [r for r in rows if r["kind"] == "unanimity"]
    tal = [r for r in rows if r["kind"] == "tally"]
    if una:
        out.append(_unanimity_table(una))
    if tal:
        out.append(_tally_table(tal))
    return "\n\n".join(out)


def _phases(w):
    text = (
        " / ".join("-" if w.get(k) is None else f"{w[k]:.2f}" for k in ("detect_s", "sync_s"))
        + (f" / {w['job_s']:.2f} ({w['program_s']:.2f})" if w.get("job_s") is not None else " / -")
        + " / "
        + " / ".join("-" if w.get(k) is None else f"{w[k]:.2f}" for k in ("submit_s", "quorum_to_final_s"))
    )
    return text + (f" (attempt {w['attempt']})" if w.get("attempt") else "")


def _table(head, align, body) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(v) for v in cells) + " |" for cells in body]
    return "\n".join(lines)


def _unanimity_table(rows) -> str:
    head = [
        "kind",
        "ballots",
        "m",
        "close→final (s)",
        "blocks",
        "window→final (s)",
        "MPyC alone (s)",
        "ratio",
        "block (s)",
        "target",
        "worker: detect / sync / job (program) / submit / quorum→final (s)",
        "other load",
    ]
    body = [
        [
            r["kind"],
            r["ballots"],
            r["validators"],
            f"{r['close_to_final_s']:.2f}",
            r["blocks_close_to_final"],
            f"{r['fixed_to_final_s']:.2f} (window {r['window_blocks']} blocks)",
            f"{r['mpyc_alone_s']:.2f}",
            f"{r['ratio']:.2f}",
            f"{r['block_interval_s']:.3f}",
            "met" if r["target_met"] else "**missed**",
            _phases(r.get("workers") or {}),
            r["other_load_cores"],
        ]
        for r in rows
    ]
    return _table(head, ["---"] * 2 + ["---:"] * 7 + ["---"] * 3, body)


def _tally_table(rows) -> str:
    head = [
        "kind",
        "ballots",
        "m",
        "t",
        "close→final (s)",
        "blocks",
        "window→final (s)",
        "fix→final (blocks)",
        "posts per block after the fix (valid / named)",
        "old MPyC tally alone (s)",
        "block (s)",
        "target (final ≤ fix + 3 blocks)",
        "outcome",
        "other load",
    ]
    body = []
    for r in rows:
        agg = r.get("aggregate") or {}
        per = ", ".join(f"+{h}: {c}" for h, c in sorted(agg.get("posts_per_block", {}).items()))
        body.append(
            [
                r["kind"],
                r["ballots"],
                r["validators"],
                r.get("threshold"),
                f"{r['close_to_final_s']:.2f}",
                r["blocks_close_to_final"],
                f"{r['fixed_to_final_s']:.2f} (window {r['window_blocks']} blocks)",
                agg.get("fix_to_final_blocks"),
                f"{per or '-'} ({agg.get('valid')} / {agg.get('named')})",
                f"{r['mpyc_alone_s']:.2f}",
                f"{r['block_interval_s']:.3f}",
                "met" if r["target_met"] else "**missed**",
                "as expected" if r["outcome_as_expected"] else f"**{r['status']}, not as expected**",
                r["other_load_cores"],
            ]
        )
    return _table(head, ["---"] * 2 + ["---:"] * 9 + ["---"] * 3, body)


def _target_s(r) -> float:
    if r["kind"] == "tally":
        return (r["window_blocks"] + TALLY_TARGET_BLOCKS) * r["block_interval_s"]
    return 1.5 * r["mpyc_alone_s"] + 3 * r["block_interval_s"]


def write_plot(rows, path: Path):
    """One panel per validator count: close to final beside MPyC alone, and the target, per poll."""
    try:
        import matplotlib
    except ImportError:
        _log("no plot: matplotlib is not installed")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({r["validators"] for r in rows})
    cols = min(2, len(counts))
    nrows = (len(counts) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4.2 * nrows), squeeze=False)
    for ax, m in zip(axes.flat, counts):
        ours = [r for r in rows if r["validators"] == m]
        x = list(range(len(ours)))
        ax.bar([i - 0.2 for i in x], [r["close_to_final_s"] for r in ours], 0.4, label="close → final (chain)")
        ax.bar(
            [i + 0.2 for i in x], [r["mpyc_alone_s"] for r in ours], 0.4, label="MPyC alone (tally: the old MPyC tally)"
        )
        ax.scatter(
            x,
            [_target_s(r) for r in ours],
            marker="_",
            s=600,
            color="k",
            zorder=3,
            label="target: unanimity 1.5 × alone + 3 blocks; tally window + 3 blocks",
        )
        ax.set_xticks(x, [f"{r['kind']}\n{r['ballots']}" for r in ours], fontsize=8)
        ax.set(ylabel="seconds", title=f"{m} validators")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(counts) :]:
        ax.set_visible(False)
    fig.suptitle("From a poll's close to its final outcome, against MPyC alone (a tally: the MPyC tally it replaced)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="4 validators; 100 and 1000 ballots, 10000 (tally) if it fits in ~6 min"
    )
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON line at the end")
    parser.add_argument(
        "--validators",
        type=int,
        nargs="+",
        default=[4, 3, 5, 7],
        help="validator counts of the full run (4 always first; others within the budget)",
    )
    parser.add_argument("--port-base", type=int, default=PORT_BASE)
    parser.add_argument("--block-time", default=BLOCK_TIME)
    parser.add_argument("--budget", type=float, help="seconds the run may take (rows that would not fit are skipped)")
    parser.add_argument("--attempt-blocks", type=int, help="the chain's mpc_attempt_blocks (default: the app's)")
    parser.add_argument("--plot", default=str(DOCS / "bench_mpc.png"))
    parser.add_argument("--keep", action="store_true", help="keep the testnet homes and logs")
    args = parser.parse_args(argv)
    if not 21000 <= args.port_base <= 24000 - ALONE_PORTS[1]:
        parser.error(f"--port-base must be in 21000..{24000 - ALONE_PORTS[1]} (all ports stay below 24000)")
    params = None
    if args.attempt_blocks:
        params = {"mpc_attempt_blocks": args.attempt_blocks, "mpc_deadline_blocks": 10 * args.attempt_blocks}
    counts = [4] + [m for m in args.validators if m != 4]
    rows = mpc_rows(
        args.quick,
        validators=counts,
        port_base=args.port_base,
        block_time=args.block_time,
        budget_s=args.budget,
        params=params,
        keep=args.keep,
    )
    print(
        f"{os.cpu_count()} CPUs, block time {args.block_time}, PRSS as in the jobs, pinned TLS on loopback; "
        f"tally has {len(OPTIONS)} options; unanimity: ratio = (window→final − 3 blocks) / MPyC alone, "
        f"target ≤ 1.5; tally: opened on chain, target final ≤ {TALLY_TARGET_BLOCKS} blocks after the fix, "
        f"old MPyC tally from {OLD_MPYC_COMMIT} at t = (m-1)//2\n"
    )
    print(markdown(rows))
    if rows and (path := write_plot(rows, Path(args.plot))):
        print(f"\nplot: {path}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
