"""Chain parameters: bounds on polls and transactions, and the MPC schedule.

They come from genesis `app_state.params` (missing ones take these defaults) and
are fixed for the life of the chain.
"""

__all__ = ["DEFAULTS", "resolve"]

DEFAULTS = {
    # The node refuses txs over 1 MB itself; ours is far smaller so that one
    # voter cannot fill a block.
    "max_tx_bytes": 65536,
    "max_question_bytes": 1000,
    "max_option_bytes": 64,
    "max_poll_blocks": 100000,      # close height at most this far ahead
    "max_ballots_limit": 1000000,   # bound on a poll's max_ballots
    "max_revotes_limit": 16,        # bound on a poll's revote cap
    "max_voters": 1000,             # eligible voters listed in one CreatePoll
    # MPC schedule, in blocks after the close (A, K, D in the design):
    "mpc_attempt_blocks": 30,       # attempt k starts at MPC start + k*A (mpcslots)
    "mpc_deadline_blocks": 300,     # no final outcome by MPC start + D: the poll fails
    # Polls closing at one height (scheduled or early): each closing starts MPC jobs
    # (a ~50 MB child per validator), so an outsider's free polls cannot pile them up.
    "max_closings_per_height": 4,
}


def resolve(given: dict | None) -> dict:
    """Merge genesis parameters over the defaults, rejecting unknown or bad ones."""
    params = dict(DEFAULTS)
    for key, value in (given or {}).items():
        if key not in DEFAULTS:
            raise ValueError(f"unknown chain parameter {key!r}")
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"chain parameter {key!r} must be a positive integer")
        params[key] = value
    if params["mpc_deadline_blocks"] <= params["mpc_attempt_blocks"]:
        raise ValueError("mpc_deadline_blocks must exceed mpc_attempt_blocks")
    return params
