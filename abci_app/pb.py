"""Load the ABCI protobuf classes generated from CometBFT's own .proto files.

They are generated at set-up time (scripts/setup) into the ignored folder .gen/,
never copied into this repository.
"""
import os
import sys

_GEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".gen")
if not os.path.isdir(os.path.join(_GEN, "tendermint")):
    raise ImportError(f"ABCI classes not generated in {_GEN}: run `make setup`")
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

from tendermint.abci import types_pb2 as abci  # noqa: E402

__all__ = ["abci"]
