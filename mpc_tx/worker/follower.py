"""The MPC worker of one validator: follow the node, decrypt own shares, run jobs, attest.

    python -m mpc_tx.worker --home HOME --index I --node URL --genesis FILE

It decrypts its own payload of each ballot as ballots commit (not all at the
close; in a thread at a lower CPU priority than the chain's), and when a closed poll
gets an MPC slot (abci_app.mpcslots) runs the poll's MPC job in a child
process, attempt by attempt on the chain's schedule (``schedule``): attempt k starts at
mpc_start + k*A on the slot's port of the registered range. An attempt that
times out (a party absent or killed) is retried at the next one, and reported
(naming the parties whose messages were outstanding, absent, or refused); an outcome, or
an enumerated failure such as inconsistent shares, is signed with the
validator's attestation key and submitted through its own node (``attest``).
What it knows of each poll is one ``polljob.PollJob``.
It holds only its own validator's decrypted shares, and never logs one.
"""

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from mpc_tx.protocol import x25519_envelope as envelope, tx as txcodec
from mpc_tx.protocol.codes import TxError
from mpc_tx.protocol.slots import slot_count
from mpc_tx.keyfile import load_signing_key, load_encryption_key
from mpc_tx.client.rpc import Rpc, RpcError, QueryError
from mpc_tx.worker import schedule
from mpc_tx.worker.attest import Attester, payload as attest_payload
from mpc_tx.worker.polljob import PollJob, job_input, opened_from
from mpc_tx.protocol import outcome

__all__ = ["Worker", "BlockWaker", "main", "FOLLOWER_NICE", "SYNC_PAGE", "SYNC_ONE_BY_ONE"]

log = logging.getLogger("mpc_tx.worker")

# Niceness of the thread that decrypts ballots as they commit (see Worker._follow_loop).
FOLLOWER_NICE = 10
# The close's ballot list: pages of (voter, tx hash); payloads one by one up to this many per page.
SYNC_PAGE, SYNC_ONE_BY_ONE = 1000, 20


class Worker:
    """One validator's MPC worker."""

    def __init__(self, home, index: int, node: str, genesis: str):
        self.home, self.index = Path(home), index
        self.node = node
        self._local = threading.local()  # one RPC connection per thread: never share one
        mpc = self.home / "mpc"
        self.attest = load_signing_key(mpc / "attest_key.json")
        self.enc = load_encryption_key(mpc / "enc_key.json")
        self.tls = {
            "cert": (mpc / "tls" / "party.crt").read_text(),
            "key": (mpc / "tls" / "party.key").read_text(),
            "ca": (mpc / "tls" / "ca.crt").read_text(),
        }
        doc = json.loads(Path(genesis).read_text())
        self.chain_id = doc["chain_id"]
        own = doc["app_state"]["validators"][index]
        if (own["attest_key"], own["enc_key"]) != (self.attest.public_hex, self.enc.public_hex):
            raise SystemExit(f"worker keys in {mpc} are not validator {index}'s keys in the genesis registry")
        self.state_dir = self.home / "worker"
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        self.attester = Attester(self.attest, self.chain_id, index)
        self.params = None
        self.polljobs = {}  # poll id -> PollJob (its shares under self.lock)
        self.lock = threading.Lock()
        self.followed = None  # last height whose ballots were fetched
        self.stop = threading.Event()
        self.new_block = threading.Event()  # set by the main loop, for the follower
        self.block_interval = 1.0

    @property
    def rpc(self) -> Rpc:
        if not hasattr(self._local, "rpc"):
            self._local.rpc = Rpc(self.node)
        return self._local.rpc

    # --- chain reads ---------------------------------------------------------------
    def _all_polls(self):
        out, after = [], 0
        while True:
            page, _ = self.rpc.query(f"/polls?after={after}&limit=1000")
            out += page["polls"]
            if page["next"] is None:
                return out
            after = page["next"]

    def sync_ballots(self, poll: dict) -> list:
        """Return this validator's shares of the poll's counted ballots, in the order state gives.

        Each ballot's share comes from the cache only if it was opened from the tx that
        state counts (a revote, or a ballot its block rejected, has another tx hash).
        The list is read as (voter, tx hash) only; payloads are fetched for the ballots
        not opened yet: one by one when they are few, else the page with payloads.
        """
        entries = max(1, len(poll["options"]))
        base = f"/poll/{poll['id']}/ballots?validator={self.index}&limit={SYNC_PAGE}"
        after, shares = None, []
        while True:
            page_path = base + (f"&after={after}" if after else "")
            page, _ = self.rpc.query(page_path + "&fields=tx")
            with self.lock:
                cache = self._job(poll["id"]).shares
                known = {b["voter"]: cache.get(b["voter"]) for b in page["ballots"]}
            missing = [b for b in page["ballots"] if not opened_from(known.get(b["voter"]), b["tx"])]
            if missing:
                if len(missing) <= SYNC_ONE_BY_ONE:
                    full = [
                        self.rpc.query(f"/poll/{poll['id']}/ballot/{b['voter']}?validator={self.index}")[0]
                        for b in missing
                    ]
                else:
                    full, _ = self.rpc.query(page_path)
                    full = full["ballots"]
                for b in full:
                    if not opened_from(known.get(b["voter"]), b["tx"]):
                        known[b["voter"]] = (b["tx"], self._open(poll, b, entries))
                with self.lock:
                    self._job(poll["id"]).shares.update({b["voter"]: known[b["voter"]] for b in full})
            for b in page["ballots"]:
                entry = known[b["voter"]]
                if not opened_from(entry, b["tx"]):
                    # replaced between the two reads: state moved on (not after the close, but be exact)
                    raise RpcError(f"poll {poll['id']}: ballot of {b['voter'][:12]}… changed during the sync")
                shares.append(entry[1])
            if page["next"] is None:
                break
            after = page["next"]
        return shares

    def _open(self, poll, ballot, entries):
        try:
            return envelope.open_(
                self.enc,
                bytes.fromhex(ballot["payload"]),
                chain_id=self.chain_id,
                poll_id=poll["id"],
                voter=ballot["voter"],
                validator=self.index,
                entries=entries,
            )
        except (envelope.EnvelopeError, ValueError):
            log.info(
                "poll %s: ballot of %s… does not open for validator %d: unusable",
                poll["id"],
                ballot["voter"][:12],
                self.index,
            )
            return None

    # --- the loop ------------------------------------------------------------------------
    def _job(self, poll_id: int) -> PollJob:
        job = self.polljobs.get(poll_id)
        if job is None:
            job = self.polljobs.setdefault(poll_id, PollJob(poll_id))
        return job

    def poll(self, poll_id: int, refresh=False) -> dict:
        """Return the poll's full record, read from the node if not cached or if `refresh`."""
        job = self.polljobs.get(poll_id)
        if refresh or job is None or job.record is None:
            record = self.rpc.query(f"/poll/{poll_id}")[0]
            job = self._job(poll_id)
            job.record = record
        return job.record

    def follow(self, max_blocks=50, budget_s=0.5) -> int:
        """Decrypt the ballots each new block commits (as they commit, not all at the close).

        Runs in the follower thread; returns the node's height after about budget_s at
        most, so that a stop is seen behind a backlog.
        """
        began = time.monotonic()
        top = self.rpc.height()
        if self.followed is None:  # (re)start: catch up on every open poll in one pass
            for summary in self._all_polls():
                if summary["status"] == "open" and self._is_party(self.poll(summary["id"])):
                    self.sync_ballots(self.poll(summary["id"]))
            self.followed = top
            return top
        for height in range(self.followed + 1, min(top, self.followed + max_blocks) + 1):
            # The payloads are in the block: one RPC per block, not one query per ballot (per-
            # ballot queries left workers tens of seconds behind a busy chain). Not block_results
            # either: the node's JSON encoding of every tx result costs it more than the block.
            # A ballot the block rejected may be decrypted here for nothing: the ballot list
            # read at the close (voter, tx hash) decides what counts.
            for raw in self.rpc.call("block", height=str(height))["block"]["data"]["txs"] or []:
                self.take_ballot(base64.b64decode(raw))
            self.followed = height
            if time.monotonic() - began > budget_s:
                break
        return top

    def take_ballot(self, raw: bytes):
        """Decrypt this validator's payload of a ballot in a committed block."""
        try:
            tx = txcodec.decode(raw)
            if tx.type != "cast_ballot":
                return
            poll_id, payload = int(tx.body["poll"]), tx.body["payloads"][self.index]
        except (TxError, KeyError, IndexError, TypeError, ValueError):
            return  # not a ballot this worker can use: the list at the close fetches what counts
        seen = self.polljobs.get(poll_id)
        if seen is not None and (seen.attempted or seen.done):  # each attempt syncs what is missing
            return
        try:
            poll = self.poll(poll_id)
        except QueryError:
            return  # a ballot for an unknown poll (rejected by its block)
        if not self._is_party(poll):
            return
        job = self._job(poll_id)
        with self.lock:
            known = job.holds(tx.signer, tx.hash)
        if not known:
            opened = (tx.hash, self._open(poll, {"voter": tx.signer, "payload": payload}, max(1, len(poll["options"]))))
            with self.lock:
                if not job.done:
                    job.shares[tx.signer] = opened

    def _is_party(self, poll) -> bool:
        return any(v["attest_key"] == self.attest.public_hex and v["index"] == self.index for v in poll["validators"])

    def step(self):
        # The polls first, at the current height: a close must not wait behind a backlog of
        # ballots to decrypt (each attempt's own sync_ballots fetches whatever is missing).
        height = self.rpc.height()
        if self.params is None:
            self.params, _ = self.rpc.query("/params")
        for summary in self._all_polls():
            poll_id = summary["id"]
            job = self.polljobs.get(poll_id)
            if job is not None and job.done:
                continue
            if summary["status"] in ("final", "failed"):
                self._set(poll_id, "done", reason=summary["status"])
                with self.lock:
                    self._job(poll_id).finish()
                continue
            cached = job.record if job is not None else None
            poll = self.poll(poll_id, refresh=schedule.needs_refresh(cached, summary))
            phase = schedule.phase(poll)
            if not self._is_party(poll):
                self._job(poll_id).done = True
            elif phase == schedule.WAITING:
                self._set(poll_id, "waiting", reason="poll open")
            elif phase == schedule.QUEUED:
                self._set(poll_id, "queued", reason="waiting for an MPC slot")
            elif phase == schedule.COMPUTING and not self._job(poll_id).running:
                if self._running() >= slot_count(poll["validators"]):
                    # The chain gives out no more slots than this; a job of a poll just final
                    # may still be ending: start this one at the next step.
                    continue
                self.maybe_start(poll, height)

    def _running(self) -> int:
        return sum(1 for job in list(self.polljobs.values()) if job.running)

    def maybe_start(self, poll, height):
        """Start the attempt of the chain's schedule at `height`, unless started or joined too late."""
        job = self._job(poll["id"])
        blocks = self.params["mpc_attempt_blocks"]
        if schedule.attempt_at(height, poll["mpc_start"], blocks) in job.attempted:
            return
        attested, _ = self.rpc.query(f"/poll/{poll['id']}/attestations")
        if any(a["validator"] == self.index for a in attested["attestations"]):
            # Attested already (its submit is then refused), yet it still joins the attempt:
            # until the poll is final the other parties cannot compute without it.
            self._set(poll["id"], "attested", attempt=schedule.attempt_at(height, poll["mpc_start"], blocks))
        attempt = schedule.next_attempt(height, poll["mpc_start"], blocks, self.block_interval)
        if attempt is None:
            return
        job.attempted.add(attempt.number)
        thread = threading.Thread(target=self.run_job, args=(poll, attempt.number, attempt.deadline_s), daemon=True)
        job.thread = thread
        thread.start()

    def run_job(self, poll, attempt, deadline):
        """Run one attempt: sync the shares, run the MPC job, then attest its result or report it."""
        from mpc_tx.mpc.job import run_job

        poll_id = poll["id"]
        began = time.monotonic()
        try:
            shares = self.sync_ballots(poll)
            synced = time.monotonic() - began
            if not shares:
                result = {
                    "status": outcome.OK,
                    "outcome": outcome.WITHHELD,
                    "counted": 0,
                    "excluded": [],
                    "unusable": [[] for _ in poll["validators"]],
                }
            else:
                self._set(poll_id, "running", attempt=attempt)
                log.info(
                    "poll %s: attempt %d with %d ballots (synced in %.3f s; deadline %.0f s)",
                    poll_id,
                    attempt,
                    len(shares),
                    synced,
                    deadline,
                )
                result = run_job(
                    job_input(poll, self.index, attempt, shares, self.tls, deadline, chain_id=self.chain_id),
                    deadline + 5,
                )
                log.info("poll %s: attempt %d job ended in %.3f s", poll_id, attempt, time.monotonic() - began - synced)
            submitted = attest_payload(poll, result)
            if submitted is None or outcome.is_report(submitted):
                self._set(
                    poll_id, "failed", attempt=attempt, reason=result.get("code", "error"), absent=result.get("absent")
                )
                if submitted is not None:  # name the parties on chain; the next attempt may still succeed
                    self.submit(poll, submitted)
                log.info(
                    "poll %s: attempt %d failed (%s, absent %s); next attempt in %d blocks",
                    poll_id,
                    attempt,
                    result.get("code"),
                    result.get("absent"),
                    self.params["mpc_attempt_blocks"],
                )
                return
            self.submit(poll, submitted)
            self._set(poll_id, "attested", attempt=attempt, reason=submitted["status"])
        except Exception as exc:
            log.exception("poll %s: attempt %d crashed: %s", poll_id, attempt, type(exc).__name__)
            self._set(poll_id, "failed", attempt=attempt, reason=type(exc).__name__)
        finally:
            self._job(poll_id).thread = None

    def submit(self, poll, result):
        """Sign and submit an attestation or a report of `poll` (see attest.Attester)."""
        self.attester.submit(self.rpc, poll["id"], result, self.block_interval)

    def _set(self, poll_id, state, **info):
        """Record a poll's job state, and write every job's state to jobs.json (`mpcvote jobs` reads it)."""
        if not self._job(poll_id).set_state(state, time.time(), **info):
            return
        states = {str(i): job.status for i, job in sorted(list(self.polljobs.items())) if job.status is not None}
        tmp = self.state_dir / "jobs.json.tmp"
        tmp.write_text(json.dumps(states))
        os.replace(tmp, self.state_dir / "jobs.json")

    def _beat(self, error):
        """Record that this worker runs, the height it has followed, and why it is stuck if it is.

        `scripts/testnet status` and `mpcvote jobs` read it: a job state alone cannot tell a
        waiting worker from one that lost its node or died.
        """
        beat = {"time": time.time(), "height": self.followed, "error": error}
        try:
            tmp = self.state_dir / "heartbeat.json.tmp"
            tmp.write_text(json.dumps(beat))
            os.replace(tmp, self.state_dir / "heartbeat.json")
        except OSError:
            pass  # a full disk must not stop the worker; status then shows an old heartbeat

    def _measure_block_interval(self):
        try:
            top = self.rpc.height()
            if top > 11:
                metas = self.rpc.call("blockchain", minHeight=str(top - 10), maxHeight=str(top))["block_metas"]
                from datetime import datetime

                ts = sorted(datetime.fromisoformat(m["header"]["time"][:26].rstrip("Z")) for m in metas)
                self.block_interval = max(0.1, (ts[-1] - ts[0]).total_seconds() / (len(ts) - 1))
        except (RpcError, ValueError, KeyError):
            pass

    def run(self):
        from urllib.parse import urlsplit

        log.info("worker for validator %d following %s", self.index, self.rpc.url)
        url = urlsplit(self.node)
        follower = threading.Thread(target=self._follow_loop, name="follower", daemon=True)
        follower.start()
        # Wake on each new block through the node's websocket; poll when it is down.
        waker = BlockWaker(url.hostname, url.port or 26657).start()
        last_measure = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() - last_measure > 10:
                    self._measure_block_interval()
                    last_measure = time.monotonic()
                self.step()
                self._beat(None)
            except (RpcError, QueryError) as exc:
                log.info("node not ready: %s", exc)
                self._beat(f"its node does not answer: {exc}")
                time.sleep(1.0)
            self.new_block.set()
            waker.wait(0.5 if waker.connected else 0.3)
        waker.stop()
        self.new_block.set()
        follower.join(5)

    def _follow_loop(self):
        """Decrypt ballots as blocks commit, in a thread of its own at a lower CPU priority.

        Decryption is off the chain's critical path: under load it yields the CPU to
        the node and the app (consensus, CheckTx) and catches up in their idle time.
        The main thread, which watches closes and starts MPC jobs (their processes
        inherit its priority), keeps the normal priority.
        """
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FOLLOWER_NICE)  # per thread on Linux
        except (AttributeError, OSError):
            pass
        while not self.stop.is_set():
            self.new_block.wait(1.0)
            self.new_block.clear()
            try:
                while not self.stop.is_set() and self.follow() > self.followed:
                    pass  # behind: go on through the backlog
            except (RpcError, QueryError) as exc:
                log.info("follower: node not ready: %s", exc)
                self.stop.wait(1.0)
            except Exception:
                log.exception("follower failed; it goes on at the next block")
                self.stop.wait(1.0)


class BlockWaker:
    """Set an event on every new block the node reports on its /websocket; reconnect quietly on failure.

    It subscribes to NewBlockHeader, not NewBlock: a NewBlock event carries the whole
    block and every tx result, which the node encodes to JSON for each subscriber
    (most of a node's RPC time under load); the worker fetches what it needs itself.
    The worker polls when this is down (``wait`` times out), so nothing rests on it.
    """

    CONNECT_S = 10  # bounded handshake
    SILENCE_S = 30  # no message for this long: the link is dead, reconnect
    RECONNECT_S = 2.0
    MAX_MESSAGE = 64 * 1024 * 1024
    SUBSCRIBE = json.dumps(
        {"jsonrpc": "2.0", "method": "subscribe", "id": 1, "params": {"query": "tm.event='NewBlockHeader'"}}
    )

    def __init__(self, host: str, port: int):
        self.url = f"ws://{host}:{port}/websocket"
        self.event = threading.Event()
        self.connected = False
        self._stop = threading.Event()
        self._ws = None
        self._thread = threading.Thread(target=self._run, name="block-waker", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        ws = self._ws
        if ws is not None:
            ws.close()  # wakes the reader now rather than at its next silence timeout

    def wait(self, timeout: float) -> bool:
        """Wait for a new block, or `timeout` seconds (the polling fallback)."""
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke

    def _run(self):
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        while not self._stop.is_set():
            try:
                # Client pings off: the node pings its subscribers, and the library answers.
                with connect(
                    self.url,
                    open_timeout=self.CONNECT_S,
                    close_timeout=1,
                    ping_interval=None,
                    max_size=self.MAX_MESSAGE,
                    proxy=None,
                ) as ws:
                    self._ws = ws
                    ws.send(self.SUBSCRIBE)
                    self.connected = True
                    while not self._stop.is_set():
                        ws.recv(timeout=self.SILENCE_S)
                        self.event.set()
            except (OSError, WebSocketException, ValueError):  # TimeoutError is an OSError
                pass
            finally:
                self.connected = False
                self._ws = None
            self._stop.wait(self.RECONNECT_S)


def main(argv=None, worker_class=None):
    """Run a worker; `worker_class` (a subclass of Worker) is for test entry points only."""
    parser = argparse.ArgumentParser(
        prog="python -m mpc_tx.worker", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--genesis", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s worker%(process)d: %(message)s"
    )
    worker = (worker_class or Worker)(args.home, args.index, args.node, args.genesis)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    worker.run()
