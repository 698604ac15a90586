#!/usr/bin/env python3
"""Time the MPC program alone (MPyC, pinned TLS, loopback) and print a Markdown table: unanimity only.

Only a unanimity poll has an MPC program: a tally is opened on chain from the
validators' aggregate posts (docs/PROTOCOL.md §18), and ``mpc_tx.mpc.job`` refuses a job
of kind tally. ``scripts/bench_mpc.py`` times the MPyC tally it replaced, from git. Each
configuration runs m party processes of this script (``--party``, the job JSON on
stdin, as mpc_tx.mpc.job takes it). A party reports the seconds to connect, the seconds
of the MPC program (all steps of mpc_tx.mpc.programs.poll_outcome) and its bytes sent. The
table gives the slowest party; "job" is the wall time of the same poll run end to end
through mpc_tx.mpc.job.run_job (process start, import, JSON, TLS, MPC, shutdown).

    .venv/bin/python scripts/bench_mpc_alone.py [--parties 4] [--ballots 100 1000 10000]
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _party():
    from mpc_tx.mpc.job import job_runtime, parse_job
    from mpc_tx.mpc.programs import poll_outcome
    from mpc_tx.mpc.runtime import shutdown

    job = parse_job(json.loads(sys.stdin.read()))
    rt = job_runtime(job)

    async def run():
        t0 = time.perf_counter()
        await rt.start()
        t1 = time.perf_counter()
        result = await poll_outcome(rt, job["kind"], job["shares"], job["seed"], job["min_ballots"], job["context"])
        t2 = time.perf_counter()
        sent = sum(p.protocol.nbytes_sent for p in rt.parties if p.pid != rt.pid)
        await shutdown(rt)
        return {"connect": t1 - t0, "program": t2 - t1, "bytes": sent, "result": result}

    print(json.dumps(rt._loop.run_until_complete(run())), flush=True)
    os._exit(0)


def _jobs(m, kind, n):
    from mpc_tx.mpc.local import local_jobs

    return local_jobs(m, kind, [[1]] * n, 1, deadline_s=300)


def _run_parties(jobs):
    from mpc_tx.mpc.local import run_parties

    return run_parties(
        [sys.executable, os.path.abspath(__file__), "--party"], jobs, timeout=300, stderr=subprocess.DEVNULL
    )


def _run_jobs(jobs):
    from mpc_tx.mpc.job import run_job

    results = [None] * len(jobs)

    def go(i):
        results[i] = run_job(jobs[i], 300, stderr=subprocess.DEVNULL)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    began = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - began, results


def main():
    if "--party" in sys.argv:
        _party()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=4)
    parser.add_argument("--ballots", type=int, nargs="+", default=[100, 1000, 10000])
    args = parser.parse_args()
    m = args.parties
    print(
        f"m = {m} parties, t = {(m - 1) // 2}, PRSS on, pinned TLS on loopback, "
        f"{os.cpu_count()} CPUs; unanimity only (a tally is opened on chain, no MPC program)\n"
    )
    print("| kind | ballots | connect (s) | MPC program (s) | sent per party (kB) | job end to end (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("unanimity",):
        for n in args.ballots:
            jobs = _jobs(m, kind, n)
            reports = _run_parties(jobs)
            wall, results = _run_jobs(jobs)
            assert all(r["status"] == "ok" for r in results), results
            connect = max(r["connect"] for r in reports)
            program = max(r["program"] for r in reports)
            sent = max(r["bytes"] for r in reports) / 1000
            print(f"| {kind} | {n} | {connect:.3f} | {program:.3f} | {sent:.1f} | {wall:.2f} |", flush=True)


if __name__ == "__main__":
    main()
