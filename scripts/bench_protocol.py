#!/usr/bin/env python3
"""Time the verifiable-ballot protocol layer (pure Python + rbcl) and print a Markdown table.

    .venv/bin/python scripts/bench_protocol.py [--repeat 30]

Per configuration (m = 4 and 7; k = 1 a unanimity poll, k = 3 a tally, as the chain makes
them in docs/PROTOCOL.md §17; t the top of MPyC's range): ballot
bytes; build (voter); verify (every validator, on the consensus path); open + share check
(one validator); make a complaint; adjudicate it; add a ballot to the aggregate; check one
validator's aggregate pair; interpolate t+1 pairs and run the final check. The best of
--repeat runs (the cores are shared: the minimum is the least disturbed), in ms except the
aggregate update (µs). Adjudication re-verifies the ballot. Then public unanimity: make and
check a round-1 mask and a round-2 opening, and the outcome from t+1 openings. One core.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mpc_tx.protocol import group  # noqa: E402
from mpc_tx.protocol.aggregate import (
    Aggregate,
    check_aggregate_pairs,
    check_opening,
    encode_aggregate_pairs,
    interpolate,
    sum_pairs,
)  # noqa: E402
from mpc_tx.protocol.ballot import build_ballot, open_ballot, verify_ballot  # noqa: E402
from mpc_tx.protocol.complaint import adjudicate, make_complaint  # noqa: E402
from mpc_tx.protocol.context import make_poll  # noqa: E402
from mpc_tx.protocol.unanimity import check_mask, check_open, combine_masks, make_mask, make_open, unanimity_outcome  # noqa: E402

__all__ = ["CONFIGS", "main"]

CONFIGS = [(4, 1, 1), (4, 1, 3), (7, 3, 1), (7, 3, 3)]
VOTER = b"\x11" * 32
TX_HASH = b"\x22" * 32


def _best_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def _row(m: int, t: int, k: int, repeat: int) -> dict:
    keys = [group.random_scalar() for _ in range(m)]
    poll = make_poll(b"bench", b"poll", t, k, k > 1, [group.base(x).encode() for x in keys])
    values = [1] + [0] * (k - 1)
    raw = build_ballot(poll, VOTER, values)
    b = verify_ballot(poll, VOTER, raw)
    pairs = [open_ballot(poll, VOTER, b, i, x) for i, x in enumerate(keys)]
    complaint = make_complaint(poll, TX_HASH, b, 0, keys[0])
    agg = Aggregate(poll)
    agg.add(b)
    posts = {i: encode_aggregate_pairs(sum_pairs(k, [p])) for i, p in enumerate(pairs)}
    checked = {i: check_aggregate_pairs(agg, i, posts[i]) for i in range(t + 1)}
    scratch = Aggregate(poll)
    return {
        "m": m,
        "t": t,
        "k": k,
        "bytes": len(raw),
        "build": _best_ms(lambda: build_ballot(poll, VOTER, values), repeat),
        "verify": _best_ms(lambda: verify_ballot(poll, VOTER, raw), repeat),
        "share check": _best_ms(lambda: open_ballot(poll, VOTER, b, 0, keys[0]), repeat),
        "complaint": _best_ms(lambda: make_complaint(poll, TX_HASH, b, 0, keys[0]), repeat),
        "adjudicate": _best_ms(lambda: adjudicate(poll, VOTER, TX_HASH, raw, 0, complaint), repeat),
        "aggregate add µs": _best_ms(lambda: scratch.add(b), repeat) * 1000,
        "pair check": _best_ms(lambda: check_aggregate_pairs(agg, 0, posts[0]), repeat),
        "tally": _best_ms(lambda: check_opening(agg, interpolate(t, checked)), repeat),
    }


def _unanimity_row(m: int, t: int, repeat: int) -> dict:
    keys = [group.random_scalar() for _ in range(m)]
    poll = make_poll(b"bench", b"poll", t, 1, False, [group.base(x).encode() for x in keys])
    raw = build_ballot(poll, VOTER, [1])
    b = verify_ballot(poll, VOTER, raw)
    agg = Aggregate(poll)
    agg.add(b)
    pairs = [sum_pairs(1, [open_ballot(poll, VOTER, b, i, x)])[0] for i, x in enumerate(keys)]
    rng = group.random_scalar
    masks = [make_mask(agg, j, rng(), rng) for j in range(m)]
    rd, w = combine_masks([check_mask(agg, j, x) for j, x in enumerate(masks)])
    opens = [make_open(agg, i, pairs[i], w, rng) for i in range(m)]
    checked = {i: check_open(agg, i, w, x) for i, x in enumerate(opens)}
    return {
        "m": m,
        "t": t,
        "mask": _best_ms(lambda: make_mask(agg, 0, rng(), rng), repeat),
        "mask check": _best_ms(lambda: check_mask(agg, 0, masks[0]), repeat),
        "open": _best_ms(lambda: make_open(agg, 0, pairs[0], w, rng), repeat),
        "open check": _best_ms(lambda: check_open(agg, 0, w, opens[0]), repeat),
        "outcome": _best_ms(lambda: unanimity_outcome(agg, rd, w, checked), repeat),
    }


def _table(rows) -> None:
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(v) if isinstance(v, int) else f"{v:.2f}" for v in row.values()) + " |")


def _primitives(repeat: int) -> dict:
    p = group.base(group.random_scalar())
    s = group.random_scalar()
    data = p.encode()
    return {
        "mul": _best_ms(lambda: group.mul(s, p), repeat * 20) * 1000,
        "base": _best_ms(lambda: group.base(s), repeat * 20) * 1000,
        "add": _best_ms(lambda: p + p, repeat * 20) * 1000,
        "parse_point": _best_ms(lambda: group.parse_point(data, "P"), repeat * 20) * 1000,
    }


def main(argv=None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    _table([_row(m, t, k, args.repeat) for m, t, k in CONFIGS])
    print()
    print("public unanimity, per validator post (ms):")
    _table([_unanimity_row(m, t, args.repeat) for m, t in [(4, 1), (7, 3)]])
    prim = _primitives(args.repeat)
    print()
    print("primitives (µs): " + ", ".join(f"{name} {v:.1f}" for name, v in prim.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
