"""A fake RPC client for the explorer's unit and template tests, and a way to call its ASGI app in-process.

The fake holds a small chain built with the project's own tx codec: a tally poll
whose question and option are script tags, a counted ballot, a ballot disqualified
by a complaint, a false complaint (its validator named), four attestations, and
the answers CometBFT and the app give for it (shapes as docs/PROTOCOL.md §17 gives).
A test of a real node is elsewhere (test_explorer_browser.py).
"""

import asyncio
import base64
import json

from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.digests import outcome_digest
from mpc_tx.protocol.records import snapshot_validators
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import RpcError, QueryError

__all__ = ["FakeChain", "FakeRpc", "get", "QUESTION", "OPTION", "PAYLOAD", "COMPLAINT"]

QUESTION = "<script>alert(1)</script>"
OPTION = "</text><script>alert(2)</script>"
PAYLOAD = "ab" * 120 + "cafe"  # a ballot's bytes: their hex must never reach a page
COMPLAINT = "cd" * 94 + "beef"  # a complaint's 96 bytes: never shown either
CHAIN = "mpcvote-test"
TIME = "2026-12-01T17:08:%02d.500000000Z"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class FakeChain:
    """Blocks 1..HEIGHT; poll 1 created at 3, two ballots at 4, complaints at 5, closed at 6,
    complaints taken until 7, the counted set fixed, attested and final at 8."""

    HEIGHT = 10

    def __init__(self):
        self.creator, self.voter, self.cheat = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
        self.attesters = [SigningKey.generate() for _ in range(4)]
        self.addresses = [f"{i:040X}" for i in range(1, 5)]
        self.validators = [
            {
                "index": i,
                "name": f"node{i}",
                "address": self.addresses[i],
                "power": 1,
                "attest_key": k.public_hex,
                "enc_key": f"{i:064x}",
                "mpc_host": "127.0.0.1",
                "mpc_port": 12810 + 20 * i,
                "mpc_ports": 8,
                "tls_sha256": f"{i + 9:064x}",
                "pub_key": "AAAA",
                "tls_cert": "-----BEGIN CERTIFICATE-----\nsecret-looking\n",
            }
            for i, k in enumerate(self.attesters)
        ]
        self.result = {
            "ballots": "d" * 64,
            "counted": 1,
            "status": "ok",
            "outcome": {"tally": {"a": 0, OPTION: 1}},
        }
        create = txcodec.build(
            self.creator,
            CHAIN,
            "create_poll",
            1,
            {
                "question": QUESTION,
                "kind": "tally",
                "options": ["a", OPTION],
                "voters": None,
                "close_height": 6,
                "max_ballots": 100,
                "max_revotes": 3,
                "min_ballots": 0,
                "threshold": None,
            },
        )
        body = {"poll": 1, "m": 4, "t": 1, "k": 2, "ballot": PAYLOAD}
        ballot = txcodec.build(self.voter, CHAIN, "cast_ballot", 2, body)
        cheat = txcodec.build(self.cheat, CHAIN, "cast_ballot", 1, body)
        self.complaints = [
            {
                "validator": 1,
                "voter": self.cheat.public_hex,
                "ballot_tx": txcodec.tx_hash(cheat),
                "verdict": "ballot_bad",
                "reason": "share 1: does not match the ballot's commitments",
                "height": 5,
            },
            {
                "validator": 3,
                "voter": self.voter.public_hex,
                "ballot_tx": txcodec.tx_hash(ballot),
                "verdict": "complaint_false",
                "reason": "the share checks",
                "height": 5,
            },
        ]
        complaints = [
            txcodec.build(
                self.attesters[c["validator"]],
                CHAIN,
                "complain",
                1,
                {k: c[k] for k in ("validator", "voter", "ballot_tx")} | {"poll": 1, "complaint": COMPLAINT},
            )
            for c in self.complaints
        ]
        atts = [
            txcodec.build(k, CHAIN, "submit_outcome", 3 + i, {"poll": 1, "validator": i, "result": self.result})
            for i, k in enumerate(self.attesters)
        ]
        poll_ev = [
            {
                "type": "poll_created",
                "attributes": [
                    {"key": "poll_id", "value": "1", "index": True},
                    {"key": "creator", "value": self.creator.public_hex, "index": True},
                ],
            }
        ]
        ballot_ev = [
            {
                "type": "ballot",
                "attributes": [
                    {"key": "poll_id", "value": "1", "index": True},
                    {"key": "voter", "value": self.voter.public_hex, "index": True},
                ],
            }
        ]
        cheat_ev = [
            dict(
                ballot_ev[0],
                attributes=[
                    ballot_ev[0]["attributes"][0],
                    dict(ballot_ev[0]["attributes"][1], value=self.cheat.public_hex),
                ],
            )
        ]
        self.txs = {
            3: [(create, poll_ev)],
            4: [(ballot, ballot_ev), (cheat, cheat_ev)],
            5: [(c, []) for c in complaints],
            8: [(a, []) for a in atts],
        }
        self.block_events = {
            6: [{"type": "poll_closed", "attributes": [{"key": "poll_id", "value": "1"}]}],
            8: [
                {
                    "type": "outcome_final",
                    "attributes": [{"key": "poll_id", "value": "1"}, {"key": "outcome", "value": OPTION}],
                }
            ],
        }
        digest = outcome_digest(self.result)
        self.poll = {
            "id": 1,
            "creator": self.creator.public_hex,
            "question": QUESTION,
            "kind": "tally",
            "options": ["a", OPTION],
            "open": True,
            "eligible": None,
            "created_height": 3,
            "close_height": 6,
            "max_ballots": 100,
            "max_revotes": 3,
            "min_ballots": 0,
            "validators": snapshot_validators(self.validators),
            "threshold": 1,
            "status": "final",
            "ballots": 1,
            "closed_height": 6,
            "deadline_height": 306,
            "seed": "e" * 64,
            "ballots_digest": "d" * 64,
            "result": self.result,
            "final_height": 8,
            "attesters": [0, 1, 2, 3],
            "dissenters": [],
            "complaints_until": 7,
            "counted_fixed_height": 8,
            "named_validators": [3],
        }
        self.ballots = [
            {
                "voter": voter.public_hex,
                "ballot": PAYLOAD,
                "height": 4,
                "revotes": 0,
                "tx": txcodec.tx_hash(raw),
                "replaced": [],
                "disqualified": disqualified,
            }
            for voter, raw, disqualified in [
                (self.voter, ballot, None),
                (self.cheat, cheat, {"by": 1, "height": 5, "reason": self.complaints[0]["reason"]}),
            ]
        ]
        self.attestations = [{"validator": i, "digest": digest, "result": self.result, "height": 8} for i in range(4)]
        self.aggregates = []  # a tally's aggregate posts (§18.3): none unless a test adds them
        self.down = set()  # URLs of nodes that do not answer

    def all_txs(self):
        for h, txs in self.txs.items():
            for i, (raw, ev) in enumerate(txs):
                yield h, i, raw, ev


class FakeRpc:
    """The slice of mpc_tx.client.rpc.Rpc the explorer uses, answering from a FakeChain."""

    def __init__(self, chain: FakeChain, url: str):
        self.chain, self.url = chain, url
        self.calls = []

    def _up(self):
        if self.url in self.chain.down:
            raise RpcError(f"cannot reach the node at {self.url}: [Errno 111] Connection refused")

    def status(self):
        return self.call("status")

    def tx(self, tx_hash):
        return self.call("tx", hash=_b64(bytes.fromhex(tx_hash)))

    def _header(self, h):
        return {
            "chain_id": CHAIN,
            "height": str(h),
            "time": TIME % h,
            "app_hash": f"{h:064X}",
            "data_hash": "0" * 64,
            "last_results_hash": "0" * 64,
            "proposer_address": self.chain.addresses[h % 4],
        }

    def _commit(self, h):
        return {
            "height": str(h),
            "signatures": [{"block_id_flag": 2, "validator_address": a} for a in self.chain.addresses[:3]]
            + [{"block_id_flag": 1, "validator_address": ""}],
        }

    def call(self, method, **params):
        self._up()
        self.calls.append((method, params))
        c, top = self.chain, self.chain.HEIGHT
        if method == "status":
            return {
                "node_info": {"network": CHAIN, "moniker": "node0"},
                "sync_info": {"latest_block_height": str(top), "latest_app_hash": f"{top:064X}", "catching_up": False},
            }
        if method == "blockchain":
            lo, hi = int(params["minHeight"]), int(params["maxHeight"])
            return {
                "last_height": str(top),
                "block_metas": [
                    {
                        "block_id": {"hash": f"{h:064X}"},
                        "header": self._header(h),
                        "num_txs": str(len(c.txs.get(h, []))),
                    }
                    for h in range(hi, lo - 1, -1)
                ],
            }
        if method == "commit":
            h = int(params.get("height", top))
            return {"signed_header": {"header": self._header(h), "commit": self._commit(h)}}
        if method == "block":
            h = int(params["height"])
            if h > top:
                raise RpcError("block: height must be less than or equal to the current blockchain height")
            return {
                "block_id": {"hash": f"{h:064X}"},
                "block": {
                    "header": self._header(h),
                    "data": {"txs": [_b64(r) for r, _e in c.txs.get(h, [])]},
                    "last_commit": self._commit(h - 1),
                },
            }
        if method == "block_results":
            h = int(params["height"])
            return {
                "height": str(h),
                "txs_results": [{"code": 0, "log": "", "events": e} for _r, e in c.txs.get(h, [])],
                "finalize_block_events": c.block_events.get(h, []),
            }
        if method == "tx":
            want = base64.b64decode(params["hash"]).hex().upper()
            for h, i, raw, ev in c.all_txs():
                if txcodec.tx_hash(raw) == want:
                    return {
                        "hash": want,
                        "height": str(h),
                        "index": i,
                        "tx": _b64(raw),
                        "tx_result": {"code": 0, "log": "", "events": ev},
                    }
            raise RpcError(f"tx: tx ({want}) not found, err: %!w(<nil>)")
        if method == "tx_search":
            q = params["query"]
            hits = []
            for h, i, raw, ev in c.all_txs():
                for e in ev:
                    for a in e["attributes"]:
                        if q in (f"{e['type']}.{a['key']}={a['value']}", f"{e['type']}.{a['key']}='{a['value']}'"):
                            hits.append(
                                {
                                    "hash": txcodec.tx_hash(raw),
                                    "height": str(h),
                                    "index": i,
                                    "tx": _b64(raw),
                                    "tx_result": {"code": 0, "events": ev},
                                }
                            )
            if q == "outcome_attested.poll_id=1":
                hits = [
                    {
                        "hash": txcodec.tx_hash(r),
                        "height": "8",
                        "index": i,
                        "tx": _b64(r),
                        "tx_result": {"code": 0, "events": []},
                    }
                    for i, (r, _e) in enumerate(c.txs[8])
                ]
            return {"txs": hits, "total_count": str(len(hits))}
        raise RpcError(f"unexpected method {method}")

    def query(self, path):
        self._up()
        self.calls.append(("abci_query", {"path": path}))
        c = self.chain
        route, _q, args = path.partition("?")
        if route == "/validators":
            return {"validators": c.validators}, c.HEIGHT
        if route == "/polls":
            return {
                "polls": [{k: c.poll[k] for k in ("id", "question", "kind", "status", "ballots", "close_height")}],
                "next": None,
            }, c.HEIGHT
        if route == "/poll/1":
            return json.loads(json.dumps(c.poll)), c.HEIGHT
        if route == "/poll/1/ballots":
            return {"poll": 1, "ballots": json.loads(json.dumps(c.ballots)), "next": None}, c.HEIGHT
        if route == "/poll/1/complaints":
            return {"poll": 1, "complaints": json.loads(json.dumps(c.complaints))}, c.HEIGHT
        if route == "/poll/1/aggregates":
            return {"poll": 1, "aggregates": json.loads(json.dumps(c.aggregates))}, c.HEIGHT
        if route == "/poll/1/attestations":
            return {"attestations": c.attestations}, c.HEIGHT
        if route.startswith("/poll/"):
            raise QueryError(20, f"no poll with id {route.split('/')[2]}", c.HEIGHT)
        raise QueryError(19, "no such path", c.HEIGHT)


def get(app, path: str, query: str = "", host: str = "127.0.0.1:8080") -> tuple[int, dict, str]:
    """GET `path` from an ASGI app in-process; return (status, headers, body text)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", host.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    out = {"status": None, "headers": {}, "body": b""}
    asked = []

    async def receive():
        # The request once; after it, a client that stays connected (a file response listens for a disconnect).
        if not asked:
            asked.append(1)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["headers"], out["body"].decode()
