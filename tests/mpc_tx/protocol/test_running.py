"""The running digest: its exact framing, and that it differs on any hidden, added or altered event."""

import hashlib
from dataclasses import replace

from hypothesis import given, settings, strategies as st

from mpc_tx.protocol import canonical
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.running import (
    AGGREGATE_VERDICTS,
    COMPLAINT_VERDICTS,
    Event,
    aggregate_event,
    ballot_event,
    check_final,
    check_trail,
    close_event,
    complaint_event,
    event_data,
    final_data,
    parse_data,
    start,
    step,
    trail,
)

HEADER = b"a poll header"
POLL = 7


def _enc(item: bytes) -> bytes:
    return len(item).to_bytes(4, "big") + item


def test_the_framing_is_the_one_section_18_4_writes_down():
    r0 = hashlib.sha256(_enc(b"mpcvote/v1/running/start") + _enc(HEADER)).digest()
    assert start(HEADER) == r0
    tx, voter, old = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    height = (12).to_bytes(8, "big")
    want = hashlib.sha256(_enc(b"mpcvote/v1/running/ballot") + _enc(r0) + _enc(height) + _enc(tx) + _enc(voter))
    assert step(r0, ballot_event(12, tx, voter)) == want.digest()
    want = hashlib.sha256(
        _enc(b"mpcvote/v1/running/complaint")
        + _enc(r0)
        + _enc(height)
        + _enc(tx)
        + _enc((3).to_bytes(8, "big"))
        + _enc(voter)
        + _enc(old)
        + _enc(b"moot")
    )
    assert step(r0, complaint_event(12, tx, 3, voter, old, "moot")) == want.digest()
    want = hashlib.sha256(_enc(b"mpcvote/v1/running/close") + _enc(r0) + _enc(height) + _enc(tx))
    assert step(r0, close_event(12, tx)) == want.digest()
    want = hashlib.sha256(
        _enc(b"mpcvote/v1/running/aggregate")
        + _enc(r0)
        + _enc(height)
        + _enc(tx)
        + _enc((3).to_bytes(8, "big"))
        + _enc(b"named")
    )
    assert step(r0, aggregate_event(12, tx, 3, "named")) == want.digest()


_H32 = st.binary(min_size=32, max_size=32)
_EVENT = st.one_of(
    st.builds(ballot_event, st.integers(1, 50), _H32, _H32),
    st.builds(
        complaint_event, st.integers(1, 50), _H32, st.integers(0, 9), _H32, _H32, st.sampled_from(COMPLAINT_VERDICTS)
    ),
    st.builds(close_event, st.integers(1, 50), _H32),
    st.builds(aggregate_event, st.integers(1, 50), _H32, st.integers(0, 9), st.sampled_from(AGGREGATE_VERDICTS)),
)
_EVENTS = st.lists(_EVENT, min_size=1, max_size=8).map(lambda es: sorted(es, key=lambda e: e.height))


def _altered(event: Event, field: str) -> Event:
    """Return event with one of its fields changed (the height by one, bytes by one bit, a verdict to another)."""
    values = dict(event.__dict__)
    value = values[field]
    if field == "height" or field == "validator":
        values[field] = value + 1
    elif field == "verdict":
        verdicts = COMPLAINT_VERDICTS if event.kind == "complaint" else AGGREGATE_VERDICTS
        values[field] = verdicts[(verdicts.index(value) + 1) % len(verdicts)]
    else:
        values[field] = bytes([value[0] ^ 1]) + value[1:]
    return Event(**values)


def _datas(events):
    return [event_data(POLL, n + 1, r) for n, r in enumerate(trail(HEADER, events))]


@settings(max_examples=60, deadline=None)
@given(_EVENTS, st.data())
def test_the_running_digest_differs_on_any_hidden_added_or_altered_event(events, data):
    final = trail(HEADER, events)[-1]
    n = data.draw(st.integers(0, len(events) - 1))
    hidden = events[:n] + events[n + 1 :]
    added = events[:n] + [replace(data.draw(_EVENT), height=events[n].height)] + events[n:]
    fields = [f for f in ("height", "tx_hash", "validator", "voter", "ballot_tx", "verdict") if getattr(events[n], f)]
    fields += ["validator"] if events[n].validator == 0 else []
    altered = events[:n] + [_altered(events[n], data.draw(st.sampled_from(fields)))] + events[n + 1 :]
    for changed in (hidden, added, altered):
        recomputed = trail(HEADER, changed)
        if isinstance(recomputed, Rejected):  # a height out of order: caught before any digest
            assert changed is altered
            continue
        assert (recomputed[-1] if recomputed else start(HEADER)) != final
    # What a verifier sees: the chain's data for its events; a change before the last shown fails.
    committed = _datas(events)
    assert check_trail(HEADER, POLL, events, committed) == len(events)
    if n < len(events) - 1:
        kept = [d for i, d in enumerate(committed) if i != n]
        assert isinstance(check_trail(HEADER, POLL, hidden, kept), Rejected)
    assert isinstance(check_trail(HEADER, POLL, altered, committed), Rejected)


def test_a_hidden_tail_checks_alone_and_only_the_final_data_reveals_it():
    tx = [bytes([i]) * 32 for i in range(4)]
    events = [ballot_event(3, tx[0], b"\x10" * 32), ballot_event(4, tx[1], b"\x11" * 32), close_event(5, tx[2])]
    committed = _datas(events)
    # Hiding the close (the last event) leaves a prefix whose every running digest checks:
    assert check_trail(HEADER, POLL, events[:2], committed[:2]) == 2
    # only data committed after the last event pins the end.
    final = parse_data(final_data(POLL, 3, trail(HEADER, events)[-1], {"status": "ok"}))
    assert (final["events"], final["running"]) != (2, trail(HEADER, events[:2])[-1])
    committed[-1] = final_data(POLL, 3, trail(HEADER, events)[-1], {"status": "ok"})
    assert check_final(HEADER, POLL, events, committed, {"status": "ok"}) == 3
    assert isinstance(check_final(HEADER, POLL, events[:2], committed[:2], {"status": "ok"}), Rejected)
    assert isinstance(check_final(HEADER, POLL, events, committed, {"status": "failed"}), Rejected)
    assert isinstance(check_final(HEADER, POLL, events, committed, {"x": 1.5}), Rejected)
    assert isinstance(check_final(HEADER, POLL, [], [], {"status": "ok"}), Rejected)


def test_the_result_data_forms():
    r = b"\xab" * 32
    assert event_data(POLL, 3, r) == b'{"events":3,"poll_id":7,"running":"' + b"ab" * 32 + b'"}'
    assert parse_data(event_data(POLL, 3, r)) == {"events": 3, "poll_id": 7, "running": r}
    closed = event_data(POLL, 3, r, closed_height=40)
    assert parse_data(closed)["closed_height"] == 40
    result = {"ballots": "cd" * 32, "counted": 4, "outcome": {"tally": {"a": 1, "b": 3}}, "status": "ok"}
    data = final_data(POLL, 9, r, result)
    assert data == canonical.encode({"events": 9, "poll_id": 7, "result": result, "running": r.hex()})
    assert parse_data(data)["result"] == result
    for bad in (
        (0, 3, r),
        (POLL, 0, r),
        (POLL, 3, r[:31]),
        (POLL, 3, r.hex()),
        (True, 3, r),
    ):
        assert isinstance(event_data(*bad), Rejected) and isinstance(final_data(*bad, result), Rejected)
    assert isinstance(event_data(POLL, 3, r, closed_height=0), Rejected)
    assert isinstance(final_data(POLL, 3, r, [1]), Rejected)
    assert isinstance(final_data(POLL, 3, r, {"x": 1.5}), Rejected)
    for data in (
        b"",
        b"{}",
        b'{"events":3,"poll_id":7}',
        b'{"events":3,"extra":1,"poll_id":7,"running":"' + b"ab" * 32 + b'"}',
        b'{"events":3,"poll_id":7,"running":"' + b"AB" * 32 + b'"}',
        b'{"events":3,"poll_id":7,"running":"' + b"zz" * 32 + b'"}',
        b'{"events":-1,"poll_id":7,"running":"' + b"ab" * 32 + b'"}',
        b'{"events":3,"poll_id":7,"result":[],"running":"' + b"ab" * 32 + b'"}',
        b'{ "events":3,"poll_id":7,"running":"' + b"ab" * 32 + b'"}',
        None,
    ):
        assert isinstance(parse_data(data), Rejected), data


def test_events_are_checked_whole():
    r0 = start(HEADER)
    good = b"\x01" * 32
    for event in (
        Event("vote", 1, good),
        Event("close", 0, good),
        Event("close", 1, good[:31]),
        Event("close", 1, good, validator=1),
        ballot_event(1, good, good[:31]),
        ballot_event(1, good, None),
        complaint_event(1, good, 1024, good, good, "moot"),
        complaint_event(1, good, 1, good, good, "valid"),
        complaint_event(1, good, 1, good, "AB" * 32, "moot"),
        aggregate_event(1, good, True, "valid"),
        aggregate_event(1, good, 1, "moot"),
        "event",
    ):
        assert isinstance(step(r0, event), Rejected), event
    assert isinstance(step(r0[:31], close_event(1, good)), Rejected)
    assert isinstance(start(b""), Rejected) and isinstance(start("header"), Rejected)
    later_first = [close_event(5, good), close_event(4, good)]
    assert trail(HEADER, later_first) == Rejected("event 1: height 4 before the previous event's 5")
    assert isinstance(trail(HEADER, None), Rejected)
    assert isinstance(check_trail(HEADER, POLL, later_first[:1], []), Rejected)
    other_poll = [event_data(POLL + 1, 1, step(r0, close_event(5, good)))]
    assert isinstance(check_trail(HEADER, POLL, later_first[:1], other_poll), Rejected)


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**70), st.binary(max_size=40), st.text(max_size=5))


@settings(max_examples=60, deadline=None)
@given(_JUNK, _JUNK, _JUNK, _JUNK)
def test_every_function_is_total(a, b, c, d):
    for result in (
        start(a),
        step(a, b),
        step(start(HEADER), Event(a, b, c, d)),
        trail(a, b),
        event_data(a, b, c, d),
        final_data(a, b, c, d),
        parse_data(a),
        check_trail(a, b, c, d),
        check_final(a, b, c, d, a),
    ):
        assert result is not None
