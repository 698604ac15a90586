"""One network namespace per validator, joined by veth pairs to a bridge; partition and heal one.

The namespaces use addresses from one fixed subnet, 10.77.0.0/24, and nothing
else does: validator i is 10.77.0.(i+1), and the bridge (in the root namespace,
so that this process reaches every node's RPC) is 10.77.0.254. Every name starts
with `mpcvr`; `Network.remove` deletes them all, and runs on failure too.

A partition is silent, as a broken link is: inside the cut-off namespace every
other validator's address, and inside theirs its address, is pinned to a MAC
that no interface has, so frames go nowhere and nobody is told. This process
still reaches the cut-off node (it is not a validator). Healing removes the
pinned entries.
"""

import subprocess
import sys
import time
from pathlib import Path

from node_config.lifecycle import Testnet

__all__ = ["SUBNET", "Network", "NamespacedTestnet", "NetworkError"]

SUBNET = "10.77.0"
PREFIX = "mpcvr"
BRIDGE = f"{PREFIX}-br"
HUB_ADDRESS = f"{SUBNET}.254"
_NOWHERE = "02:00:00:77:00:fe"  # a locally administered MAC no interface has


class NetworkError(RuntimeError):
    """The namespaces could not be made (no root, no `ip`), or not removed."""


def _ip(*args, check=True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise NetworkError("`ip` (iproute2) is not installed: apt-get install -y iproute2") from None
    if check and done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


class Network:
    """n namespaces on one bridge; create() then remove() (always, in a finally)."""

    def __init__(self, n: int):
        self.n = n
        self.namespaces = [f"{PREFIX}-n{i}" for i in range(n)]
        self.veths = [f"{PREFIX}-h{i}" for i in range(n)]
        self.addresses = [f"{SUBNET}.{i + 1}" for i in range(n)]
        self.cut: set[int] = set()

    def create(self):
        self.remove()  # leftovers of an interrupted run of ours
        route = _ip("route", "show", f"{SUBNET}.0/24").stdout.strip()
        if route:
            raise NetworkError(f"{SUBNET}.0/24 is already routed here ({route}): not ours to use")
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{HUB_ADDRESS}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for ns, veth, address in zip(self.namespaces, self.veths, self.addresses):
            _ip("netns", "add", ns)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", veth, "master", BRIDGE, "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def remove(self) -> list[str]:
        """Delete every veth, namespace and the bridge of ours; return what is left (nothing)."""
        for veth in self.veths:
            _ip("link", "del", veth, check=False)
        for ns in self.namespaces:
            _ip("netns", "del", ns, check=False)
        _ip("link", "del", BRIDGE, check=False)
        deadline = time.monotonic() + 10
        while True:
            left = self.leftovers()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def leftovers(self) -> list[str]:
        links = _ip("-o", "link", "show", check=False).stdout
        names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ":" in line]
        netns = _ip("netns", "list", check=False).stdout.split()
        return sorted({x for x in names + netns if x.startswith(PREFIX)})

    def partition(self, i: int):
        """Cut validator i off from every other validator (both directions)."""
        for j in range(self.n):
            if j != i:
                self._pin(i, self.addresses[j])
                self._pin(j, self.addresses[i])
        self.cut.add(i)

    def heal(self, i: int):
        for j in range(self.n):
            if j != i:
                _ip("-n", self.namespaces[i], "neigh", "del", self.addresses[j], "dev", "eth0", check=False)
                _ip("-n", self.namespaces[j], "neigh", "del", self.addresses[i], "dev", "eth0", check=False)
        self.cut.discard(i)

    def _pin(self, i: int, address: str):
        _ip(
            "-n", self.namespaces[i], "neigh", "replace", address, "lladdr", _NOWHERE, "nud", "permanent", "dev", "eth0"
        )


class NamespacedTestnet(Testnet):
    """A multi-host testnet whose validator i runs inside network namespace i of `network`."""

    def __init__(self, directory, network: Network):
        super().__init__(directory)
        self.network = network

    def command(self, i: int, proc: str, entry: str | None = None) -> list:
        # `ip netns exec` execs the command in place: the PID is the process's own.
        return ["ip", "netns", "exec", self.network.namespaces[i]] + super().command(i, proc, entry)

    def start(self, i: int, proc: str, env: dict | None = None, entry: str | None = None) -> int:
        # Node and app meet on a unix socket in the home, which namespaces do not separate.
        return _exec_done(super().start(i, proc, env, entry))


def _exec_done(pid: int, timeout=10.0) -> int:
    """Wait until `ip netns exec` has exec'd the command (until then, and while it execs,
    /proc/PID/cmdline is not the command's, and Testnet.pid would not know the process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            return pid
        if argv[0] and argv[0] != b"ip":
            return pid
        time.sleep(0.01)
    return pid


if __name__ == "__main__":  # remove leftovers by hand: cd scripts && python -m toolkit.reliability.netns clean
    if sys.argv[1:] == ["clean"]:
        print("left:", Network(4).remove() or "nothing")
