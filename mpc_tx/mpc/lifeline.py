"""Tie an MPC job's child process to the worker that started it: it dies with its worker.

A worker killed by SIGKILL runs no cleanup, and MPyC retries a missing party forever:
an orphaned job would run on, holding its port and its decrypted shares, and finish an
attempt no worker can attest. So the child asks Linux to SIGKILL it when its parent
dies (``PR_SET_PDEATHSIG``), first thing; and since the parent may have died before the
request took effect, it then checks that its parent is still the one that started it.
"""

import ctypes
import os
import signal

__all__ = ["PARENT_ENV", "child_env", "tie_to_parent"]

PARENT_ENV = "MPCVOTE_JOB_PARENT"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def child_env(env=None) -> dict:
    """Return the environment for a job child: the caller's, plus the caller's pid."""
    out = dict(os.environ if env is None else env)
    out[PARENT_ENV] = str(os.getpid())
    return out


def tie_to_parent():
    """Die by SIGKILL when the parent dies; exit now if the parent that started us is gone.

    The signal follows the parent *thread* that forked us: run_job waits for its child
    in that thread, so the thread outlives the child unless the whole worker dies.
    """
    expected = os.environ.get(PARENT_ENV)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError):
        if expected is not None:  # started by a worker, yet cannot be tied to it: do not run
            os._exit(3)
        return
    if expected is not None and str(os.getppid()) != expected:
        os._exit(3)  # the worker died before the tie took effect
