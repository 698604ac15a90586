"""The voter's and operator's side: one RPC client, ballots, light client, verified reads, the CLI.

Rule: imports mpc_tx.protocol, mpc_tx.keyfile, the generated ABCI classes (for the light
client) and, for the local-testnet commands only, node_config.lifecycle; never the worker
or the MPC layer.
"""
