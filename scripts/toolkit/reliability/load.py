"""Voters under test: ballots sent to the nodes until each is committed, commits read from blocks.

The ballots are built before the clock starts, each from a new voter key, and
the test keeps its own record of every vote (`Ballot.choice`). They are let go
in waves (`wave` ballots every `wave_interval` seconds), so that ballots keep
flowing through a fault and each wave puts hundreds in flight at once. Sender
threads spread them over the nodes in JSON-RPC batches of `broadcast_tx_async`; a node
that does not answer is skipped for a while, and a ballot not committed some
seconds after it was last sent is sent again (to any node), as a voter's
client would. A watcher reads every block and its results: a ballot counts as
committed only in a block, with code 0. Every loop is bounded in count and time.
"""
import base64
import http.client
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from mpc_tx.client.ballot import build_ballot
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.protocol.tx import tx_hash

__all__ = ["Ballot", "make_ballots", "clear_outcome", "Load"]

_BATCH = 10           # CometBFT's default rpc.max_request_batch_size


@dataclass(frozen=True)
class Ballot:
    """One voter's ballot and the test's own record of the vote."""
    voter: str
    choice: str
    raw: bytes
    text: str             # base64, as blocks carry it
    hash: str             # upper-case hex, as CometBFT shows it


def make_ballots(poll: dict, genesis: dict, choices: list[str]) -> list[Ballot]:
    """Build one signed ballot per choice, each from a new voter key."""
    out = []
    for choice in choices:
        key = SigningKey.generate()
        raw = build_ballot(key, poll, choice, genesis["chain_id"], 1, genesis)
        out.append(Ballot(key.public_hex, choice, raw, base64.b64encode(raw).decode(), tx_hash(raw)))
    return out


def clear_outcome(poll: dict, choices: list[str]) -> dict:
    """Return the outcome computed in the clear from the votes."""
    if poll["kind"] == "unanimity":
        return {"unanimous": all(c == "yes" for c in choices)}
    return {"tally": {o: sum(c == o for c in choices) for o in poll["options"]}}


class _Conn:
    """One keep-alive HTTP connection for JSON-RPC batches."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn = None

    def post(self, body: bytes):
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self.conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            raise ConnectionError(f"{self.host}:{self.port} did not answer") from None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    """Send ballots until each is committed; watch the blocks for them."""

    def __init__(self, urls: dict, ballots: list[Ballot], *, start_height: int, wave: int = 300,
                 wave_interval: float = 2.5, threads: int = 4, rpc_timeout: float = 3.0,
                 resend_after: float = 8.0, max_sends: int = 12, time_limit: float = 240.0):
        self.urls = dict(urls)                   # validator index -> RPC URL
        self.ballots = ballots
        self.index = {b.text: k for k, b in enumerate(ballots)}
        self.threads, self.rpc_timeout = threads, rpc_timeout
        self.resend_after, self.max_sends = resend_after, max_sends
        self.time_limit = time_limit
        self.wave, self.wave_interval = wave, wave_interval
        self.lock = threading.Lock()
        self.fresh = 0                            # next ballot never sent
        self.retry = deque()                      # ballots to send again (refused, or not committed)
        self.queued = set()
        self.submitted: dict[int, float] = {}    # ballot -> first acknowledgement time
        self.last_sent: dict[int, float] = {}
        self.sends: dict[int, int] = {}
        self.committed: dict[int, int] = {}      # ballot -> height, code 0
        self.seen: dict[int, float] = {}         # ballot -> when its block was read
        self.rejected: dict[int, int] = {}       # ballot -> code, in a block
        self.down_until: dict[int, float] = {}
        self.next_height = start_height
        self.watch_error = None
        self._sending = threading.Event()
        self._stop = threading.Event()
        self._workers = []

    # --- control ------------------------------------------------------------------------
    def start(self):
        self.started = time.monotonic()
        self.deadline = self.started + self.time_limit
        self._sending.set()
        self._workers = [threading.Thread(target=self._send, args=(k,), daemon=True, name=f"voters-{k}")
                         for k in range(self.threads)]
        self._workers.append(threading.Thread(target=self._watch, daemon=True, name="voters-watch"))
        for t in self._workers:
            t.start()
        return self

    def stop_sending(self):
        self._sending.clear()

    def stop(self):
        """Stop sending and watching; wait for the threads (bounded)."""
        self._sending.clear()
        self._stop.set()
        for t in self._workers:
            t.join(15)

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
                return None     # everything sent and mostly committed: the moment has passed
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

    def committed_ballots(self) -> list[Ballot]:
        with self.lock:
            return [self.ballots[k] for k in sorted(self.committed)]

    def counts(self) -> dict:
        with self.lock:
            return {"ballots": len(self.ballots), "submitted": len(self.submitted),
                    "committed": len(self.committed),
                    "never_committed": sum(1 for k in self.submitted if k not in self.committed),
                    "rejected_in_block": len(set(self.rejected) - set(self.committed)),
                    "resent": sum(1 for n in self.sends.values() if n > 1)}

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
        return min(len(self.ballots), (int((now - self.started) / self.wave_interval) + 1) * self.wave)

    def _take(self) -> list[int]:
        now = time.monotonic()
        with self.lock:
            batch = []
            while self.retry and len(batch) < _BATCH:
                k = self.retry.popleft()
                self.queued.discard(k)
                if k not in self.committed:
                    batch.append(k)
            released = self._released(now)
            while self.fresh < released and len(batch) < _BATCH:
                batch.append(self.fresh)
                self.fresh += 1
            if not batch and self.fresh == len(self.ballots):
                for k in self.submitted:      # not committed long after its last send: send again
                    if (k not in self.committed and k not in self.queued
                            and now - self.last_sent[k] > self.resend_after
                            and self.sends[k] < self.max_sends):
                        self.retry.append(k)
                        self.queued.add(k)
            return batch

    def _requeue(self, batch: list[int]):
        with self.lock:
            for k in reversed(batch):
                if k not in self.queued:
                    self.retry.appendleft(k)
                    self.queued.add(k)

    def _send(self, k: int):
        conns = {}
        turn = 0
        try:
            while (not self._stop.is_set() and self._sending.is_set()
                   and time.monotonic() < self.deadline):
                batch = self._take()
                if not batch:
                    with self.lock:
                        if len(self.committed) == len(self.ballots):
                            return
                    time.sleep(0.1)
                    continue
                node = self._pick_node(k, turn)
                turn += 1
                if node is None:
                    self._requeue(batch)
                    time.sleep(0.2)
                    continue
                conn = conns.setdefault(node, _Conn(self.urls[node], self.rpc_timeout))
                body = ("[" + ",".join(
                    '{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_async","params":{"tx":"%s"}}'
                    % (i, self.ballots[i].text) for i in batch) + "]").encode()
                try:
                    answers = conn.post(body)
                except ConnectionError:
                    self.down_until[node] = time.monotonic() + 2.0
                    self._requeue(batch)
                    continue
                now = time.monotonic()
                retry = []
                with self.lock:
                    for answer in answers if isinstance(answers, list) else []:
                        i = int(answer.get("id", -1))
                        if i not in batch:
                            continue
                        if answer.get("error"):
                            retry.append(i)     # mempool full, or the node is shutting down
                            continue
                        self.submitted.setdefault(i, now)
                        self.last_sent[i] = now
                        self.sends[i] = self.sends.get(i, 0) + 1
                    answered = {int(a.get("id", -1)) for a in answers} if isinstance(answers, list) else set()
                    retry += [i for i in batch if i not in answered]
                if retry:
                    self._requeue(retry)
                    time.sleep(0.1)
        finally:
            for c in conns.values():
                c.close()

    # --- watcher -------------------------------------------------------------------------------
    def _watch(self):
        nodes = sorted(self.urls)
        rpcs = {n: Rpc(self.urls[n], timeout=self.rpc_timeout) for n in nodes}
        turn = 0
        try:
            while not self._stop.is_set() and time.monotonic() < self.deadline + 120:
                node = nodes[turn % len(nodes)]
                try:
                    results = rpcs[node].call("block_results", height=str(self.next_height))
                    block = rpcs[node].call("block", height=str(self.next_height))
                except RpcError:
                    # Not committed yet there, or the node is down, frozen or behind: try the next.
                    turn += 1
                    self._stop.wait(0.05)
                    continue
                txs = block["block"]["data"]["txs"] or []
                res = results.get("txs_results") or []
                with self.lock:
                    for text, r in zip(txs, res):
                        i = self.index.get(text)
                        if i is None:
                            continue
                        code = int(r.get("code", 0))
                        if code == 0:
                            self.committed.setdefault(i, self.next_height)
                            self.seen.setdefault(i, time.monotonic())
                        else:
                            self.rejected[i] = code
                self.next_height += 1
        except Exception as exc:   # reported by the run
            self.watch_error = f"{type(exc).__name__}: {exc}"
        finally:
            for r in rpcs.values():
                r.close()
