"""Test entry point: an MPC worker with a fault switch (MPCVOTE_WORKER_FAULT). Never what a validator runs.

    python tests/faults/worker.py --home H --index I --node URL --genesis FILE

Faults:
- corrupt-shares: a validator that adds 1 to each of its value shares before the MPC (the
  MPC's input check fails the attempt as inconsistent_shares).
- false-complaint: a validator that complains, with a valid proof, about every good ballot
  it sees (the chain judges each complaint false and names it); it still computes.
- cannot-decrypt: a validator that claims it cannot open any ballot. There are no
  "unusable" lists any more: all it can do is complain (falsely: it is named) and refuse
  to take part in the MPC, or abstain from a tally's aggregate post; it excludes nothing.
- wrong-aggregate: a validator that posts, for a tally poll, aggregate pairs off its checked
  ones (F_0 + 1), skipping its own check: the chain judges the post, names it, and opens the
  tally from the honest posts.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from mpc_tx.protocol import tally  # noqa: E402
from mpc_tx.protocol.ballot import parse_ballot  # noqa: E402
from mpc_tx.protocol.encoding import Rejected  # noqa: E402
from mpc_tx.protocol.group import L, Invalid  # noqa: E402
from mpc_tx.worker import shares  # noqa: E402
from mpc_tx.worker.follower import Worker, main  # noqa: E402


class CorruptShares(Worker):
    def sync_ballots(self, poll):
        return [[(x + 1) % L for x in values] for values in super().sync_ballots(poll)]


class FalseComplaint(Worker):
    def complains_about(self, opened):
        return True


class CannotDecrypt(Worker):
    def check_ballot(self, poll, voter, tx_hash, ballot_hex):
        raw = bytes.fromhex(ballot_hex)
        try:
            ballot = parse_ballot(self._context(poll), raw)
        except Invalid:
            ballot = None
        if ballot is not None:
            self.complain(poll, voter, tx_hash, ballot)
        return shares.Opened(None, ballot, "claims it cannot decrypt", shares.ballot_digest(voter, raw))


class WrongAggregate(Worker):
    def aggregate_pairs(self, poll):
        honest = super().aggregate_pairs(poll)
        if isinstance(honest, Rejected):
            return honest
        pairs = tally.parse_pairs(len(honest) // 64, honest)
        (f, s), rest = pairs[0], pairs[1:]
        return tally.encode_pairs((((f + 1) % L, s), *rest))


FAULTS = {
    "corrupt-shares": CorruptShares,
    "false-complaint": FalseComplaint,
    "cannot-decrypt": CannotDecrypt,
    "wrong-aggregate": WrongAggregate,
}

if __name__ == "__main__":
    main(worker_class=FAULTS[os.environ["MPCVOTE_WORKER_FAULT"]])
