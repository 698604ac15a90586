"""Port plans for testnet validators, on one host or one validator per host."""

__all__ = ["DEFAULT_PORT_BASE", "STRIDE", "MAX_MPC_PORTS", "HOST_PORTS", "one_host_ports",
           "multi_host_ports"]

DEFAULT_PORT_BASE = 26600
# Node i on one host owns [port_base + 20*i, port_base + 20*i + 20).
STRIDE = 20
_MPC_OFFSET = 10
MAX_MPC_PORTS = STRIDE - _MPC_OFFSET

# One validator per machine: CometBFT's usual ports, MPC just above them.
HOST_PORTS = {"p2p": 26656, "rpc": 26657, "abci": 26658, "metrics": 26660, "mpc_base": 26670}


def one_host_ports(index: int, *, port_base: int = DEFAULT_PORT_BASE, mpc_ports: int = 4) -> dict:
    """Return node index's ports when all validators share one address."""
    _check_mpc_ports(mpc_ports, MAX_MPC_PORTS)
    base = port_base + STRIDE * index
    ports = {"p2p": base, "rpc": base + 1, "abci": base + 2, "metrics": base + 3,
             "mpc_base": base + _MPC_OFFSET}
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
