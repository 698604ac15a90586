"""What a block's execution knows: BlockContext, and events as (type, [(key, value, index)])."""

from abci_app.context import BlockContext, event


def test_event_stringifies_values_and_marks_indexed_attributes():
    assert event("poll_created", {"poll_id": 7, "creator": "ab"}, {"close_height": 12}) == (
        "poll_created",
        [("poll_id", "7", True), ("creator", "ab", True), ("close_height", "12", False)],
    )


def test_event_without_plain_attributes():
    assert event("ballot", {"poll_id": 1}) == ("ballot", [("poll_id", "1", True)])
    assert event("ballot", {}, {}) == ("ballot", [])


def test_each_context_collects_its_own_events_and_polls():
    a = BlockContext(5, b"\x01" * 32, "c", {"max_tx_bytes": 1}, [])
    b = BlockContext(6, b"", "c", {}, [])
    a.events.append(event("x", {"k": 1}))
    a.touched_polls.add(3)
    assert b.events == [] and b.touched_polls == set()  # no shared mutable default
    assert (a.height, a.block_hash, a.chain_id, a.params) == (5, b"\x01" * 32, "c", {"max_tx_bytes": 1})
