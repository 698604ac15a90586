"""Validator homes and their keys, the genesis assembled from public entries, and a local testnet.

Each validator's home is made on its own host (validator.init_validator) and exports
only its public registry entry (entries); assemble makes genesis.json from the entries;
generate builds a one-machine testnet from the same steps; lifecycle runs it.

Rule: imports mpc_tx.protocol and mpc_tx.keyfile (and mpc_tx.mpc.tls for certificates);
never the client, the worker or the state machine.
"""

from node_config.generate import MANIFEST, generate_testnet

__all__ = ["MANIFEST", "generate_testnet"]
