"""Helpers for driving the Application directly: a genesis registry, keys, block runs."""

import asyncio
import base64
import hashlib
import json

from abci_app.app import Application
from abci_app.abci.framing import frame
from abci_app.abci.pb import abci
from abci_app.checks import poll_context
from abci_app.context import BlockContext
from abci_app.store.keys import CHAIN_ID, PARAMS, VALIDATORS
from abci_app.store.overlay import Overlay
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol import tally
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot
from mpc_tx.protocol.complaint import make_complaint
from mpc_tx.protocol.group import random_scalar
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.records import poll_entries
from mpc_tx.protocol.registry import prove_key_possession

CHAIN = "test-chain"


class Chain:
    """An Application with m registered validators, driven block by block."""

    def __init__(self, home, m=4, params=None, powers=None):
        self.home = str(home)
        self.attest = [SigningKey.generate() for _ in range(m)]
        self.enc = [None] * m  # validator i's secret scalar x_i (X_i = x_i·G in its entry)
        self.cons = [None] * m
        self.powers = list(powers or [10] * m)
        self.registry = [
            {
                "index": i,
                "name": f"node{i}",
                "power": self.powers[i],
                "attest_key": self.attest[i].public_hex,
                "mpc_host": "127.0.0.1",
                "mpc_port": 40000 + 20 * i,
                "mpc_ports": 4,
                "tls_cert": "-----BEGIN CERTIFICATE-----\n...",
                "tls_sha256": f"{i:064x}",
            }
            for i in range(m)
        ]
        for i in range(m):
            self.register(i, bytes.fromhex(SigningKey.generate().public_hex))  # a valid ed25519 point
        self.genesis = {"chain_id": CHAIN, "app_state": {"params": params or {}, "validators": self.registry}}
        self.app = Application(self.home)
        self.height = 0
        self.nonces = {}

    def register(self, i, consensus_key: bytes, x=None, rng=random_scalar):
        """Give registry entry i this consensus key and an encryption key x (drawn if None) with its proof."""
        x = rng() if x is None else x
        self.cons[i], self.enc[i] = consensus_key, x
        enc_key, proof = prove_key_possession(CHAIN.encode(), consensus_key, x, rng)
        self.registry[i].update(
            address=hashlib.sha256(consensus_key).digest()[:20].hex().upper(),
            pub_key=base64.b64encode(consensus_key).decode(),
            enc_key=enc_key.hex(),
            enc_proof=proof.hex(),
        )

    def init(self):
        req = abci.RequestInitChain(
            chain_id=CHAIN, app_state_bytes=json.dumps(self.genesis["app_state"]).encode(), initial_height=1
        )
        for c, power in zip(self.cons, self.powers):
            req.validators.add(pub_key={"ed25519": c}, power=power)
        return self.app.init_chain(req)

    def reopen(self):
        self.app.close()
        self.app = Application(self.home)

    def tx(self, key, type_, body, nonce=None, chain_id=CHAIN):
        if nonce is None:
            nonce = self.nonces.get(key.public_hex, 0) + 1
            self.nonces[key.public_hex] = nonce
        return txcodec.build(key, chain_id, type_, nonce, body)

    def block(self, *txs, commit=True, block_hash=None):
        self.height += 1
        res = self.app.finalize_block(
            abci.RequestFinalizeBlock(
                txs=list(txs), height=self.height, hash=block_hash or self.height.to_bytes(32, "big")
            )
        )
        if commit:
            self.app.commit(abci.RequestCommit())
        return res

    def check(self, raw):
        return self.app.check_tx(abci.RequestCheckTx(tx=raw))

    def staged(self):
        """A fresh Overlay over the committed state and a BlockContext for the next height, past the ABCI methods."""
        state = Overlay(self.app.store)
        ctx = BlockContext(self.height + 1, b"\x00" * 32, state.get(CHAIN_ID), state.get(PARAMS), state.get(VALIDATORS))
        return state, ctx

    def query(self, path, data=b""):
        res = self.app.query(abci.RequestQuery(path=path.encode() if isinstance(path, str) else path, data=data))
        return res.code, (json.loads(res.value) if res.value else None)


def poll_body(
    close_height,
    kind="unanimity",
    options=(),
    voters=None,
    max_ballots=100,
    max_revotes=2,
    min_ballots=3,
    question="Ship it?",
    threshold=None,
):
    return {
        "question": question,
        "kind": kind,
        "options": list(options),
        "voters": voters,
        "close_height": close_height,
        "max_ballots": max_ballots,
        "max_revotes": max_revotes,
        "min_ballots": min_ballots,
        "threshold": threshold,
    }


def context_of(poll: dict, chain_id=CHAIN):
    """Return the protocol context of a poll record (as /poll/ID answers it)."""
    return poll_context(
        chain_id, poll["validators"], poll["id"], poll["threshold"], poll_entries(poll["kind"], poll["options"])
    )


def ballot_body(poll: dict, voter: SigningKey, values=None, rng=random_scalar, raw=None):
    """Return a cast_ballot body for a poll record: a real ballot of `values` (default: yes, or the first option)."""
    context = context_of(poll)
    if raw is None:
        values = values if values is not None else [1] + [0] * (context.k - 1)
        raw = build_ballot(context, bytes.fromhex(voter.public_hex), values, rng)
    return {"poll": poll["id"], "m": context.m, "t": context.t, "k": context.k, "ballot": raw.hex()}


def cast_body(chain, poll_id: int, voter: SigningKey, values=None):
    """Return a cast_ballot body with a real ballot for a poll (for an unknown id, as if a unanimity poll of t = 1)."""
    code, poll = chain.query(f"/poll/{poll_id}")
    if code != 0:
        poll = {"id": poll_id, "validators": chain.registry, "threshold": 1, "kind": "unanimity", "options": []}
    return ballot_body(poll, voter, values)


def ballot_tx(chain, voter: SigningKey, poll_id: int, values=None, **kw):
    """Return a signed cast_ballot with a real ballot for a poll."""
    return chain.tx(voter, "cast_ballot", cast_body(chain, poll_id, voter, values), **kw)


def complaint_body(chain, poll_id: int, i: int, voter_hex: str, secret=None, rng=random_scalar):
    """Return validator i's complain body about a voter's current ballot (with i's own key unless `secret`)."""
    poll = chain.query(f"/poll/{poll_id}")[1]
    record = chain.query(f"/poll/{poll_id}/ballot/{voter_hex}")[1]
    context = context_of(poll)
    parsed = parse_ballot(context, bytes.fromhex(record["ballot"]))
    x = chain.enc[i] if secret is None else secret
    complaint = make_complaint(context, bytes.fromhex(record["tx"]), parsed, i, x, rng)
    return {
        "poll": poll_id,
        "validator": i,
        "voter": voter_hex,
        "ballot_tx": record["tx"],
        "complaint": complaint.hex(),
    }


# Paths an outsider can send through a node's RPC (abci_query's path is any bytes).
HOSTILE_PATHS = [
    b"/polls?after=-1",
    b"/polls?after=",
    b"/polls?after=1&after=2",
    b"/polls?limit=0",
    b"/polls?limit=-5",
    b"/polls?limit=99999999999999999999999",
    b"/polls?after=9223372036854775808",
    b"/polls?after=1e3",
    b"/polls?after=0x10",
    b"/polls?after=%201",
    b"/polls?after=\xd9\xa1",
    b"/polls?bogus=1",
    b"/polls?",
    b"/polls?&",
    b"/polls?=1",
    b"/polls?after",
    b"/polls?after=1&&limit=2",
    b"/poll/-1",
    b"/poll/0",
    b"/poll/abc",
    b"/poll/",
    b"/poll",
    b"/poll/1/",
    b"//poll//1",
    b"/poll/99999999999999999999999999",
    b"/poll/9223372036854775807",
    b"/poll/\xff",
    b"/poll/1/ballots?validator=0",
    b"/poll/1/complaints?after=zz",
    b"/poll/1/complaints?after=" + b"A" * 64,
    b"/poll/1/complaints?after=" + b"A" * 64 + b"/-1",
    b"/poll/1/complaints?after=" + b"a" * 64 + b"/1",
    b"/poll/1/complaints?limit=0",
    b"/poll/1/complaints?validator=1",
    b"/poll/1/ballots?after=zz",
    b"/poll/1/ballots?after=" + b"A" * 64,
    b"/poll/1/ballots?fields=all",
    b"/poll/1/ballots?limit=1001",
    b"/poll/1/ballots?limit=1&limit=1",
    b"/poll/1/ballot/nothex",
    b"/poll/1/ballot/" + b"0" * 64 + b"?validator=1",
    b"/poll/1/ballot/" + b"0" * 64 + b"?x=1",
    b"/poll/1/outcome?x=1",
    b"/poll/1/attestations/x",
    b"/poll/1/aggregate?x=1",
    b"/poll/1/aggregate/0",
    b"/poll/1/aggregates?after=1",
    b"/poll/1/aggregates/x",
    b"/account/",
    b"/account/xyz",
    b"/account/" + b"G" * 64,
    b"/account/" + b"0" * 64 + b"/x",
    b"/status?x=1",
    b"/params/x",
    b"/validators?limit=1",
    b"",
    b"/",
    b"?",
    b"\x00",
    b"\xff\xfe",
    b"/" + b"a" * 5000,
    b"/polls?" + b"a=1&" * 400,
    b"status",
    b"/\xed\xa0\x80",
    "/poll/\u0661".encode(),
    "/polls?after=\u00b2".encode(),
]


def req(**kw):
    r = abci.Request()
    for name, value in kw.items():
        getattr(r, name).CopyFrom(value)
    return frame(r.SerializeToString())


async def read_frame(reader):
    """The client side's own reader (independent of the server's FrameBuffer): one
    message, or None at the end of the stream."""
    length, shift = 0, 0
    for _ in range(10):
        byte = await reader.read(1)
        if not byte:
            return None
        length |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            break
        shift += 7
    return await reader.readexactly(length)


async def read_responses(reader, n):
    out = []
    for _ in range(n):
        data = await asyncio.wait_for(read_frame(reader), 10)
        r = abci.Response()
        r.ParseFromString(data)
        out.append(r)
    return out


def result_codes(res):
    return [r.code for r in res.tx_results]


def cast(chain, poll_id, n=3):
    """Commit n real ballots of fresh voters (the chain's min_ballots floor, so an outcome may be revealed)."""
    poll = chain.query(f"/poll/{poll_id}")[1]
    voters = [SigningKey.generate() for _ in range(n)]
    res = chain.block(*[chain.tx(v, "cast_ballot", ballot_body(poll, v)) for v in voters])
    assert result_codes(res) == [0] * n, [r.log for r in res.tx_results]
    return voters


def fixed(chain, poll_id):
    """Run empty blocks until the poll's counted set is fixed; return the poll record."""
    while True:
        poll = chain.query(f"/poll/{poll_id}")[1]
        if poll["counted_fixed_height"] is not None:
            return poll
        assert poll["status"] == "closed", poll["status"]
        chain.block()


def attested_result(chain, poll_id, unanimous=True):
    """Return the ok payload for a poll with a fixed counted set."""
    poll = chain.query(f"/poll/{poll_id}")[1]
    return {
        "status": "ok",
        "outcome": {"unanimous": unanimous},
        "counted": poll["ballots"],
        "ballots": poll["ballots_digest"],
    }


def create(chain, creator, **kw):
    """Commit a create_poll (close_in blocks from now, the rest as poll_body); return the poll id."""
    res = chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + kw.pop("close_in", 10), **kw)))
    assert result_codes(res) == [0], res.tx_results[0].log
    return int([a.value for e in res.tx_results[0].events for a in e.attributes if a.key == "poll_id"][0])


def closed_poll(tmp_path, deadline_blocks=6):
    """A chain with a short MPC schedule (A=2, D=6) and a poll closed early with 3 ballots, its counted set
    fixed: (chain, id, digest)."""
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": deadline_blocks})
    c.init()
    c.block()
    creator = SigningKey.generate()
    poll_id = create(c, creator)
    cast(c, poll_id)
    c.block(c.tx(creator, "close_poll", {"poll": poll_id}))
    return c, poll_id, fixed(c, poll_id)["ballots_digest"]


def counted_ballots(chain, poll_id):
    """Return the committed ballot records of a poll that are counted, in voter order."""
    out, after = [], ""
    while True:
        page = chain.query(f"/poll/{poll_id}/ballots?limit=1000{after}")[1]
        out += [b for b in page["ballots"] if b["disqualified"] is None]
        if page["next"] is None:
            return out
        after = f"&after={page['next']}"


def fresh_aggregate(chain, poll_id):
    """Return the hex of A summed afresh over the poll's counted ballots (what agg/ must hold)."""
    poll = chain.query(f"/poll/{poll_id}")[1]
    context = context_of(poll)
    counted = [parse_ballot(context, bytes.fromhex(b["ballot"])).commitments for b in counted_ballots(chain, poll_id)]
    return tally.fresh_sums(context.k, context.t, counted).encode().hex()


def aggregate_body(chain, poll_id, i, check=True):
    """Return validator i's aggregate body: its opened pairs summed over the counted set (its worker's post).

    With check, the pairs are checked against the chain's A first (tally.own_pairs), as a worker does.
    """
    poll = chain.query(f"/poll/{poll_id}")[1]
    context = context_of(poll)
    pairs = []
    for record in counted_ballots(chain, poll_id):
        parsed = parse_ballot(context, bytes.fromhex(record["ballot"]))
        pairs.append(open_ballot(context, bytes.fromhex(record["voter"]), parsed, i, chain.enc[i]))
    if check:
        aggregate = chain.query(f"/poll/{poll_id}/aggregate")[1]["aggregate"]
        sums = tally.decode_sums(context.k, context.t, bytes.fromhex(aggregate))
        data = tally.own_pairs(sums, context.m, i, pairs)
        assert isinstance(data, bytes), data
    else:
        data = tally.encode_pairs(tally.sum_own_pairs(context.k, pairs))
    return {"poll": poll_id, "validator": i, "pairs": data.hex()}


def aggregate_tx(chain, poll_id, i, **kw):
    """Return validator i's signed aggregate post for a poll with a fixed counted set."""
    return chain.tx(chain.attest[i], "aggregate", aggregate_body(chain, poll_id, i, **kw))
