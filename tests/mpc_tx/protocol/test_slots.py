"""Slot arithmetic: how many polls compute at once, and the port offset of each attempt."""

import pytest

from mpc_tx.protocol.slots import port_offset, slot_count


def test_slot_count_is_half_the_smallest_range():
    assert slot_count([{"mpc_ports": 8}, {"mpc_ports": 6}, {"mpc_ports": 10}]) == 3
    assert slot_count([{"mpc_ports": 5}]) == 2
    assert slot_count([{"mpc_ports": 1}]) == 1
    assert slot_count([]) == 1


@pytest.mark.parametrize("ports", [2, 3, 4, 5, 8, 10])
def test_concurrent_slots_never_share_a_port_and_a_retry_moves(ports):
    slots = slot_count([{"mpc_ports": ports}])
    for attempt in range(6):
        offsets = [port_offset(s, attempt, ports) for s in range(slots)]
        assert len(set(offsets)) == slots
        assert all(0 <= o < ports for o in offsets)
    for s in range(slots):
        for attempt in range(6):
            assert port_offset(s, attempt, ports) != port_offset(s, attempt + 1, ports)


def test_offsets_follow_the_documented_formula():
    assert [port_offset(1, k, 6) for k in range(4)] == [2, 3, 2, 3]
    assert port_offset(2, 1, 4) == 1  # (2*2 + 1) mod 4
