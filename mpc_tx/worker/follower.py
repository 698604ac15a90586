"""The MPC worker of one validator: follow the node, decrypt own shares, run jobs, attest.

    python -m mpc_tx.worker --home HOME --index I --node URL --genesis FILE

It decrypts its own payload of each ballot as ballots commit (not all at the
close; in a thread at a lower CPU priority than the chain's), and when a closed poll
gets an MPC slot (abci_app.mpcslots) runs the poll's MPC job in a child
process, attempt by attempt on the chain's schedule: attempt k starts at
mpc_start + k*A on the slot's port of the registered range. An attempt that
times out (a party absent or killed) is retried at the next one, and reported
(naming the parties whose messages were outstanding, absent, or refused); an outcome, or
an enumerated failure such as inconsistent shares, is signed with the
validator's attestation key and submitted through its own node.
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

from mpc_tx.protocol.codes import TxError
from mpc_tx.protocol.slots import port_offset, slot_count

from mpc_tx.protocol import digests, x25519_envelope as envelope, tx as txcodec
from mpc_tx.protocol.keys import SigningKey, EncryptionKey
from mpc_tx.keyfile import load_signing_key, load_encryption_key
from mpc_tx.client.rpc import Rpc, RpcError, QueryError

__all__ = ["Worker", "main", "job_input", "job_identity", "chain_result", "attempt_report"]

log = logging.getLogger("mpc_tx.worker")

# Niceness of the thread that decrypts ballots as they commit (see Worker._follow_loop).
FOLLOWER_NICE = 10
# The close's ballot list: pages of (voter, tx hash); payloads one by one up to this many per page.
SYNC_PAGE, SYNC_ONE_BY_ONE = 1000, 20


def job_identity(chain_id: str, poll: dict, attempt: int) -> str:
    """Return the hex identity every link of this attempt greets with (protocol.digests.job_identity)."""
    return digests.job_identity(chain_id, poll["id"], attempt, poll["ballots_digest"])


def job_input(poll: dict, index: int, attempt: int, shares: list, tls: dict, deadline_s: float,
              chain_id: str = "") -> dict:
    """Return the MPC job description for one attempt (see mpc_job)."""
    # The poll's MPC slot picks the port: polls computing together never share one, and a
    # retry never reuses the port of the attempt before it (see abci_app.mpcslots).
    slot = poll.get("mpc_slot") or 0
    parties = [{"host": v["mpc_host"], "port": v["mpc_port"] + port_offset(slot, attempt, v["mpc_ports"]),
                "cert_sha256": v["tls_sha256"]} for v in poll["validators"]]
    return {"pid": index, "parties": parties, "threshold": poll["threshold"], "kind": poll["kind"],
            "options": max(1, len(poll["options"])),
            "shares": [None if s is None else [str(x) for x in s] for s in shares],
            "seed": poll["seed"], "min_ballots": poll["min_ballots"], "tls": tls,
            "deadline_s": deadline_s, "job_id": job_identity(chain_id, poll, attempt)}


def attempt_report(poll: dict, job: dict) -> dict | None:
    """Return the failed-attempt report naming parties for a failed job, or None if it names nobody.

    Absent parties (never connected, or lost), the sender of a refused message, or the
    parties whose messages were outstanding when the attempt timed out.
    """
    code = job.get("code")
    if code == "party_absent":
        named = job.get("absent", [])
    elif code == "bad_message" and isinstance(job.get("sender"), int):
        named = [job["sender"]]
    elif code == "timeout":
        named = job.get("outstanding", [])
    else:
        return None
    named = sorted({int(p) for p in named if isinstance(p, int) and 0 <= p < len(poll["validators"])})
    if not named:
        return None
    return {"status": "failed", "code": code, "absent": named, "ballots": poll["ballots_digest"]}


def chain_result(poll: dict, job: dict) -> dict | None:
    """Map a job's result to the payload attested on chain, or None to retry later."""
    base = {"ballots": poll["ballots_digest"]}
    if job["status"] == "failed":
        if job.get("code") == "inconsistent_shares":
            return {**base, "status": "failed", "code": "inconsistent_shares",
                    "absent": sorted(job.get("absent", []))}
        return None   # timeout, an absent party, an error: the next attempt may succeed
    outcome = job["outcome"]
    if "tally" in outcome:
        outcome = {"tally": dict(zip(poll["options"], outcome["tally"]))}
    return {**base, "status": "ok", "outcome": outcome, "counted": job["counted"],
            "excluded": sorted(job["excluded"]), "unusable": [sorted(u) for u in job["unusable"]]}


def _holds(entry, tx_hash: str) -> bool:
    """Whether a cached (tx hash, shares) entry was opened from the tx tx_hash."""
    return entry is not None and entry[0] == tx_hash


class Worker:
    """One validator's MPC worker."""

    def __init__(self, home, index: int, node: str, genesis: str):
        self.home, self.index = Path(home), index
        self.node = node
        self._local = threading.local()   # one RPC connection per thread: never share one
        mpc = self.home / "mpc"
        self.attest = load_signing_key(mpc / "attest_key.json")
        self.enc = load_encryption_key(mpc / "enc_key.json")
        self.tls = {"cert": (mpc / "tls" / "party.crt").read_text(),
                    "key": (mpc / "tls" / "party.key").read_text(),
                    "ca": (mpc / "tls" / "ca.crt").read_text()}
        doc = json.loads(Path(genesis).read_text())
        self.chain_id = doc["chain_id"]
        own = doc["app_state"]["validators"][index]
        if (own["attest_key"], own["enc_key"]) != (self.attest.public_hex, self.enc.public_hex):
            raise SystemExit(f"worker keys in {mpc} are not validator {index}'s keys in the genesis registry")
        self.state_dir = self.home / "worker"
        self.state_dir.mkdir(mode=0o700, exist_ok=True)
        self.params = None
        self.polls = {}        # poll id -> full poll record (refreshed)
        self.ballots = {}      # poll id -> {voter: (tx hash, shares or None)}, under self.lock
        self.lock = threading.Lock()
        self.attempted = {}    # poll id -> set of attempt numbers started
        self.jobs = {}         # poll id -> {"state", "attempt", "reason", "pid", "updated"}
        self.running = {}      # poll id -> thread
        self.done = set()
        self.followed = None   # last height whose ballots were fetched
        self.stop = threading.Event()
        self.new_block = threading.Event()   # set by the main loop, for the follower
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
                cache = self.ballots.setdefault(poll["id"], {})
                known = {b["voter"]: cache.get(b["voter"]) for b in page["ballots"]}
            missing = [b for b in page["ballots"] if not _holds(known.get(b["voter"]), b["tx"])]
            if missing:
                if len(missing) <= SYNC_ONE_BY_ONE:
                    full = [self.rpc.query(f"/poll/{poll['id']}/ballot/{b['voter']}?validator={self.index}")[0]
                            for b in missing]
                else:
                    full, _ = self.rpc.query(page_path)
                    full = full["ballots"]
                for b in full:
                    if not _holds(known.get(b["voter"]), b["tx"]):
                        known[b["voter"]] = (b["tx"], self._open(poll, b, entries))
                with self.lock:
                    self.ballots.setdefault(poll["id"], {}).update(
                        {b["voter"]: known[b["voter"]] for b in full})
            for b in page["ballots"]:
                entry = known[b["voter"]]
                if not _holds(entry, b["tx"]):
                    # replaced between the two reads: state moved on (not after the close, but be exact)
                    raise RpcError(f"poll {poll['id']}: ballot of {b['voter'][:12]}… changed during the sync")
                shares.append(entry[1])
            if page["next"] is None:
                break
            after = page["next"]
        return shares

    def _open(self, poll, ballot, entries):
        try:
            return envelope.open_(self.enc, bytes.fromhex(ballot["payload"]), chain_id=self.chain_id,
                                  poll_id=poll["id"], voter=ballot["voter"], validator=self.index,
                                  entries=entries)
        except (envelope.EnvelopeError, ValueError):
            log.info("poll %s: ballot of %s… does not open for validator %d: unusable",
                     poll["id"], ballot["voter"][:12], self.index)
            return None

    # --- the loop ------------------------------------------------------------------------
    def poll(self, poll_id: int, refresh=False) -> dict:
        if refresh or poll_id not in self.polls:
            self.polls[poll_id] = self.rpc.query(f"/poll/{poll_id}")[0]
        return self.polls[poll_id]

    def follow(self, max_blocks=50, budget_s=0.5) -> int:
        """Decrypt the ballots each new block commits (as they commit, not all at the close).

        Runs in the follower thread; returns the node's height after about budget_s at
        most, so that a stop is seen behind a backlog.
        """
        began = time.monotonic()
        top = self.rpc.height()
        if self.followed is None:        # (re)start: catch up on every open poll in one pass
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
            ballot = txcodec.decode(raw)
            if ballot.type != "cast_ballot":
                return
            poll_id, payload = int(ballot.body["poll"]), ballot.body["payloads"][self.index]
        except (TxError, KeyError, IndexError, TypeError, ValueError):
            return    # not a ballot this worker can use: the list at the close fetches what counts
        if poll_id in self.attempted or poll_id in self.done:   # each attempt syncs what is missing
            return
        try:
            poll = self.poll(poll_id)
        except QueryError:
            return    # a ballot for an unknown poll (rejected by its block)
        if not self._is_party(poll):
            return
        with self.lock:
            known = _holds(self.ballots.get(poll_id, {}).get(ballot.signer), ballot.hash)
        if not known:
            opened = (ballot.hash, self._open(poll, {"voter": ballot.signer, "payload": payload},
                                              max(1, len(poll["options"]))))
            with self.lock:
                if poll_id not in self.done:
                    self.ballots.setdefault(poll_id, {})[ballot.signer] = opened

    def _is_party(self, poll) -> bool:
        return any(v["attest_key"] == self.attest.public_hex and v["index"] == self.index
                   for v in poll["validators"])

    def step(self):
        # The polls first, at the current height: a close must not wait behind a backlog of
        # ballots to decrypt (each attempt's own sync_ballots fetches whatever is missing).
        height = self.rpc.height()
        if self.params is None:
            self.params, _ = self.rpc.query("/params")
        for summary in self._all_polls():
            pid = summary["id"]
            if pid in self.done:
                continue
            if summary["status"] in ("final", "failed"):
                self._set(pid, "done", reason=summary["status"])
                with self.lock:
                    self.done.add(pid)
                    self.ballots.pop(pid, None)
                self.polls.pop(pid, None)
                continue
            cached = self.polls.get(pid, {})
            # A closed poll gets its MPC slot later, without a change of status: re-read it until then.
            poll = self.poll(pid, refresh=cached.get("status") != summary["status"] or
                             (summary["status"] == "closed" and cached.get("mpc_slot") is None))
            if not self._is_party(poll):
                self.done.add(pid)
            elif poll["status"] == "open":
                self._set(pid, "waiting", reason="poll open")
            elif poll["status"] == "closed" and poll.get("mpc_slot") is None:
                self._set(pid, "queued", reason="waiting for an MPC slot")
            elif poll["status"] == "closed" and pid not in self.running:
                if len(self.running) >= slot_count(poll["validators"]):
                    # The chain gives out no more slots than this; a job of a poll just final
                    # may still be ending: start this one at the next step.
                    continue
                self.maybe_start(poll, height)

    def maybe_start(self, poll, height):
        A = self.params["mpc_attempt_blocks"]
        since = height - poll["mpc_start"]
        attempt = max(0, since // A)
        if attempt in self.attempted.get(poll["id"], set()):
            return
        attested, _ = self.rpc.query(f"/poll/{poll['id']}/attestations")
        if any(a["validator"] == self.index for a in attested["attestations"]):
            # Attested already (its submit is then refused), yet it still joins the attempt:
            # until the poll is final the other parties cannot compute without it.
            self._set(poll["id"], "attested", attempt=attempt)
        # Every party starts an attempt within a block or two of its first height;
        # one that sees it later waits for the next, rather than hold the others up.
        late = since - attempt * A
        if late > 2:
            return
        left = A - late
        self.attempted.setdefault(poll["id"], set()).add(attempt)
        # End two blocks before the next attempt starts, so that every party can join it.
        deadline = max(3.0, (left - 2) * self.block_interval)
        thread = threading.Thread(target=self.run_job, args=(poll, attempt, deadline), daemon=True)
        self.running[poll["id"]] = thread
        thread.start()

    def run_job(self, poll, attempt, deadline):
        from mpc_tx.mpc.job import run_job
        pid = poll["id"]
        began = time.monotonic()
        try:
            shares = self.sync_ballots(poll)
            synced = time.monotonic() - began
            if not shares:
                job = {"status": "ok", "outcome": {"withheld": True}, "counted": 0, "excluded": [],
                       "unusable": [[] for _ in poll["validators"]]}
            else:
                self._set(pid, "running", attempt=attempt)
                log.info("poll %s: attempt %d with %d ballots (synced in %.3f s; deadline %.0f s)",
                         pid, attempt, len(shares), synced, deadline)
                job = run_job(job_input(poll, self.index, attempt, shares, self.tls, deadline,
                                        chain_id=self.chain_id), deadline + 5)
                log.info("poll %s: attempt %d job ended in %.3f s", pid, attempt, time.monotonic() - began - synced)
            result = chain_result(poll, job)
            if result is None:
                self._set(pid, "failed", attempt=attempt, reason=job.get("code", "error"),
                          absent=job.get("absent"))
                report = attempt_report(poll, job)
                if report:   # name the parties on chain; the next attempt may still succeed
                    self.submit(poll, report)
                log.info("poll %s: attempt %d failed (%s, absent %s); next attempt in %d blocks", pid, attempt,
                         job.get("code"), job.get("absent"), self.params["mpc_attempt_blocks"])
                return
            self.submit(poll, result)
            self._set(pid, "attested", attempt=attempt, reason=result["status"])
        except Exception as exc:
            log.exception("poll %s: attempt %d crashed: %s", pid, attempt, type(exc).__name__)
            self._set(pid, "failed", attempt=attempt, reason=type(exc).__name__)
        finally:
            self.running.pop(pid, None)

    def submit(self, poll, result):
        rpc = self.rpc
        body = {"poll": poll["id"], "validator": self.index, "result": result}
        for _ in range(10):
            last = rpc.query(f"/account/{self.attest.public_hex}")[0]["nonce"]
            raw = txcodec.build(self.attest, self.chain_id, "submit_outcome",
                                max(last + 1, time.time_ns() // 1000), body)
            res = rpc.broadcast_tx_sync(raw)
            if int(res["code"]) == 0:
                log.info("poll %s: submitted %s (tx %s)", poll["id"], result.get("code", result["status"]),
                         res["hash"])
                return
            log.warning("poll %s: attestation rejected: code %s %s", poll["id"], res["code"], res.get("log"))
            if int(res["code"]) in (15, 16):   # attested already, or the poll is final
                return
            time.sleep(self.block_interval)

    def _set(self, poll_id, state, **info):
        entry = {"state": state, "updated": time.time(), **{k: v for k, v in info.items() if v is not None}}
        if self.jobs.get(poll_id, {}).get("state") == state and state in ("waiting", "queued"):
            return
        self.jobs[poll_id] = entry
        tmp = self.state_dir / "jobs.json.tmp"
        tmp.write_text(json.dumps({str(k): v for k, v in self.jobs.items()}))
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
            pass    # a full disk must not stop the worker; status then shows an old heartbeat

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
        from mpc_tx.worker.websocket import BlockWaker
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
                    pass    # behind: go on through the backlog
            except (RpcError, QueryError) as exc:
                log.info("follower: node not ready: %s", exc)
                self.stop.wait(1.0)
            except Exception:
                log.exception("follower failed; it goes on at the next block")
                self.stop.wait(1.0)


def main(argv=None, worker_class=None):
    """Run a worker; `worker_class` (a subclass of Worker) is for test entry points only."""
    parser = argparse.ArgumentParser(prog="python -m mpc_tx.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--genesis", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s worker%(process)d: %(message)s")
    worker = (worker_class or Worker)(args.home, args.index, args.node, args.genesis)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    worker.run()

