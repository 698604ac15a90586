"""Chain parameters: bounds on polls and transactions, and the MPC schedule.

They come from genesis `app_state.params` (missing ones take these defaults) and
are fixed for the life of the chain.
"""

__all__ = ["DEFAULTS", "LIMITS", "resolve"]

DEFAULTS = {
    # The node refuses txs over 1 MB itself; ours is far smaller so that one
    # voter cannot fill a block.
    "max_tx_bytes": 65536,
    "max_question_bytes": 1000,
    "max_option_bytes": 64,
    "max_poll_blocks": 100000,  # close height at most this far ahead
    "max_ballots_limit": 1000000,  # bound on a poll's max_ballots
    "max_revotes_limit": 16,  # bound on a poll's revote cap
    "max_voters": 1000,  # eligible voters listed in one CreatePoll
    # A close height must be at least this many blocks above the height the
    # create_poll runs at: a nearer one passes CheckTx, then the recheck after
    # the next commit (or two) drops it and its sender waits for nothing.
    "min_close_blocks": 5,
    # Every poll's min_ballots is at least this: with fewer ballots an outcome
    # tells each voter the others' votes (one "yes" in a unanimous poll of two).
    "min_ballots_floor": 3,
    # A proposal with more txs is rejected (ProcessProposal), and PrepareProposal
    # takes no more: a Byzantine proposer cannot make every node execute and store
    # a million 1-byte txs (the node's own bound is only the block's bytes).
    "max_block_txs": 5000,
    # MPC schedule, in blocks after the close (A, K, D in the design):
    "mpc_attempt_blocks": 30,  # attempt k starts at MPC start + k*A (mpcslots)
    "mpc_deadline_blocks": 300,  # no final outcome by MPC start + D: the poll fails
    # Polls closing at one height (scheduled or early): each closing starts MPC jobs
    # (a ~50 MB child per validator), so an outsider's free polls cannot pile them up.
    "max_closings_per_height": 4,
    # Blocks added to the complaint window (registry.complaint_window): a worker needs a
    # moment to open the last block's ballots before the window ends.
    "complaint_slack_blocks": 2,
}


# Upper bounds: a tx over the node's own 1 MB never reaches the app; heights plus
# these windows must stay far below 2^63 and within the 16 digits of a state key.
LIMITS = {
    "max_tx_bytes": 1 << 20,
    "max_poll_blocks": 10**9,
    "mpc_attempt_blocks": 10**6,
    "mpc_deadline_blocks": 10**9,
    "max_block_txs": 1 << 20,
    "min_close_blocks": 10**6,
    "min_ballots_floor": 10**6,
    "max_closings_per_height": 10**4,
    "complaint_slack_blocks": 10**6,
}


def resolve(given: dict | None) -> dict:
    """Merge genesis parameters over the defaults, rejecting unknown or bad ones."""
    params = dict(DEFAULTS)
    for key, value in (given or {}).items():
        if key not in DEFAULTS:
            raise ValueError(f"unknown chain parameter {key!r}")
        if type(value) is not int or not 0 < value < (1 << 63):
            raise ValueError(f"chain parameter {key!r} must be a positive integer below 2^63")
        if value > LIMITS.get(key, (1 << 63) - 1):
            raise ValueError(f"chain parameter {key!r} must be at most {LIMITS[key]}")
        params[key] = value
    if params["mpc_deadline_blocks"] <= params["mpc_attempt_blocks"]:
        raise ValueError("mpc_deadline_blocks must exceed mpc_attempt_blocks")
    if params["min_close_blocks"] >= params["max_poll_blocks"]:
        raise ValueError("min_close_blocks must be below max_poll_blocks")
    if params["min_ballots_floor"] > params["max_ballots_limit"]:
        raise ValueError("min_ballots_floor must be at most max_ballots_limit")
    return params
