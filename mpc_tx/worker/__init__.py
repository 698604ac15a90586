"""A validator's worker: follows its node, runs one MPC job per closed poll, attests the outcome.

Rule: imports mpc_tx.protocol, mpc_tx.keyfile, mpc_tx.client.rpc and mpc_tx.mpc; never the CLI.
"""
