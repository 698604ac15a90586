"""MPC slot arithmetic: how many polls compute at once, and which port each attempt uses.

Every validator registers a range of K MPC ports. There are S = max(1, min K // 2)
slots; slot s at attempt k listens on offset (2s + k mod 2) mod K of each validator's
range: polls computing together never share a port, and a retry never reuses the port
of the attempt before it. The chain gives out the slots (abci_app.mpcslots); every
worker computes the same ports from them.
"""

__all__ = ["slot_count", "port_offset"]


def slot_count(validators: list) -> int:
    """Return how many polls may compute at once: two ports each in the smallest range."""
    return max(1, min(v["mpc_ports"] for v in validators) // 2) if validators else 1


def port_offset(slot: int, attempt: int, ports: int) -> int:
    """Return the offset in a validator's MPC port range of slot `slot` at attempt `attempt`."""
    return (2 * slot + attempt % 2) % ports
