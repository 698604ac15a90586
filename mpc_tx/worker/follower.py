"""The MPC worker of one validator: follow the node, check own shares, complain, post or compute, attest.

    python -m mpc_tx.worker --home HOME --index I --node URL --genesis FILE

It opens and checks its own share of each ballot as ballots commit (docs/PROTOCOL.md
§§10, 17; in a thread at a lower CPU priority than the chain's) and complains at once
about a share that does not open, decode or check: the complaint is stored (fsync'd,
``complaints``) before it is sent, and after a restart the stored bytes are sent again,
never a second complaint. It keeps both halves of each checked pair and the ballot's
commitments until the counted set is fixed.

A tally poll (§18) runs no MPC: once its counted set is fixed, the worker sums its pairs
over exactly that set (their digest must be the poll's ballots_digest), recomputes the
chain's aggregate from the ballots' commitments, checks its own pairs against it and
posts them in an ``aggregate`` tx, or abstains if they do not check (``aggregates``:
stored, fsync'd, before they are sent; after a restart the stored bytes, never others).

A unanimity poll, once it gets an MPC slot (abci_app.mpcslots), runs its MPC job over the
checked value shares of exactly that set in a child process, attempt by attempt on the
chain's schedule (``schedule``): attempt k starts at mpc_start + k*A on the slot's port of
the registered range. An attempt that times out (a party absent or killed) is retried at
the next one, and reported (naming the parties whose messages were outstanding, absent,
or refused); an outcome, or an enumerated failure such as inconsistent shares, is signed
with the validator's attestation key and submitted through its own node (``attest``).
What it knows of each poll is one ``polljob.PollJob``.
It holds only its own validator's shares, and never logs one, nor a K point or its key.
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

from mpc_tx.protocol import canonical, complaint, outcome, tx as txcodec
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.slots import slot_count
from mpc_tx.keyfile import load_signing_key
from mpc_tx.client.rpc import Rpc, RpcError, QueryError
from mpc_tx.worker import aggregates, schedule, shares
from mpc_tx.worker.aggregates import AggregateStore, aggregate_body
from mpc_tx.worker.attest import Attester, payload as attest_payload
from mpc_tx.worker.complaints import SETTLED as COMPLAINT_SETTLED, ComplaintStore, complain_body
from mpc_tx.worker.polljob import ABSTAINED, POSTED, PollJob, job_input, opened_from

__all__ = [
    "Worker",
    "BlockWaker",
    "CountedSetError",
    "ShareError",
    "main",
    "FOLLOWER_NICE",
    "SYNC_PAGE",
    "SYNC_ONE_BY_ONE",
    "RECHECK_BLOCKS",
]

log = logging.getLogger("mpc_tx.worker")

# Niceness of the thread that opens ballots as they commit (see Worker._follow_loop).
FOLLOWER_NICE = 10
# The ballot list: pages of (voter, tx hash); ballots one by one up to this many missing, else by pages.
SYNC_PAGE, SYNC_ONE_BY_ONE = 1000, 20
# A post the node took but that is not on chain this many blocks later (dropped from the
# mempool) is sent again: the stored bytes.
RECHECK_BLOCKS = 5


class CountedSetError(RuntimeError):
    """The poll's counted set is not fixed, or the ballots read are not it (their digest differs)."""


class ShareError(RuntimeError):
    """A counted ballot whose share does not check for this validator: it has no checked share to input."""


class Worker:
    """One validator's MPC worker."""

    def __init__(self, home, index: int, node: str, genesis: str):
        self.home, self.index = Path(home), index
        self.node = node
        self._local = threading.local()  # one RPC connection per thread: never share one
        mpc = self.home / "mpc"
        self.attest = load_signing_key(mpc / "attest_key.json")
        self.enc_x = shares.load_enc_scalar(mpc / "enc_key.json")
        doc = json.loads(Path(genesis).read_text())
        self.chain_id = doc["chain_id"]
        registry = doc["app_state"]["validators"]
        own = registry[index]
        if (own["attest_key"], own["enc_key"]) != (self.attest.public_hex, shares.enc_public_hex(self.enc_x)):
            raise SystemExit(f"worker keys in {mpc} are not validator {index}'s keys in the genesis registry")
        # The MPC links trust exactly the registry's self-signed certificates, each pinned by hash.
        self.tls = {
            "cert": (mpc / "tls" / "party.crt").read_text(),
            "key": (mpc / "tls" / "party.key").read_text(),
            "peers": [v["tls_cert"] for v in registry],
        }
        self.complaints = ComplaintStore(self.home, self.chain_id)
        self.aggregates = AggregateStore(self.home, self.chain_id)
        self.settled = set()  # (poll, ballot tx) of complaints the chain took or settled in this run
        self.unsent = set()  # (poll, ballot tx) of stored complaints no try got through yet
        self.complaint_lock = threading.Lock()  # one complaint made and stored at a time
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

    def _ballot_list(self, poll_id: int) -> list:
        """Return the poll's ballot records as (voter, tx[, disqualified]), in voter order."""
        base, after, out = f"/poll/{poll_id}/ballots?limit={SYNC_PAGE}&fields=tx", None, []
        while True:
            page, _ = self.rpc.query(base + (f"&after={after}" if after else ""))
            out += page["ballots"]
            if page["next"] is None:
                return out
            after = page["next"]

    def _full_ballots(self, poll_id: int, voters: set) -> dict:
        """Return voter -> record (with the ballot's hex) for `voters`: one by one when few, else by pages."""
        if len(voters) <= SYNC_ONE_BY_ONE:
            return {v: self.rpc.query(f"/poll/{poll_id}/ballot/{v}")[0] for v in sorted(voters)}
        base, after, out = f"/poll/{poll_id}/ballots?limit={SYNC_PAGE}", None, {}
        while True:
            page, _ = self.rpc.query(base + (f"&after={after}" if after else ""))
            out.update({b["voter"]: b for b in page["ballots"] if b["voter"] in voters})
            if page["next"] is None:
                return out
            after = page["next"]

    def _disqualified(self, poll_id: int) -> set:
        """Return the tx hashes of the poll's ballots a complaint put out (verdict ballot_bad)."""
        answer, _ = self.rpc.query(f"/poll/{poll_id}/complaints")
        records = answer.get("complaints", []) if isinstance(answer, dict) else answer
        return {c["ballot_tx"] for c in records if c.get("verdict") == "ballot_bad"}

    def open_ballots(self, poll: dict) -> list:
        """Open and check this validator's share of every ballot of the poll on chain; return the records.

        A share is opened once per ballot tx (the follower opened most as they committed);
        a bad one is complained about at once (check_ballot).
        """
        poll_id = poll["id"]
        records = self._ballot_list(poll_id)
        with self.lock:
            held = dict(self._job(poll_id).shares)
        missing = {b["voter"] for b in records if not opened_from(held.get(b["voter"]), b["tx"])}
        if missing:
            full = self._full_ballots(poll_id, missing)
            opened = {}
            for b in records:
                if b["voter"] not in missing:
                    continue
                record = full.get(b["voter"])
                if record is None or record["tx"] != b["tx"]:
                    # replaced between the two reads: state moved on (not after the fix, but be exact)
                    raise RpcError(f"poll {poll_id}: ballot of {b['voter'][:12]}… changed during the sync")
                opened[b["voter"]] = (b["tx"], self.check_ballot(poll, b["voter"], b["tx"], record["ballot"]).held())
            with self.lock:
                job = self._job(poll_id)
                for voter, entry in opened.items():
                    job.hold(voter, entry)
        return records

    def counted_opened(self, poll: dict) -> list:
        """Return this validator's opened shares (shares.Opened) of the poll's fixed counted set, in voter order.

        The counted set is the ballots not disqualified; its digest must be the poll's
        ballots_digest, else CountedSetError: nothing is ever computed over another set.
        """
        return self._counted(poll)[0]

    def _counted(self, poll: dict) -> tuple:
        """Return counted_opened's list and the sum of those ballots' commitments as held (None: sum afresh)."""
        poll_id = poll["id"]
        if poll.get("counted_fixed_height") is None:
            raise CountedSetError(f"poll {poll_id}: the counted set is not fixed yet")
        records = self.open_ballots(poll)
        out = self._disqualified(poll_id)
        counted = [b for b in records if not b.get("disqualified") and b["tx"] not in out]
        with self.lock:
            job = self._job(poll_id)
            opened = [job.shares[b["voter"]][1] for b in counted]
            held_sum = job.counted_sum({b["voter"] for b in counted})
        if shares.counted_digest([o.digest for o in opened]) != poll["ballots_digest"]:
            raise CountedSetError(f"poll {poll_id}: the ballots read do not give the poll's ballots_digest")
        return opened, held_sum

    def sync_ballots(self, poll: dict) -> list:
        """Return this validator's checked value shares of the poll's fixed counted set, in voter order.

        A counted ballot whose share does not check for this validator (it could not
        complain in time) makes a ShareError: it cannot input a checked share, so it takes
        no part. CountedSetError as counted_opened.
        """
        opened = self.counted_opened(poll)
        bad = sum(1 for o in opened if not o.good)
        if bad:
            raise ShareError(f"poll {poll['id']}: {bad} counted ballots whose share does not check for this validator")
        return [o.values for o in opened]

    # --- a tally's aggregate post (§18.3) -------------------------------------------------
    def aggregate_pairs(self, poll: dict) -> bytes | Rejected:
        """Return the pairs to post for a tally poll's fixed counted set, or Rejected: this validator abstains."""
        try:
            counted, held_sum = self._counted(poll)
        except CountedSetError as exc:
            return Rejected(f"abstain: {exc}")
        stored, _ = self.rpc.query(f"/poll/{poll['id']}/aggregate")
        return aggregates.own_post(poll, stored, counted, self.index, held_sum)

    def maybe_post(self, poll: dict, height: int) -> None:
        """Start posting a tally poll's pairs, or check that a post sent earlier is on chain."""
        job = self._job(poll["id"])
        if job.running or job.aggregated == ABSTAINED:
            return
        if poll.get("ballots", 0) < poll.get("min_ballots", 0):  # withheld: the chain wants no pair (final at the fix)
            self._set(poll["id"], "waiting", reason="withheld below min_ballots")
            return
        if job.aggregated == POSTED:
            if height >= job.posted_at + RECHECK_BLOCKS:
                job.posted_at = height
                if not self._posted_on_chain(poll["id"]):
                    log.info("poll %s: the aggregate post is not on chain: sent again", poll["id"])
                    job.aggregated = None
            return
        thread = threading.Thread(target=self.run_aggregate, args=(poll, height), daemon=True)
        job.thread = thread
        thread.start()

    def _posted_on_chain(self, poll_id: int) -> bool:
        try:
            answer, _ = self.rpc.query(f"/poll/{poll_id}/aggregates")
        except QueryError:
            return True  # nothing to compare with: trust the node's answer to the tx
        records = answer.get("aggregates", []) if isinstance(answer, dict) else answer
        return any(isinstance(r, dict) and r.get("validator") == self.index for r in records)

    def run_aggregate(self, poll: dict, height: int) -> None:
        """Post this validator's aggregate pairs: the stored ones if any, else new ones, checked and stored first."""
        poll_id = poll["id"]
        job = self._job(poll_id)
        try:
            body = self.aggregates.load(poll_id)
            if body is None:
                data = self.aggregate_pairs(poll)
                if isinstance(data, Rejected):  # counted absent, never named
                    log.warning("poll %s: validator %d abstains: %s", poll_id, self.index, data.reason)
                    job.aggregated = ABSTAINED
                    self._set(poll_id, "abstained", reason=data.reason)
                    return
                body = self.aggregates.save(aggregate_body(poll_id, self.index, data))
            self.send_aggregate(poll_id, body, height)
        except (RpcError, QueryError) as exc:  # tried again at the next step
            log.info("poll %s: aggregate post waits for the node: %s", poll_id, exc)
        except Exception as exc:
            log.exception("poll %s: aggregate post crashed: %s", poll_id, type(exc).__name__)
            self._set(poll_id, "failed", reason=type(exc).__name__)
        finally:
            job.thread = None

    def send_aggregate(self, poll_id: int, body: dict, height: int) -> None:
        """Send a stored post's exact bytes; settled once the node took it or the chain settled it."""
        sent = self.attester.aggregate(self.rpc, body, self.block_interval, aggregates.SETTLED)
        job = self._job(poll_id)
        if sent is None:
            self._set(poll_id, "posting", reason="the node refused every try: sent again at the next block")
            return
        job.aggregated, job.posted_at = POSTED, height
        self._set(poll_id, "posted", reason="aggregate pairs posted" if sent else "aggregate post settled by the chain")

    # --- shares and complaints ------------------------------------------------------------
    def _context(self, poll: dict):
        job = self._job(poll["id"])
        if job.context is None:
            job.context = shares.poll_context(self.chain_id, poll)
        return job.context

    def check_ballot(self, poll: dict, voter: str, tx_hash: str, ballot_hex: str) -> shares.Opened:
        """Open and check this validator's share of a committed ballot; complain at once if it is bad."""
        try:
            raw = bytes.fromhex(ballot_hex)
        except (TypeError, ValueError):
            raw = b""
        opened = shares.open_share(self._context(poll), voter, raw, self.index, self.enc_x)
        if opened.ballot is not None and (not opened.good or self.complains_about(opened)):
            if not opened.good:
                log.info(
                    "poll %s: ballot tx %s… is bad for validator %d: %s",
                    poll["id"],
                    tx_hash[:12],
                    self.index,
                    opened.reason,
                )
            self.complain(poll, voter, tx_hash, opened.ballot)
        return opened

    def complains_about(self, opened: shares.Opened) -> bool:
        """Whether to complain about a ballot whose share checks: never (a fault entry point overrides it)."""
        return False

    def complain(self, poll: dict, voter: str, tx_hash: str, ballot) -> None:
        """Complain about a ballot: the stored complaint if there is one, else a new one, stored before it is sent."""
        key = (poll["id"], tx_hash)
        if key in self.settled:
            return
        with self.complaint_lock:  # the follower and an attempt's sync may find the same ballot bad at once
            body = self.complaints.load(*key)
            if body is None:
                made = complaint.make_complaint(
                    self._context(poll), bytes.fromhex(tx_hash), ballot, self.index, self.enc_x
                )
                body = self.complaints.save(complain_body(poll["id"], self.index, voter, tx_hash, made))
        self.send_complaint(body)

    def send_complaint(self, body: dict) -> None:
        """Send a stored complaint's exact bytes; remember it once the chain took or settled it."""
        key = (body["poll"], body["ballot_tx"])
        sent = self.attester.complain(self.rpc, body, self.block_interval, COMPLAINT_SETTLED)
        with self.lock:
            if sent is None:
                self.unsent.add(key)  # sent again at the next block
            else:
                self.settled.add(key)
                self.unsent.discard(key)

    def resend_complaints(self, only=None) -> None:
        """Send again the stored complaints not settled in this run (all after a restart, or `only`).

        After a restart, a complaint about a poll whose counted set is fixed is settled without
        a try: its window has passed.
        """
        fixed = {}
        for body in self.complaints.stored():
            key = (body["poll"], body["ballot_tx"])
            if key in self.settled or (only is not None and key not in only):
                continue
            if body["poll"] not in fixed:
                try:
                    fixed[body["poll"]] = self.poll(body["poll"], refresh=True).get("counted_fixed_height") is not None
                except QueryError:
                    fixed[body["poll"]] = False  # let the chain answer the complaint itself
            if fixed[body["poll"]]:
                with self.lock:
                    self.settled.add(key)
                    self.unsent.discard(key)
                continue
            self.send_complaint(body)

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
        if self.followed is None:  # (re)start: the stored complaints first, then every poll still taking them
            self.resend_complaints()
            for summary in self._all_polls():
                if summary["status"] in ("open", "closed"):
                    poll = self.poll(summary["id"], refresh=True)
                    if self._is_party(poll) and poll.get("counted_fixed_height") is None:
                        self.open_ballots(poll)
            self.followed = top
            return top
        with self.lock:
            unsent = set(self.unsent)
        if unsent:
            self.resend_complaints(only=unsent)
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
        """Open and check this validator's share of a ballot in a committed block; complain if it is bad.

        The block's txs passed the chain's checks already: only the fields used are read
        (the canonical decoder, no signature check).
        """
        try:
            doc = canonical.decode(raw)
            if not isinstance(doc, dict) or doc.get("type") != "cast_ballot":
                return
            body, voter = doc["body"], doc["signer"]
            poll_id, ballot_hex = body["poll"], body["ballot"]
            if type(poll_id) is not int or not isinstance(ballot_hex, str) or not isinstance(voter, str):
                return
        except (canonical.CanonicalError, KeyError, TypeError):
            return  # not a ballot this worker can use: the list at the fix fetches what counts
        tx_hash = txcodec.tx_hash(raw)
        seen = self.polljobs.get(poll_id)
        if seen is not None and (seen.attempted or seen.done):  # each attempt syncs what is missing
            return
        try:
            poll = self.poll(poll_id)
        except QueryError:
            return  # a ballot for an unknown poll (rejected by its block)
        if not self._is_party(poll) or poll.get("counted_fixed_height") is not None:
            return
        job = self._job(poll_id)
        with self.lock:
            known = job.holds(voter, tx_hash)
        if not known:
            opened = (tx_hash, self.check_ballot(poll, voter, tx_hash, ballot_hex).held())
            with self.lock:
                if not job.done:
                    job.hold(voter, opened)

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
                self._set(poll_id, "waiting", reason="poll open" if poll["status"] == "open" else "complaint window")
            elif phase == schedule.AGGREGATING:
                self.maybe_post(poll, height)
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
            values = self.sync_ballots(poll)
            synced = time.monotonic() - began
            if not values:
                result = {"status": outcome.OK, "outcome": outcome.WITHHELD, "counted": 0}
            else:
                self._set(poll_id, "running", attempt=attempt)
                log.info(
                    "poll %s: attempt %d with %d ballots (synced in %.3f s; deadline %.0f s)",
                    poll_id,
                    attempt,
                    len(values),
                    synced,
                    deadline,
                )
                result = run_job(
                    job_input(poll, self.index, attempt, values, self.tls, deadline, chain_id=self.chain_id),
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
        except (CountedSetError, ShareError) as exc:  # this validator takes no part: the others time out
            log.warning("poll %s: attempt %d refused: %s", poll_id, attempt, exc)
            self._set(poll_id, "failed", attempt=attempt, reason=type(exc).__name__)
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
