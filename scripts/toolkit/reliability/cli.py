"""scripts/reliability [--quick] [--json]: fault scenarios on local testnets, a table of what held.

Scenarios 1, 2, 3, 5, 6 and 7 share one 4-validator testnet on loopback (ports
14000-20000); scenario 4 runs a multi-host testnet, one network namespace per
validator. Every process is stopped by its PID and every namespace removed, on
failure too. Progress goes to stderr; the table to stdout, and with --json one
JSON object as the last line. Exit status 0 only if every run passed.
"""

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from node_config.lifecycle import Testnet

from node_config.ports import STRIDE, free_port_base
from toolkit.reliability.harness import Harness, Run, Settings
from toolkit.reliability.netns import NamespacedTestnet, Network
from toolkit.reliability.report import summarise, table
from toolkit.reliability.scenarios import VARIANTS

__all__ = ["main"]

QUICK_BALLOTS, FULL_BALLOTS = 1200, 2400


def _log(message: str):
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _runs(variant, settings) -> int:
    return variant.quick_runs if settings.quick else variant.full_runs


def _run_group(variants, settings, make_net, cleanup) -> list[dict]:
    """Bring up one testnet, run every variant on it, always tear it down; return run records."""
    records, harness = [], None
    try:
        try:
            net = make_net()
            harness = Harness(net, settings, _log)
            harness.up()
        except Exception as exc:  # the testnet cannot run: each of its runs fails, none is skipped
            reason = f"the testnet could not start: {type(exc).__name__}: {exc}"
            _log(reason)
            for v in variants:
                for k in range(_runs(v, settings)):
                    run = Run(v.scenario, v.name, k + 1)
                    run.fail(reason)
                    records.append(run.record())
            return records
        for v in variants:
            for k in range(_runs(v, settings)):
                rng = settings.rng(v.name, k)
                run = harness.run(v.scenario, v.name, k + 1, lambda r, v=v, rng=rng: v.body(harness, r, rng))
                records.append(run.record())
        return records
    finally:
        if harness is not None:
            try:
                harness.down()
            except Exception as exc:
                _log(f"stopping the testnet: {type(exc).__name__}: {exc}")
        left = cleanup()
        if left and records:
            records[-1]["ok"] = False
            records[-1]["failures"].append(f"left behind after clean-up: {left}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every scenario once, 1200 ballots a run (2400 without)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--seed", type=int, default=None, help="replay the random choices of a run")
    parser.add_argument("--only", default=None, help="run only the variants whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the testnet folders (logs) afterwards")
    args = parser.parse_args(argv)

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    settings = Settings(quick=args.quick, ballots=QUICK_BALLOTS if args.quick else FULL_BALLOTS, seed=seed)
    variants = [v for v in VARIANTS if _runs(v, settings) > 0 and (args.only is None or args.only in v.name)]
    command = "scripts/reliability" + (" --quick" if args.quick else "") + f" --seed {seed}"
    _log(f"{command}: {len(variants)} scenario variants, {settings.ballots} ballots a run")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run every finally on TERM too
    work = Path(tempfile.mkdtemp(prefix="mpcvote-reliability-"))
    started = time.monotonic()
    machine = _machine()
    records = []
    try:
        single = [v for v in variants if not v.namespaced]
        if single:

            def make_single():
                net = Testnet(work / "loopback")
                base = free_port_base(4 * STRIDE, low=14000, high=20000, step=100, rng=settings.rng("ports"))
                net.generate(4, port_base=base, block_time=settings.block_time)
                return net

            records += _run_group(single, settings, make_single, lambda: [])
        spaced = [v for v in variants if v.namespaced]
        if spaced:
            network = Network(4)

            def make_spaced():
                network.create()
                net = NamespacedTestnet(work / "namespaces", network)
                net.generate(4, hosts=network.addresses, block_time=settings.block_time)
                return net

            def remove():
                try:
                    return network.remove()
                except Exception as exc:
                    return [f"{type(exc).__name__}: {exc}"]

            records += _run_group(spaced, settings, make_spaced, remove)
    finally:
        ok = records and all(r["ok"] for r in records)
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            _log(f"testnet folders and logs kept in {work}")

    meta = {
        "command": command,
        "quick": args.quick,
        "seed": seed,
        "ballots_per_run": settings.ballots,
        "min_in_flight": settings.min_in_flight,
        "block_time": settings.block_time,
        "mpc_attempt_blocks": settings.attempt_blocks,
        "mpc_deadline_blocks": settings.deadline_blocks,
        "machine": machine,
        "duration_s": round(time.monotonic() - started, 1),
    }
    summary = summarise(variants, records, meta)
    print(table(summary))
    print(
        f"\n{len(records)} runs in {meta['duration_s']:.0f} s; lost {summary['lost']}, divergences "
        f"{summary['divergences']}, wrong outcomes {summary['wrong_outcomes']}, crashes {summary['crashes']}; "
        f"{'all passed' if summary['ok'] else 'FAILURES'} (seed {seed})"
    )
    for r in records:
        for f in r["failures"]:
            print(f"  {r['variant']} #{r['run']}: {f}")
        for c in r["crashes"]:
            print(f"  {r['variant']} #{r['run']}: crash {c}")
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["ok"] else 1
