"""CometBFT homes, genesis and MPC keys for an N-validator mpcvote testnet, and its lifecycle.

Rule: imports mpc_tx.protocol and mpc_tx.keyfile (and mpc_tx.mpc.tls for certificates);
never the client, the worker or the state machine.
"""

from node_config.generate import MANIFEST, generate_testnet

__all__ = ["MANIFEST", "generate_testnet"]
