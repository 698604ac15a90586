"""Port plans and free loopback ports."""

import random
import socket

import pytest

from node_config.ports import (
    HOST_PORTS,
    MAX_MPC_PORTS,
    STRIDE,
    free_port_base,
    free_ports,
    multi_host_ports,
    one_host_ports,
    port_free,
)


def test_one_host_plans_do_not_overlap():
    used = []
    for i in range(5):
        ports = one_host_ports(i, port_base=30000, mpc_ports=MAX_MPC_PORTS)
        own = [ports[k] for k in ("p2p", "rpc", "abci", "metrics")]
        own += range(ports["mpc_base"], ports["mpc_base"] + MAX_MPC_PORTS)
        assert all(30000 + STRIDE * i <= p < 30000 + STRIDE * (i + 1) for p in own)
        used += own
    assert len(set(used)) == len(used)


@pytest.mark.parametrize("mpc_ports", [0, MAX_MPC_PORTS + 1, True, "4"])
def test_one_host_refuses_bad_mpc_port_counts(mpc_ports):
    with pytest.raises(ValueError):
        one_host_ports(0, mpc_ports=mpc_ports)


@pytest.mark.parametrize("port_base, index", [(80, 0), (65530, 0), (65000, 40)])
def test_one_host_refuses_ports_out_of_range(port_base, index):
    with pytest.raises(ValueError):
        one_host_ports(index, port_base=port_base)


def test_multi_host_is_the_usual_ports_and_a_copy():
    ports = multi_host_ports(mpc_ports=8)
    assert ports == HOST_PORTS
    ports["rpc"] = 1
    assert HOST_PORTS["rpc"] == 26657
    with pytest.raises(ValueError):
        multi_host_ports(mpc_ports=65536 - HOST_PORTS["mpc_base"] + 1)


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(8)
    assert len(set(ports)) == 8
    socks = []
    try:
        for p in ports:
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))  # raises if the port was not free
    finally:
        for s in socks:
            s.close()


def test_port_free_sees_a_bound_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_free(port) is False
    assert port_free(port, reuse=True) is True


class _Draws(random.Random):
    """A Random whose randrange returns the given bases in turn."""

    def __init__(self, bases):
        super().__init__(0)
        self.bases = list(bases)

    def randrange(self, *args):
        return self.bases.pop(0)


def test_free_port_base_skips_a_span_with_a_bound_port():
    span = 10
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1] - 3  # a span that covers the bound port
        good = free_port_base(span, rng=random.Random(1))
        draws = _Draws([busy, good])
        assert free_port_base(span, rng=draws, low=1024, high=65535, step=1) == good
        assert draws.bases == []  # the busy base was drawn and refused


def test_free_port_base_gives_up_with_os_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(OSError):
            free_port_base(5, rng=_Draws([taken - 1] * 3), low=1024, high=65535, tries=3)


def test_free_port_base_refuses_privileged_ranges():
    with pytest.raises(ValueError):
        free_port_base(10, low=100, high=2000)
