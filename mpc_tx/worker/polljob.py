"""One poll as one validator's worker sees it: its record, its shares, its attempts, its state.

A ``PollJob`` replaces the per-poll dicts and sets a worker kept side by side. The
worker's lock guards ``shares`` (the follower thread fills it as ballots commit); the
rest is the main thread's, but for ``thread``, which an attempt's thread clears as it ends.
``job_input`` is the MPC job one attempt of a unanimity poll runs (see mpc_tx.mpc.job); a
tally poll runs none: its worker posts its aggregate pairs once (``aggregated``).
"""

from mpc_tx.protocol import digests, tally
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.slots import port_offset

__all__ = ["PollJob", "job_input", "job_identity", "opened_from", "QUIET_STATES", "POSTED", "ABSTAINED"]

# States written once, not again at every step (a poll can wait for hours).
QUIET_STATES = ("waiting", "queued")
# What became of a tally poll's aggregate post in this run (PollJob.aggregated; None: not settled yet).
POSTED, ABSTAINED = "posted", "abstained"


def opened_from(entry, tx_hash: str) -> bool:
    """Whether a cached (tx hash, shares) entry was opened from the tx `tx_hash`."""
    return entry is not None and entry[0] == tx_hash


def job_identity(chain_id: str, poll: dict, attempt: int) -> str:
    """Return the hex identity every link of this attempt greets with (protocol.digests.job_identity)."""
    return digests.job_identity(chain_id, poll["id"], attempt, poll["ballots_digest"])


def job_input(
    poll: dict, index: int, attempt: int, shares: list, tls: dict, deadline_s: float, chain_id: str = ""
) -> dict:
    """Return the MPC job description for one attempt (see mpc_tx.mpc.job); `index` is our party id.

    `shares` holds our checked value shares of each ballot of the fixed counted set, in
    voter order; `tls` our certificate and key and every party's pinned certificate.
    Only a unanimity poll has MPC jobs (docs/PROTOCOL.md §18).
    """
    # The poll's MPC slot picks the port: polls computing together never share one, and a
    # retry never reuses the port of the attempt before it (see mpc_tx.protocol.slots).
    slot = poll.get("mpc_slot") or 0
    parties = [
        {
            "host": v["mpc_host"],
            "port": v["mpc_port"] + port_offset(slot, attempt, v["mpc_ports"]),
            "cert_sha256": v["tls_sha256"],
        }
        for v in poll["validators"]
    ]
    return {
        "pid": index,
        "parties": parties,
        "threshold": poll["threshold"],
        "kind": poll["kind"],
        "options": max(1, len(poll["options"])),
        "shares": [[str(x) for x in s] for s in shares],
        "seed": poll["seed"],
        "min_ballots": poll["min_ballots"],
        "tls": tls,
        "deadline_s": deadline_s,
        "job_id": job_identity(chain_id, poll, attempt),
    }


class PollJob:
    """What one worker holds and has done for one poll."""

    __slots__ = (
        "id",
        "record",
        "context",
        "shares",
        "held_sum",
        "sum_lost",
        "attempted",
        "status",
        "thread",
        "done",
        "aggregated",
        "posted_at",
    )

    def __init__(self, poll_id: int):
        self.id = poll_id
        self.record = None  # the poll's full record on chain, refreshed as its status moves
        self.context = None  # its protocol context (docs/PROTOCOL.md §17), made once
        self.shares = {}  # voter -> (tx hash, worker.shares.Opened: this validator's checked pairs)
        # The sum of the held ballots' commitments, kept as they are opened: at the fix the
        # counted set's aggregate is this less the few held ballots that do not count, not
        # k·(t+1) point additions per ballot on the way to the post (seconds at 10,000).
        self.held_sum = None
        self.sum_lost = False  # a shape that did not add up: the post computes the sum afresh
        self.attempted = set()  # numbers of the attempts started
        self.status = None  # this poll's entry in jobs.json: state, updated, and attempt, reason, absent
        self.thread = None  # the attempt running now, if any
        self.done = False  # final, failed, or not ours: nothing more to do
        self.aggregated = None  # a tally: POSTED (sent, or settled by the chain), ABSTAINED, or None (not yet)
        self.posted_at = None  # the height it was sent at (or last seen missing on chain)

    def __repr__(self):  # never the shares
        return (
            f"PollJob({self.id}, {self.state}, attempted={sorted(self.attempted)}, "
            f"aggregated={self.aggregated}, done={self.done})"
        )

    @property
    def state(self) -> str | None:
        return self.status["state"] if self.status else None

    @property
    def running(self) -> bool:
        return self.thread is not None

    def hold(self, voter: str, entry: tuple) -> None:
        """Keep `voter`'s (tx hash, Opened), replacing any earlier one, and move held_sum (call under the lock)."""
        old = self.shares.get(voter)
        self.shares[voter] = entry
        for commitments, op in (
            (old[1].commitments if old else None, tally.subtract),
            (entry[1].commitments, tally.add),
        ):
            if commitments is None or self.sum_lost:
                continue
            start = self.held_sum or tally.empty_sums(len(commitments), len(commitments[0]) - 1)
            moved = op(start, commitments) if not isinstance(start, Rejected) else start
            self.sum_lost = isinstance(moved, Rejected)
            self.held_sum = None if self.sum_lost else moved

    def counted_sum(self, voters) -> tally.Sums | None:
        """Return the sum of the commitments of the held ballots of `voters` (call under the lock).

        None if nothing was summed or the sum was lost: the caller then sums afresh.
        """
        total = None if self.sum_lost else self.held_sum
        for voter, (_, opened) in self.shares.items():
            if total is None:
                return None
            if voter not in voters and opened.commitments is not None:
                total = tally.subtract(total, opened.commitments)
                total = None if isinstance(total, Rejected) else total
        return total

    def holds(self, voter: str, tx_hash: str) -> bool:
        """Whether the cached shares of `voter` were opened from the tx `tx_hash` (call under the lock)."""
        return opened_from(self.shares.get(voter), tx_hash)

    def set_state(self, state: str, now: float, **info) -> bool:
        """Record the job's state at time `now`; return whether it changed (jobs.json is then written)."""
        if self.state == state and state in QUIET_STATES and self.status.get("reason") == info.get("reason"):
            return False
        self.status = {"state": state, "updated": now, **{k: v for k, v in info.items() if v is not None}}
        return True

    def finish(self):
        """Forget the poll's record and shares: it is final or failed (call under the lock)."""
        self.done = True
        self.shares = {}
        self.held_sum, self.sum_lost = None, False
        self.record = None
        self.context = None
