"""Testnet processes under test: start, kill, stop and freeze them; record every exit and panic.

Every process is started through `Testnet.start` in this process, so each is our
child: a thread per PID waits for it and records how it ended. An exit is
expected only if a scenario said so before it happened (it killed or stopped
the process, or its documented consequence: a node exits when its app's
connection drops); any other exit is a crash. Node logs are scanned for Go
panics and consensus failures.
"""

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field

from node_config.lifecycle import PROCESSES

__all__ = ["Exit", "Supervisor"]

_PANIC = re.compile(rb"^panic: |CONSENSUS FAILURE", re.M)


@dataclass
class Exit:
    """How one process of ours ended."""

    validator: int
    process: str
    pid: int
    status: str
    at: float
    expected: str | None  # why the scenario expected it, or None: a crash

    def record(self) -> dict:
        return {
            "validator": self.validator,
            "process": self.process,
            "pid": self.pid,
            "status": self.status,
            "expected": self.expected,
        }


@dataclass
class Panic:
    validator: int
    process: str
    line: str
    expected: str | None = None

    def record(self) -> dict:
        return {"validator": self.validator, "process": self.process, "line": self.line, "expected": self.expected}


@dataclass
class _Watch:
    validator: int
    process: str
    thread: threading.Thread = field(default=None)


class Supervisor:
    """Start and stop a testnet's processes by PID, knowing which exits were meant."""

    def __init__(self, net):
        self.net = net
        self.exits: list[Exit] = []
        self.panics: list[Panic] = []
        self._lock = threading.Lock()
        self._watched: dict[int, _Watch] = {}
        self._expected: dict[int, str] = {}  # pid -> why its exit is expected
        self._log_offsets: dict[str, int] = {}
        self._panic_expected: dict[int, tuple[float, str]] = {}  # validator -> (until, why)

    # --- starting ------------------------------------------------------------------------
    def start(self, i: int, proc: str, env: dict | None = None, entry: str | None = None) -> int:
        pid = self.net.start(i, proc, env=env, entry=entry)
        with self._lock:
            if pid not in self._watched:
                watch = _Watch(i, proc)
                watch.thread = threading.Thread(
                    target=self._reap, args=(pid,), daemon=True, name=f"reap-{proc}{i}-{pid}"
                )
                self._watched[pid] = watch
                watch.thread.start()
        return pid

    def start_validator(self, i: int):
        for proc in PROCESSES:
            self.start(i, proc)

    def start_all(self):
        for i in range(len(self.net.validators)):
            self.start_validator(i)

    def ensure_running(self) -> list[tuple[int, str]]:
        """Start whatever process is not running (after a crash); return what was started."""
        started = []
        for i in range(len(self.net.validators)):
            if self.net.pid(i, "app") is None and self.net.pid(i, "node") is not None:
                self.stop(i, "node", "restarted with its app")
            for proc in PROCESSES:
                if self.net.pid(i, proc) is None:
                    self.start(i, proc)
                    started.append((i, proc))
        return started

    # --- ending ----------------------------------------------------------------------------
    def expect_exit(self, pid: int | None, why: str):
        """Declare that `pid` will exit and why (before it does)."""
        if pid is not None:
            with self._lock:
                self._expected[pid] = why

    def expect_panics(self, i: int, why: str, seconds: float = 60.0):
        """Declare that validator i's node may log a panic in the next seconds (its app was killed)."""
        with self._lock:
            self._panic_expected[i] = (time.monotonic() + seconds, why)

    def kill(self, i: int, proc: str, why: str) -> int | None:
        """kill -9 one process; return its PID."""
        pid = self.net.pid(i, proc)
        self.expect_exit(pid, why)
        self.net.kill(i, proc)
        return pid

    def stop(self, i: int, proc: str, why: str) -> int | None:
        """Stop one process (TERM, then KILL); return its PID."""
        pid = self.net.pid(i, proc)
        self.expect_exit(pid, why)
        self.net.stop(i, proc)
        return pid

    def stop_all(self, why: str) -> list[dict]:
        """Stop every process of the testnet by its PID; return what was stopped."""
        stopped = []
        for i in range(len(self.net.validators)):
            for proc in ("worker", "node", "app"):
                pid = self.net.pid(i, proc)
                if pid is not None:
                    self.expect_exit(pid, why)
                    stopped.append({"validator": i, "process": proc, "pid": pid})
        self.net.down()
        return stopped

    def signal_validator(self, i: int, sig: int, procs=("worker", "node", "app")) -> dict:
        """Send sig (SIGSTOP, SIGCONT) to each process of validator i; return {process: pid}."""
        pids = {}
        for proc in procs:
            pid = self.net.pid(i, proc)
            if pid is not None:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
                pids[proc] = pid
        return pids

    def wait_exit(self, pid: int, timeout: float) -> Exit | None:
        """Wait until pid has exited; return its record, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for e in self.exits:
                    if e.pid == pid:
                        return e
            time.sleep(0.05)
        return None

    def _reap(self, pid: int):
        try:
            _, status = os.waitpid(pid, 0)
            text = _describe(status)
        except ChildProcessError:  # reaped elsewhere first (lifecycle's zombie check)
            while _exists(pid):
                time.sleep(0.1)
            text = "exited (status not seen)"
        with self._lock:
            watch = self._watched[pid]
            self.exits.append(
                Exit(watch.validator, watch.process, pid, text, time.monotonic(), self._expected.pop(pid, None))
            )

    # --- crashes ---------------------------------------------------------------------------------
    def scan_logs(self):
        """Read new node log lines; record panics and consensus failures."""
        for i in range(len(self.net.validators)):
            path = self.net.log_file(i, "node")
            try:
                with open(path, "rb") as f:
                    f.seek(self._log_offsets.get(str(path), 0))
                    data = f.read()
                    self._log_offsets[str(path)] = f.tell()
            except FileNotFoundError:
                continue
            for m in _PANIC.finditer(data):
                line = data[m.start() : data.find(b"\n", m.start())].decode(errors="replace")[:300]
                until, why = self._panic_expected.get(i, (0.0, None))
                self.panics.append(Panic(i, "node", line, why if time.monotonic() < until else None))

    def forget_logs(self):
        """Start log scanning afresh (the logs were wiped by a reset)."""
        self._log_offsets.clear()

    def mark(self) -> tuple[int, int]:
        self.scan_logs()
        with self._lock:
            return len(self.exits), len(self.panics)

    def since(self, mark: tuple[int, int]) -> tuple[list[Exit], list[Panic]]:
        self.scan_logs()
        with self._lock:
            return list(self.exits[mark[0] :]), list(self.panics[mark[1] :])


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.WEXITSTATUS(status)}"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
