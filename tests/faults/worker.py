"""Test entry point: an MPC worker with a fault switch (MPCVOTE_WORKER_FAULT). Never what a validator runs.

    python tests/faults/worker.py --home H --index I --node URL --genesis FILE

Faults:
- corrupt-shares: a validator that adds 1 to each of its shares before the MPC.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from mpc_tx.protocol import x25519_envelope as envelope  # noqa: E402
from mpc_tx.worker.follower import Worker, main  # noqa: E402


class CorruptShares(Worker):
    def sync_ballots(self, poll):
        shares = super().sync_ballots(poll)
        return [None if s is None else [(x + 1) % envelope.L for x in s] for s in shares]


FAULTS = {"corrupt-shares": CorruptShares}

if __name__ == "__main__":
    main(worker_class=FAULTS[os.environ["MPCVOTE_WORKER_FAULT"]])
