"""This validator's share of each ballot: open it, check it, and the counted set it belongs to.

docs/PROTOCOL.md §§10 and 17: validator i computes K = x_i·E, opens envelope[i], decodes
it with the shared decoder and checks each pair against the ballot's commitments. What
comes out is either both halves of each checked pair (f_e(i+1), g_e(i+1)) with the ballot's
commitments (a unanimity poll's MPC takes the values; a tally poll's aggregate post, §18.3,
sums both halves, and the commitments recompute the chain's aggregate), or the parsed
ballot to complain about. Nothing here logs, and no repr shows a share, a K point or the
secret scalar.
"""

import hashlib
from dataclasses import dataclass

from mpc_tx.keyfile import ENC_KEY_TYPE, load_encryption_key
from mpc_tx.protocol import digests
from mpc_tx.protocol.ballot import Ballot, open_ballot, parse_ballot
from mpc_tx.protocol.context import PollContext, make_poll
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import Invalid, base

__all__ = [
    "ENC_KEY_TYPE",
    "Opened",
    "load_enc_scalar",
    "enc_public_hex",
    "poll_context",
    "open_share",
    "ballot_digest",
    "counted_digest",
]


@dataclass(frozen=True, repr=False)
class Opened:
    """One ballot as this validator opened it: its checked pairs and commitments, or why they are bad."""

    pairs: tuple | None  # (f_e(i+1), g_e(i+1)) for e < k, checked; None if the share is bad
    ballot: Ballot | None  # None if the bytes are not a ballot of the poll at all
    reason: str  # why the share is bad ("" if good); names a field, never a secret
    digest: str  # the ballot's bdig (sha256 of voter hex and ballot bytes)
    commitments: tuple | None = None  # C[e][j], public; None if the bytes are not a ballot of the poll

    @property
    def good(self) -> bool:
        return self.pairs is not None

    @property
    def values(self) -> tuple | None:
        """Return the value shares f_e(i+1) (what the MPC takes), or None if the share is bad."""
        return None if self.pairs is None else tuple(f for f, _ in self.pairs)

    def held(self) -> "Opened":
        """Return what a worker keeps until the fix: this without the parsed ballot (its envelopes and proofs)."""
        return Opened(self.pairs, None, self.reason, self.digest, self.commitments)

    def __repr__(self) -> str:  # never the shares
        return f"Opened({'good' if self.good else 'bad: ' + self.reason})"


def load_enc_scalar(path) -> int:
    """Return the secret scalar x of an encryption key file (§17); KeyFileError (a ValueError) if not one.

    The one place the worker reads its key, through mpc_tx.keyfile: errors name the file and
    the problem (wrong type, bad scalar, mode open to others), never its content.
    """
    return load_encryption_key(path).scalar


def enc_public_hex(x: int) -> str:
    """Return the registry's enc_key for the secret scalar x (hex of X = x·G)."""
    return base(x).encode().hex()


def poll_context(chain_id: str, poll: dict) -> PollContext:
    """Return poll N's protocol context (§17) from its record; Invalid if its keys are not valid."""
    k = max(1, len(poll["options"]))
    keys = [bytes.fromhex(v["enc_key"]) for v in poll["validators"]]
    return make_poll(chain_id.encode(), str(poll["id"]).encode(), poll["threshold"], k, k > 1, keys)


def ballot_digest(voter_hex: str, raw: bytes) -> str:
    """Return the ballot's bdig: sha256(voter hex UTF-8 || ballot bytes), hex (§17)."""
    return hashlib.sha256(voter_hex.encode() + raw).hexdigest()


def counted_digest(ballot_digests) -> str:
    """Return the poll's ballots_digest over the counted ballots' bdig values, in voter order."""
    return digests.counted_set_digest(ballot_digests)


def open_share(ctx: PollContext, voter_hex: str, raw: bytes, i: int, x: int) -> Opened:
    """Open and check validator i's share of a committed ballot with its secret scalar x.

    The chain verified the ballot's proofs before it committed it, so it is only parsed
    here. A share that does not open, decode or match the commitments is bad.
    """
    bdig = ballot_digest(voter_hex, raw)
    try:
        ballot = parse_ballot(ctx, raw)
        voter = bytes.fromhex(voter_hex)
    except (Invalid, ValueError) as exc:
        return Opened(None, None, getattr(exc, "reason", "voter: not hex"), bdig)
    pairs = open_ballot(ctx, voter, ballot, i, x)
    if isinstance(pairs, Rejected):
        return Opened(None, ballot, pairs.reason, bdig, ballot.commitments)
    return Opened(tuple((f, g) for f, g in pairs), ballot, "", bdig, ballot.commitments)
