"""Every domain-separated hash of today's chain, in one place.

Each digest starts with its own tag ``mpcvote/<what>/v1`` and a zero byte, so no two can
collide across uses. Where the others live, and why:

- ``mpcvote/tx/v1``               tx signing bytes: mpc_tx.protocol.tx (with the codec)
- ``mpcvote/app-hash/v1``         the app hash chain: abci_app.store.apphash (state only)
- ``mpcvote/mpc-coefficients/v1`` the MPC's check coefficients: mpc_tx.mpc.programs
- ``mpcvote/v1/...``              the verifiable-ballot protocol: mpc_tx.protocol.encoding

Hex digests are lower-case.
"""

import hashlib

from . import canonical

__all__ = ["poll_seed", "ballot_digest", "counted_set_digest", "outcome_digest", "job_identity"]

_SEED = b"mpcvote/seed/v1\x00"
_BALLOTS = b"mpcvote/ballots/v1\x00"
_OUTCOME = b"mpcvote/outcome/v1\x00"
_MPC_JOB = b"mpcvote/mpc-job/v1\x00"


def poll_seed(block_hash: bytes, poll_id: int) -> str:
    """The public randomness of a poll's MPC check coefficients, fixed at its close.

    Unknown to voters, who cast their ballots before the closing block existed.
    """
    return hashlib.sha256(_SEED + block_hash + poll_id.to_bytes(8, "big")).hexdigest()


def ballot_digest(voter: str, ballot: bytes) -> str:
    """sha256(voter hex UTF-8 || ballot bytes), hex: one counted ballot's digest (``bdig/``).

    No tag: it is only ever hashed again under ``mpcvote/ballots/v1``. The ballot's length
    is fixed by its poll and the voter key is 64 hex characters, so the join is unambiguous.
    """
    return hashlib.sha256(voter.encode() + ballot).hexdigest()


def counted_set_digest(ballot_digests) -> str:
    """The digest of a poll's counted ballots: their ballot_digest values, in state (voter) order."""
    h = hashlib.sha256(_BALLOTS)
    for digest in ballot_digests:
        h.update(bytes.fromhex(digest))
    return h.hexdigest()


def outcome_digest(result: dict) -> str:
    """The digest that identifies an attested outcome payload (mpc_tx.protocol.outcome)."""
    return hashlib.sha256(_OUTCOME + canonical.encode(result)).hexdigest()


def job_identity(chain_id: str, poll_id: int, attempt: int, counted_digest: str) -> str:
    """The identity every MPC link of one attempt greets with: chain, poll, attempt, counted set."""
    h = hashlib.sha256(_MPC_JOB)
    for part in (
        chain_id.encode(),
        poll_id.to_bytes(8, "big"),
        attempt.to_bytes(8, "big"),
        bytes.fromhex(counted_digest),
    ):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.hexdigest()
