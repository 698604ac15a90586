"""A tally poll's aggregate post (docs/PROTOCOL.md §18.3): the pairs to post, checked first, stored before sent.

After the counted set is fixed, validator i posts (F_e, S_e), the sums mod l of the pairs
it opened over exactly that set. ``own_post`` recomputes the aggregate A from the counted
ballots' commitments, refuses when it differs from the chain's ``agg/<poll>`` (another
counted set than the one read), and checks its own pairs against A (``tally.own_pairs``):
a worker whose pairs fail abstains (counted absent, never named), so a named validator is
one that signed pairs its own check refuses.

The post goes to ``mpc/aggregates/<chain>/<poll>`` (0600, fsync'd) before its tx is sent;
after a restart exactly those bytes are sent again and no other pairs are ever computed:
one validator, one post per poll. The pairs reveal only what all posts together reveal
(the tally and the summed blinding), yet the file stays private like the complaints.
"""

from pathlib import Path

from mpc_tx.protocol import canonical, codes, tally
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.worker.durable import write_private

__all__ = ["AggregateStore", "aggregate_body", "entries", "own_post", "SETTLED"]

# Refusals no retry changes (§18.3 codes 27-31): not a tally, outside the window (not fixed
# yet, or final), below min_ballots, posted already, malformed.
SETTLED = tuple(
    getattr(codes, name, value)  # the codes.py constants once the chain layer defines them
    for name, value in (
        ("NOT_TALLY", 27),
        ("AGGREGATE_WINDOW", 28),
        ("TOO_FEW_BALLOTS", 29),
        ("ALREADY_AGGREGATED", 30),
        ("BAD_AGGREGATE", 31),
    )
)


def entries(poll: dict) -> int:
    """Return the poll's k: one entry per option (a unanimity poll has one)."""
    return max(1, len(poll["options"]))


def aggregate_body(poll_id: int, validator: int, pairs: bytes) -> dict:
    """Return the body of an aggregate tx (§18.3)."""
    return {"poll": poll_id, "validator": validator, "pairs": pairs.hex()}


def own_post(poll: dict, stored: dict, counted: list, i: int, mine=None) -> bytes | Rejected:
    """Return validator i's pairs to post over the counted set, or Rejected: it abstains.

    `stored` is the chain's ``/poll/<id>/aggregate`` answer ({"aggregate": hex, "ballots": n});
    `counted` this validator's shares.Opened of each counted ballot, in voter order; `mine`
    the sum of their commitments as the worker kept it while opening them (PollJob.hold),
    or None to sum them here (tally.fresh_sums).
    """
    k, t, m = entries(poll), poll["threshold"], len(poll["validators"])
    try:
        chain = tally.decode_sums(k, t, bytes.fromhex(stored["aggregate"]))
        n = stored["ballots"]
    except (KeyError, TypeError, ValueError):
        return Rejected("the chain's aggregate: not an {aggregate, ballots} answer")
    if isinstance(chain, Rejected):
        return Rejected(f"the chain's aggregate: {chain.reason}")
    if n != len(counted) or n != poll.get("ballots"):
        return Rejected(f"the chain counts {n} ballots, this worker read {len(counted)}")
    bad = [j for j, o in enumerate(counted) if not o.good or o.commitments is None]
    if bad:
        return Rejected(f"abstain: {len(bad)} counted ballots whose share does not check for this validator")
    if mine is None:
        mine = tally.fresh_sums(k, t, [o.commitments for o in counted])
    if not isinstance(mine, tally.Sums) or mine.encode() != chain.encode():
        return Rejected("abstain: the aggregate of the counted ballots read is not the chain's")
    return tally.own_pairs(chain, m, i, [o.pairs for o in counted])


class AggregateStore:
    """One validator's aggregate posts on one chain, one file per poll."""

    def __init__(self, home, chain_id: str):
        if not chain_id or "/" in chain_id or "\x00" in chain_id or chain_id in (".", ".."):
            raise ValueError("the chain id cannot name a folder")
        self.root = Path(home) / "mpc" / "aggregates" / chain_id

    def __repr__(self):
        return f"AggregateStore({self.root})"

    def path(self, poll_id: int) -> Path:
        """Return the file of poll `poll_id`'s post."""
        if type(poll_id) is not int or poll_id < 0:
            raise ValueError("a post is named by its poll id")
        return self.root / str(poll_id)

    def load(self, poll_id: int) -> dict | None:
        """Return the stored aggregate body of this poll, or None."""
        try:
            return canonical.decode(self.path(poll_id).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, body: dict) -> dict:
        """Write `body` durably unless a post of its poll is stored; return the stored one (the first wins)."""
        stored = self.load(body["poll"])
        if stored is not None:
            return stored
        write_private(
            self.path(body["poll"]), canonical.encode(body), (self.root.parent.parent, self.root.parent, self.root)
        )
        return body
