"""CometBFT homes, genesis and MPC keys for an N-validator mpcvote testnet."""
from node_config.generate import MANIFEST, generate_testnet

__all__ = ["MANIFEST", "generate_testnet"]
