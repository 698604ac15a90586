"""Test entry point: the mpcvote ABCI app with a fault switch (MPCVOTE_FAULT). Never what a validator runs.

    python tests/faults/app.py --home H --listen unix://S     (same arguments as python -m abci_app)

Faults:
- exit-before-commit: the process exits (code 17) after FinalizeBlock, before Commit.
- junk-proposer: a Byzantine proposer; its proposals carry txs that fail the stateless
  checks (a 1-byte tx, a tx with a forged signature) after the mempool's, within the cap.
- crowded-proposer: a Byzantine proposer; its proposals repeat a mempool tx until the
  block holds more than max_block_txs txs (each one passes the stateless checks).
- ballot-proposer: a Byzantine proposer; its proposals carry, after the mempool's txs, the
  txs in the file named by MPCVOTE_BAD_TXS (one hex-encoded tx a line, read at each proposal,
  so the test decides the bytes and when), in place of the last mempool txs if the block is full.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from abci_app.__main__ import main  # noqa: E402
from abci_app.app import Application  # noqa: E402
from abci_app.abci.pb import abci  # noqa: E402

EXIT_CODE = 17


class ExitBeforeCommit(Application):
    def finalize_block(self, req):
        super().finalize_block(req)
        os._exit(EXIT_CODE)


class JunkProposer(Application):
    def prepare_proposal(self, req):
        cap = self._chain(self._block_state())[1]["max_block_txs"]
        txs = list(super().prepare_proposal(req).txs)[: max(0, cap - 2)]
        forged = bytearray(txs[0]) if txs else bytearray(b'{"body":{}}')
        forged[-10] ^= 1  # inside the signature's hex (or anywhere: junk either way)
        for junk in (b"\x00", bytes(forged)):  # within the cap and the node's bytes: only junk is wrong
            if sum(map(len, txs)) + len(junk) <= req.max_tx_bytes:
                txs.append(junk)
        return abci.ResponsePrepareProposal(txs=txs)


class CrowdedProposer(Application):
    def prepare_proposal(self, req):
        txs = list(super().prepare_proposal(req).txs)
        cap = self._chain(self._block_state())[1]["max_block_txs"]
        while txs and len(txs) <= cap and sum(map(len, txs)) + len(txs[0]) <= req.max_tx_bytes:
            txs.append(txs[0])
        return abci.ResponsePrepareProposal(txs=txs)


class BallotProposer(Application):
    def prepare_proposal(self, req):
        bad = _bad_txs()
        cap = self._chain(self._block_state())[1]["max_block_txs"]
        txs = list(super().prepare_proposal(req).txs)[: max(0, cap - len(bad))]  # room for them, even when full
        while txs and sum(map(len, txs + bad)) > req.max_tx_bytes:
            txs.pop()
        return abci.ResponsePrepareProposal(txs=txs + bad)


def _bad_txs() -> list[bytes]:
    """Return the txs of the file MPCVOTE_BAD_TXS names (none while it is absent or half-written)."""
    try:
        with open(os.environ["MPCVOTE_BAD_TXS"]) as f:
            return [bytes.fromhex(line) for line in f.read().split()]
    except (OSError, ValueError):
        return []


FAULTS = {
    "exit-before-commit": ExitBeforeCommit,
    "junk-proposer": JunkProposer,
    "crowded-proposer": CrowdedProposer,
    "ballot-proposer": BallotProposer,
}

if __name__ == "__main__":
    main(application=FAULTS[os.environ["MPCVOTE_FAULT"]])
