"""The mpcvote ABCI application: a thin dispatcher from ABCI methods to domain functions.

Consensus methods never wait on MPC, the network, the clock or randomness: block
time and hash come from the request, and everything hashed is canonical.
"""
import hashlib
import json
import logging
import os
from collections import OrderedDict

from mpc_tx import canonical

from . import codes
from .apphash import GENESIS, next_app_hash
from .codes import TxError
from .context import BlockContext
from .execution import apply_tx, begin_block, end_block
from .params import resolve
from .pb import abci
from .queries import answer
from .state import Store, Overlay, PARAMS, VALIDATORS, CHAIN_ID

__all__ = ["Application", "VERSION", "result_data"]

log = logging.getLogger("abci_app")
VERSION = "0.1.0"
APP_VERSION = 1


class _TxCache:
    """Decoded, signature-checked txs by their SHA-256, from CheckTx until their block.

    A tx leaves the cache when a block holds it (it leaves the mempool then too),
    so the cache holds about what the mempool holds; `size` bounds it anyway (txs
    that never make it into a block), so memory stays flat under any load.
    """

    def __init__(self, size=5_000):
        self.size, self.items = size, OrderedDict()

    def get(self, raw):
        return self.items.get(hashlib.sha256(raw).digest())

    def take(self, raw):
        """get(raw), and forget it: for FinalizeBlock, the last time a tx is looked up."""
        return self.items.pop(hashlib.sha256(raw).digest(), None)

    def put(self, raw, tx):
        self.items[hashlib.sha256(raw).digest()] = tx
        if len(self.items) > self.size:
            self.items.popitem(last=False)


class Application:
    """ABCI 2.0 handlers over a LevelDB store in `home`."""

    def __init__(self, home: str, fault: str | None = None):
        os.makedirs(home, mode=0o700, exist_ok=True)
        self.store = Store(os.path.join(home, "state.db"))
        self.txs = _TxCache()
        self.fault = fault               # test-only fault switch (see README, operations)
        self.block = None                # (Overlay, BlockContext, app hash) staged since FinalizeBlock
        self.check = Overlay(self.store)
        self.genesis = None              # (writes, app hash) staged by InitChain, committed with the first block

    # --- chain facts from state -------------------------------------------------
    def _chain(self, state):
        return state.get(CHAIN_ID), state.get(PARAMS), state.get(VALIDATORS)

    # --- info / handshake -------------------------------------------------------
    def echo(self, req):
        return abci.ResponseEcho(message=req.message)

    def info(self, req):
        """Info: report the last committed height and app hash so the node replays exactly what is missing."""
        return abci.ResponseInfo(data="mpcvote", version=VERSION, app_version=APP_VERSION,
                                 last_block_height=self.store.height,
                                 last_block_app_hash=self.store.app_hash)

    def init_chain(self, req):
        """InitChain: store the genesis parameters and validator registry (persisted with the first block)."""
        state = Overlay(self.store)
        try:
            app_state = json.loads(req.app_state_bytes or b"{}")
            params = resolve(app_state.get("params"))
            registry = _registry(app_state.get("validators", []), req.validators)
        except (ValueError, KeyError, TypeError) as exc:
            # The node stops on an exception response: a broken genesis must not start a chain.
            raise ValueError(f"invalid genesis app_state: {exc}") from None
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
        """CheckTx: run the tx's checks against the check-state; keep it quick."""
        chain_id, params, validators = self._chain(self.check)
        if chain_id is None:
            return abci.ResponseCheckTx(code=codes.NOT_INITIALISED, log="the app has no chain yet")
        ctx = BlockContext(self.store.height + 1, b"", chain_id, params, validators)
        try:
            tx, _ = apply_tx(self.check, ctx, req.tx, self.txs)
        except TxError as err:
            return abci.ResponseCheckTx(code=err.code, log=err.reason, codespace="mpcvote")
        return abci.ResponseCheckTx(code=codes.OK, gas_wanted=1)

    # --- consensus ----------------------------------------------------------------
    def prepare_proposal(self, req):
        """PrepareProposal: take the mempool's txs in order up to the byte limit."""
        txs, total = [], 0
        for tx in req.txs:
            if total + len(tx) > req.max_tx_bytes:
                break
            txs.append(tx)
            total += len(tx)
        return abci.ResponsePrepareProposal(txs=txs)

    def process_proposal(self, req):
        """ProcessProposal: accept; bad txs are rejected one by one with codes in FinalizeBlock."""
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)

    def extend_vote(self, req):
        return abci.ResponseExtendVote()

    def verify_vote_extension(self, req):
        return abci.ResponseVerifyVoteExtension(status=abci.ResponseVerifyVoteExtension.ACCEPT)

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
                results.append(abci.ExecTxResult(code=codes.OK, data=result_data(tx.type, data),
                                                 events=_events(ctx.events)))
            except TxError as err:
                results.append(abci.ExecTxResult(code=err.code, log=err.reason, codespace="mpcvote"))
        ctx.events = block_events
        end_block(state, ctx)
        writes = state.writes
        app_hash = next_app_hash(previous, {k: v for k, v in writes.items() if k not in genesis_keys})
        self.block = (writes, req.height, app_hash)
        if self.fault == "exit-before-commit":
            os._exit(17)
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
            return abci.ResponseQuery(code=codes.NOT_FOUND, height=height,
                                      log=f"only the latest height ({height}) is served")
        try:
            value = answer(Overlay(self.store), req.path, height, self.store.app_hash)
        except TxError as err:
            return abci.ResponseQuery(code=err.code, log=err.reason, height=height, codespace="mpcvote")
        return abci.ResponseQuery(code=codes.OK, value=json.dumps(value).encode(), height=height)

    # --- state sync: not offered ---------------------------------------------------
    def list_snapshots(self, req):
        return abci.ResponseListSnapshots()

    def offer_snapshot(self, req):
        return abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.REJECT)

    def load_snapshot_chunk(self, req):
        return abci.ResponseLoadSnapshotChunk()

    def apply_snapshot_chunk(self, req):
        return abci.ResponseApplySnapshotChunk(result=abci.ResponseApplySnapshotChunk.ABORT)

    def close(self):
        self.store.close()


def result_data(tx_type: str, data) -> bytes:
    """Return what a tx's ExecTxResult.data carries: the effect a light client must be able to trust.

    CometBFT hashes each result's code and data (never its events or log) into the
    next header's last_results_hash, so a voter's client proves which poll a
    create_poll made, and that a close_poll closed it, from signed headers alone.
    Canonical JSON: the bytes are hashed, so they must be the same on every node.
    """
    if tx_type == "create_poll":
        return canonical.encode({"poll_id": data})
    if tx_type == "close_poll":
        return canonical.encode(data)
    return b""


def _events(events):
    return [abci.Event(type=t, attributes=[abci.EventAttribute(key=k, value=v, index=i) for k, v, i in attrs])
            for t, attrs in events]


def _registry(entries: list, genesis_validators) -> list:
    """Check the app_state registry against the genesis validator set; return it in party order."""
    import base64
    keys = {base64.b64encode(bytes(v.pub_key.ed25519)).decode(): v.power for v in genesis_validators}
    registry = []
    for i, entry in enumerate(entries):
        if entry["index"] != i:
            raise ValueError("registry entries must be in index order from 0")
        if entry["pub_key"] not in keys:
            raise ValueError(f"registry entry {i} is not a genesis validator")
        if keys[entry["pub_key"]] != entry["power"]:
            raise ValueError(f"registry entry {i} has power {entry['power']}, genesis says {keys[entry['pub_key']]}")
        for field in ("attest_key", "enc_key", "mpc_host", "mpc_port", "tls_sha256"):
            if field not in entry:
                raise ValueError(f"registry entry {i} lacks {field}")
        registry.append(entry)
    if registry and len(registry) != len(keys):
        raise ValueError(f"registry lists {len(registry)} validators, genesis has {len(keys)}")
    canonical.encode(registry)  # JSON-compatible, no floats
    return registry
