"""Which attempt of a poll's MPC job a worker runs when: pure functions of heights and poll fields.

The chain fixes the schedule. A closed unanimity poll waits for an MPC slot; from the
height it gets one (``mpc_start``), attempt k runs from mpc_start + k*A (A = mpc_attempt_blocks).
A tally poll runs no MPC (docs/PROTOCOL.md §18): once its counted set is fixed, each
worker posts its aggregate pairs.
Every party starts an attempt within ``LATE_BLOCKS`` of its first height; one that sees
it later waits for the next, rather than hold the others up. An attempt ends
``END_BLOCKS`` before the next one starts, so that every party can join that one.

No I/O and no clock here: heights, poll records and the measured block interval come in
as arguments, so each rule is a unit test.
"""

from dataclasses import dataclass

__all__ = [
    "LATE_BLOCKS",
    "END_BLOCKS",
    "MIN_DEADLINE_S",
    "WAITING",
    "QUEUED",
    "COMPUTING",
    "AGGREGATING",
    "FINISHED",
    "Attempt",
    "attempt_at",
    "next_attempt",
    "phase",
    "needs_refresh",
]

LATE_BLOCKS = 2  # a party joins an attempt at most this many blocks after its first height
END_BLOCKS = 2  # an attempt's job ends this many blocks before the next attempt starts
MIN_DEADLINE_S = 3.0  # however fast the blocks, a job gets at least this long

# What a poll's status asks of its worker (phase).
WAITING, QUEUED, COMPUTING, AGGREGATING, FINISHED = "waiting", "queued", "computing", "aggregating", "finished"


@dataclass(frozen=True)
class Attempt:
    """An attempt to start now: its number, and how long its MPC job may run."""

    number: int
    deadline_s: float


def attempt_at(height: int, mpc_start: int, attempt_blocks: int) -> int:
    """Return the number of the attempt whose blocks `height` falls in (0 before the first)."""
    return max(0, (height - mpc_start) // attempt_blocks)


def next_attempt(height: int, mpc_start: int, attempt_blocks: int, block_interval: float) -> Attempt | None:
    """Return the attempt to start at `height`, or None if it began too long ago to join.

    Its job's deadline is the time left until END_BLOCKS before the next attempt, at
    `block_interval` seconds a block, and never below MIN_DEADLINE_S.
    """
    since = height - mpc_start
    number = attempt_at(height, mpc_start, attempt_blocks)
    late = since - number * attempt_blocks
    if late > LATE_BLOCKS:
        return None
    left = attempt_blocks - late
    return Attempt(number, max(MIN_DEADLINE_S, (left - END_BLOCKS) * block_interval))


def phase(poll: dict) -> str:
    """Return what the poll's record asks of a worker that is one of its parties.

    WAITING while it is open (and a tally poll until its counted set is fixed), QUEUED
    while a unanimity poll is closed without an MPC slot, COMPUTING once it has one,
    AGGREGATING once a tally poll's counted set is fixed, FINISHED when final or failed.
    """
    status = poll["status"]
    if status == "open":
        return WAITING
    if status == "closed" and poll.get("kind") == "tally":
        return WAITING if poll.get("counted_fixed_height") is None else AGGREGATING
    if status == "closed":
        return QUEUED if poll.get("mpc_slot") is None else COMPUTING
    return FINISHED


def needs_refresh(cached: dict | None, summary: dict) -> bool:
    """Whether the poll's full record must be read again, given its summary in the poll list.

    When its status moved, and while it is closed without a slot (a unanimity poll gets its
    MPC slot later without a change of status) or, for a tally poll, not yet fixed.
    """
    cached = cached or {}
    if cached.get("status") != summary["status"]:
        return True
    if summary["status"] != "closed":
        return False
    if cached.get("kind") == "tally":
        return cached.get("counted_fixed_height") is None
    return cached.get("mpc_slot") is None
