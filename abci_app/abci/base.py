"""BaseApplication: every ABCI 2.0 method with a safe default, as CometBFT's abci/types has it.

An application subclasses it and overrides only the methods it means; the server
(abci_app.abci.server) dispatches each request to the method of the same name, so
the dispatcher stays a table. Flush is the server's own (it writes the buffered
answers) and never reaches the application.

The defaults are CometBFT's, with one deliberate difference: an app that offers no
snapshots refuses an offered one (REJECT) and aborts a chunk (ABORT), where Go's zero
value (UNKNOWN) would make the node's state sync fail with an error.
"""

from abci_app.abci.pb import abci

__all__ = ["BaseApplication", "CODE_TYPE_OK"]

# CometBFT's CodeTypeOK: the one code every app shares (the others are the app's own).
CODE_TYPE_OK = 0


class BaseApplication:
    """The ABCI 2.0 methods, each answering what a stateless app that accepts everything would."""

    # --- info connection ---------------------------------------------------------
    def echo(self, req):
        """Echo: return the message, for a client to test the connection."""
        return abci.ResponseEcho(message=req.message)

    def info(self, req):
        """Info: the handshake; height 0 and no app hash make the node replay from genesis."""
        return abci.ResponseInfo()

    def query(self, req):
        """Query: answer a read of the application state; by default, OK and nothing."""
        return abci.ResponseQuery(code=CODE_TYPE_OK)

    # --- mempool connection --------------------------------------------------------
    def check_tx(self, req):
        """CheckTx: admit a tx to the mempool; keep it stateless and quick. By default, OK."""
        return abci.ResponseCheckTx(code=CODE_TYPE_OK)

    # --- consensus connection --------------------------------------------------------
    def init_chain(self, req):
        """InitChain: take the genesis; by default keep the node's validators and no app hash."""
        return abci.ResponseInitChain()

    def prepare_proposal(self, req):
        """PrepareProposal: the mempool's txs in order, as many as fit in max_tx_bytes."""
        txs, total = [], 0
        for tx in req.txs:
            total += len(tx)
            if total > req.max_tx_bytes:
                break
            txs.append(tx)
        return abci.ResponsePrepareProposal(txs=txs)

    def process_proposal(self, req):
        """ProcessProposal: accept the proposed block (a reject must be the same on every honest node)."""
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)

    def extend_vote(self, req):
        """ExtendVote: no vote extension."""
        return abci.ResponseExtendVote()

    def verify_vote_extension(self, req):
        """VerifyVoteExtension: accept another validator's (empty) extension."""
        return abci.ResponseVerifyVoteExtension(status=abci.ResponseVerifyVoteExtension.ACCEPT)

    def finalize_block(self, req):
        """FinalizeBlock: execute the decided block; by default each tx succeeds and nothing changes."""
        return abci.ResponseFinalizeBlock(tx_results=[abci.ExecTxResult(code=CODE_TYPE_OK) for _ in req.txs])

    def commit(self, req):
        """Commit: persist what FinalizeBlock staged; by default nothing, and keep every block."""
        return abci.ResponseCommit()

    # --- snapshot connection: state sync not offered ----------------------------------
    def list_snapshots(self, req):
        """ListSnapshots: none."""
        return abci.ResponseListSnapshots()

    def offer_snapshot(self, req):
        """OfferSnapshot: refuse it (the node then tries another snapshot, or a block sync)."""
        return abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.REJECT)

    def load_snapshot_chunk(self, req):
        """LoadSnapshotChunk: no chunk."""
        return abci.ResponseLoadSnapshotChunk()

    def apply_snapshot_chunk(self, req):
        """ApplySnapshotChunk: abort the state sync."""
        return abci.ResponseApplySnapshotChunk(result=abci.ResponseApplySnapshotChunk.ABORT)
