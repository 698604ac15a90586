"""The one load generator of the benchmarks and the reliability runs: ballots built before the
clock starts, sent in JSON-RPC batches until each is committed, commits read from blocks.

Everything costly is done before the clock starts: ballots are built by worker
processes (each from a new voter key, with a record of its vote), and each tx is
base64-encoded once. During the run, sender threads spread JSON-RPC batches of
`broadcast_tx_async` over the nodes (async: a sync broadcast waits for the node's
20 ms ABCI flush timer once per tx, which would measure the client rather than
the chain). What is let go can be bounded in two ways: a `window` of txs between
acceptance and their block (so that no mempool overflows), and `wave`s of txs every
`wave_interval` seconds (so that txs keep flowing through a fault). A node that
does not answer is skipped for a while; a tx refused for a full mempool is sent
again after the others; with `resend_after`, a tx not committed that long after
its last send is sent again (to any node), as a voter's client would. A watcher
reads every new block and its results: a tx counts as committed only in a block,
with code 0. Every loop is bounded in count and time, and all traffic goes to the
node URLs given (loopback here).
"""

import base64
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.protocol.tx import tx_hash

__all__ = ["Ballot", "build_ballots", "random_choices", "filler_txs", "Load", "LoadResult", "run_load", "percentile"]

_FULL = "mempool is full"
_SEEN = "tx already exists in cache"
_BATCH = 10  # CometBFT's default rpc.max_request_batch_size
_FATAL_BATCH_ERRORS = 50  # whole batches refused in a row (over every node) before the load gives up


# --- the txs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Ballot:
    """One voter's ballot and the sender's own record of the vote."""

    voter: str
    choice: str
    raw: bytes
    text: str  # base64, as blocks carry it
    hash: str  # upper-case hex, as CometBFT shows it


def random_choices(poll: dict, n: int, seed: int = 1) -> list[str]:
    """Return n choices drawn from the poll's options (yes/no for unanimity), reproducibly."""
    options = poll["options"] if poll["kind"] == "tally" else ["yes", "no"]
    rng = random.Random(seed)
    return [rng.choice(options) for _ in range(n)]


def build_ballots(poll: dict, genesis: dict, choices: list[str], *, workers: int | None = None) -> list[Ballot]:
    """Return one signed ballot per choice, each from its own new voter key, built by worker processes.

    The workers are plain `python -m toolkit.load` children (not a multiprocessing
    pool, which would re-run the caller's main module in each of them).
    """
    n = len(choices)
    if not n:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    parts = [choices[k::workers] for k in range(workers)]
    with tempfile.TemporaryDirectory(prefix="mpcvote-loadgen-") as tmp:
        procs = []
        try:
            for k, part in enumerate(parts):
                job = Path(tmp) / f"job{k}.json"
                job.write_text(json.dumps({"poll": poll, "genesis": genesis, "choices": part}))
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "toolkit.load", str(job)],
                        stdout=subprocess.PIPE,
                        stdin=subprocess.DEVNULL,
                        env=_child_env(),
                    )
                )
            built = []
            for p in procs:
                out, _ = p.communicate(timeout=600)
                if p.returncode != 0:
                    raise RuntimeError(f"a ballot builder exited with {p.returncode}")
                built.append([line.split() for line in out.splitlines() if line])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    out = []
    for i, choice in enumerate(choices):  # interleave back into the order of `choices`
        text, voter = built[i % workers][i // workers]
        raw = base64.b64decode(text)
        out.append(Ballot(voter.decode(), choice, raw, text.decode(), tx_hash(raw)))
    return out


def _build_job(path: str):
    from mpc_tx.client.ballot import build_ballot, poll_context
    from mpc_tx.protocol.keys import SigningKey

    job = json.loads(Path(path).read_text())
    poll, genesis, out = job["poll"], job["genesis"], sys.stdout.buffer
    # Check the poll against the registry once (proofs of possession, t, k); a voter's client does it per vote.
    context = poll_context(poll, genesis)
    for choice in job["choices"]:
        # One fresh voter key per ballot; nonce 1 is above a new signer's last nonce (0).
        key = SigningKey.generate()
        raw = build_ballot(key, poll, choice, genesis["chain_id"], 1, genesis, context)
        out.write(base64.b64encode(raw) + b" " + key.public_hex.encode() + b"\n")
    out.flush()


def filler_txs(sizes: list[int], tag: str) -> list[bytes]:
    """Return unique `key=value` txs (CometBFT's kvstore accepts only these) of the given sizes."""
    out = []
    for i, size in enumerate(sizes):
        key = f"bench-{tag}-{i:08d}".encode()
        if size < len(key) + 2:
            raise ValueError(f"a {size}-byte tx cannot hold a unique key=value pair")
        out.append(key + b"=" + b"v" * (size - len(key) - 1))
    return out


# --- results ---------------------------------------------------------------------------
@dataclass
class LoadResult:
    """What one run sent, and what the chain committed, with times from time.monotonic()."""

    sent: int = 0  # accepted by a node's mempool (broadcast answered without error)
    rpc_errors: int = 0  # refused by the node for another reason than a full mempool
    full_retries: int = 0  # broadcasts refused for a full mempool and sent again
    unsent: int = 0  # never accepted before the deadline
    committed: int = 0  # in a block with code 0
    failed: int = 0  # in a block with a non-zero code
    submit_time: dict = field(default_factory=dict)  # tx index -> time it was first accepted
    commit_time: dict = field(default_factory=dict)  # tx index -> time its block was seen
    blocks: list = field(default_factory=list)  # (height, seen, txs, ours ok, ours failed)
    started: float = 0.0
    finished: float = 0.0
    client_cpu_s: float = 0.0  # this process's CPU time during the run

    def latencies(self) -> list[float]:
        return sorted(self.commit_time[i] - self.submit_time[i] for i in self.commit_time if i in self.submit_time)

    def steady_rate(self, low=0.1, high=0.9) -> tuple[float, str]:
        """Return (committed txs per second over the steady part, how it was measured).

        Steady part: from the block that brings our commits to `low` of the total to
        the block that brings them to `high`, leaving out the ramp-up (the window
        filling) and the drain (the last txs after the senders stopped). With too
        few blocks for that, the rate is over the whole run from the first send.
        """
        marks, total = [], 0
        for _height, seen, _n, ok, _failed in self.blocks:
            if ok:
                total += ok
                marks.append((seen, total))
        if not total:
            return 0.0, "none committed"
        a = next(k for k, (_, c) in enumerate(marks) if c >= low * total)
        b = next(k for k, (_, c) in enumerate(marks) if c >= high * total)
        if b - a >= 2 and marks[b][0] > marks[a][0]:
            return (marks[b][1] - marks[a][1]) / (marks[b][0] - marks[a][0]), f"blocks {a + 1}..{b + 1} of {len(marks)}"
        return total / (marks[-1][0] - self.started), f"whole run ({len(marks)} blocks: too few)"


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Return the q-quantile (0..1) of sorted values by the nearest-rank method."""
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


# --- the load ----------------------------------------------------------------------------
class Load:
    """Send txs (Ballots, or raw bytes) until each is committed; watch the blocks for them."""

    def __init__(
        self,
        urls,
        ballots: list,
        *,
        start_height: int,
        watch_urls: list[str] | None = None,
        threads: int = 4,
        batch: int = _BATCH,
        window: int | None = None,
        wave: int | None = 300,
        wave_interval: float = 2.5,
        rpc_timeout: float = 3.0,
        resend_after: float | None = 8.0,
        resend_refused: bool = True,
        max_sends: int = 12,
        time_limit: float = 240.0,
        poll_interval: float = 0.05,
        stick: bool = False,
    ):
        self.urls = dict(urls) if isinstance(urls, dict) else dict(enumerate(urls))  # node -> RPC URL
        self.watch_urls = list(watch_urls or [self.urls[n] for n in sorted(self.urls)])
        self.ballots = ballots
        self.texts = [b.text if isinstance(b, Ballot) else base64.b64encode(b).decode() for b in ballots]
        self.index = {text: k for k, text in enumerate(self.texts)}
        if len(self.index) != len(ballots):
            raise ValueError("the txs are not unique: the chain would drop the duplicates")
        self.threads, self.batch, self.rpc_timeout = threads, batch, rpc_timeout
        self.window = window
        self.resend_after, self.resend_refused, self.max_sends = resend_after, resend_refused, max_sends
        self.time_limit, self.poll_interval = time_limit, poll_interval
        self.stick = stick  # sender k keeps to node k (while it answers)
        self.wave, self.wave_interval = wave, wave_interval
        self.lock = threading.Condition()
        self.fresh = 0  # next ballot never sent
        self.retry = deque()  # ballots to send again (refused, or not committed)
        self.queued = set()
        self.submitted: dict[int, float] = {}  # ballot -> first acknowledgement time
        self.last_sent: dict[int, float] = {}
        self.sends: dict[int, int] = {}
        self.committed: dict[int, int] = {}  # ballot -> height, code 0
        self.seen: dict[int, float] = {}  # ballot -> when its block was read
        self.rejected: dict[int, int] = {}  # ballot -> code, in a block
        self.refused: set[int] = set()  # refused by a node, not sent again
        self.full_retries = 0
        self.blocks: list = []  # (height, seen, txs, ours ok, ours failed)
        self.down_until: dict[int, float] = {}
        self.next_height = start_height
        self.watch_error = None
        self.fatal = None  # a whole batch refused again and again: a setting, not load
        self.batch_errors = self.batch_errors_in_a_row = 0
        self.last_batch_error = None
        self._sending = threading.Event()
        self._stop = threading.Event()
        self._workers = []

    # --- control ------------------------------------------------------------------------
    def start(self):
        self.started = time.monotonic()
        self.deadline = self.started + self.time_limit
        self._sending.set()
        self._senders = [
            threading.Thread(target=self._send, args=(k,), daemon=True, name=f"voters-{k}") for k in range(self.threads)
        ]
        self._workers = self._senders + [threading.Thread(target=self._watch, daemon=True, name="voters-watch")]
        for t in self._workers:
            t.start()
        return self

    def stop_sending(self):
        self._sending.clear()

    def stop(self):
        """Stop sending and watching; wait for the threads (bounded)."""
        self._sending.clear()
        self._stop.set()
        with self.lock:
            self.lock.notify_all()
        for t in self._workers:
            t.join(15)

    def sending(self) -> bool:
        """Return whether a sender is still at work."""
        return any(t.is_alive() for t in self._senders)

    # --- observation --------------------------------------------------------------------
    def snapshot(self) -> dict:
        with self.lock:
            submitted, committed = len(self.submitted), len(self.committed)
            in_flight = sum(1 for k in self.submitted if k not in self.committed)
        return {"submitted": submitted, "committed": committed, "in_flight": in_flight}

    def in_flight_at(self, t: float) -> int:
        """Return how many ballots were acknowledged by t and not yet seen committed at t."""
        with self.lock:
            return sum(1 for k, acked in self.submitted.items() if acked <= t and self.seen.get(k, t + 1) > t)

    def release_time(self, wave: int) -> float:
        """Return when wave number `wave` (from 0) is let go."""
        return self.started + wave * self.wave_interval

    def wait_moment(self, at_submitted: int, min_in_flight: int, timeout: float) -> dict | None:
        """Wait until at_submitted ballots were acknowledged with min_in_flight not yet committed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            snap = self.snapshot()
            if snap["submitted"] >= at_submitted and snap["in_flight"] >= min_in_flight:
                return snap
            if snap["submitted"] >= len(self.ballots) and snap["in_flight"] < min_in_flight:
                return None  # everything sent and mostly committed: the moment has passed
            time.sleep(0.01)
        return None

    def wait_settled(self, timeout: float) -> bool:
        """Wait until every ballot is committed (True), or the time is up."""
        deadline = min(time.monotonic() + timeout, self.deadline + 5)
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.committed) == len(self.ballots):
                    return True
            time.sleep(0.1)
        return False

    def wait_height(self, height: int, timeout: float) -> bool:
        """Wait until the watcher has read every block up to height."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.next_height > height:
                return True
            time.sleep(0.1)
        return False

    def committed_ballots(self) -> list:
        with self.lock:
            return [self.ballots[k] for k in sorted(self.committed)]

    def counts(self) -> dict:
        with self.lock:
            return {
                "ballots": len(self.ballots),
                "submitted": len(self.submitted),
                "committed": len(self.committed),
                "never_committed": sum(1 for k in self.submitted if k not in self.committed),
                "rejected_in_block": len(set(self.rejected) - set(self.committed)),
                "resent": sum(1 for n in self.sends.values() if n > 1),
                "batch_errors": self.batch_errors,
                "senders_alive": sum(t.is_alive() for t in getattr(self, "_senders", [])),
                "fatal": self.fatal,
            }

    def result(self) -> LoadResult:
        """Return what was sent and committed so far, as a LoadResult."""
        with self.lock:
            failed = set(self.rejected) - set(self.committed)
            return LoadResult(
                sent=len(self.submitted),
                rpc_errors=len(self.refused),
                full_retries=self.full_retries,
                unsent=len(self.ballots) - len(self.submitted) - len(self.refused),
                committed=len(self.committed),
                failed=len(failed),
                submit_time=dict(self.submitted),
                commit_time=dict(self.seen),
                blocks=list(self.blocks),
                started=self.started,
            )

    # --- senders --------------------------------------------------------------------------
    def _pick_node(self, k: int, turn: int) -> int | None:
        nodes = sorted(self.urls)
        now = time.monotonic()
        for j in range(len(nodes)):
            node = nodes[(k + turn + j) % len(nodes)]
            if self.down_until.get(node, 0.0) <= now:
                return node
        return None

    def _released(self, now: float) -> int:
        if self.wave is None:
            return len(self.ballots)
        return min(len(self.ballots), (int((now - self.started) / self.wave_interval) + 1) * self.wave)

    def _open(self) -> int:
        # Txs accepted by a mempool and not yet settled in a block.
        return len(self.submitted) - len(self.committed) - len(set(self.rejected) - set(self.committed))

    def _take(self) -> list[int]:
        now = time.monotonic()
        with self.lock:
            room = self.batch if self.window is None else min(self.batch, self.window - self._open())
            batch = []
            while self.retry and len(batch) < room:
                k = self.retry.popleft()
                self.queued.discard(k)
                if k not in self.committed:
                    batch.append(k)
            released = self._released(now)
            while self.fresh < released and len(batch) < room:
                batch.append(self.fresh)
                self.fresh += 1
            if not batch and self.fresh == len(self.ballots) and self.resend_after is not None:
                for k in self.submitted:  # not committed long after its last send: send again
                    if (
                        k not in self.committed
                        and k not in self.queued
                        and now - self.last_sent[k] > self.resend_after
                        and self.sends[k] < self.max_sends
                    ):
                        self.retry.append(k)
                        self.queued.add(k)
            if not batch and room <= 0:
                self.lock.wait(0.5)  # the window is full: wait for a block
            return batch

    def _requeue(self, batch: list[int], last: bool = False):
        with self.lock:
            for k in batch if last else reversed(batch):
                if k not in self.queued:
                    if last:
                        self.retry.append(k)
                    else:
                        self.retry.appendleft(k)
                    self.queued.add(k)

    def _done(self) -> bool:
        with self.lock:
            if len(self.committed) == len(self.ballots):
                return True
            # Without resends, a sender is done once every tx was accepted or refused.
            return (
                self.resend_after is None
                and self.fresh == len(self.ballots)
                and not self.retry
                and len(self.submitted) + len(self.refused) == len(self.ballots)
            )

    def _send(self, k: int):
        conns = {}
        turn = 0
        try:
            while not self._stop.is_set() and self._sending.is_set() and time.monotonic() < self.deadline:
                batch = self._take()
                if not batch:
                    if self._done():
                        return
                    time.sleep(0.1)
                    continue
                node = self._pick_node(k, turn)
                turn += 0 if self.stick else 1
                if node is None:
                    self._requeue(batch)
                    time.sleep(0.2)
                    continue
                rpc = conns.setdefault(node, Rpc(self.urls[node], timeout=self.rpc_timeout))
                body = (
                    "["
                    + ",".join(
                        '{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_async","params":{"tx":"%s"}}'
                        % (i, self.texts[i])
                        for i in batch
                    )
                    + "]"
                ).encode()
                try:
                    answers = rpc.post(body, attempts=1)
                except RpcError:
                    self.down_until[node] = time.monotonic() + 2.0
                    self._requeue(batch)
                    continue
                if isinstance(answers, dict) and answers.get("id") in batch:
                    answers = [answers]  # CometBFT answers a batch of one with a bare object, not a list
                if isinstance(answers, dict) and answers.get("error"):
                    # A whole batch refused: a setting (batch size, encoding) if every node keeps
                    # refusing, but a node starting or stopping may refuse one too: retry elsewhere.
                    with self.lock:
                        self.batch_errors += 1
                        self.last_batch_error = str(answers["error"].get("data") or answers["error"])
                        refused_in_a_row = self.batch_errors_in_a_row = self.batch_errors_in_a_row + 1
                    if refused_in_a_row >= _FATAL_BATCH_ERRORS:
                        with self.lock:
                            self.fatal = self.last_batch_error
                        self._sending.clear()
                        return
                    self.down_until[node] = time.monotonic() + 1.0
                    self._requeue(batch)
                    continue
                with self.lock:
                    self.batch_errors_in_a_row = 0
                now = time.monotonic()
                retry, full = [], []
                with self.lock:
                    for answer in answers if isinstance(answers, list) else []:
                        i = int(answer.get("id", -1))
                        if i not in batch:
                            continue
                        err = answer.get("error")
                        if err and _SEEN in str(err.get("data", "")):
                            err = None  # sent before (its answer lost to a timeout): the node has it
                        if err and _FULL in str(err.get("data", "")):
                            full.append(i)  # the mempool needs a block first
                        elif err and self.resend_refused:
                            retry.append(i)  # e.g. the node is shutting down
                        elif err:
                            self.refused.add(i)
                        else:
                            self.submitted.setdefault(i, now)
                            self.last_sent[i] = now
                            self.sends[i] = self.sends.get(i, 0) + 1
                    self.full_retries += len(full)
                    answered = {int(a.get("id", -1)) for a in answers} if isinstance(answers, list) else set()
                    retry += [i for i in batch if i not in answered]
                if full:
                    self._requeue(full, last=True)
                if retry:
                    self._requeue(retry)
                if retry or full:
                    time.sleep(0.1 if retry else 0.05)
        finally:
            for c in conns.values():
                c.close()

    # --- watcher -------------------------------------------------------------------------------
    def _watch(self):
        rpcs = [Rpc(url, timeout=self.rpc_timeout) for url in self.watch_urls]
        turn = 0
        try:
            while not self._stop.is_set() and time.monotonic() < self.deadline + 120:
                rpc = rpcs[turn % len(rpcs)]
                try:
                    results = rpc.call("block_results", height=str(self.next_height))
                    seen = time.monotonic()
                    block = rpc.call("block", height=str(self.next_height))
                except RpcError:
                    # Not committed yet there, or the node is down, frozen or behind: try the next.
                    turn += 1
                    self._stop.wait(self.poll_interval)
                    continue
                self._settle(
                    self.next_height, seen, block["block"]["data"]["txs"] or [], results.get("txs_results") or []
                )
                self.next_height += 1
        except Exception as exc:  # reported by the run
            self.watch_error = f"{type(exc).__name__}: {exc}"
        finally:
            for r in rpcs:
                r.close()

    def _settle(self, height, seen, txs, tx_results):
        ok = failed = 0
        with self.lock:
            for text, r in zip(txs, tx_results):
                i = self.index.get(text)
                if i is None:
                    continue
                code = int(r.get("code", 0))
                if code == 0:
                    ok += 1
                    self.committed.setdefault(i, height)
                    self.seen.setdefault(i, seen)
                else:
                    failed += 1
                    self.rejected[i] = code
            self.blocks.append((height, seen, len(txs), ok, failed))
            self.lock.notify_all()


def run_load(
    urls: list[str],
    txs: list,
    *,
    watch_url: str,
    start_height: int,
    connections: int = 8,
    batch: int = _BATCH,
    window: int = 1500,
    timeout: float = 300.0,
    drain: float = 30.0,
    progress=None,
) -> LoadResult:
    """Send every tx once (again only after a full mempool), spread over urls; return what committed.

    Bounded: no send after `timeout` seconds, and the watcher waits at most
    `drain` seconds without a new commit of ours after the last send.
    """
    load = Load(
        urls,
        txs,
        start_height=start_height,
        watch_urls=[watch_url],
        threads=connections,
        batch=batch,
        window=window,
        wave=None,
        rpc_timeout=30.0,
        resend_after=None,
        resend_refused=False,
        time_limit=timeout,
        poll_interval=0.02,
        stick=True,
    )
    cpu0 = time.process_time()
    load.start()
    try:
        while load.sending():
            if progress:
                progress(load.result())
            time.sleep(0.1)
        # Drain: wait for the last sent txs, giving up after `drain` s without progress.
        last, last_change = -1, time.monotonic()
        while load.watch_error is None:
            r = load.result()
            done = r.committed + r.failed
            if done >= r.sent:
                break
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > drain:
                break
            if progress:
                progress(r)
            time.sleep(0.1)
    finally:
        load.stop()
    result = load.result()
    result.finished = time.monotonic()
    result.client_cpu_s = time.process_time() - cpu0
    if load.fatal:
        raise RuntimeError(f"the node refused a batch: {load.fatal}")
    if load.watch_error is not None:
        raise RuntimeError(f"block watcher failed: {load.watch_error}")
    return result


def _child_env() -> dict:
    # The children import toolkit (beside the launchers in scripts/) and the project's packages.
    scripts = str(Path(__file__).resolve().parent.parent)
    paths = [scripts, str(Path(scripts).parent), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


if __name__ == "__main__":
    _build_job(sys.argv[1])
