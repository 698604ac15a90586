"""Chains for the light client's, verified reads' and `mpcvote verify`'s tests, and lying nodes in front of them.

`light_chain` is the body of a module-scoped `chain` fixture over a real testnet (a test
module declares the fixture and yields from it, so each module that uses it starts its own
testnet). `SignedChain` is a chain in memory: blocks whose headers m genesis validators
sign, with tx proofs and results exactly as CometBFT computes them; `SignedRpc` answers the
light client from it (and may lie); `TallyPoll` runs one tally poll on it as the app does
(§17-18), each event tx's result carrying the running digest and the final tx the result.
"""

import json
import re
import time

from lyingproxy import LyingProxy, query_values
from mpc_tx.client.cli import Client, CliError
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from netfixtures import running_testnet, wait_committed

__all__ = ["light_chain", "poll_rewrite", "vote_through", "refused"]


def light_chain(tmp_path_factory):
    """Yield a testnet with: poll `open` (tally), poll `closed` (closed early), a block of several txs."""
    tmp = tmp_path_factory.mktemp("light")
    with running_testnet(tmp, workers=False) as net:
        genesis = json.loads(net.genesis_path().read_text())
        c = Client(net.rpc_url(0), keys_dir=tmp / "keys", genesis=str(net.genesis_path()))
        creator = SigningKey.generate()
        open_poll = c.create_poll(creator, "Venue?", "tally", ["a", "b", "c"], close_in=2000)
        closed = c.create_poll(creator, "Ship?", "unanimity", close_in=2000)
        close_tx = c.close_poll(creator, closed["poll"])
        # Several txs sent at once through two nodes land in few blocks: proofs with aunts.
        rpcs, hashes = [net.rpc(0), net.rpc(1)], []
        height = net.rpc(0).height()
        for i in range(7):
            key = SigningKey.generate()
            body = {
                "question": f"q{i}",
                "kind": "unanimity",
                "options": [],
                "voters": None,
                "close_height": height + 2000 + i,
                "max_ballots": 10,
                "max_revotes": 0,
                "min_ballots": 3,
                "threshold": None,
            }
            raw = txcodec.build(key, genesis["chain_id"], "create_poll", time.time_ns() // 1000, body)
            hashes.append(rpcs[i % 2].broadcast_tx_async(raw)["hash"])
        batch = wait_committed(net.rpc(0), hashes)
        net.wait_height(max(int(r["height"]) for r in batch.values()) + 2, timeout=60)
        yield {
            "net": net,
            "genesis": genesis,
            "client": c,
            "creator": creator,
            "open": open_poll,
            "closed": closed,
            "close_tx": close_tx,
            "batch": batch,
            "tmp": tmp,
        }


def poll_rewrite(poll_id, change):
    def lie(path, poll):
        if path == f"/poll/{poll_id}":
            change(poll)
            return poll
        return None

    return query_values(lie)


def vote_through(chain, rewrite, poll_id=None, choice="a"):
    """Vote through a lying proxy in front of node 0; return (error message or None, methods called)."""
    poll_id = poll_id or chain["open"]["poll"]
    with LyingProxy(chain["net"].rpc_url(0), rewrite) as proxy:
        c = Client(proxy.url, keys_dir=chain["tmp"] / "keys", genesis=str(chain["net"].genesis_path()))
        try:
            c.vote(SigningKey.generate(), poll_id, choice)
            error = None
        except CliError as exc:
            error = str(exc)
        return error, proxy.methods(), proxy.url


def refused(chain, rewrite, match, **kw):
    error, methods, url = vote_through(chain, rewrite, **kw)
    assert error is not None, "the vote went through"
    assert error.startswith("not voting:") and re.search(match, error), error
    assert not [m for m in methods if m.startswith("broadcast")], methods
    return error, url


# --- a signed chain in memory: real headers, commits, proofs and results, no node -----------------
import base64  # noqa: E402
import hashlib  # noqa: E402

from mpc_tx.client.light import ValidatorSet, header_hash, merkle_root, results_hash, vote_sign_bytes  # noqa: E402
from mpc_tx.client.rpc import RpcError  # noqa: E402
from mpc_tx.protocol import canonical, running, tally  # noqa: E402
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot, verify_ballot  # noqa: E402
from mpc_tx.protocol.complaint import BALLOT_BAD, adjudicate, make_complaint  # noqa: E402
from mpc_tx.protocol.context import make_poll  # noqa: E402
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest  # noqa: E402
from mpc_tx.protocol.group import random_scalar  # noqa: E402
from mpc_tx.protocol.registry import complaint_window, prove_key_possession  # noqa: E402

__all__ += ["SignedChain", "SignedRpc", "TallyPoll"]

_TIME = "2026-12-01T20:%02d:%02d.000000000Z"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _aunts(items: list, index: int) -> list:
    """Return the Merkle proof's aunts of items[index], deepest first (crypto/merkle's order)."""
    if len(items) == 1:
        return []
    k = 1 << (len(items) - 1).bit_length() - 1
    if index < k:
        return _aunts(items[:k], index) + [merkle_root(items[k:])]
    return _aunts(items[k:], index - k) + [merkle_root(items[:k])]


class SignedChain:
    """Blocks of txs with their results, headers signed by m genesis validators of power 1.

    `add_block([(raw, code, data, events), ...])` appends one block; its header's
    last_results_hash is the previous block's results, as CometBFT's.
    """

    def __init__(self, m: int = 4, chain_id: str = "mpcvote-verify", params: dict | None = None):
        self.chain_id, self.m = chain_id, m
        self.consensus = [SigningKey.from_seed(hashlib.sha256(b"consensus %d" % i).digest()) for i in range(m)]
        self.attesters = [SigningKey.from_seed(hashlib.sha256(b"attest %d" % i).digest()) for i in range(m)]
        self.secrets = [random_scalar() for _ in range(m)]
        registry = []
        for i in range(m):
            pub = self.consensus[i].public_bytes
            enc, proof = prove_key_possession(chain_id.encode(), pub, self.secrets[i])
            registry.append(
                {
                    "index": i,
                    "name": f"node{i}",
                    "power": 1,
                    "pub_key": _b64(pub),
                    "address": hashlib.sha256(pub).digest()[:20].hex().upper(),
                    "attest_key": self.attesters[i].public_hex,
                    "enc_key": enc.hex(),
                    "enc_proof": proof.hex(),
                    "mpc_host": "127.0.0.1",
                    "mpc_port": 12800 + 20 * i,
                    "mpc_ports": 8,
                    "tls_sha256": f"{i + 1:064x}",
                }
            )
        self.genesis = {
            "chain_id": chain_id,
            "validators": [
                {
                    "address": v["address"],
                    "pub_key": {"type": "tendermint/PubKeyEd25519", "value": v["pub_key"]},
                    "power": "1",
                    "name": v["name"],
                }
                for v in registry
            ],
            "app_state": {"params": dict(params or {}), "validators": registry},
        }
        self.vals = ValidatorSet.from_genesis(self.genesis)
        by_address = {hashlib.sha256(k.public_bytes).digest()[:20]: k for k in self.consensus}
        self.signers = [by_address[v.address] for v in self.vals.validators]
        self.blocks = []  # [(txs [(raw, code, data, events)], header, commit)]
        self.polls = {}  # poll id -> the record a node answers for /poll/ID
        self.nonce = 0

    @property
    def height(self) -> int:
        """Return the latest height."""
        return len(self.blocks)

    def next_nonce(self) -> int:
        """Return a fresh nonce for a tx."""
        self.nonce += 1
        return self.nonce

    def add_block(self, txs=()) -> int:
        """Append a block of (raw, code, data, events) txs; return its height."""
        h = len(self.blocks) + 1
        prev = self.blocks[-1] if self.blocks else None
        header = {
            "version": {"block": "11", "app": "1"},
            "chain_id": self.chain_id,
            "height": str(h),
            "time": _TIME % (h // 60, h % 60),
            "last_block_id": prev[2]["block_id"] if prev else {"hash": "", "parts": {"total": 0, "hash": ""}},
            "last_commit_hash": hashlib.sha256(b"commit %d" % (h - 1)).hexdigest().upper(),
            "data_hash": merkle_root([hashlib.sha256(t[0]).digest() for t in txs]).hex().upper(),
            "validators_hash": self.vals.hash.hex().upper(),
            "next_validators_hash": self.vals.hash.hex().upper(),
            "consensus_hash": "AB" * 32,
            "app_hash": hashlib.sha256(b"app %d" % h).hexdigest().upper(),
            "last_results_hash": results_hash(self._results(prev[0]) if prev else []).hex().upper(),
            "evidence_hash": hashlib.sha256(b"").hexdigest().upper(),
            "proposer_address": self.vals.validators[h % self.m].address.hex().upper(),
        }
        block_id = {
            "hash": header_hash(header).hex().upper(),
            "parts": {"total": 1, "hash": hashlib.sha256(b"parts %d" % h).hexdigest().upper()},
        }
        stamp = header["time"]
        sigs = [
            {
                "block_id_flag": 2,
                "validator_address": v.address.hex().upper(),
                "timestamp": stamp,
                "signature": _b64(key.sign(vote_sign_bytes(self.chain_id, h, 0, block_id, stamp))),
            }
            for v, key in zip(self.vals.validators, self.signers)
        ]
        commit = {"height": str(h), "round": 0, "block_id": block_id, "signatures": sigs}
        self.blocks.append((list(txs), header, commit))
        return h

    @staticmethod
    def _results(txs) -> list:
        return [
            {"code": code, "data": _b64(data), "log": "", "gas_wanted": "0", "gas_used": "0", "events": events}
            for _raw, code, data, events in txs
        ]

    def all_txs(self):
        """Yield (height, index, raw, code, data, events) of every tx."""
        for h, (txs, _header, _commit) in enumerate(self.blocks, 1):
            for i, (raw, code, data, events) in enumerate(txs):
                yield h, i, raw, code, data, events


def _event(type_: str, **attrs) -> dict:
    return {"type": type_, "attributes": [{"key": k, "value": str(v), "index": True} for k, v in attrs.items()]}


class SignedRpc:
    """The RPC methods the light client and verify use, answered from a SignedChain.

    `lie(method, params, result)` may rewrite each answer (a lying node); `hide_blocks`
    makes `block` refuse (a node that will not serve a scan).
    """

    def __init__(self, chain: SignedChain, lie=None, url: str = "http://signed.test:26657"):
        self.chain, self.lie, self.url = chain, lie, url
        self.calls = []
        self.hide_blocks = False

    def call(self, method, **params):
        self.calls.append(method)
        result = self._answer(method, params)
        return self.lie(method, params, result) if self.lie else result

    def _height(self, params) -> int:
        h = int(params.get("height") or self.chain.height)
        if h > self.chain.height:
            raise RpcError(
                f"height {h} must be less than or equal to the current blockchain height {self.chain.height}"
            )
        return h

    def _answer(self, method, params):
        c = self.chain
        if method == "commit":
            _txs, header, commit = c.blocks[self._height(params) - 1]
            return {
                "signed_header": {"header": json.loads(json.dumps(header)), "commit": json.loads(json.dumps(commit))}
            }
        if method == "block":
            if self.hide_blocks:
                raise RpcError("block: not served")
            h = self._height(params)
            txs, header, commit = c.blocks[h - 1]
            return {
                "block_id": commit["block_id"],
                "block": {"header": header, "data": {"txs": [_b64(t[0]) for t in txs]}},
            }
        if method == "block_results":
            h = self._height(params)
            return {"height": str(h), "txs_results": c._results(c.blocks[h - 1][0])}
        if method == "tx":
            want = base64.b64decode(params["hash"])
            for h, i, raw, code, data, events in c.all_txs():
                if hashlib.sha256(raw).digest() == want:
                    return self._tx(h, i, raw)
            raise RpcError(f"tx ({want.hex().upper()}) not found")
        if method == "tx_search":
            q = params["query"]
            hits = [
                self._tx(h, i, raw)
                for h, i, raw, _code, _data, events in c.all_txs()
                if any(q == f"{e['type']}.{a['key']}={a['value']}" for e in events for a in e["attributes"])
            ]
            page, per = int(params.get("page", 1)), int(params.get("per_page", 30))
            return {"txs": hits[(page - 1) * per : page * per], "total_count": str(len(hits))}
        raise RpcError(f"unexpected method {method}")

    def query(self, path):
        """Answer /poll/ID from the polls the chain's scripts registered (the node's word: never proven)."""
        self.calls.append("abci_query")
        poll_id = int(path.split("/")[2])
        record = self.chain.polls.get(poll_id)
        if record is None:
            raise RpcError(f"no poll with id {poll_id}")
        doc = json.loads(json.dumps(record))
        return (self.lie("abci_query", {"path": path}, doc) if self.lie else doc), self.chain.height

    def _tx(self, h, i, raw):
        txs = self.chain.blocks[h - 1][0]
        hashes = [hashlib.sha256(t[0]).digest() for t in txs]
        return {
            "hash": hashes[i].hex().upper(),
            "height": str(h),
            "index": i,
            "tx": _b64(raw),
            "tx_result": SignedChain._results([txs[i]])[0],
            "proof": {
                "root_hash": merkle_root(hashes).hex().upper(),
                "data": _b64(raw),
                "proof": {
                    "total": str(len(txs)),
                    "index": str(i),
                    "leaf_hash": _b64(hashlib.sha256(b"\x00" + hashes[i]).digest()),
                    "aunts": [_b64(a) for a in _aunts(hashes, i)],
                },
            },
        }


class TallyPoll:
    """One tally poll on a SignedChain as the app runs it (§17-18), with its running data in each result.

    Blocks: create 2; ballots 3 (voters 0, 1) and 4 (voter 0 revotes, voter 2, voter 3 with a
    bad share for validator 1); complaints 5 (1 about voter 3: ballot_bad, 3 about voter 1:
    complaint_false, 2 about voter 0's replaced ballot: moot); the creator's close 6; the fix
    at 6 + W + 1; aggregate posts next (0 valid, 3 named, 2 valid) and one block later (1
    valid: final). `rulings[(kind, validator)]` replaces the chain's verdict and `late_ballot` counts a ballot
    after the close (a lying majority);
    `stop_after` ends the script before the aggregate round ("fix") or before the final post.
    """

    OPTIONS = ["red", "green", "blue"]

    def __init__(
        self,
        chain: SignedChain,
        poll_id: int = 1,
        rulings=None,
        stop_after=None,
        min_ballots=3,
        late_ballot=False,
        kind="tally",
    ):
        self.chain, self.poll_id, self.rulings = chain, poll_id, dict(rulings or {})
        c, m = chain, chain.m
        self.creator = SigningKey.from_seed(hashlib.sha256(b"creator").digest())
        self.voters = [SigningKey.from_seed(hashlib.sha256(b"voter %d" % n).digest()) for n in range(4)]
        self.options = self.OPTIONS if kind == "tally" else []
        # The top of the kind's range with equal powers: m-f-1 opened on chain, (m-1)//2 in MPyC (§18.1).
        self.t = m - 1 - (m - 1) // 3 if kind == "tally" else (m - 1) // 2
        self.k = max(len(self.options), 1)
        keys = [bytes.fromhex(v["enc_key"]) for v in c.genesis["app_state"]["validators"]]
        self.ctx = make_poll(c.chain_id.encode(), str(poll_id).encode(), self.t, self.k, self.k > 1, keys)
        self.running, self.events = running.start(self.ctx.header), 0
        self.sums, self.n, self.ballots = tally.empty_sums(self.k, self.t), 0, {}
        self.hashes = {}  # role -> tx hash
        self.replaced = {}  # role -> the bytes of a ballot a revote replaced
        c.add_block()
        body = {
            "question": "Colour?",
            "kind": kind,
            "options": self.options,
            "voters": None,
            "close_height": 40,
            "max_ballots": 100,
            "max_revotes": 2,
            "min_ballots": min_ballots,
            "threshold": None,
        }
        raw = txcodec.build(self.creator, c.chain_id, "create_poll", c.next_nonce(), body)
        c.add_block([(raw, 0, canonical.encode({"poll_id": poll_id}), [_event("poll_created", poll_id=poll_id)])])
        self.hashes["create"] = txcodec.tx_hash(raw)
        c.polls[poll_id] = dict(
            body, id=poll_id, creator=self.creator.public_hex, created_height=c.height, threshold=self.t
        )
        c.polls[poll_id]["status"] = "closed"
        c.add_block([self._ballot(0, 0, "b0"), self._ballot(1, 1, "b1")])
        c.add_block([self._ballot(0, 2, "b0'"), self._ballot(2, 1, "b2"), self._ballot(3, 0, "b3", bad_for=1)])
        c.add_block([self._complain(1, 3, "b3"), self._complain(3, 1, "b1"), self._complain(2, 0, "b0")])
        raw = txcodec.build(self.creator, c.chain_id, "close_poll", c.next_nonce(), {"poll": poll_id})
        close = c.height + 1
        c.add_block(
            [
                self._event_tx(
                    raw,
                    running.close_event(close, bytes.fromhex(txcodec.tx_hash(raw))),
                    [_event("poll_closed", poll_id=poll_id)],
                    "close",
                    closed_height=close,
                )
            ]
        )
        if late_ballot:  # a lying majority counts a ballot after the close
            c.add_block([self._ballot(2, 0, "late")])
        self.fix = close + complaint_window([1] * m) + 2 + 1
        while c.height < self.fix:
            c.add_block()
        counted = sorted((v, b) for v, b in self.ballots.items() if b["counted"])
        self.digest = counted_set_digest([ballot_digest(v, b["raw"]) for v, b in counted])
        self.pairs = {}
        for i, x in enumerate(c.secrets):
            held = [
                open_ballot(self.ctx, bytes.fromhex(v), verify_ballot(self.ctx, bytes.fromhex(v), b["raw"]), i, x)
                for v, b in counted
            ]
            self.pairs[i] = tally.own_pairs(self.sums, m, i, held)
        self.posts = []
        if stop_after == "fix" or kind != "tally":  # a unanimity outcome comes from its MPC job
            c.add_block(), c.add_block()
            return
        lie = bytearray(self.pairs[3])
        lie[32] ^= 1
        c.add_block(
            [self._aggregate(0, self.pairs[0]), self._aggregate(3, bytes(lie)), self._aggregate(2, self.pairs[2])]
        )
        if stop_after != "last post":
            c.add_block([self._aggregate(1, self.pairs[1])])
        c.add_block(), c.add_block()

    def _event_tx(self, raw, event, events, role, closed_height=None, result=None):
        self.running = running.step(self.running, event)
        self.events += 1
        self.hashes[role] = txcodec.tx_hash(raw)
        if result is not None:
            data = running.final_data(self.poll_id, self.events, self.running, result)
        else:
            data = running.event_data(self.poll_id, self.events, self.running, closed_height)
        return raw, 0, data, events

    def _ballot(self, v, choice, role, bad_for=None):
        from badballots import bad_share_ballot

        key, c = self.voters[v], self.chain
        values = [int(e == choice) for e in range(self.k)]
        voter = key.public_bytes
        raw_ballot = (
            build_ballot(self.ctx, voter, values)
            if bad_for is None
            else bad_share_ballot(self.ctx, voter, values, bad_for)
        )
        body = {"poll": self.poll_id, "m": c.m, "t": self.t, "k": self.k, "ballot": raw_ballot.hex()}
        raw = txcodec.build(key, c.chain_id, "cast_ballot", c.next_nonce(), body)
        old = self.ballots.get(key.public_hex)
        if old:
            self.replaced[old["role"]] = old["raw"]
        new = tally.commitments_of(self.ctx, raw_ballot)
        self.sums = tally.on_ballot(self.sums, old["commitments"] if old and old["counted"] else None, new)
        if not (old and old["counted"]):
            self.n += 1
        self.ballots[key.public_hex] = {
            "raw": raw_ballot,
            "tx": txcodec.tx_hash(raw),
            "counted": True,
            "commitments": new,
            "role": role,
        }
        event = running.ballot_event(c.height + 1, bytes.fromhex(txcodec.tx_hash(raw)), voter)
        return self._event_tx(raw, event, [_event("ballot", poll_id=self.poll_id, voter=key.public_hex)], role)

    def _complain(self, i, v, about):
        c, voter = self.chain, self.voters[v].public_hex
        ballot_tx = self.hashes[about]
        record = self.ballots[voter]
        raw_ballot = record["raw"] if record["tx"] == ballot_tx else self.replaced[about]
        complaint = make_complaint(
            self.ctx, bytes.fromhex(ballot_tx), parse_ballot(self.ctx, raw_ballot), i, c.secrets[i]
        )
        body = {
            "poll": self.poll_id,
            "validator": i,
            "voter": voter,
            "ballot_tx": ballot_tx,
            "complaint": complaint.hex(),
        }
        raw = txcodec.build(c.attesters[i], c.chain_id, "complain", c.next_nonce(), body)
        if record["tx"] != ballot_tx:
            verdict = "moot"
        else:
            judged = adjudicate(self.ctx, bytes.fromhex(voter), bytes.fromhex(ballot_tx), raw_ballot, i, complaint)
            verdict = "ballot_bad" if judged.outcome == BALLOT_BAD else "complaint_false"
            if verdict == "ballot_bad":
                record["counted"] = False
                self.sums = tally.on_disqualify(self.sums, record["commitments"])
                self.n -= 1
        verdict = self.rulings.get(("complaint", i), verdict)
        event = running.complaint_event(
            c.height + 1,
            bytes.fromhex(txcodec.tx_hash(raw)),
            i,
            bytes.fromhex(voter),
            bytes.fromhex(ballot_tx),
            verdict,
        )
        attrs = _event("complaint", poll_id=self.poll_id, validator=i, voter=voter, verdict=verdict)
        return self._event_tx(raw, event, [attrs], f"complaint {i}")

    def _aggregate(self, i, data):
        c = self.chain
        body = {"poll": self.poll_id, "validator": i, "pairs": data.hex()}
        raw = txcodec.build(c.attesters[i], c.chain_id, "aggregate", c.next_nonce(), body)
        post = tally.judge_pairs(self.sums, c.m, i, data)
        verdict = self.rulings.get(("aggregate", i), post.verdict)
        self.posts.append(post)
        event = running.aggregate_event(c.height + 1, bytes.fromhex(txcodec.tx_hash(raw)), i, verdict)
        events = [_event("aggregate", poll_id=self.poll_id, validator=i, verdict=verdict)]
        result = None
        if sum(p.verdict == tally.VALID for p in self.posts) == self.t + 1:
            opening = tally.open_tally(self.sums, self.n, True, self.posts)
            result = tally.tally_result(self.options, self.digest, self.n, list(opening.counts))
            self.result = result
            c.polls[self.poll_id].update(status="final", result=result)
            events.append(_event("outcome_final", poll_id=self.poll_id))
        return self._event_tx(raw, event, events, f"aggregate {i}", result=result)
