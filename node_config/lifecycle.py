"""Run a local testnet: start, stop (by PID), status, logs and reset of every process.

Per validator there are three processes, each with a PID file and a log under
the testnet folder: the mpcvote ABCI app, its cometbft node, and its MPC worker.
The app starts first (the node dials it), the worker last (it follows the node).
"""

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.status import Status

from mpc_tx.client.rpc import Rpc, RpcError
from node_config import identity
from node_config.generate import MANIFEST, abci_address, generate_testnet, find_cometbft, _MAX_CHAIN_ID
from node_config.validator import reprove

__all__ = ["PROCESSES", "Testnet", "DEFAULT_DIR", "wait_abci_socket", "next_chain_id"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("MPCVOTE_TESTNET", ROOT / ".testnet"))
PROCESSES = ("app", "node", "worker")


class Testnet:
    """A testnet folder: its manifest, homes, PID files and logs."""

    def __init__(self, directory=DEFAULT_DIR):
        self.dir = Path(directory).resolve()

    # --- layout -------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        path = self.dir / MANIFEST
        if not path.exists():
            raise FileNotFoundError(f"no testnet in {self.dir}: run `scripts/testnet up` first")
        return json.loads(path.read_text())

    def exists(self) -> bool:
        return (self.dir / MANIFEST).exists()

    @property
    def validators(self) -> list:
        return self.manifest["validators"]

    def rpc_url(self, i: int) -> str:
        v = self.validators[i]
        return f"http://{v['host'] if v['host'] != '0.0.0.0' else '127.0.0.1'}:{v['ports']['rpc']}"

    def rpc(self, i: int) -> Rpc:
        return Rpc(self.rpc_url(i))

    def genesis_path(self) -> Path:
        return Path(self.validators[0]["home"]) / "config" / "genesis.json"

    def pid_file(self, i: int, proc: str) -> Path:
        return self.dir / "run" / f"node{i}.{proc}.pid"

    def log_file(self, i: int, proc: str) -> Path:
        return self.dir / "logs" / f"node{i}.{proc}.log"

    # --- creation -------------------------------------------------------------------
    def generate(self, validators=4, **options):
        self.dir.mkdir(parents=True, exist_ok=True)
        options.setdefault("mpc_ports", 8)  # polls closing together each get their own port
        return generate_testnet(self.dir, validators, **options)

    def set_params(self, params: dict):
        """Set chain parameters in every home's genesis (before the chain starts)."""
        for v in self.validators:
            path = Path(v["home"]) / "config" / "genesis.json"
            doc = json.loads(path.read_text())
            doc["app_state"]["params"] = dict(params)
            path.write_text(json.dumps(doc, indent=2))

    # --- processes ------------------------------------------------------------------
    def command(self, i: int, proc: str, entry: str | None = None) -> list:
        """Return the command line of one process.

        `entry` (tests only) runs a script in place of the production module with the
        same arguments: fault switches live in such test entry points, never in
        `python -m abci_app` or `python -m mpc_tx.worker`.
        """
        v = self.validators[i]
        home = v["home"]
        program = [sys.executable, entry] if entry else None
        if proc == "app":
            return (program or [sys.executable, "-m", "abci_app"]) + [
                "--home",
                f"{home}/app",
                "--listen",
                abci_address(home),
            ]
        if proc == "node":
            return [str(find_cometbft(None)), "start", "--home", home, "--proxy_app", abci_address(home)]
        if proc == "worker":
            return (program or [sys.executable, "-m", "mpc_tx.worker"]) + [
                "--home",
                home,
                "--index",
                str(i),
                "--node",
                self.rpc_url(i),
                "--genesis",
                str(Path(home) / "config" / "genesis.json"),
            ]
        raise ValueError(f"unknown process {proc!r}; one of {', '.join(PROCESSES)}")

    def pid(self, i: int, proc: str) -> int | None:
        """Return the PID of a running process of ours, or None."""
        try:
            pid = int(self.pid_file(i, proc).read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):  # gone, or reaped between open and read
            return None
        # A recycled PID belongs to someone else: ours names this validator's home.
        home = self.validators[i]["home"].encode()
        if not any(home in part for part in cmdline):
            return None
        if _is_zombie(pid):
            return None
        return pid

    def start(self, i: int, proc: str, env: dict | None = None, entry: str | None = None) -> int:
        """Start one process in the background unless it runs; return its PID (`entry`: see command)."""
        running = self.pid(i, proc)
        if running:
            return running
        self.pid_file(i, proc).parent.mkdir(parents=True, exist_ok=True)
        self.log_file(i, proc).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file(i, proc), "ab")
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        p = subprocess.Popen(
            self.command(i, proc, entry),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(ROOT),
            env=full_env,
            start_new_session=True,
        )
        log.close()
        self.pid_file(i, proc).write_text(str(p.pid))
        # Popen returns before the kernel has set the new command line; until then
        # pid() cannot tell the process is ours (and wait_height would call it exited).
        deadline = time.monotonic() + 5.0
        while self.pid(i, proc) is None and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc == "app":
            wait_abci_socket(self.validators[i]["home"], p, self.log_file(i, proc))
        return p.pid

    def start_validator(self, i: int, worker=True, env: dict | None = None):
        self.start(i, "app", env)
        self.start(i, "node")
        if worker:
            self.start(i, "worker")

    def stop(self, i: int, proc: str, sig=signal.SIGTERM, timeout=15.0) -> bool:
        """Stop one process by its PID (TERM, then KILL after `timeout`)."""
        pid = self.pid(i, proc)
        if pid is None:
            self.pid_file(i, proc).unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
        self.pid_file(i, proc).unlink(missing_ok=True)
        return True

    def kill(self, i: int, proc: str):
        """kill -9 one process (a crash, for tests)."""
        return self.stop(i, proc, sig=signal.SIGKILL, timeout=5.0)

    def stop_validator(self, i: int):
        for proc in reversed(PROCESSES):
            self.stop(i, proc)

    def up(self, validators=4, worker=True, progress=True, timeout=60.0, **options):
        if not self.exists():
            self.generate(validators, **options)
        for i in range(len(self.validators)):
            self.start_validator(i, worker=worker)
        self.wait_height(1, timeout=timeout, progress=progress)

    def down(self):
        """Stop every process of the testnet by its PID; return how many were running."""
        if not self.exists():
            return 0
        stopped = 0
        for i in range(len(self.validators)):
            for proc in ("worker", "node", "app"):
                stopped += self.stop(i, proc)
        return stopped

    def reset(self) -> str:
        """Wipe every node's chain data and app state together (never one alone); return the new chain id.

        The new chain gets a new chain id (the old one with a counter): a tx signed
        for the old chain is then refused as WRONG_CHAIN, never replayed on the new one.
        """
        self.down()
        chain_id = next_chain_id(self.manifest["chain_id"])
        self._set_chain_id(chain_id)
        for v in self.validators:
            subprocess.run(
                [str(find_cometbft(None)), "unsafe-reset-all", "--home", v["home"]], check=True, capture_output=True
            )
            shutil.rmtree(Path(v["home"]) / "app", ignore_errors=True)
            shutil.rmtree(Path(v["home"]) / "worker", ignore_errors=True)
        shutil.rmtree(self.dir / "logs", ignore_errors=True)
        return chain_id

    def _set_chain_id(self, chain_id: str):
        # Each proof of possession is bound to the chain id: every home proves its own
        # key again. ONE-HOST SHORTCUT: one process asks every home in turn; on separate
        # hosts each runs `python -m node_config entry` and a new genesis is assembled.
        proofs = {
            base64.b64encode(identity.consensus_key(v["home"])).decode(): reprove(v["home"], chain_id)
            for v in self.validators
        }
        for v in self.validators:
            path = Path(v["home"]) / "config" / "genesis.json"
            doc = json.loads(path.read_text())
            doc["chain_id"] = chain_id
            for entry in doc.get("app_state", {}).get("validators", []):
                if "enc_proof" in entry:
                    entry["enc_proof"] = proofs[entry["pub_key"]]
            path.write_text(json.dumps(doc, indent=2))
        manifest = dict(self.manifest, chain_id=chain_id)
        (self.dir / MANIFEST).write_text(json.dumps(manifest, indent=2))

    def destroy(self):
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- observation ----------------------------------------------------------------
    def wait_height(self, height: int, timeout=60.0, progress=False, nodes=None):
        """Wait until every node (or the given ones) has committed `height`.

        With progress, say so on stderr when they have; on a terminal, show a spinner
        with the heights meanwhile (rich; cleared when done, nothing when piped).
        """
        nodes = range(len(self.validators)) if nodes is None else nodes
        deadline = time.monotonic() + timeout
        console = Console(stderr=True)
        waiting = f"testnet: waiting for height {height}"
        with (
            Status(waiting, console=console, spinner="line")
            if progress and sys.stderr.isatty()
            else contextlib.nullcontext() as status
        ):
            while True:
                heights = []
                for i in nodes:
                    try:
                        heights.append(self.rpc(i).height())
                    except RpcError:
                        heights.append(-1)
                if min(heights) >= height:
                    break
                for i in nodes:
                    if self.pid_file(i, "node").exists() and self.pid(i, "node") is None:
                        tail = self.log_file(i, "node").read_text(errors="replace").splitlines()[-3:]
                        raise RuntimeError(f"node{i} exited: " + " | ".join(tail))
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"nodes did not reach height {height} within {timeout:.0f} s "
                        f"(heights {heights}); see `scripts/testnet logs`"
                    )
                if status is not None:
                    status.update(f"{waiting}, heights {heights}")
                time.sleep(0.2)
        if progress:
            print(f"testnet: all {len(heights)} nodes at height >= {height}", file=sys.stderr)
        return heights

    def status(self) -> dict:
        """Return each validator's node, app and worker (up, height, lag) and whether the nodes agree.

        `agree`: every node is reachable and their app hashes agree (what a test or the
        demo needs); `reachable_agree`: the nodes that answer agree, whatever the rest.
        """
        nodes = [self._node_status(i, v) for i, v in enumerate(self.validators)]
        top = max((n["height"] for n in nodes if n["height"] is not None), default=None)
        for n in nodes:
            n["lag"] = None if n["height"] is None else top - n["height"]
            w = n["worker"]
            w["lag"] = None if w.get("height") is None or top is None else max(0, top - w["height"])
        reachable = [i for i, n in enumerate(nodes) if n["height"]]
        common = min((nodes[i]["height"] for i in reachable), default=None)
        hashes = set()
        for i in reachable:
            try:
                hashes.add(self.rpc(i).call("block", height=str(common))["block"]["header"]["app_hash"])
            except RpcError:
                hashes.add(None)
        reachable_agree = bool(reachable) and len(hashes) == 1 and None not in hashes
        return {
            "nodes": nodes,
            "agree": reachable_agree and len(reachable) == len(nodes),
            "reachable_agree": reachable_agree,
            "reachable": len(reachable),
            "common_height": common,
        }

    def _node_status(self, i: int, v: dict) -> dict:
        rpc = self.rpc(i)
        pids = {p: self.pid(i, p) for p in PROCESSES}
        entry = {
            "name": v["name"],
            "rpc": self.rpc_url(i),
            "height": None,
            "app_hash": None,
            "peers": None,
            "processes": pids,
            "error": None,
            "app": {"pid": pids["app"], "up": pids["app"] is not None, "height": None},
            "worker": self.worker_status(i, pids["worker"]),
        }
        try:
            st = rpc.status()["sync_info"]
            entry["height"] = int(st["latest_block_height"])
            entry["app_hash"] = st["latest_app_hash"]
            entry["peers"] = int(rpc.call("net_info")["n_peers"])
            # The node asks its app: the app's own last committed height.
            entry["app"]["height"] = int(rpc.call("abci_info")["response"].get("last_block_height", 0))
        except (RpcError, KeyError, ValueError) as exc:
            entry["error"] = "node down (no process)" if pids["node"] is None else f"node not answering: {exc}"
        return entry

    def worker_status(self, i: int, pid) -> dict:
        """The worker's last heartbeat (height it followed, when, any node error) and whether it runs."""
        out = {"pid": pid, "up": pid is not None, "height": None, "seen_s": None, "error": None}
        path = Path(self.validators[i]["home"]) / "worker" / "heartbeat.json"
        try:
            beat = json.loads(path.read_text())
            out["height"], out["error"] = beat.get("height"), beat.get("error")
            out["seen_s"] = round(time.time() - float(beat["time"]), 1)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return out


def next_chain_id(chain_id: str) -> str:
    """Return the chain id after a reset: mpcvote-local -> mpcvote-local-r2 -> mpcvote-local-r3."""
    base, sep, count = chain_id.rpartition("-r")
    if sep and count.isdigit() and base:
        following = f"{base}-r{int(count) + 1}"
    else:
        following = f"{chain_id}-r2"
    if len(following) > _MAX_CHAIN_ID:  # keep the counter, shorten the name
        suffix = following[following.rindex("-r") :]
        following = following[: _MAX_CHAIN_ID - len(suffix)] + suffix
    return following


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _is_zombie(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or reaped between open and read
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_abci_socket(home, proc, log, timeout=30.0):
    """Wait until the app started as `proc` accepts connections on its home's ABCI socket."""
    path = abci_address(home)[len("unix://") :]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {path}; see {log}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(0.5)
                s.connect(path)
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {path} after {timeout:.0f} s; see {log}")
