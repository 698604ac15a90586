"""One MPyC job per child process: 3 and 5 local parties, real TLS on loopback, known shares.

Every present party must print the same result, and every party must end by its deadline
whether a peer is missing, killed mid-job, or the job is malformed.
"""

import json
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mpc_tx.mpc.job import run_job
from mpc_tx.protocol.sharing import L
from mpc_tx.mpc.local import local_jobs

REPO = Path(__file__).resolve().parents[3]


def make_jobs(m, kind, ballots, k=1, min_ballots=0, deadline=20.0, prss=True):
    """Jobs for m local parties at t = (m-1)//2, each ballot a list of k votes."""
    return local_jobs(m, kind, ballots, k, min_ballots=min_ballots, deadline_s=deadline, prss=prss)


def tamper(jobs, pid, ballot, entry=0):
    """Move one party's share of one entry off the voter's polynomial."""
    shares = jobs[pid]["shares"][ballot]
    shares[entry] = str((int(shares[entry]) + 12345) % L)


def run_parties(jobs, timeout_s=40):
    """Run each job through run_job in parallel; return results and seconds taken."""
    results, took = [None] * len(jobs), [None] * len(jobs)

    def go(i):
        began = time.monotonic()
        results[i] = run_job(jobs[i], timeout_s, stderr=subprocess.DEVNULL)
        took[i] = time.monotonic() - began

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results, took


def agreed(results):
    assert all(r == results[0] for r in results), results
    return results[0]


# ---------------------------------------------------------------- unanimity


@pytest.mark.parametrize("m,prss", [(3, True), (5, False)])
def test_unanimity_true(m, prss):
    results, _ = run_parties(make_jobs(m, "unanimity", [[1]] * 8, prss=prss))
    assert agreed(results) == {"status": "ok", "outcome": {"unanimous": True}, "counted": 8}


def test_unanimity_false_with_one_no():
    results, _ = run_parties(make_jobs(3, "unanimity", [[1]] * 4 + [[0]] + [[1]] * 3))
    assert agreed(results) == {"status": "ok", "outcome": {"unanimous": False}, "counted": 8}


def test_a_party_inputting_another_share_fails_the_attempt_as_inconsistent_shares():
    # Every counted ballot's shares were checked against its commitments: a party whose
    # input is off the degree-t polynomial input other shares than its checked ones.
    jobs = make_jobs(5, "unanimity", [[1]] * 9)
    tamper(jobs, 4, 6)
    results, _ = run_parties(jobs)
    assert agreed(results) == {"status": "failed", "code": "inconsistent_shares", "absent": []}


# ---------------------------------------------------------------- withheld; no tally job


def test_unanimity_withheld_below_min_ballots():
    results, _ = run_parties(make_jobs(3, "unanimity", [[1]] * 5, min_ballots=6))
    assert agreed(results) == {"status": "ok", "outcome": {"withheld": True}, "counted": 5}


def test_a_tally_job_is_refused_it_is_opened_on_chain(tmp_path):
    job = make_jobs(3, "unanimity", [[1]])[0]
    log_path = tmp_path / "job.log"
    with open(log_path, "wb") as log:
        result = run_job({**job, "kind": "tally", "options": 3, "shares": [["1", "0", "0"]]}, 10, stderr=log)
    assert result == {"status": "failed", "code": "error", "absent": []}
    assert "a tally is opened on chain from aggregate pairs" in log_path.read_text()


# ---------------------------------------------------------------- failures end by the deadline


def test_parties_on_different_jobs_fail_alike():
    jobs = make_jobs(3, "unanimity", [[1]] * 3)
    jobs[2]["seed"] = secrets.token_hex(32)
    results, _ = run_parties(jobs)
    assert agreed(results) == {"status": "failed", "code": "error", "absent": []}


def test_missing_party_fails_every_present_party_by_the_deadline():
    deadline = 3.0
    jobs = make_jobs(3, "unanimity", [[1]] * 3, deadline=deadline)
    results, took = run_parties([jobs[0], jobs[2]])
    assert agreed(results) == {"status": "failed", "code": "party_absent", "absent": [1]}
    assert max(took) < deadline + 2  # process start, then the deadline from there


def test_party_killed_mid_job_leaves_the_others_ending_by_the_deadline(tmp_path):
    deadline = 8.0
    n = 3000
    jobs = make_jobs(3, "unanimity", [[1]] * n, deadline=deadline)
    log_path = tmp_path / "victim.log"
    with open(log_path, "wb") as log:
        victim = subprocess.Popen(
            [sys.executable, "-m", "mpc_tx.mpc.job"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=REPO,
        )
    victim.stdin.write(json.dumps(jobs[1]).encode())
    victim.stdin.close()
    box = {}
    others = threading.Thread(target=lambda: box.update(r=run_parties([jobs[0], jobs[2]])))
    others.start()
    end = time.monotonic() + deadline
    while "parties connected" not in log_path.read_text() and time.monotonic() < end:
        time.sleep(0.01)
    victim.kill()  # by its PID, mid-job
    victim.wait()
    others.join()
    results, took = box["r"]
    assert agreed(results) == {"status": "failed", "code": "party_absent", "absent": [1]}
    assert max(took) < deadline + 2


def test_run_job_kills_its_child_at_the_timeout():
    jobs = make_jobs(3, "unanimity", [[1]], deadline=60)
    began = time.monotonic()
    result = run_job(jobs[0], 1.5, stderr=subprocess.DEVNULL)  # parties 1, 2 never come
    assert result == {"status": "failed", "code": "timeout", "absent": []}
    assert time.monotonic() - began < 5


def test_malformed_job_is_an_error_at_once():
    job = make_jobs(3, "unanimity", [[1]])[0]
    other = make_jobs(3, "unanimity", [[1]])[1]
    for broken in (
        {**job, "kind": "plurality"},
        {**job, "kind": "tally"},
        {**job, "options": 3, "shares": [["1", "0", "0"]]},
        {**job, "threshold": 2},
        {**job, "seed": "xyz"},
        {**job, "parties": job["parties"][:1] + [{"host": "127.0.0.1"}]},
        {**job, "shares": [None]},  # no usable mask any more: every counted ballot has checked shares
        {**job, "shares": [["not a number"]]},
        {**job, "shares": [[str(L)]]},
        {**job, "tls": {k: v for k, v in job["tls"].items() if k != "peers"}},
        {**job, "tls": {**job["tls"], "peers": job["tls"]["peers"][:2]}},
        {**job, "tls": {**job["tls"], "peers": [other["tls"]["cert"]] + job["tls"]["peers"][1:]}},  # not as pinned
        {**job, "tls": {**job["tls"], "peers": ["not PEM"] + job["tls"]["peers"][1:]}},
    ):
        assert run_job(broken, 10, stderr=subprocess.DEVNULL) == {"status": "failed", "code": "error", "absent": []}
    proc = subprocess.run(
        [sys.executable, "-m", "mpc_tx.mpc.job"], input=b"[1, 2", capture_output=True, cwd=REPO, timeout=10
    )
    assert json.loads(proc.stdout) == {"status": "failed", "code": "error", "absent": []}
    assert proc.stdout.count(b"\n") == 1
