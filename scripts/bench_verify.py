#!/usr/bin/env python3
"""What verified reads cost a `vote`: time and RPC calls, against `--trust-node`.

Starts a 4-validator testnet on loopback (apps and nodes, no workers), creates a
tally poll, then casts ballots with a fresh client each (nothing cached: what one
`mpcvote vote` pays), alternately verified and trusting the node. It times the
poll read alone (the verified path: /poll plus its proofs; the trusting path:
/poll) and the whole vote (build, broadcast, wait for commit), and counts RPC calls.
Every process is stopped by its PID.

    .venv/bin/python scripts/bench_verify.py [--votes 10] [--json]
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

from mpc_tx.client.cli import Client  # noqa: E402
from mpc_tx.protocol.keys import SigningKey  # noqa: E402
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--votes", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
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
        print(json.dumps(summary))
        return
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
