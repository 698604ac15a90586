"""The on-chain tally's testnet helpers (docs/PROTOCOL.md §18): a poll with its clear text, the state read back.

`TallyPoll` creates a poll on a running testnet, casts ballots whose choices it remembers
(the clear-text expectation), closes it early as its creator and waits (bounded) for its
end. The readers return what the chain stored (counted ballots, the stored aggregate, the
aggregate posts, event counts); `validator_pairs` computes validator i's pairs as its
worker must, from its secret key and the counted ballots read from state, so that a test
can post as validator i; `run_verify` runs `mpcvote verify POLL --json` as a user would.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from mpc_tx.protocol import events, tally, tx as txcodec
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import Invalid
from mpc_tx.protocol.keys import SigningKey

from badballots import cast_ballot_tx, chain_poll, one_hot_values
from netfixtures import client, registry_enc_keys, tx_events, validator_secrets, wait_for

__all__ = [
    "AGGREGATE_EVENT",
    "ROOT",
    "TallyPoll",
    "counted_ballots",
    "all_ballots",
    "stored_aggregate",
    "fresh_aggregate",
    "recomputed_digest",
    "aggregate_records",
    "aggregate_events",
    "event_count",
    "own_post",
    "validator_pairs",
    "aggregate_tx",
    "check_tx",
    "run_verify",
]

AGGREGATE_EVENT = getattr(events, "AGGREGATE", "aggregate")
ROOT = Path(__file__).resolve().parents[2]


class TallyPoll:
    """One poll of a test: its §17 context, the votes that count in the clear, its creator's key."""

    def __init__(self, net, kind="tally", options=("a", "b", "c"), threshold=None, min_ballots=None, max_revotes=3):
        self.net, self.c, self.kind = net, client(net), kind
        self.options = list(options) if kind == "tally" else []
        self.creator = SigningKey.generate()
        body = {
            "question": "Tallied on chain?",
            "kind": kind,
            "options": self.options,
            "voters": None,
            "close_height": self.c.rpc.height() + 600,  # far: the creator closes it early
            "max_ballots": 100,
            "max_revotes": max_revotes,
            "min_ballots": self.c.params().get("min_ballots_floor", 0) if min_ballots is None else min_ballots,
            "threshold": threshold,
        }
        raw = txcodec.build(self.creator, self.c.chain_id, "create_poll", self.c.next_nonce(self.creator), body)
        self.id = int(self.c.submit(raw)["events"][events.POLL_CREATED]["poll_id"])
        self.t = self.record()["threshold"]
        self.k = len(self.options) or 1
        self.m = len(registry_enc_keys(net))
        self.ctx = chain_poll(self.c.chain_id, self.id, self.t, self.k, registry_enc_keys(net))
        self.votes = {}  # voter hex -> the choice of its counted ballot
        self.close_hash = None

    def record(self) -> dict:
        return self.c.query(f"/poll/{self.id}")

    def values(self, choice: str) -> list[int]:
        if self.kind == "tally":
            return one_hot_values(self.k, self.options.index(choice))
        return [int(choice == "yes")]

    def send(self, key: SigningKey, raw: bytes) -> str:
        """Submit a ballot and wait for its commit (raises CliError if refused); return its tx hash."""
        tx = cast_ballot_tx(key, self.c.chain_id, self.c.next_nonce(key), self.ctx, self.id, raw)
        return self.c.submit(tx)["hash"]

    def unsent(self, choice: str) -> bytes:
        """Return a signed, valid ballot tx for this poll by a fresh voter, never sent."""
        key = SigningKey.generate()
        raw = build_ballot(self.ctx, bytes.fromhex(key.public_hex), self.values(choice))
        return cast_ballot_tx(key, self.c.chain_id, self.c.next_nonce(key), self.ctx, self.id, raw)

    def vote(self, choice: str, key: SigningKey | None = None) -> tuple[SigningKey, str]:
        key = key or SigningKey.generate()
        tx = self.send(key, build_ballot(self.ctx, bytes.fromhex(key.public_hex), self.values(choice)))
        self.votes[key.public_hex] = choice
        return key, tx

    def clear(self) -> dict:
        """The outcome computed in the clear from the votes that count."""
        choices = list(self.votes.values())
        if self.kind == "unanimity":
            return {"unanimous": all(c == "yes" for c in choices)}
        return {"tally": {o: choices.count(o) for o in self.options}}

    def close(self) -> int:
        """Close the poll early (its creator); return the close height C."""
        raw = txcodec.build(
            self.creator, self.c.chain_id, "close_poll", self.c.next_nonce(self.creator), {"poll": self.id}
        )
        res = self.c.submit(raw)
        self.close_hash = res["hash"]
        return int(res["height"])

    def outcome(self, timeout=240) -> dict:
        """Wait (bounded) for the poll's end, final or failed; return /poll/ID/outcome."""
        return client(self.net, self.id % 3).outcome(self.id, wait=True, timeout=timeout)

    def wait_fixed(self, timeout=120) -> dict:
        """Wait (bounded) until the counted set is fixed; return the poll record."""
        return wait_for(
            f"poll {self.id}'s counted set fixed",
            lambda: (lambda r: r if r.get("counted_fixed_height") is not None else None)(self.record()),
            timeout=timeout,
        )


def _pages(c, path: str, key: str) -> list[dict]:
    out, after = [], None
    while True:
        page = c.query(path + "?limit=100" + (f"&after={after}" if after else ""))
        out += page[key]
        after = page.get("next")
        if not after:
            return out


def all_ballots(c, poll_id: int) -> list[dict]:
    """Return every ballot record of a poll (counted and disqualified), in voter order."""
    return _pages(c, f"/poll/{poll_id}/ballots", "ballots")


def counted_ballots(c, poll_id: int) -> list[dict]:
    """Return the counted ballot records of a poll, in voter order (read from state)."""
    return [b for b in all_ballots(c, poll_id) if b["disqualified"] is None]


def stored_aggregate(c, poll_id: int) -> dict:
    """Return /poll/ID/aggregate: {"aggregate": hex of agg/<poll>, "ballots": n}."""
    return c.query(f"/poll/{poll_id}/aggregate")


def fresh_aggregate(poll: TallyPoll, records: list[dict]) -> tally.Sums:
    """Return A computed afresh from the commitments of these ballot records."""
    commitments = [tally.commitments_of(poll.ctx, bytes.fromhex(r["ballot"])) for r in records]
    bad = [c for c in commitments if isinstance(c, Rejected)]
    assert not bad, bad
    sums = tally.fresh_sums(poll.k, poll.t, commitments)
    assert not isinstance(sums, Rejected), sums
    return sums


def recomputed_digest(records: list[dict]) -> str:
    """Return the counted-set digest over these (counted, voter-ordered) ballot records."""
    return counted_set_digest([ballot_digest(r["voter"], bytes.fromhex(r["ballot"])) for r in records])


def aggregate_records(c, poll_id: int) -> list[dict]:
    """Return the aggregate posts' records (/poll/ID/aggregates), a list whether the node pages it or not."""
    value = c.query(f"/poll/{poll_id}/aggregates")
    if isinstance(value, dict):
        value = value.get("aggregates", [])
    return value


def aggregate_events(net, poll_id: int) -> list[dict]:
    """Return the attributes of every aggregate event of the poll (tx_search on node 0)."""
    return tx_events(net.rpc(0), f"{AGGREGATE_EVENT}.poll_id={poll_id}", AGGREGATE_EVENT)


def event_count(net, event_type: str, poll_id: int) -> int:
    """Return how many txs and blocks carry event_type for this poll (tx_search plus block_search)."""
    rpc, query = net.rpc(0), f"{event_type}.poll_id={poll_id}"
    return int(rpc.call("tx_search", query=query)["total_count"]) + int(
        rpc.call("block_search", query=query)["total_count"]
    )


def own_post(poll, i: int, x: int, records: list[dict], sums: tally.Sums) -> bytes:
    """Return validator i's pairs (secret key x) over these counted ballot records, checked as its worker does."""
    lists = []
    for r in records:
        try:
            ballot = parse_ballot(poll.ctx, bytes.fromhex(r["ballot"]))
        except Invalid as exc:
            raise AssertionError(f"a counted ballot does not parse: {exc.reason}") from None
        pairs = open_ballot(poll.ctx, bytes.fromhex(r["voter"]), ballot, i, x)
        assert not isinstance(pairs, Rejected), (r["voter"], pairs)
        lists.append(pairs)
    data = tally.own_pairs(sums, poll.m, i, lists)
    assert not isinstance(data, Rejected), data
    return data


def validator_pairs(net, poll: TallyPoll, i: int, sums: tally.Sums | None = None) -> bytes:
    """Return validator i's aggregate pairs over the poll's counted set (read from state), as its honest worker does."""
    x, _ = validator_secrets(net, i)
    records = counted_ballots(poll.c, poll.id)
    return own_post(poll, i, x, records, sums or fresh_aggregate(poll, records))


def aggregate_tx(net, poll: TallyPoll, i: int, pairs: bytes, signer: SigningKey | None = None) -> bytes:
    """Return a signed aggregate tx from validator i (its attestation key from its home, or signer)."""
    _, attest = validator_secrets(net, i)
    key = signer or attest
    body = {"poll": poll.id, "validator": i, "pairs": pairs.hex()}
    return txcodec.build(key, poll.c.chain_id, "aggregate", poll.c.next_nonce(key), body)


def check_tx(net, raw: bytes, node=0) -> dict:
    """Return CheckTx's answer to a tx sent to a node: its code and log."""
    res = net.rpc(node).broadcast_tx_sync(raw)
    return {"code": int(res["code"]), "log": res.get("log", "")}


def run_verify(node_url: str, genesis_path, poll_id: int, keys_dir, timeout=600) -> dict:
    """Run `mpcvote verify POLL --json` against a node; return its exit status, output and parsed JSON."""
    env = dict(os.environ, MPCVOTE_KEYS=str(keys_dir))
    cmd = [sys.executable, "-m", "mpc_tx.client.cli", "verify", str(poll_id)]
    cmd += ["--node", node_url, "--genesis", str(genesis_path), "--keys", str(keys_dir), "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = None
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "json": doc}
