"""What the benchmark scripts share: CPU from /proc, free ports, processes that have started."""

import os
import time
from pathlib import Path

from node_config.ports import port_free

__all__ = ["cpu_seconds", "machine_busy_seconds", "check_ports_free", "await_exec"]

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, children=False) -> float:
    """CPU seconds of a process (utime + stime), with its waited-for children if asked; 0 once gone."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot."""
    # First line of /proc/stat: user nice system idle iowait irq softirq steal ...
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / _TICK


def check_ports_free(base, count):
    """Exit with a clear message unless every loopback port in base..base+count-1 can be bound."""
    for port in range(base, base + count):
        if not port_free(port, reuse=True):
            raise SystemExit(
                f"port {port} is in use: choose another --port-base (the bench uses {base}..{base + count - 1})"
            )


def await_exec(net, procs, timeout=15.0):
    """Wait until each (validator, process) runs its own program (between fork and exec its PID looks foreign)."""
    deadline = time.monotonic() + timeout
    for i, proc in procs:
        while net.pid(i, proc) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node{i} {proc} did not start; see {net.log_file(i, proc)}")
            time.sleep(0.05)
