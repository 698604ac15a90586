"""Load the ABCI protobuf classes generated from CometBFT's own .proto files.

They are generated at set-up time (scripts/setup) into the ignored folder .gen/,
never copied into this repository.
"""

import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".gen")
if not os.path.isdir(os.path.join(_GEN, "tendermint")):
    raise ImportError(f"ABCI classes not generated in {_GEN}: run `make setup`")
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

from tendermint.abci import types_pb2 as abci  # noqa: E402
from tendermint.crypto import keys_pb2 as keys  # noqa: E402
from tendermint.types import canonical_pb2 as canonical, types_pb2 as types, validator_pb2 as validator  # noqa: E402
from tendermint.version import types_pb2 as version  # noqa: E402

__all__ = ["abci", "canonical", "keys", "types", "validator", "version"]
