#!/usr/bin/env python3
"""What verifying costs: a block of the smallest ballots on a validator, and a `vote`'s verified reads.

First, no testnet (docs/PROTOCOL.md §17 "Block size" cites this): the stateless
checks of a cast_ballot tx (decode, signature, `verify_ballot`) per configuration,
the ms per KiB of tx, and how long a full block (`block.max_bytes`, 512 KiB) of such
txs that all miss the cache takes to verify. §17 cites the smallest ballot (m=4,
t=1, k=1: the most txs per block); the highest ms per KiB of the table is printed
too (a tally's bit proof per option and its sum proof cost more per byte than a
unanimity ballot's envelopes). Medians of --repeat runs, one core.

Then (unless --block-only), the reads a `vote` makes, against `--trust-node`:
Starts a 4-validator testnet on loopback (apps and nodes, no workers), creates a
tally poll, then casts ballots with a fresh client each (nothing cached: what one
`mpcvote vote` pays), alternately verified and trusting the node. It times the
poll read alone (the verified path: /poll plus its proofs; the trusting path:
/poll) and the whole vote (build, broadcast, wait for commit), and counts RPC calls.
Every process is stopped by its PID.

    .venv/bin/python scripts/bench_verify.py [--votes 10] [--repeat 50] [--block-only] [--json]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mpc_tx.client.ballot import ballot_body  # noqa: E402
from mpc_tx.client.cli import Client  # noqa: E402
from mpc_tx.protocol import canonical, tx as txcodec  # noqa: E402
from mpc_tx.protocol.ballot import verify_ballot  # noqa: E402
from mpc_tx.protocol.context import make_poll  # noqa: E402
from mpc_tx.protocol.encoding import Rejected  # noqa: E402
from mpc_tx.protocol.group import base, random_scalar  # noqa: E402
from mpc_tx.protocol.keys import SigningKey, verify  # noqa: E402
from node_config.lifecycle import Testnet  # noqa: E402
from node_config.ports import STRIDE, free_port_base  # noqa: E402


class CountingClient(Client):
    """A Client whose RPC counts its calls."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls, call = [], self.rpc.call

        def counted(method, **params):
            self.calls.append(method)
            return call(method, **params)

        self.rpc.call = counted


BLOCK_MAX_BYTES = 524288  # block.max_bytes of the generated genesis (§17)
BLOCK_TX_OVERHEAD = 4  # a tx's field tag and length inside the block's protobuf
BLOCK_CONFIGS = [(4, 1, 1), (4, 1, 2), (4, 1, 3), (7, 3, 1), (7, 3, 3)]  # (m, t, k): k = 1 is unanimity, k > 1 a tally


def _stateless(raw: bytes, context) -> None:
    """Run the stateless checks of a cast_ballot tx: decode, signature, the ballot's proofs."""
    doc = canonical.decode(raw)
    signed = txcodec.signing_bytes(doc["chain_id"], doc["type"], doc["signer"], doc["nonce"], doc["body"])
    if not verify(doc["signer"], bytes.fromhex(doc["sig"]), signed):
        raise RuntimeError("the bench's own tx does not verify")
    if isinstance(verify_ballot(context, bytes.fromhex(doc["signer"]), bytes.fromhex(doc["body"]["ballot"])), Rejected):
        raise RuntimeError("the bench's own ballot does not verify")


def block_rows(repeat: int) -> list[dict]:
    """Return, per (m, t, k), the cost of verifying one cast_ballot tx and a full block of them (no cache)."""
    rows = []
    for m, t, k in BLOCK_CONFIGS:
        keys = [base(random_scalar()).encode() for _ in range(m)]
        context = make_poll(b"bench-verify", b"1", t, k, k > 1, keys)
        voter = SigningKey.generate()
        body = ballot_body(context, 1, voter.public_bytes, [1] + [0] * (k - 1))
        raw = txcodec.build(voter, "bench-verify", "cast_ballot", 1, body)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            _stateless(raw, context)
            times.append(time.perf_counter() - start)
        ms = statistics.median(times) * 1000
        per_block = BLOCK_MAX_BYTES // (len(raw) + BLOCK_TX_OVERHEAD)
        rows.append(
            {
                "m": m,
                "t": t,
                "k": k,
                "ballot_bytes": len(body["ballot"]) // 2,
                "tx_bytes": len(raw),
                "verify_ms": round(ms, 3),
                "best_ms": round(min(times) * 1000, 3),
                "ms_per_kib": round(ms / (len(raw) / 1024), 3),
                "txs_per_block": per_block,
                "block_s": round(per_block * ms / 1000, 3),
            }
        )
    return rows


def print_block(rows: list[dict]) -> None:
    """Print the block-size table and the figure §17 cites (the worst ratio)."""
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    print()
    smallest = min(rows, key=lambda r: r["tx_bytes"])
    worst = max(rows, key=lambda r: r["ms_per_kib"])
    for what, r in (("smallest ballot", smallest), ("highest ratio", worst)):
        print(
            f"{what} (m={r['m']}, t={r['t']}, k={r['k']}, {r['tx_bytes']}-byte txs): {r['ms_per_kib']} ms of "
            f"verification per KiB; a full {BLOCK_MAX_BYTES // 1024} KiB block of {r['txs_per_block']} such txs "
            f"that all miss the cache: {r['block_s']} s per app"
        )
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--votes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=50, help="runs per configuration of the block table (default 50)")
    ap.add_argument("--block-only", action="store_true", help="only the block table (no testnet)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    blocks = block_rows(args.repeat)
    if args.block_only:
        if args.json:
            print(json.dumps({"block": blocks}))
        else:
            print_block(blocks)
        return
    with tempfile.TemporaryDirectory() as tmp:
        net = Testnet(Path(tmp) / "net")
        try:
            net.up(
                4, worker=False, progress=False, timeout=90, port_base=free_port_base(4 * STRIDE), block_time="200ms"
            )
            net.wait_height(2, timeout=90)
            rows = _measure(net, args.votes)
        finally:
            net.down()  # every process it started, by PID
    summary = {mode: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for mode, rs in rows.items()}
    if args.json:
        print(json.dumps({"block": blocks, "vote": summary}))
        return
    print_block(blocks)
    print(
        f"{'mode':12} {'poll read ms':>13} {'read calls':>11} {'vote ms':>9} {'vote calls':>11}"
        f"   (medians of {args.votes})"
    )
    for mode, s in summary.items():
        print(f"{mode:12} {s['read_ms']:13.1f} {s['read_calls']:11.0f} {s['vote_ms']:9.1f} {s['vote_calls']:11.0f}")


def _measure(net, votes: int) -> dict:
    """Cast 2 * votes ballots, alternately verified and trusting the node; return their rows by mode."""
    rows = {"verified": [], "trust-node": []}
    genesis = str(net.genesis_path())
    creator = SigningKey.generate()
    poll_id = Client(net.rpc_url(0), genesis=genesis).create_poll(
        creator, "Venue?", "tally", ["a", "b", "c"], close_in=5000
    )["poll"]
    net.wait_height(net.rpc(0).height() + 2)
    for k in range(2 * votes):
        mode = "verified" if k % 2 == 0 else "trust-node"
        c = CountingClient(net.rpc_url(k % 4), genesis=genesis)
        c.trust_node = mode == "trust-node"
        t0 = time.perf_counter()
        poll = c.query(f"/poll/{poll_id}")
        if not c.trust_node:
            c.verified_poll(poll_id, poll)
        read_ms, read_calls = (time.perf_counter() - t0) * 1000, len(c.calls)
        c.calls.clear()
        t0 = time.perf_counter()
        c.vote(SigningKey.generate(), poll_id, "b")
        rows[mode].append(
            {
                "read_ms": read_ms,
                "read_calls": read_calls,
                "vote_ms": (time.perf_counter() - t0) * 1000,
                "vote_calls": len(c.calls),
            }
        )
    return rows


if __name__ == "__main__":
    main()
