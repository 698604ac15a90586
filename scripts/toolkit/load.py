"""A bounded load generator for benchmarks: pre-built txs, batched broadcasts, commits read from blocks.

Everything costly is done before the clock starts: ballots are built in a
process pool, and each tx is base64-encoded once. During the timed phase a few
threads send JSON-RPC batches of `broadcast_tx_async` to every node (async: a
sync broadcast waits for the node's 20 ms ABCI flush timer once per tx, which
would measure the client rather than the chain), keeping at most `window` txs
between submission and commit so that no mempool overflows. A watcher reads
every new block and its results from one node: a tx counts as committed only
when it is in a block with code 0. Every loop is bounded in count and time, and
all traffic goes to the node URLs given (loopback in the benchmark).
"""
import base64
import http.client
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["build_ballots", "filler_txs", "LoadResult", "BlockWatcher", "run_load", "percentile"]

_FULL = "mempool is full"


# --- the txs ---------------------------------------------------------------------------
def build_ballots(poll: dict, genesis: dict, n: int, *, workers: int | None = None,
                  seed: int = 1) -> list[bytes]:
    """Return n signed ballots for poll, each from its own new voter key, built by worker processes.

    The workers are plain `python -m toolkit.load` children (not a multiprocessing
    pool, which would re-run the caller's main module in each of them).
    """
    options = poll["options"] if poll["kind"] == "tally" else ["yes", "no"]
    rng = random.Random(seed)
    choices = [rng.choice(options) for _ in range(n)]
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    parts = [choices[k::workers] for k in range(workers)]
    with tempfile.TemporaryDirectory(prefix="mpcvote-loadgen-") as tmp:
        procs = []
        try:
            for k, part in enumerate(parts):
                job = Path(tmp) / f"job{k}.json"
                job.write_text(json.dumps({"poll": poll, "genesis": genesis, "choices": part}))
                procs.append(subprocess.Popen([sys.executable, "-m", "toolkit.load", str(job)],
                                              stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=_child_env()))
            built = []
            for p in procs:
                out, _ = p.communicate(timeout=600)
                if p.returncode != 0:
                    raise RuntimeError(f"a ballot builder exited with {p.returncode}")
                built.append([base64.b64decode(line) for line in out.split()])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    # Interleave back into the order of `choices`.
    return [built[i % workers][i // workers] for i in range(n)]


def _build_job(path: str):
    from mpc_tx.client.ballot import build_ballot
    from mpc_tx.protocol.keys import SigningKey
    job = json.loads(Path(path).read_text())
    poll, genesis, out = job["poll"], job["genesis"], sys.stdout.buffer
    for choice in job["choices"]:
        # One fresh voter key per ballot; nonce 1 is above a new signer's last nonce (0).
        raw = build_ballot(SigningKey.generate(), poll, choice, genesis["chain_id"], 1, genesis)
        out.write(base64.b64encode(raw) + b"\n")
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
    sent: int = 0                       # accepted by a node's mempool (broadcast answered without error)
    rpc_errors: int = 0                 # refused by the node for another reason than a full mempool
    full_retries: int = 0               # broadcasts refused for a full mempool and sent again
    unsent: int = 0                     # never accepted before the deadline
    committed: int = 0                  # in a block with code 0
    failed: int = 0                     # in a block with a non-zero code
    submit_time: dict = field(default_factory=dict)   # tx index -> time its batch was sent
    commit_time: dict = field(default_factory=dict)   # tx index -> time its block was seen
    blocks: list = field(default_factory=list)        # (height, seen, txs, ours ok, ours failed)
    started: float = 0.0
    finished: float = 0.0
    client_cpu_s: float = 0.0           # this process's CPU time during the run

    def latencies(self) -> list[float]:
        return sorted(self.commit_time[i] - self.submit_time[i]
                      for i in self.commit_time if i in self.submit_time)

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
            return (marks[b][1] - marks[a][1]) / (marks[b][0] - marks[a][0]), \
                f"blocks {a + 1}..{b + 1} of {len(marks)}"
        return total / (marks[-1][0] - self.started), f"whole run ({len(marks)} blocks: too few)"


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Return the q-quantile (0..1) of sorted values by the nearest-rank method."""
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[k]


# --- the watcher -------------------------------------------------------------------------
class _Http:
    """One keep-alive JSON-RPC connection (the benchmark's own: raw bodies in, parsed JSON out)."""

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = None

    def post(self, body: bytes):
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
                return json.loads(self.conn.getresponse().read())
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise

    def call(self, method: str, **params):
        doc = self.post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                    "params": params}).encode())
        if doc.get("error"):
            raise LookupError(f"{method}: {doc['error'].get('data') or doc['error'].get('message')}")
        return doc["result"]

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class BlockWatcher(threading.Thread):
    """Read each new block and its results from one node; match our txs by their base64 text."""

    def __init__(self, url: str, start_height: int, ours: dict, result: LoadResult, on_commit,
                 poll_interval: float = 0.02):
        super().__init__(daemon=True, name="block-watcher")
        self.rpc = _Http(url)
        self.next_height = start_height
        self.ours = ours                  # base64 text -> tx index
        self.result = result
        self.on_commit = on_commit        # called with the number of our txs a block settled
        self.poll_interval = poll_interval
        self.stopping = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stopping.is_set():
                try:
                    results = self.rpc.call("block_results", height=str(self.next_height))
                    seen = time.monotonic()
                    block = self.rpc.call("block", height=str(self.next_height))
                except (LookupError, OSError, http.client.HTTPException):
                    # Not committed yet (or its results not saved yet), or the node is busy.
                    self.stopping.wait(self.poll_interval)
                    continue
                self._settle(self.next_height, seen, block["block"]["data"]["txs"] or [],
                             results.get("txs_results") or [])
                self.next_height += 1
        except Exception as exc:  # reported by run_load
            self.error = exc
        finally:
            self.rpc.close()

    def _settle(self, height, seen, txs, tx_results):
        ok = failed = 0
        for text, res in zip(txs, tx_results):
            i = self.ours.get(text)
            if i is None:
                continue
            if int(res.get("code", 0)) == 0:
                ok += 1
                self.result.commit_time[i] = seen
            else:
                failed += 1
        self.result.committed += ok
        self.result.failed += failed
        self.result.blocks.append((height, seen, len(txs), ok, failed))
        if ok or failed:
            self.on_commit(ok + failed)

    def stop(self):
        self.stopping.set()
        self.join(30)


# --- the senders ---------------------------------------------------------------------------
class _Window:
    """At most `size` txs between acceptance by a mempool and their block."""

    def __init__(self, size: int):
        self.size, self.open_txs = size, 0
        self.cond = threading.Condition()

    def acquire(self, n: int, deadline: float) -> bool:
        with self.cond:
            while self.open_txs + n > self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            self.open_txs += n
            return True

    def release(self, n: int):
        with self.cond:
            self.open_txs = max(0, self.open_txs - n)
            self.cond.notify_all()


def run_load(urls: list[str], txs: list[bytes], *, watch_url: str, start_height: int,
             connections: int = 8, batch: int = 10, window: int = 1500, timeout: float = 300.0,
             drain: float = 30.0, progress=None) -> LoadResult:
    """Send every tx once (again only after a full mempool), spread over urls; return what committed.

    Bounded: no send after `timeout` seconds, and the watcher waits at most
    `drain` seconds without a new commit of ours after the last send.
    """
    result = LoadResult()
    encoded = [base64.b64encode(raw).decode() for raw in txs]
    ours = {text: i for i, text in enumerate(encoded)}
    if len(ours) != len(txs):
        raise ValueError("the txs are not unique: the chain would drop the duplicates")
    todo = [list(range(i, min(i + batch, len(txs)))) for i in range(0, len(txs), batch)]
    todo.reverse()                       # pop() takes the first batch first
    lock = threading.Lock()
    fatal = []
    gate = _Window(window)
    watcher = BlockWatcher(watch_url, start_height, ours, result, gate.release)
    cpu0 = time.process_time()
    result.started = time.monotonic()
    deadline = result.started + timeout
    watcher.start()

    def sender(k: int):
        rpc = _Http(urls[k % len(urls)])
        try:
            while time.monotonic() < deadline:
                with lock:
                    if not todo:
                        return
                    indices = todo.pop()
                if not gate.acquire(len(indices), deadline):
                    with lock:
                        todo.append(indices)
                    return
                body = ("[" + ",".join(
                    '{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_async","params":{"tx":"%s"}}'
                    % (i, encoded[i]) for i in indices) + "]").encode()
                sent_at = time.monotonic()
                try:
                    answers = rpc.post(body)
                except (OSError, http.client.HTTPException, ValueError):
                    answers = None
                if isinstance(answers, dict) and answers.get("error"):
                    # The whole batch refused (e.g. over rpc.max_request_batch_size): a setting, not load.
                    with lock:
                        fatal.append(str(answers["error"].get("data") or answers["error"]))
                        todo.clear()
                    gate.release(len(indices))
                    return
                if not isinstance(answers, list):   # node unreachable or an unreadable answer
                    gate.release(len(indices))
                    with lock:
                        todo.append(indices)
                    time.sleep(0.2)
                    continue
                retry, refused = [], 0
                accepted = set(indices)
                for answer in answers:
                    err = answer.get("error")
                    if err:
                        i = int(answer["id"])
                        accepted.discard(i)
                        if _FULL in str(err.get("data", "")):
                            retry.append(i)
                        else:
                            refused += 1
                with lock:
                    for i in accepted:
                        result.submit_time[i] = sent_at
                    result.sent += len(accepted)
                    result.rpc_errors += refused
                    result.full_retries += len(retry)
                    if retry:
                        todo.insert(0, retry)   # last in line: the mempool needs a block first
                gate.release(len(indices) - len(accepted))
                if retry:
                    time.sleep(0.05)
                if progress:
                    progress(result)
        finally:
            rpc.close()

    threads = [threading.Thread(target=sender, args=(k,), daemon=True, name=f"sender-{k}")
               for k in range(connections)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, deadline - time.monotonic() + 5))
        # Drain: wait for the last sent txs, giving up after `drain` s without progress.
        last, last_change = -1, time.monotonic()
        while watcher.is_alive() and result.committed + result.failed < result.sent:
            done = result.committed + result.failed
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > drain:
                break
            if progress:
                progress(result)
            time.sleep(0.1)
    finally:
        watcher.stop()
        result.finished = time.monotonic()
        result.client_cpu_s = time.process_time() - cpu0
    if fatal:
        raise RuntimeError(f"the node refused a batch: {fatal[0]}")
    if watcher.error is not None:
        raise RuntimeError(f"block watcher failed: {watcher.error}") from watcher.error
    result.unsent = len(txs) - result.sent - result.rpc_errors
    return result


def _child_env() -> dict:
    # The children import toolkit (beside the launchers in scripts/) and the project's packages.
    scripts = str(Path(__file__).resolve().parent.parent)
    paths = [scripts, str(Path(scripts).parent), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


if __name__ == "__main__":
    _build_job(sys.argv[1])
