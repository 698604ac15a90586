"""Port plans for testnet validators, on one host or one validator per host; free loopback ports."""

import os
import random
import socket
import time

__all__ = [
    "DEFAULT_PORT_BASE",
    "STRIDE",
    "MAX_MPC_PORTS",
    "MAX_PORT",
    "HOST_PORTS",
    "one_host_ports",
    "multi_host_ports",
    "free_ports",
    "free_port_base",
    "port_free",
    "wait_listening",
]

DEFAULT_PORT_BASE = 26600
# Node i on one host owns [port_base + 20*i, port_base + 20*i + 20).
STRIDE = 20
_MPC_OFFSET = 10
MAX_MPC_PORTS = STRIDE - _MPC_OFFSET
MAX_PORT = 65535

# One validator per machine: CometBFT's usual ports, MPC just above them.
HOST_PORTS = {"p2p": 26656, "rpc": 26657, "abci": 26658, "metrics": 26660, "mpc_base": 26670}


def one_host_ports(index: int, *, port_base: int = DEFAULT_PORT_BASE, mpc_ports: int = 4) -> dict:
    """Return node index's ports when all validators share one address."""
    _check_mpc_ports(mpc_ports, MAX_MPC_PORTS)
    base = port_base + STRIDE * index
    ports = {"p2p": base, "rpc": base + 1, "abci": base + 2, "metrics": base + 3, "mpc_base": base + _MPC_OFFSET}
    _check_range(port_base, ports["mpc_base"] + mpc_ports - 1)
    return ports


def multi_host_ports(*, mpc_ports: int = 4) -> dict:
    """Return the ports every validator uses when each has its own address."""
    _check_mpc_ports(mpc_ports, 65536 - HOST_PORTS["mpc_base"])
    return dict(HOST_PORTS)


def _check_mpc_ports(mpc_ports: int, limit: int) -> None:
    if type(mpc_ports) is not int or not 1 <= mpc_ports <= limit:
        raise ValueError(f"mpc_ports must be an int from 1 to {limit}")


def _check_range(low: int, high: int) -> None:
    if type(low) is not int or low < 1024 or high > 65535:
        raise ValueError(f"ports {low}..{high} do not fit in the unprivileged range 1024..65535")


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """Return n distinct ports on host that the kernel found free at the time of the call."""
    # All bound at once, so that the kernel cannot hand out the same port twice.
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_free(port: int, host: str = "127.0.0.1", *, reuse: bool = False) -> bool:
    """Return whether port can be bound on host right now (with reuse, as a node's listener
    binds: a port left in TIME_WAIT by an earlier run counts as free)."""
    with socket.socket() as s:
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def free_port_base(
    span: int,
    *,
    low: int = 12000,
    high: int = 26000,
    step: int = 200,
    rng: random.Random | None = None,
    tries: int = 50,
) -> int:
    """Return a base in [low, high) whose span ports base..base+span-1 can all be bound on loopback.

    The default range lies below the kernel's ephemeral ports (32768+), where outgoing
    connections would collide, and away from a developer's own testnet (26600+). Bases are
    drawn at random (from rng, or one seeded by this process), so parallel runs rarely meet.
    """
    rng = rng or random.Random(os.getpid() ^ time.time_ns())
    _check_range(low, high - 1)
    for _ in range(tries):
        base = rng.randrange(low, high - span, step)
        if all(port_free(p) for p in range(base, base + span)):
            return base
    raise OSError(f"no {span} free loopback ports in a row in {low}..{high}")


def wait_listening(
    port: int, host: str = "127.0.0.1", *, timeout: float = 30.0, alive=None, interval: float = 0.2
) -> bool:
    """Wait until something accepts connections on host:port (True), or the time is up or
    alive() says the server has exited (False)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if (alive is not None and not alive()) or time.monotonic() > deadline:
                return False
            time.sleep(interval)
