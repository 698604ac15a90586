"""One MPyC job = one child process: read one JSON job on stdin, print one JSON result on stdout.

Run as ``python -m mpc_tx.mpc.job``. Secrets (shares, TLS key) arrive only on stdin; the
key lives on disk only while the TLS contexts are built, in a private 0700 directory.
Logs go to stderr and carry no shares, keys or values. The process ends by itself by
``deadline_s``: MPyC retries a missing party forever and hangs on a silent one.

Job (all parties get the same job except pid, shares and tls)::

    {"pid": 0, "parties": [{"host": "127.0.0.1", "port": 26610, "cert_sha256": "<hex>"}, ...],
     "threshold": 1, "kind": "unanimity", "options": 1,
     "shares": [["<decimal>", ...], ...], "seed": "<hex>", "min_ballots": 0,
     "tls": {"cert": "<PEM>", "key": "<PEM>", "peers": ["<PEM of party 0>", ...]}, "deadline_s": 60,
     "prss": true, "job_id": "<hex of 32 bytes: poll, attempt, counted set; every link greets with it>"}

"shares" holds, per ballot of the poll's fixed counted set (voter order), this party's
value share f(pid+1), checked against the ballot's commitments (docs/PROTOCOL.md §17); a
share that is not a decimal below L makes the job malformed. Only a unanimity poll has
a job: a tally is opened on chain from the validators' aggregate pairs (§18), and a job
of kind tally is refused as malformed.
"tls.peers" are the parties' self-signed certificates from the registry: each must hash
to its party's cert_sha256, and they are the only certificates a link trusts.

Result::

    {"status": "ok", "outcome": {"unanimous": true} | {"withheld": true},
     "counted": N}
    {"status": "failed", "code": "inconsistent_shares" | "timeout" | "party_absent" | "error",
     "absent": [pids not connected], "outstanding": [pids whose messages we wait for (timeout)]}
    {"status": "failed", "code": "bad_message", "absent": [], "sender": pid}  (a refused message)

(the codes are mpc_tx.protocol.outcome.JOB_CODES; the worker builds the chain's payload from
this result with outcome.from_job).

``run_job`` is the parent's side: start the child, feed it, kill it by PID at the deadline.
The child dies with its parent (``lifeline``): a worker killed by SIGKILL leaves no job behind.
"""

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time

from mpc_tx.protocol import outcome

__all__ = ["parse_job", "job_runtime", "run_job", "main"]

KINDS = ("unanimity",)
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

logger = logging.getLogger("mpcvote.mpc")


def _failed(code, absent=(), **named):
    return {"status": "failed", "code": code, "absent": sorted(int(p) for p in absent), **named}


def _bad_message(sender):
    return _failed("bad_message", sender=int(sender))


def _timed_out(outstanding):
    return _failed("timeout", outstanding=sorted(outstanding))


class JobError(ValueError):
    """A job that does not follow the contract."""


def _int(value, name, low=0, high=None):
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        raise JobError(f"bad {name}")
    return value


def _share(text, bound):
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 80:
        value = int(text)
        if value < bound:
            return value
    raise ValueError


def parse_job(job) -> dict:
    """Check a job against the contract; return its fields and its shares as an (n, k) array."""
    from mpc_tx.mpc.runtime import message_cap, np, prss_default
    from mpc_tx.protocol.sharing import L

    if not isinstance(job, dict):
        raise JobError("job must be an object")
    parties = job.get("parties")
    if not isinstance(parties, list) or not parties:
        raise JobError("bad parties")
    addresses, pins = [], []
    for party in parties:
        if not isinstance(party, dict) or not isinstance(party.get("host"), str):
            raise JobError("bad party")
        addresses.append((party["host"], _int(party.get("port"), "port", 1, 65535)))
        pin = party.get("cert_sha256")
        if not isinstance(pin, str) or len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin.lower()):
            raise JobError("bad cert_sha256")
        pins.append(pin.lower())
    m = len(parties)
    pid = _int(job.get("pid"), "pid", 0, m - 1)
    t = _int(job.get("threshold"), "threshold", 0, (m - 1) // 2)
    kind = job.get("kind")
    if kind == "tally":
        raise JobError("a tally is opened on chain from aggregate pairs, not by an MPC job")
    if kind not in KINDS:
        raise JobError("bad kind")
    k = job.get("options", 1)
    if k != 1 or isinstance(k, bool):
        raise JobError("unanimity takes one entry per ballot")
    try:
        seed = bytes.fromhex(job.get("seed"))
    except (TypeError, ValueError):
        raise JobError("bad seed") from None
    try:
        job_id = bytes.fromhex(job.get("job_id"))
    except (TypeError, ValueError):
        job_id = b""
    if len(job_id) != 32:
        raise JobError("bad job_id")
    min_ballots = _int(job.get("min_ballots", 0), "min_ballots")
    deadline_s = job.get("deadline_s")
    if not isinstance(deadline_s, (int, float)) or isinstance(deadline_s, bool) or not 0 < deadline_s <= 86400:
        raise JobError("bad deadline_s")
    prss = job.get("prss", prss_default(m, t))
    if not isinstance(prss, bool):
        raise JobError("bad prss")
    tls = job.get("tls")
    if m > 1:
        _check_tls(tls, pins)

    ballots = job.get("shares")
    if not isinstance(ballots, list):
        raise JobError("bad shares")
    n = len(ballots)
    shares = np.zeros((n, k), dtype=object)
    for j, ballot in enumerate(ballots):
        if not (isinstance(ballot, list) and len(ballot) == k):
            raise JobError(f"bad shares of ballot {j}")
        try:
            shares[j] = [_share(s, L) for s in ballot]
        except ValueError:
            raise JobError(f"bad shares of ballot {j}") from None
    public = {
        "parties": [[h, p, pin] for (h, p), pin in zip(addresses, pins)],
        "threshold": t,
        "kind": kind,
        "options": k,
        "ballots": n,
        "seed": seed.hex(),
        "min_ballots": min_ballots,
        "prss": prss,
    }
    context = hashlib.sha256(json.dumps(public, sort_keys=True, separators=(",", ":")).encode()).digest()
    return {
        "pid": pid,
        "addresses": addresses,
        "pins": pins,
        "threshold": t,
        "kind": kind,
        "options": k,
        "seed": seed,
        "min_ballots": min_ballots,
        "deadline_s": float(deadline_s),
        "prss": prss,
        "tls": tls,
        "shares": shares,
        "context": context,
        "job_id": job_id,
        "max_message": message_cap(n, k),
    }


def _check_tls(tls, pins) -> None:
    """Raise JobError unless tls holds our certificate and key and each party's certificate, as pinned."""
    from mpc_tx.mpc.runtime import pem_sha256

    if not (isinstance(tls, dict) and isinstance(tls.get("cert"), str) and isinstance(tls.get("key"), str)):
        raise JobError("bad tls")
    peers = tls.get("peers")
    if not (isinstance(peers, list) and len(peers) == len(pins) and all(isinstance(p, str) for p in peers)):
        raise JobError("bad tls peers: one certificate per party")
    for pid, (pem, pin) in enumerate(zip(peers, pins)):
        if pem_sha256(pem) != pin:
            raise JobError(f"tls peer {pid}: the certificate is not the one pinned for the party")


class _Emitter:
    """Print exactly one result line on the real stdout, whoever comes first."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.done = False

    def emit(self, result) -> bool:
        with self.lock:
            if self.done:
                return False
            self.done = True
            self.stream.write(json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n")
            self.stream.flush()
            return True


def _finish(emitter, result, code):
    emitter.emit(result)
    sys.stderr.flush()
    os._exit(code)  # pending MPyC tasks and sockets must not delay the exit


async def _run(rt, job, deadline, margin):
    from mpc_tx.mpc import runtime as mpc_runtime
    from mpc_tx.mpc.programs import InconsistentShares, ProtocolError, poll_outcome

    def remaining():
        return max(0.0, deadline - margin - time.monotonic())

    # Every failure exit says farewell first, so that peers do not take the link we
    # close for a lost party; each party's verdict then rests on its own view.
    start = asyncio.ensure_future(rt.start())
    done, _ = await asyncio.wait({start}, timeout=remaining())
    if start not in done:
        start.cancel()
        absent = mpc_runtime.absent_parties(rt)
        logger.warning("parties %s did not connect before the deadline", absent)
        await mpc_runtime.farewell(rt)
        return _failed("party_absent", absent) if absent else _timed_out([])
    if start.exception() is not None:  # e.g. our own address cannot be bound
        logger.error("cannot open the MPC links (%s)", type(start.exception()).__name__)
        return _failed("error")

    started = time.monotonic()
    program = asyncio.ensure_future(
        poll_outcome(rt, job["kind"], job["shares"], job["seed"], job["min_ballots"], job["context"])
    )
    lost = mpc_runtime.peer_lost(rt)
    refusal = mpc_runtime.refusal(rt)
    done, _ = await asyncio.wait({program, lost, refusal}, timeout=remaining(), return_when=asyncio.FIRST_COMPLETED)
    if refusal in done or (program in done and isinstance(program.exception(), mpc_runtime.PeerRefused)):
        program.cancel()
        await mpc_runtime.farewell(rt)
        return _bad_message(mpc_runtime.refused(rt)[0])
    if program not in done:
        outstanding = mpc_runtime.outstanding_parties(rt)  # before the cancel settles what we await
        program.cancel()
        await mpc_runtime.farewell(rt)
        if lost in done:
            return _failed("party_absent", mpc_runtime.absent_parties(rt))
        logger.warning("the MPC program did not finish before the deadline; waiting for parties %s", outstanding)
        return _timed_out(outstanding)
    try:
        result = program.result()
    except InconsistentShares:
        logger.warning("the parties' inputs do not lie on one degree-t polynomial: inconsistent shares")
        await mpc_runtime.farewell(rt)
        return _failed("inconsistent_shares")
    except ProtocolError as exc:
        logger.error("protocol error: %s", exc)
        await mpc_runtime.farewell(rt)
        return _failed("error")
    logger.info("MPC program done in %.3f s: %d counted", time.monotonic() - started, result["counted"])
    try:
        await asyncio.wait_for(mpc_runtime.shutdown(rt), timeout=max(0.05, remaining()))
    except Exception as exc:  # the outcome stands; a peer may have left after it
        logger.warning("shutdown incomplete (%s)", type(exc).__name__)
    if mpc_runtime.refused(rt) is not None:  # a refused message, even at the barrier, ends the job
        return _bad_message(mpc_runtime.refused(rt)[0])
    return {"status": "ok", **result}


def main():
    """Run one job from stdin; print its one-line result; exit by the deadline."""
    from mpc_tx.mpc.lifeline import tie_to_parent

    tie_to_parent()  # before anything else: an orphaned job must never run on
    began = time.monotonic()
    real_stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # anything MPyC prints must not corrupt the result line
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s mpc-job[{os.getpid()}] %(levelname)s %(message)s"
    )
    emitter = _Emitter(real_stdout)
    try:
        job = parse_job(json.loads(sys.stdin.buffer.read()))
    except Exception as exc:  # never echo the job: it holds shares and a key
        logger.error("rejected job: %s", exc if isinstance(exc, JobError) else type(exc).__name__)
        _finish(emitter, _failed("error"), 1)
    deadline = began + job["deadline_s"]
    margin = min(0.5, 0.1 * job["deadline_s"])
    state = {"rt": None}

    def watchdog():  # last resort if the event loop is stuck in computation
        time.sleep(max(0.0, deadline - 0.05 - time.monotonic()))
        absent = []
        try:
            from mpc_tx.mpc.runtime import absent_parties

            absent = absent_parties(state["rt"]) if state["rt"] is not None else []
        except Exception:
            pass
        logger.warning("deadline reached, exiting")
        if absent:
            _finish(emitter, _failed("party_absent", absent), 1)
        outstanding = []
        try:
            from mpc_tx.mpc.runtime import outstanding_parties

            outstanding = outstanding_parties(state["rt"]) if state["rt"] is not None else []
        except Exception:
            pass
        _finish(emitter, _failed("timeout", outstanding=outstanding), 1)

    threading.Thread(target=watchdog, daemon=True).start()
    try:
        rt = job_runtime(job)
        state["rt"] = rt
        result = rt._loop.run_until_complete(_run(rt, job, deadline, margin))
    except Exception as exc:  # MPyC stops the loop when one of its coroutines raises
        result = _after_stop(state["rt"], exc)
    _finish(emitter, result, 0 if result["status"] == "ok" else 1)


def job_runtime(job: dict):
    """Return the MPyC runtime of a parsed job: its party, peers, pins and limits (TLS with peers)."""
    from mpc_tx.mpc.runtime import build_runtime, private_tls_files

    options = dict(prss=job["prss"], job_id=job["job_id"], max_message=job["max_message"])
    if len(job["addresses"]) == 1:
        return build_runtime(job["pid"], job["addresses"], job["threshold"], **options)
    tls = job["tls"]
    # The key files exist only while the runtime loads them.
    with private_tls_files(tls["cert"], tls["key"], "".join(tls["peers"])) as paths:
        return build_runtime(job["pid"], job["addresses"], job["threshold"], tls=paths, pins=job["pins"], **options)


def _after_stop(rt, exc) -> dict:
    """Return the result of a job whose event loop stopped on an exception."""
    from mpc_tx.mpc import runtime as mpc_runtime

    refusal = mpc_runtime.refused(rt) if rt is not None else None
    if refusal is None:
        logger.error("job failed: %s", type(exc).__name__)
        return _failed("error")
    try:  # the loop can run again: tell the peers we leave on purpose
        rt._loop.run_until_complete(asyncio.wait_for(mpc_runtime.farewell(rt), 1))
    except Exception:
        pass
    return _bad_message(refusal[0])


def _parse_result(stdout: bytes) -> dict:
    lines = [line for line in stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return _failed("error")
    # The codes a job may answer with are the payload's (mpc_tx.protocol.outcome.JOB_CODES).
    return result if outcome.is_job_result(result) else _failed("error")


def run_job(job: dict, timeout_s: float, stderr=None) -> dict:
    """Run one job in a child process; kill it by PID after timeout_s; return its result.

    stderr is passed to subprocess (None: inherit, or a file, or subprocess.DEVNULL).
    """
    data = json.dumps(job).encode()
    from mpc_tx.mpc.lifeline import child_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "mpc_tx.mpc.job"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=_REPO,
        env=child_env(),
    )
    try:
        stdout, _ = proc.communicate(data, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()  # SIGKILL to this child's PID only
        proc.communicate()
        return _failed("timeout")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return _parse_result(stdout)


if __name__ == "__main__":
    main()
