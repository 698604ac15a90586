#!/usr/bin/env python3
"""Ingest and memory: ballots into a 4-validator testnet, against CometBFT's kvstore on the same shape.

One run starts a 4-validator mpcvote testnet (apps, nodes and MPC workers) on
loopback, opens a tally poll, builds N ballots from N new voter keys (before the
clock starts) and sends them over several connections spread across the nodes;
then it starts the same testnet shape with only nodes running CometBFT's built-in
kvstore (`--proxy_app=kvstore`) and sends N unique `key=value` txs of the same
sizes. Both count commits (code 0, read from the blocks), not submissions. The
peak RSS of every process is sampled throughout. Every process is stopped by its
PID, on failure too.

    .venv/bin/python scripts/bench_ingest.py [--ballots 20000] [--profile] [--json]

Used by scripts/bench, which prints the table and writes the plots.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.measure import await_exec, check_ports_free, cpu_seconds, machine_busy_seconds  # noqa: E402
from mpc_tx.client.cli import Client  # noqa: E402
from mpc_tx.protocol.keys import SigningKey  # noqa: E402
from toolkit.load import build_ballots, filler_txs, percentile, random_choices, run_load  # noqa: E402
from node_config.generate import find_cometbft  # noqa: E402
from node_config import tomlpatch  # noqa: E402
from node_config.lifecycle import Testnet  # noqa: E402

__all__ = ["IngestOptions", "run", "table_rows", "write_plots", "summarise_profile", "handler_breakdown"]

VALIDATORS = 4
OPTIONS = ["a", "b", "c"]
PORTS_PER_VALIDATOR = 20


class IngestOptions:
    """What one ingest run does; --quick only lowers the ballot count."""

    def __init__(
        self,
        ballots=20000,
        block_time="300ms",
        port_base=28000,
        kvstore_port_base=28400,
        connections=8,
        batch=10,
        window=1500,
        timeout=420.0,
        drain=30.0,
        profile=False,
        out=ROOT / "build" / "bench",
        keep=False,
        workers=True,
    ):
        self.ballots, self.block_time = ballots, block_time
        self.port_base, self.kvstore_port_base = port_base, kvstore_port_base
        self.connections, self.batch, self.window = connections, batch, window
        self.timeout, self.drain = timeout, drain
        self.profile, self.out, self.keep = profile, Path(out), keep
        self.workers = workers


# --- processes ---------------------------------------------------------------------------
class KvstoreTestnet(Testnet):
    """The same homes and ports, but each node runs CometBFT's built-in kvstore app in-process."""

    def command(self, i, proc, entry=None):
        if proc != "node":
            raise ValueError("a kvstore testnet runs nodes only")
        return [str(find_cometbft(None)), "start", "--home", self.validators[i]["home"], "--proxy_app", "kvstore"]


class RssSampler(threading.Thread):
    """Sample the resident set size of labelled PIDs; keep the series and each label's peak."""

    def __init__(self, interval=0.5):
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self.pids = {}  # pid -> (role, label)
        self.series = defaultdict(list)  # label -> [(t, MiB)]
        # label -> [(t, MiB)] of anonymous memory only: RSS also counts the pages of files a
        # process maps, and LevelDB maps its table files (page cache, shared, reclaimable).
        self.anon = defaultdict(list)
        self.peak = defaultdict(float)  # role -> MiB
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.t0 = time.monotonic()

    def watch(self, pid, role, label):
        with self.lock:
            self.pids[pid] = (role, label)

    def forget(self, pid):
        """Read the process's own high-water mark, then stop sampling it (call before stopping it)."""
        hwm = _status_mb(pid, "VmHWM")
        with self.lock:
            role, _ = self.pids.pop(pid, (None, None))
            if role and hwm:
                self.peak[role] = max(self.peak[role], hwm)

    def run(self):
        while not self.stopping.wait(self.interval):
            self.sample()

    def sample(self):
        now = time.monotonic() - self.t0
        with self.lock:
            for pid, (role, label) in list(self.pids.items()):
                status = _status_mbs(pid)
                rss = status.get("VmRSS")
                if rss is not None:
                    self.series[label].append((now, rss))
                    self.peak[role] = max(self.peak[role], rss)
                if "RssAnon" in status:
                    self.anon[label].append((now, status["RssAnon"]))

    def stop(self):
        self.stopping.set()
        self.join(5)

    def cpu_snapshot(self):
        """Return (time, busy CPU seconds of the whole machine, {role: CPU seconds of our processes})."""
        with self.lock:
            roles = {pid: role for pid, (role, _) in self.pids.items()}
        by_role = defaultdict(float)
        for pid, role in roles.items():
            by_role[role] += cpu_seconds(pid)
        by_role["loadgen"] = cpu_seconds(os.getpid())
        return time.monotonic(), machine_busy_seconds(), dict(by_role)


def cpu_use(before, after, txs):
    """Return CPU between two cpu_snapshot()s: cores busy per role, CPU ms per committed tx, other load."""
    (t0, busy0, roles0), (t1, busy1, roles1) = before, after
    if t1 <= t0:
        return {}
    used = {role: roles1[role] - roles0.get(role, 0.0) for role in roles1}
    other = max(0.0, (busy1 - busy0) - sum(used.values()))
    return {
        "cores": {**{r: round(v / (t1 - t0), 2) for r, v in used.items()}, "other": round(other / (t1 - t0), 2)},
        "ms_per_tx": {r: round(1000 * v / txs, 2) for r, v in used.items()} if txs else {},
        "other_load_cores": round(other / (t1 - t0), 2),
    }


def _status_mb(pid, field):
    return _status_mbs(pid).get(field)


def _status_mbs(pid) -> dict:
    """The kB fields of /proc/PID/status, in MiB ({} once the process is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if value.endswith(" kB"):
                out[name] = int(value.split()[0]) / 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return {}
    return out


def _log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _progress(name, total):
    last = [0.0]

    def show(result):
        now = time.monotonic()
        if now - last[0] >= 2.0:
            last[0] = now
            _log(f"{name}: sent {result.sent}/{total}, committed {result.committed}, {now - result.started:.0f} s")

    return show


# --- profiling -------------------------------------------------------------------------------
class Profiler:
    """py-spy sampling some processes (no pause of the target: --nonblocking), raw collapsed stacks."""

    def __init__(self, out_dir: Path, rate=100):
        self.out_dir, self.rate = out_dir, rate
        self.procs = []  # (Popen, path)

    def attach(self, pid, name, duration):
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(exe).exists():
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy==0.4.3")
        path = self.out_dir / f"{name}.collapsed"
        p = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(self.rate),
                "--nonblocking",
                "--duration",
                str(int(duration)),
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append((p, path))

    def stop(self):
        """Ask each py-spy (by PID) to write its profile now; kill any that does not finish."""
        for p, _ in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGINT)
        for p, _ in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
        return [path for _, path in self.procs if path.exists()]


class NodeProfile(threading.Thread):
    """A Go CPU profile of one CometBFT node over its pprof listener (rpc.pprof_laddr, loopback).

    `go tool pprof -top` of it shows whether a node's time is in CometBFT itself
    (consensus, mempool, gossip, indexing) or in talking to the app (the socket ABCI client).
    """

    def __init__(self, home: str, port: int, seconds: int, path: Path):
        super().__init__(daemon=True, name="node-profile")
        self.url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={seconds}"
        self.seconds, self.path, self.error = seconds, path, None
        tomlpatch.patch_file(Path(home) / "config" / "config.toml", {"rpc": {"pprof_laddr": f"127.0.0.1:{port}"}})

    def run(self):
        try:
            with urllib.request.urlopen(self.url, timeout=self.seconds + 30) as answer:
                self.path.write_bytes(answer.read())
        except OSError as exc:
            self.error = str(exc)

    def top(self, nodecount=25) -> list[dict]:
        """Return the top functions by cumulative CPU, [] if there is no profile."""
        self.join(self.seconds + 40)
        if self.error or not self.path.exists():
            _log(f"node profile: none ({self.error or 'no file'})")
            return []
        out = subprocess.run(
            [
                "go",
                "tool",
                "pprof",
                "-top",
                "-cum",
                f"-nodecount={nodecount}",
                str(find_cometbft(None)),
                str(self.path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        rows = []
        for line in out.stdout.splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[1].endswith("%") and parts[4].endswith("%"):
                rows.append({"function": parts[5], "flat_pct": float(parts[1][:-1]), "cum_pct": float(parts[4][:-1])})
        return rows


def summarise_profile(paths, top=25, prefix="abci_app/"):
    """Return (samples, [(function, self %, inclusive %)]) over collapsed-stack files.

    A function is `name (file)`; inclusive counts a sample once per function on its
    stack. Only frames whose file contains `prefix` are listed, ordered by inclusive
    share, then the other frames with the most self time.
    """
    self_n, incl_n, total = Counter(), Counter(), 0
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_frame_name(f) for f in stack.split(";") if f]
            frames = [f for f in frames if f is not None]
            if frames:
                self_n[frames[-1]] += n
            for f in set(frames):
                incl_n[f] += n
    if not total:
        return 0, []
    ours = sorted((f for f in incl_n if prefix in f), key=lambda f: -incl_n[f])[:top]
    others = [f for f, _ in self_n.most_common() if prefix not in f][:top]
    rows = [(f, 100 * self_n[f] / total, 100 * incl_n[f] / total) for f in ours + others]
    return total, rows


# The app's ABCI handlers, outermost first on a stack: where a ballot's verification runs.
HANDLERS = ("check_tx", "prepare_proposal", "process_proposal", "finalize_block", "commit", "query")


def handler_breakdown(paths, verify="verify_ballot") -> tuple[int, list]:
    """Return (samples, [(handler, % of samples, % of samples inside `verify` under it)]) over collapsed stacks.

    With the app's CPU per tx, this says how often each handler verifies a ballot: a cache
    that works leaves `verify` under check_tx alone (once per ballot per app).
    """
    counts, inside, total = Counter(), Counter(), 0
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            # "Application.check_tx (abci_app/app.py:120)" -> "check_tx"
            names = [f.strip().partition(" (")[0].rpartition(".")[2] for f in stack.split(";")]
            handler = next((h for h in names if h in HANDLERS), "other")
            counts[handler] += n
            if verify in names:
                inside[handler] += n
    if not total:
        return 0, []
    order = [h for h in HANDLERS + ("other",) if counts[h]]
    return total, [(h, 100 * counts[h] / total, 100 * inside[h] / total) for h in order]


def _frame_name(frame):
    # py-spy raw frames read "function (path/file.py:line)"; drop the line, keep the file from the package.
    frame = frame.strip()
    if frame.startswith("process ") or frame.startswith("thread "):
        return None
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("/abci_app/", "/mpc_tx/", "/node_config/", "/site-packages/", "/lib/python"):
        if marker in where:
            where = where[where.index(marker) + 1 :]
            break
    return f"{name} ({where})"


# --- the two runs ---------------------------------------------------------------------------
def _summary(result, total, tx_bytes):
    lat = result.latencies()
    rate, method = result.steady_rate()
    blocks = [b for b in result.blocks if b[3] or b[4]]
    span = (blocks[-1][1] - result.started) if blocks else 0.0
    return {
        "txs": total,
        "tx_bytes": tx_bytes,
        "sent": result.sent,
        "committed": result.committed,
        "failed_in_block": result.failed,
        "rpc_errors": result.rpc_errors,
        "mempool_full_retries": result.full_retries,
        "unsent": result.unsent,
        "steady_tx_per_s": round(rate, 1),
        "steady_part": method,
        "overall_tx_per_s": round(result.committed / span, 1) if span else 0.0,
        "p50_commit_latency_s": _round(percentile(lat, 0.5)),
        "p99_commit_latency_s": _round(percentile(lat, 0.99)),
        "blocks_with_txs": len(blocks),
        "max_block_txs": max((b[3] + b[4] for b in blocks), default=0),
        "run_s": round(result.finished - result.started, 1),
        "loadgen_cpu_s": round(result.client_cpu_s, 1),
    }


def _round(x, digits=3):
    return None if x is None else round(x, digits)


def _curve(result):
    # Cumulative commits of ours against seconds since the first send, one point per block.
    points, total = [(0.0, 0)], 0
    for _height, seen, _n, ok, _failed in result.blocks:
        total += ok
        points.append((seen - result.started, total))
    return points


def _measured_load(net, txs, opts, sampler, node_profile, name):
    """Send txs to every node, counting commits from the blocks; return (result, summary with CPU use)."""
    start_height = net.rpc(0).height() + 1
    cpu0 = sampler.cpu_snapshot()
    if node_profile:
        node_profile.start()
    result = run_load(
        [net.rpc_url(i) for i in range(VALIDATORS)],
        txs,
        watch_url=net.rpc_url(0),
        start_height=start_height,
        connections=opts.connections,
        batch=opts.batch,
        window=opts.window,
        timeout=opts.timeout,
        drain=opts.drain,
        progress=_progress(name, len(txs)),
    )
    summary = _summary(result, len(txs), len(txs[0]))
    summary.update(cpu_use(cpu0, sampler.cpu_snapshot(), result.committed))
    if node_profile:
        summary["_node_profile"] = node_profile.top()
    return result, summary


def _node_profile(net, port_base, expected_s, profile_dir, name):
    """With --profile: a Go CPU profile of node 0 over about the load's expected duration."""
    if profile_dir is None:
        return None
    seconds = int(max(4, min(30, expected_s)))
    return NodeProfile(net.validators[0]["home"], port_base + 4, seconds, profile_dir / f"{name}-node0.pprof")


def run_mpcvote(opts, workdir, sampler, profile_dir=None):
    net = Testnet(workdir / "mpcvote")
    check_ports_free(opts.port_base, VALIDATORS * PORTS_PER_VALIDATOR)
    _log(f"mpcvote: generating a {VALIDATORS}-validator testnet (port base {opts.port_base})")
    net.generate(VALIDATORS, port_base=opts.port_base, block_time=opts.block_time)
    node_profile = _node_profile(net, opts.port_base, opts.ballots / 500, profile_dir, "mpcvote")
    profiler = None
    pids = []
    try:
        for i in range(VALIDATORS):
            procs = ("app", "node", "worker") if opts.workers else ("app", "node")
            net.start_validator(i, worker=opts.workers)
            await_exec(net, [(i, proc) for proc in procs])
            for proc in procs:
                pid = net.pid(i, proc)
                if pid:
                    pids.append(pid)
                    sampler.watch(pid, proc, f"{proc}{i}")
        net.wait_height(2, timeout=90)
        genesis = json.loads(net.genesis_path().read_text())
        client = Client(net.rpc_url(0), genesis=str(net.genesis_path()))
        created = client.create_poll(
            SigningKey.generate(),
            "Benchmark: which option?",
            "tally",
            options=OPTIONS,
            close_in=20000,
            max_ballots=opts.ballots,
            max_revotes=0,
            min_ballots=None,
        )
        poll = client.query(f"/poll/{created['poll']}")
        _log(f"mpcvote: building {opts.ballots} ballots for poll {poll['id']} in worker processes")
        t0 = time.monotonic()
        txs = [b.raw for b in build_ballots(poll, genesis, random_choices(poll, opts.ballots))]
        _log(f"mpcvote: built in {time.monotonic() - t0:.1f} s, {len(txs[0])} bytes each; sending")
        if profile_dir is not None:
            profiler = Profiler(profile_dir)
            for i in range(VALIDATORS):
                profiler.attach(net.pid(i, "app"), f"app{i}", opts.timeout + opts.drain)
                if opts.workers:
                    profiler.attach(net.pid(i, "worker"), f"worker{i}", opts.timeout + opts.drain)
        result, summary = _measured_load(net, txs, opts, sampler, node_profile, "mpcvote")
        profiles = profiler.stop() if profiler else []
        profiler = None
        counted = client.query(f"/poll/{poll['id']}")["ballots"]
        summary.update({"poll_ballots": counted, "app_hashes_agree": net.status()["agree"]})
        if counted != result.committed:
            _log(f"mpcvote: WARNING the poll counts {counted} ballots, the blocks {result.committed}")
        return summary, result, profiles
    finally:
        if profiler:
            profiler.stop()
        sampler.sample()
        for pid in pids:
            sampler.forget(pid)
        net.down()


def run_kvstore(opts, workdir, sampler, sizes, profile_dir=None):
    net = KvstoreTestnet(workdir / "kvstore")
    check_ports_free(opts.kvstore_port_base, VALIDATORS * PORTS_PER_VALIDATOR)
    _log(f"kvstore: generating the same testnet shape (port base {opts.kvstore_port_base})")
    net.generate(VALIDATORS, port_base=opts.kvstore_port_base, block_time=opts.block_time)
    node_profile = _node_profile(net, opts.kvstore_port_base, opts.ballots / 1000, profile_dir, "kvstore")
    pids = []
    try:
        for i in range(VALIDATORS):
            pid = net.start(i, "node")
            await_exec(net, [(i, "node")])
            pids.append(pid)
            sampler.watch(pid, "kvstore_node", f"kvstore node{i}")
        net.wait_height(2, timeout=90)
        txs = filler_txs(sizes, tag=f"{os.getpid()}-{time.time_ns()}")
        _log(f"kvstore: sending {len(txs)} txs of {sizes[0]} bytes")
        result, summary = _measured_load(net, txs, opts, sampler, node_profile, "kvstore")
        return summary, result, sizes
    finally:
        sampler.sample()
        for pid in pids:
            sampler.forget(pid)
        net.down()


def run(opts: IngestOptions) -> dict:
    """Run both ingest measurements; return the report (JSON-ready) with the series for plots under "_series"."""
    opts.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mpcvote-bench-"))
    sampler = RssSampler()
    sampler.start()
    profile_dir = None
    if opts.profile:
        profile_dir = opts.out / "profile"
        shutil.rmtree(profile_dir, ignore_errors=True)
        profile_dir.mkdir(parents=True)
    try:
        mpc_summary, mpc_result, profiles = run_mpcvote(opts, workdir, sampler, profile_dir)
        # The same sizes, tx by tx (ballots of one poll are all one size anyway).
        sizes = [mpc_summary["tx_bytes"]] * mpc_summary["txs"]
        kv_summary, kv_result, _ = run_kvstore(opts, workdir, sampler, sizes, profile_dir)
    finally:
        sampler.stop()
        if not opts.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _log(f"testnet homes and logs kept in {workdir}")
    x, y = mpc_summary["steady_tx_per_s"], kv_summary["steady_tx_per_s"]
    app_growth = _app_growth(sampler.series, mpc_result, sampler.t0, mpc_summary["committed"])
    app_growth_late = _app_growth(sampler.series, mpc_result, sampler.t0, mpc_summary["committed"], True)
    anon_growth_late = _app_growth(sampler.anon, mpc_result, sampler.t0, mpc_summary["committed"], True)
    report = {
        "ingest_ballots_per_s": x,
        "ingest_kvstore_tx_per_s": y,
        "ingest_ratio": round(x / y, 3) if y else None,
        "p50_commit_latency_s": mpc_summary["p50_commit_latency_s"],
        "p99_commit_latency_s": mpc_summary["p99_commit_latency_s"],
        "kvstore_p50_commit_latency_s": kv_summary["p50_commit_latency_s"],
        "kvstore_p99_commit_latency_s": kv_summary["p99_commit_latency_s"],
        "peak_rss_mb": {role: round(sampler.peak.get(role, 0.0), 1) for role in ("node", "app", "worker")},
        "kvstore_node_peak_rss_mb": round(sampler.peak.get("kvstore_node", 0.0), 1),
        "app_rss_growth_mb_per_1000_ballots": app_growth,
        "app_rss_growth_second_half_mb_per_1000_ballots": app_growth_late,
        "app_anon_growth_second_half_mb_per_1000_ballots": anon_growth_late,
        "ingest": {
            "mpcvote": mpc_summary,
            "kvstore": kv_summary,
            "settings": {
                "validators": VALIDATORS,
                "block_time": opts.block_time,
                "connections": opts.connections,
                "batch": opts.batch,
                "window": opts.window,
                "poll_options": len(OPTIONS),
                "mpc_workers": opts.workers,
            },
        },
        "_series": {
            "mpcvote": _curve(mpc_result),
            "kvstore": _curve(kv_result),
            "mpcvote_latency": mpc_result.latencies(),
            "kvstore_latency": kv_result.latencies(),
            "rss": dict(sampler.series),
            "anon": dict(sampler.anon),
        },
    }
    node_profiles = {
        "mpcvote": mpc_summary.pop("_node_profile", None),
        "kvstore": kv_summary.pop("_node_profile", None),
    }
    if any(node_profiles.values()):
        report["node_profile"] = node_profiles
    apps = [p for p in profiles if p.name.startswith("app")]
    workers = [p for p in profiles if p.name.startswith("worker")]
    if apps:
        samples, rows = summarise_profile(apps)
        report["profile"] = {
            "samples": samples,
            "files": [str(p) for p in apps],
            "top": [{"function": f, "self_pct": round(s, 1), "incl_pct": round(c, 1)} for f, s, c in rows],
        }
        samples, rows = handler_breakdown(apps)
        app_ms = mpc_summary.get("ms_per_tx", {}).get("app", 0.0) / VALIDATORS  # per ballot, per app
        report["profile"]["handlers"] = [
            {
                "handler": h,
                "pct": round(c, 1),
                "verify_pct": round(v, 1),
                "verify_ms_per_ballot_per_app": round(app_ms * v / 100, 3),
            }
            for h, c, v in rows
        ]
    if workers:
        samples, rows = summarise_profile(workers, prefix="mpc_tx/")
        report["worker_profile"] = {
            "samples": samples,
            "files": [str(p) for p in workers],
            "top": [{"function": f, "self_pct": round(s, 1), "incl_pct": round(c, 1)} for f, s, c in rows],
        }
    return report


def _app_growth(series, result, t0, committed, second_half=False):
    """MiB of app RSS per 1000 committed ballots (mean over the apps).

    Over the whole load, or with second_half over its second half only: by then the
    caches (LevelDB's memtable and block cache, the decoded-tx cache, the allocator's
    arenas) are warm, so what still grows there grows with the ballots held.
    """
    start, end, counted = result.started - t0, result.finished - t0, committed
    if second_half:
        total, half = 0, None
        for _height, seen, _n, ok, _failed in result.blocks:
            total += ok
            if total >= committed / 2:
                half = (seen - t0, total)
                break
        if half is None:
            return None
        start, counted = half[0], committed - half[1]
    growth = []
    for label, points in series.items():
        if not label.startswith("app"):
            continue
        before = [m for t, m in points if t <= start]
        after = [m for t, m in points if t <= end]
        if before and after:
            growth.append(after[-1] - before[-1])
    if not growth or not counted:
        return None
    return round(sum(growth) / len(growth) / counted * 1000, 2)


# --- output ------------------------------------------------------------------------------
def table_rows(report) -> list[tuple]:
    """Return (measurement, mpcvote, kvstore, note) rows of the ingest and memory table."""
    m, k = report["ingest"]["mpcvote"], report["ingest"]["kvstore"]
    s = report["ingest"]["settings"]
    rss = report["peak_rss_mb"]
    return [
        (
            "txs offered",
            m["txs"],
            k["txs"],
            f"{s['validators']} validators, {s['connections']} connections, batches of {s['batch']}, "
            f"window {s['window']}",
        ),
        ("tx size (bytes)", m["tx_bytes"], k["tx_bytes"], f"tally ballot, {s['poll_options']} options"),
        ("committed (code 0)", m["committed"], k["committed"], "read from the blocks"),
        (
            "rejected or lost",
            m["txs"] - m["committed"],
            k["txs"] - k["committed"],
            "RPC refusals, CheckTx or block rejections, unsent",
        ),
        (
            "steady commit rate (tx/s)",
            m["steady_tx_per_s"],
            k["steady_tx_per_s"],
            "between the 10% and 90% commit marks",
        ),
        ("ingest ratio", report["ingest_ratio"], 1.0, "mpcvote / kvstore; target >= 0.5 (aim 0.8)"),
        ("commit latency p50 (s)", m["p50_commit_latency_s"], k["p50_commit_latency_s"], "submit to commit seen"),
        ("commit latency p99 (s)", m["p99_commit_latency_s"], k["p99_commit_latency_s"], ""),
        (
            "blocks with txs / largest",
            f"{m['blocks_with_txs']} / {m['max_block_txs']}",
            f"{k['blocks_with_txs']} / {k['max_block_txs']}",
            f"block time {s['block_time']}",
        ),
        (
            "run time (s) / load generator CPU (s)",
            f"{m['run_s']} / {m['loadgen_cpu_s']}",
            f"{k['run_s']} / {k['loadgen_cpu_s']}",
            "the generator is not the bottleneck if its CPU is low",
        ),
        (
            "other load on the machine (cores)",
            m["other_load_cores"],
            k["other_load_cores"],
            f"busy CPU not ours during the run, of {os.cpu_count()} cores: results are noisy when > 0.2",
        ),
        (
            "CPU per committed tx (ms): node / app / worker / loadgen",
            _per_tx(m),
            _per_tx(k),
            "summed over the 4 validators, during the run",
        ),
        ("peak RSS node (MiB)", rss["node"], report["kvstore_node_peak_rss_mb"], "kvstore: node with the app inside"),
        (
            "peak RSS app (MiB)",
            rss["app"],
            "-",
            f"growth per 1000 ballots: {report['app_rss_growth_mb_per_1000_ballots']} MiB over the run, "
            f"{report['app_rss_growth_second_half_mb_per_1000_ballots']} MiB over its second half, of which "
            f"anonymous (not LevelDB's mapped files) {report['app_anon_growth_second_half_mb_per_1000_ballots']} MiB",
        ),
        (
            "peak RSS worker (MiB)",
            rss["worker"],
            "-",
            "decrypts each ballot as it commits" if s["mpc_workers"] else "workers not started",
        ),
    ]


def _per_tx(summary) -> str:
    ms = summary.get("ms_per_tx", {})
    key = "kvstore_node" if "kvstore_node" in ms else "node"
    return " / ".join(str(ms.get(r, "-")) for r in (key, "app", "worker", "loadgen"))


def markdown(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_plots(report, out: Path) -> list[Path]:
    """Write ingest.png (commits over time, latency CDF) and memory.png (RSS over time)."""
    try:
        import matplotlib
    except ImportError:
        _log("no plots: matplotlib is not installed (.venv/bin/pip install matplotlib==3.11.2)")
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = report["_series"]
    paths = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in ("mpcvote", "kvstore"):
        pts = series[name]
        ax1.step(
            [t for t, _ in pts],
            [n for _, n in pts],
            where="post",
            label=f"{name}: {report['ingest'][name]['steady_tx_per_s']} tx/s",
        )
        lat = series[f"{name}_latency"]
        if lat:
            ax2.plot(lat, [(i + 1) / len(lat) for i in range(len(lat))], label=name)
    ax1.set(
        xlabel="seconds since the first send",
        ylabel="committed txs (code 0)",
        title=f"Ingest, 4 validators (ratio {report['ingest_ratio']})",
    )
    ax2.set(xlabel="submit-to-commit latency (s)", ylabel="fraction of committed txs", title="Commit latency CDF")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    paths.append(out / "ingest.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    workers = report["ingest"]["settings"]["mpc_workers"]
    roles = [
        ("node", "cometbft nodes (mpcvote solid, kvstore dashed)"),
        ("app", "mpcvote ABCI apps"),
        ("worker", "MPC workers" if workers else "MPC workers (not started)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (role, title) in zip(axes, roles):
        for label, pts in sorted(series["rss"].items()):
            kv = label.startswith("kvstore")
            name = label.split()[-1]
            if not name.startswith(role) or (kv and role != "node"):
                continue
            (line,) = ax.plot(
                [t for t, _ in pts],
                [m for _, m in pts],
                linestyle="--" if kv else "-",
                label=("kvstore " if kv else "") + name,
            )
            anon = series.get("anon", {}).get(label)
            if role == "app" and anon:
                ax.plot(
                    [t for t, _ in anon],
                    [m for _, m in anon],
                    linestyle=":",
                    color=line.get_color(),
                    label=name + " anonymous",
                )
        if role == "app":
            title += " (dotted: anonymous memory, without\nLevelDB's mapped table files)"
        ax.set(xlabel="seconds since the bench started", ylabel="RSS (MiB)", title=title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"Resident memory, peak: node {report['peak_rss_mb']['node']}, app {report['peak_rss_mb']['app']}, "
        f"worker {report['peak_rss_mb']['worker']}, kvstore node {report['kvstore_node_peak_rss_mb']} MiB"
    )
    fig.tight_layout()
    paths.append(out / "memory.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def parse_args(argv=None, quick_ballots=5000):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{quick_ballots} ballots instead of 20000")
    parser.add_argument("--ballots", type=int, help="ballots (and kvstore txs) to send")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the apps with py-spy during the mpcvote run and list the hot spots",
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "bench"), help="folder for plots and profiles")
    parser.add_argument("--port-base", type=int, default=28000)
    parser.add_argument("--kvstore-port-base", type=int, default=28400)
    parser.add_argument("--block-time", default="300ms")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--batch", type=int, default=10, help="txs per JSON-RPC batch (CometBFT's rpc.max_request_batch_size is 10)"
    )
    parser.add_argument(
        "--window", type=int, default=1500, help="most txs between mempool and block (below the 10000-tx mempool)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the testnet homes and logs")
    parser.add_argument(
        "--without-workers",
        action="store_true",
        help="diagnosis: run no MPC workers (they decrypt ballots as blocks commit)",
    )
    args = parser.parse_args(argv)
    ballots = args.ballots or (quick_ballots if args.quick else 20000)
    if not 10 <= ballots <= 200_000:
        parser.error("--ballots must be between 10 and 200000")
    opts = IngestOptions(
        ballots=ballots,
        block_time=args.block_time,
        port_base=args.port_base,
        kvstore_port_base=args.kvstore_port_base,
        connections=args.connections,
        batch=args.batch,
        window=args.window,
        profile=args.profile,
        out=args.out,
        keep=args.keep,
        workers=not args.without_workers,
    )
    return args, opts


def print_profile(report, file=sys.stdout):
    prof = report.get("profile")
    if not prof:
        return
    print(f"\nApp profile (py-spy, {prof['samples']} samples over the 4 apps, share of app CPU):\n", file=file)
    print(
        markdown(
            ["function", "self %", "incl. %"], [(r["function"], r["self_pct"], r["incl_pct"]) for r in prof["top"]]
        ),
        file=file,
    )


def print_handlers(report, file=sys.stdout):
    """Print the app's CPU per ABCI handler and the ballot verification under each."""
    prof = report.get("profile") or {}
    if prof.get("handlers"):
        print("\nApp CPU by ABCI handler (py-spy, 4 apps), and verify_ballot under each:\n", file=file)
        print(
            markdown(
                ["handler", "% of app CPU", "% in verify_ballot", "verify ms per ballot per app"],
                [
                    (r["handler"], r["pct"], r["verify_pct"], r["verify_ms_per_ballot_per_app"])
                    for r in prof["handlers"]
                ],
            ),
            file=file,
        )
    wprof = report.get("worker_profile")
    if wprof:
        print(f"\nWorker profile (py-spy, {wprof['samples']} samples over the 4 workers):\n", file=file)
        print(
            markdown(
                ["function", "self %", "incl. %"],
                [(r["function"], r["self_pct"], r["incl_pct"]) for r in wprof["top"]],
            ),
            file=file,
        )


def print_node_profile(report, file=sys.stdout):
    prof = report.get("node_profile")
    if not prof:
        return
    for name, rows in prof.items():
        if rows:
            print(f"\nNode 0 profile, {name} run (go tool pprof -top -cum, share of the node's CPU):\n", file=file)
            print(
                markdown(["function", "flat %", "cum %"], [(r["function"], r["flat_pct"], r["cum_pct"]) for r in rows]),
                file=file,
            )


def main(argv=None):
    args, opts = parse_args(argv)
    report = run(opts)
    print(markdown(["measurement", "mpcvote", "kvstore", "note"], table_rows(report)))
    for path in write_plots(report, opts.out):
        print(f"\nplot: {path}")
    print_profile(report)
    print_handlers(report)
    print_node_profile(report)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if not k.startswith("_")}))


if __name__ == "__main__":
    main()
