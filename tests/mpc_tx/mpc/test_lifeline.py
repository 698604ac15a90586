"""MPC job children die with their worker and end by their own deadline.

A stand-in worker (this file run as a script) starts a job through run_job from a thread,
as the worker does; the test kills it with SIGKILL and looks for its child in /proc.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO))

from mpc_tx.mpc.lifeline import PARENT_ENV  # noqa: E402
from mpc_tx.mpc.local import local_jobs  # noqa: E402


def children_of(pid):
    """Pids of the live (not zombie) processes whose parent is pid."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def is_running(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate, bound_s):
    """Poll predicate every 50 ms for at most bound_s seconds; return its last value."""
    for _ in range(int(bound_s / 0.05) + 1):
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _stand_in_worker():
    """Run one job from stdin through run_job in a thread, as the worker does; then wait."""
    import threading

    from mpc_tx.mpc.job import run_job

    job = json.loads(sys.stdin.read())
    threading.Thread(target=run_job, args=(job, 120), kwargs={"stderr": subprocess.DEVNULL}, daemon=True).start()
    threading.Event().wait(120)


def test_job_child_dies_with_its_killed_worker():
    job = local_jobs(3, "unanimity", [[1]], deadline_s=60)[0]  # peers never come: it would wait 60 s
    worker = subprocess.Popen([sys.executable, __file__, "worker"], stdin=subprocess.PIPE, cwd=REPO)
    try:
        worker.stdin.write(json.dumps(job).encode())
        worker.stdin.close()
        assert wait_until(lambda: children_of(worker.pid), 30), "the job child never started"
        child = children_of(worker.pid)[0]
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        # Bounded well below the job's own 60 s deadline: only the parent's death ends it.
        assert wait_until(lambda: not is_running(child), 10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_child_whose_peers_never_connect_exits_at_its_deadline():
    job = local_jobs(3, "unanimity", [[1]], deadline_s=2)[0]
    proc = subprocess.run(
        [sys.executable, "-m", "mpc_tx.mpc.job"],
        input=json.dumps(job).encode(),
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )  # no kill from outside
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"status": "failed", "code": "party_absent", "absent": [1, 2]}


def test_child_of_a_worker_already_gone_does_not_run():
    job = local_jobs(3, "unanimity", [[1]], deadline_s=30)[0]
    env = {**os.environ, PARENT_ENV: "1" if os.getpid() != 1 else "2"}  # not our parent's pid
    proc = subprocess.run(
        [sys.executable, "-m", "mpc_tx.mpc.job"],
        input=json.dumps(job).encode(),
        capture_output=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 3 and proc.stdout == b""


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        _stand_in_worker()
