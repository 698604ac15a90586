"""The mpcvote ABCI application: a thin dispatcher from ABCI methods to domain functions.

Consensus methods never wait on MPC, the network, the clock or randomness: block
time and hash come from the request, and everything hashed is canonical.
"""

import hashlib
import json
import logging
import os
from collections import OrderedDict

from mpc_tx.protocol import canonical

from mpc_tx.protocol import codes
from abci_app.store.apphash import GENESIS, next_app_hash
from mpc_tx.protocol.codes import TxError
from abci_app.context import BlockContext
from abci_app.checks import stateless
from abci_app.execution import apply_tx, begin_block, end_block
from abci_app.genesis import GenesisError, parse_app_state
from abci_app.abci.base import BaseApplication
from abci_app.abci.pb import abci
from abci_app.queries import answer
from abci_app.store.keys import PARAMS, VALIDATORS, CHAIN_ID
from abci_app.store.overlay import Store, Overlay

__all__ = ["Application", "VERSION", "result_data"]

log = logging.getLogger("abci_app")
VERSION = "0.1.0"
APP_VERSION = 1


class _TxCache:
    """Txs CheckTx accepted (or a proposal carried and the stateless checks passed), decoded,
    signature-checked and, for a ballot, verified, by their SHA-256, until their block.

    Only accepted txs enter (a rejected tx must cost its sender a rejection, not
    our memory), a tx leaves when a block holds it or a recheck rejects it, and
    the raw bytes held are bounded (`max_bytes`), oldest out first, so memory
    stays flat under any load. A cache only ever skips work: every answer is
    the same without it.
    """

    def __init__(self, max_bytes=32 << 20, max_items=20_000):
        self.max_bytes, self.max_items = max_bytes, max_items
        self.items, self.bytes = OrderedDict(), 0

    def get(self, raw):
        return self.items.get(hashlib.sha256(raw).digest())

    def take(self, raw):
        """get(raw), and forget it: for FinalizeBlock, the last time a tx is looked up."""
        tx = self.items.pop(hashlib.sha256(raw).digest(), None)
        if tx is not None:
            self.bytes -= len(tx.raw)
        return tx

    def put(self, raw, tx):
        key = hashlib.sha256(raw).digest()
        if key in self.items:
            return
        self.items[key] = tx
        self.bytes += len(raw)
        while self.bytes > self.max_bytes or len(self.items) > self.max_items:
            _key, old = self.items.popitem(last=False)
            self.bytes -= len(old.raw)


class Application(BaseApplication):
    """ABCI 2.0 handlers over a LevelDB store in `home`.

    Echo, vote extensions (none) and state sync (not offered) keep BaseApplication's defaults.
    """

    def __init__(self, home: str):
        os.makedirs(home, mode=0o700, exist_ok=True)
        self.store = Store(os.path.join(home, "state.db"))
        self.txs = _TxCache()
        self.block = None  # (Overlay, BlockContext, app hash) staged since FinalizeBlock
        self.check = Overlay(self.store)
        self.genesis = None  # (writes, app hash) staged by InitChain, committed with the first block

    # --- chain facts from state -------------------------------------------------
    def _chain(self, state):
        return state.get(CHAIN_ID), state.get(PARAMS), state.get(VALIDATORS)

    # --- info / handshake -------------------------------------------------------
    def info(self, req):
        """Info: report the last committed height and app hash so the node replays exactly what is missing."""
        return abci.ResponseInfo(
            data="mpcvote",
            version=VERSION,
            app_version=APP_VERSION,
            last_block_height=self.store.height,
            last_block_app_hash=self.store.app_hash,
        )

    def init_chain(self, req):
        """InitChain: check the genesis app_state whole; stage parameters and registry (committed with block 1).

        A genesis a handler could later choke on stops the chain here, with a message
        (the node prints it); the validator set is static: no updates are returned.
        """
        state = Overlay(self.store)
        if not 0 < len(req.chain_id) <= 64:
            raise GenesisError("chain_id must have 1 to 64 characters")
        params, registry = parse_app_state(req.app_state_bytes, req.validators, req.chain_id)
        state.put(CHAIN_ID, req.chain_id)
        state.put(PARAMS, params)
        state.put(VALIDATORS, registry)
        writes = state.writes
        app_hash = next_app_hash(GENESIS, writes)
        self.genesis = (writes, app_hash)
        log.info("init_chain %s with %d validators", req.chain_id, len(registry))
        return abci.ResponseInitChain(app_hash=app_hash)

    # --- mempool ----------------------------------------------------------------
    def check_tx(self, req):
        """CheckTx: run the tx's checks against the check-state; keep it quick.

        Only an accepted tx is cached; one that a recheck rejects leaves the cache too.
        """
        chain_id, params, validators = self._chain(self.check)
        if chain_id is None:
            return abci.ResponseCheckTx(code=codes.NOT_INITIALISED, log="the app has no chain yet")
        ctx = BlockContext(self.store.height + 1, b"", chain_id, params, validators)
        try:
            tx, _ = apply_tx(self.check, ctx, req.tx, self.txs)
        except TxError as err:
            if req.type == abci.RECHECK:
                self.txs.take(req.tx)
            return abci.ResponseCheckTx(code=err.code, log=err.reason, codespace="mpcvote")
        self.txs.put(req.tx, tx)
        return abci.ResponseCheckTx(code=codes.OK, gas_wanted=1)

    # --- consensus ----------------------------------------------------------------
    def _proposable(self, txs, chain_id, params, validators):
        """Yield (raw, TxError or None) for each tx under the stateless checks."""
        for raw in txs:
            try:
                stateless(raw, chain_id, params, validators, self.txs)
                yield raw, None
            except TxError as err:
                yield raw, err

    def _block_state(self):
        # Before the first block the chain facts are staged by InitChain, not yet in the store.
        state = Overlay(self.store)
        if self.genesis is not None and self.store.height == 0:
            state.stage_raw(self.genesis[0])
        return state

    def prepare_proposal(self, req):
        """PrepareProposal: the mempool's txs in order that pass the stateless checks, within
        the chain's max_block_txs and the node's max_tx_bytes (more makes the proposer panic)."""
        chain_id, params, validators = self._chain(self._block_state())
        if chain_id is None:
            return abci.ResponsePrepareProposal()
        txs, total, cap = [], 0, params["max_block_txs"]
        for raw, err in self._proposable(req.txs, chain_id, params, validators):
            if len(txs) == cap:
                break
            if err is not None or total + len(raw) > req.max_tx_bytes:
                continue
            txs.append(raw)
            total += len(raw)
        return abci.ResponsePrepareProposal(txs=txs)

    def process_proposal(self, req):
        """ProcessProposal: reject a block holding more than max_block_txs txs or any tx
        that fails the stateless checks (size, canonical shape, chain id, signature, and
        a ballot's size and proofs against the static registry).

        Stateless only, and never time-budgeted: every honest node must give the same
        answer (CheckTx state differs from node to node). Stateful rejections (a replay,
        a closed poll) stay in FinalizeBlock, with codes.
        """
        reject = abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.REJECT)
        chain_id, params, validators = self._chain(self._block_state())
        if chain_id is None:
            return reject if req.txs else abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)
        if len(req.txs) > params["max_block_txs"]:
            log.warning(
                "rejected the proposal for height %d: %d txs, over max_block_txs %d",
                req.height,
                len(req.txs),
                params["max_block_txs"],
            )
            return reject
        for i, (raw, err) in enumerate(self._proposable(req.txs, chain_id, params, validators)):
            if err is not None:
                log.warning(
                    "rejected the proposal for height %d: tx %d fails %s (%s)",
                    req.height,
                    i,
                    codes.NAMES.get(err.code, err.code),
                    err.reason,
                )
                return reject
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)

    def finalize_block(self, req):
        """FinalizeBlock: execute the block on staged state; one result per tx; persist nothing."""
        state = Overlay(self.store)
        previous, genesis_keys = self.store.app_hash or GENESIS, ()
        if self.genesis is not None and self.store.height == 0:
            state.stage_raw(self.genesis[0])
            previous, genesis_keys = self.genesis[1], set(self.genesis[0])
        chain_id, params, validators = self._chain(state)
        results = []
        if chain_id is None:
            for _ in req.txs:
                results.append(abci.ExecTxResult(code=codes.NOT_INITIALISED, log="the app has no chain yet"))
            return abci.ResponseFinalizeBlock(tx_results=results, app_hash=self.store.app_hash)
        ctx = BlockContext(req.height, bytes(req.hash), chain_id, params, validators)
        begin_block(state, ctx)
        block_events = ctx.events
        for raw in req.txs:
            ctx.events = []
            try:
                tx, data = apply_tx(state, ctx, raw, self.txs, final=True)
                results.append(
                    abci.ExecTxResult(code=codes.OK, data=result_data(tx.type, data), events=_events(ctx.events))
                )
            except TxError as err:
                results.append(abci.ExecTxResult(code=err.code, log=err.reason, codespace="mpcvote"))
        ctx.events = block_events
        end_block(state, ctx)
        writes = state.writes
        app_hash = next_app_hash(previous, {k: v for k, v in writes.items() if k not in genesis_keys})
        self.block = (writes, req.height, app_hash)
        return abci.ResponseFinalizeBlock(tx_results=results, events=_events(ctx.events), app_hash=app_hash)

    def commit(self, req):
        """Commit: write the block's state, height and app hash in one atomic batch; reset the check-state."""
        if self.block is not None:
            writes, height, app_hash = self.block
            self.store.commit(writes, height, app_hash)
            self.block = None
            self.genesis = None
        self.check = Overlay(self.store)
        return abci.ResponseCommit()

    # --- queries --------------------------------------------------------------------
    def query(self, req):
        """Query: answer from the committed state, as JSON, with the height it is for."""
        height = self.store.height
        if req.height not in (0, height):
            return abci.ResponseQuery(
                code=codes.NOT_FOUND, height=height, log=f"only the latest height ({height}) is served"
            )
        try:
            value = answer(Overlay(self.store), bytes(req.path), height, self.store.app_hash, bytes(req.data))
        except TxError as err:
            return abci.ResponseQuery(code=err.code, log=err.reason, height=height, codespace="mpcvote")
        return abci.ResponseQuery(code=codes.OK, value=json.dumps(value).encode(), height=height)

    def close(self):
        self.store.close()


def result_data(tx_type: str, data) -> bytes:
    """Return what a tx's ExecTxResult.data carries: the effect a light client must be able to trust.

    CometBFT hashes each result's code and data (never its events or log) into the
    next header's last_results_hash, so a voter's client proves which poll a
    create_poll made from signed headers alone, and a verifier every event of a poll:
    each event tx (a counted ballot, a judged complaint, an early close, an aggregate
    post) returns its running data (mpc_tx.protocol.running.event_data, final_data).
    Canonical JSON: the bytes are hashed, so they must be the same on every node.
    """
    if tx_type == "create_poll":
        return canonical.encode({"poll_id": data})
    if isinstance(data, bytes):
        return data
    return b""


def _events(events):
    return [
        abci.Event(type=t, attributes=[abci.EventAttribute(key=k, value=v, index=i) for k, v, i in attrs])
        for t, attrs in events
    ]
