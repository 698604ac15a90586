"""Event types the chain emits, one name each (README, Events); attributes stay with their emitters.

Indexed attributes are searchable through a node's RPC (tx_search, block_search), so these
strings are part of the chain's interface: clients, the worker and the explorer match on them.
"""

__all__ = [
    "POLL_CREATED",
    "BALLOT",
    "POLL_CLOSED",
    "OUTCOME_ATTESTED",
    "ATTEMPT_FAILED",
    "MPC_STARTED",
    "OUTCOME_FINAL",
    "COMPLAINT",
    "AGGREGATE",
    "EVENT_TYPES",
]

POLL_CREATED = "poll_created"  # tx: create_poll
BALLOT = "ballot"  # tx: cast_ballot
POLL_CLOSED = "poll_closed"  # block at the close height, or tx: close_poll
OUTCOME_ATTESTED = "outcome_attested"  # tx: submit_outcome carrying an outcome or a failure
ATTEMPT_FAILED = "attempt_failed"  # tx: submit_outcome carrying a report of a failed attempt
MPC_STARTED = "mpc_started"  # block or tx: a closed poll gets an MPC slot
OUTCOME_FINAL = "outcome_final"  # block: more than 2/3 of the power attested one payload (unanimity), a tally
# below min_ballots withheld at its fix, or a poll failed at its deadline; tx: aggregate (the t+1-th valid post)
COMPLAINT = "complaint"  # tx: complain, judged (verdict ballot_bad, complaint_false or moot)
AGGREGATE = "aggregate"  # tx: aggregate, judged (verdict valid or named)

EVENT_TYPES = (
    POLL_CREATED,
    BALLOT,
    POLL_CLOSED,
    OUTCOME_ATTESTED,
    ATTEMPT_FAILED,
    MPC_STARTED,
    OUTCOME_FINAL,
    COMPLAINT,
    AGGREGATE,
)
