"""The complaints a validator's worker posted: written to disk before they are sent, never made twice.

docs/PROTOCOL.md §17: a complaint goes to ``mpc/complaints/<chain>/<poll>/<ballot_tx>``
(under the validator's home; the folders 0700, the files 0600, fsync'd) before its tx is
sent, and after a restart exactly those bytes are sent again: for a ballot it complained
about, a worker never makes a second complaint, whose K and proof would differ. A file
holds the complain tx's body (canonical JSON): the complaint bytes with what names them.
A complaint reveals K = x_i·E, this validator's key to one envelope: the files are private.
"""

import re
from pathlib import Path

from mpc_tx.protocol import canonical, codes
from mpc_tx.worker.durable import write_private

__all__ = ["ComplaintStore", "complain_body", "SETTLED"]

_TX_HASH = re.compile(r"^[0-9A-F]{64}$")
# Refusals no retry changes: complained already, the window has passed, the ballot is not
# (or no longer) on chain, the judge refused the complaint (§17 codes 23-26).
SETTLED = tuple(
    getattr(codes, name, value)  # the codes.py constants once the chain layer defines them
    for name, value in (
        ("UNKNOWN_BALLOT", 23),
        ("ALREADY_COMPLAINED", 24),
        ("COMPLAINT_WINDOW", 25),
        ("BAD_COMPLAINT", 26),
    )
)


def complain_body(poll_id: int, validator: int, voter: str, ballot_tx: str, complaint: bytes) -> dict:
    """Return the body of a complain tx (§17)."""
    return {
        "poll": poll_id,
        "validator": validator,
        "voter": voter,
        "ballot_tx": ballot_tx,
        "complaint": complaint.hex(),
    }


class ComplaintStore:
    """One validator's posted complaints on one chain, one file per (poll, ballot tx)."""

    def __init__(self, home, chain_id: str):
        if not chain_id or "/" in chain_id or "\x00" in chain_id or chain_id in (".", ".."):
            raise ValueError("the chain id cannot name a folder")
        self.root = Path(home) / "mpc" / "complaints" / chain_id

    def __repr__(self):
        return f"ComplaintStore({self.root})"

    def path(self, poll_id: int, ballot_tx: str) -> Path:
        """Return the file of the complaint about ballot tx `ballot_tx` of poll `poll_id`."""
        if type(poll_id) is not int or poll_id < 0 or not _TX_HASH.match(ballot_tx or ""):
            raise ValueError("a complaint is named by a poll id and an upper-case tx hash")
        return self.root / str(poll_id) / ballot_tx

    def load(self, poll_id: int, ballot_tx: str) -> dict | None:
        """Return the stored complain body about this ballot tx, or None."""
        try:
            return canonical.decode(self.path(poll_id, ballot_tx).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, body: dict) -> dict:
        """Write `body` durably unless a complaint about its ballot tx is stored; return the stored one.

        The first stored complaint wins: a second, different one is never written, so it is
        never sent.
        """
        path = self.path(body["poll"], body["ballot_tx"])
        stored = self.load(body["poll"], body["ballot_tx"])
        if stored is not None:
            return stored
        write_private(path, canonical.encode(body), (self.root.parent.parent, self.root.parent, self.root, path.parent))
        return body

    def stored(self):
        """Yield every stored complain body, poll by poll."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir(), key=lambda p: p.name):
            if not folder.name.isdigit():
                continue
            for file in sorted(folder.iterdir()):
                if _TX_HASH.match(file.name):
                    yield canonical.decode(file.read_bytes())
