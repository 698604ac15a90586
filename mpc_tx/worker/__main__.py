"""python -m mpc_tx.worker: one validator's worker (see mpc_tx.worker.follower)."""

from mpc_tx.worker.follower import main

main()
