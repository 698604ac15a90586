"""Shared set-up for the protocol tests, taken from the vectors script so both build alike."""
import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                     "protocol_vectors.py")
_spec = importlib.util.spec_from_file_location("protocol_vectors", _PATH)
vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vectors)

__all__ = ["vectors", "VOTER", "TX_HASH", "test_poll", "build_known", "reseal", "resign",
           "craft_ballot", "field_offsets"]

VOTER = vectors.VOTER
TX_HASH = vectors.TX_HASH
build_known = vectors.build_known
reseal = vectors.reseal
resign = vectors.resign
craft_ballot = vectors.craft_ballot
field_offsets = vectors.field_offsets


def test_poll(m: int, t: int, k: int, one_hot: bool, seed: bytes = b"poll"):
    """Return a PollContext with m seeded validator keys, and their secret keys."""
    return vectors.seeded_poll(m, t, k, one_hot, seed)


test_poll.__test__ = False  # a helper, not a test
