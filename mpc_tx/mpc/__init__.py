"""The MPC layer: the job a worker starts, the MPyC runtime and its hardening, the programs.

Rule: imports mpc_tx.protocol and MPyC (and, in `local` only, node_config.ports for free
loopback ports); never the chain's client or the worker.
"""
