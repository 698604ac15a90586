"""What block execution (or a CheckTx) knows about the block it runs in."""

from dataclasses import dataclass, field

__all__ = ["BlockContext", "event"]


@dataclass
class BlockContext:
    """Height, hash and chain facts for one block; collects events and touched polls."""

    height: int
    block_hash: bytes
    chain_id: str
    params: dict
    validators: list
    events: list = field(default_factory=list)
    touched_polls: set = field(default_factory=set)


def event(type_: str, indexed: dict, plain: dict | None = None):
    """Return an event as (type, [(key, value, index)])."""
    attrs = [(k, str(v), True) for k, v in indexed.items()]
    attrs += [(k, str(v), False) for k, v in (plain or {}).items()]
    return (type_, attrs)
