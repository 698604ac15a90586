"""Transaction handlers, one module per family: polls, ballots, complaints, outcomes (and the MPC slots).

Rule: a handler reads and writes state only through abci_app.store and imports only
abci_app and mpc_tx.protocol.
"""
