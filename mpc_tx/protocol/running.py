"""A poll's running digest: a hash chain over its events, and the ExecTxResult.data that carries it.

docs/PROTOCOL.md §18.4. R_0 = digest(start tag, header); each event (a counted ballot, a
judged complaint, an early close, an aggregate post) gives R' = digest(its tag, R, height,
tx hash, its fields). Every event tx's result data carries (events, R); the tx that makes
the poll final carries the final R, count and result, which pins the end: a hash chain
commits backwards only, so a prefix of the events checks on its own. Every function here is
total: it returns a value or a Rejected naming what failed, never raises.
"""

from dataclasses import dataclass

from . import canonical
from .encoding import Rejected, digest

__all__ = [
    "TAG_START",
    "TAG_BALLOT",
    "TAG_COMPLAINT",
    "TAG_CLOSE",
    "TAG_AGGREGATE",
    "BALLOT",
    "COMPLAINT",
    "CLOSE",
    "AGGREGATE",
    "COMPLAINT_VERDICTS",
    "AGGREGATE_VERDICTS",
    "Event",
    "ballot_event",
    "complaint_event",
    "close_event",
    "aggregate_event",
    "start",
    "step",
    "trail",
    "event_data",
    "final_data",
    "parse_data",
    "check_trail",
    "check_final",
]

TAG_START = b"mpcvote/v1/running/start"
TAG_BALLOT = b"mpcvote/v1/running/ballot"
TAG_COMPLAINT = b"mpcvote/v1/running/complaint"
TAG_CLOSE = b"mpcvote/v1/running/close"
TAG_AGGREGATE = b"mpcvote/v1/running/aggregate"

BALLOT, COMPLAINT, CLOSE, AGGREGATE = "ballot", "complaint", "close", "aggregate"
COMPLAINT_VERDICTS = ("ballot_bad", "complaint_false", "moot")
AGGREGATE_VERDICTS = ("valid", "named")

_DIGEST_BYTES = 32
_KEY_BYTES = 32
_MAX_INT = (1 << 63) - 1
_MAX_VALIDATOR = 1023
_TAGS = {BALLOT: TAG_BALLOT, COMPLAINT: TAG_COMPLAINT, CLOSE: TAG_CLOSE, AGGREGATE: TAG_AGGREGATE}
# The fields each kind carries, in frame order after (R, height, tx_hash).
_FIELDS = {
    BALLOT: ("voter",),
    COMPLAINT: ("validator", "voter", "ballot_tx", "verdict"),
    CLOSE: (),
    AGGREGATE: ("validator", "verdict"),
}


@dataclass(frozen=True)
class Event:
    """One event of a poll: an accepted tx of one of the four kinds; unused fields are None."""

    kind: str
    height: int
    tx_hash: bytes
    validator: int | None = None
    voter: bytes | None = None
    ballot_tx: bytes | None = None
    verdict: str | None = None


def ballot_event(height: int, tx_hash: bytes, voter: bytes) -> Event:
    """Return the event of a counted ballot (a first ballot or a revote)."""
    return Event(BALLOT, height, tx_hash, voter=voter)


def complaint_event(height: int, tx_hash: bytes, validator: int, voter: bytes, ballot_tx: bytes, verdict: str) -> Event:
    """Return the event of a judged complaint."""
    return Event(COMPLAINT, height, tx_hash, validator=validator, voter=voter, ballot_tx=ballot_tx, verdict=verdict)


def close_event(height: int, tx_hash: bytes) -> Event:
    """Return the event of the creator's early close."""
    return Event(CLOSE, height, tx_hash)


def aggregate_event(height: int, tx_hash: bytes, validator: int, verdict: str) -> Event:
    """Return the event of an aggregate post, valid or named."""
    return Event(AGGREGATE, height, tx_hash, validator=validator, verdict=verdict)


def _is_int(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _is_bytes(value, size: int) -> bool:
    return type(value) is bytes and len(value) == size


def _check_event(event) -> Rejected | None:
    if not isinstance(event, Event):
        return Rejected("event: not an Event")
    if event.kind not in _TAGS:
        return Rejected(f"event: unknown kind, known: {', '.join(_TAGS)}")
    if not _is_int(event.height, 1, _MAX_INT):
        return Rejected("event height: an integer from 1 to 2^63-1")
    if not _is_bytes(event.tx_hash, _DIGEST_BYTES):
        return Rejected("event tx_hash: 32 bytes")
    used = _FIELDS[event.kind]
    for name in ("validator", "voter", "ballot_tx", "verdict"):
        if name not in used and getattr(event, name) is not None:
            return Rejected(f"{event.kind} event: has no {name}")
    if "validator" in used and not _is_int(event.validator, 0, _MAX_VALIDATOR):
        return Rejected(f"{event.kind} event validator: an integer from 0 to {_MAX_VALIDATOR}")
    if "voter" in used and not _is_bytes(event.voter, _KEY_BYTES):
        return Rejected(f"{event.kind} event voter: 32 bytes")
    if "ballot_tx" in used and not _is_bytes(event.ballot_tx, _DIGEST_BYTES):
        return Rejected(f"{event.kind} event ballot_tx: 32 bytes")
    verdicts = COMPLAINT_VERDICTS if event.kind == COMPLAINT else AGGREGATE_VERDICTS
    if "verdict" in used and (type(event.verdict) is not str or event.verdict not in verdicts):
        return Rejected(f"{event.kind} event verdict: one of {', '.join(verdicts)}")
    return None


def start(header) -> bytes | Rejected:
    """Return R_0 of a poll from its §4 header."""
    if type(header) is not bytes or not header:
        return Rejected("running digest: the header is non-empty bytes")
    return digest(TAG_START, header)


def step(running, event) -> bytes | Rejected:
    """Return R' after one event."""
    if not _is_bytes(running, _DIGEST_BYTES):
        return Rejected("running digest: 32 bytes")
    bad = _check_event(event)
    if bad is not None:
        return bad
    items = [running, event.height, event.tx_hash]
    for name in _FIELDS[event.kind]:
        value = getattr(event, name)
        items.append(value.encode("ascii") if name == "verdict" else value)
    return digest(_TAGS[event.kind], *items)


def trail(header, events) -> list[bytes] | Rejected:
    """Return [R_1, ..., R_n] after each of events in chain order; heights must not decrease."""
    running = start(header)
    if isinstance(running, Rejected):
        return running
    if not isinstance(events, (list, tuple)):
        return Rejected("running digest: events are a list")
    out, height = [], 0
    for n, event in enumerate(events):
        running = step(running, event)
        if isinstance(running, Rejected):
            return Rejected(f"event {n}: {running.reason}")
        if event.height < height:
            return Rejected(f"event {n}: height {event.height} before the previous event's {height}")
        height = event.height
        out.append(running)
    return out


def event_data(poll_id, events, running, closed_height=None) -> bytes | Rejected:
    """Return an event tx's ExecTxResult.data: {"events", "poll_id", "running"} (+ "closed_height")."""
    if not _is_int(poll_id, 1, _MAX_INT) or not _is_int(events, 1, _MAX_INT):
        return Rejected("result data: poll_id and events are integers from 1 to 2^63-1")
    if not _is_bytes(running, _DIGEST_BYTES):
        return Rejected("result data: running is 32 bytes")
    doc = {"events": events, "poll_id": poll_id, "running": running.hex()}
    if closed_height is not None:
        if not _is_int(closed_height, 1, _MAX_INT):
            return Rejected("result data: closed_height is an integer from 1 to 2^63-1")
        doc["closed_height"] = closed_height
    return canonical.encode(doc)


def final_data(poll_id, events, running, result) -> bytes | Rejected:
    """Return the final tx's ExecTxResult.data: {"events", "poll_id", "result", "running"}."""
    base = event_data(poll_id, events, running)
    if isinstance(base, Rejected):
        return base
    if type(result) is not dict:
        return Rejected("result data: result is an object")
    try:
        return canonical.encode({"events": events, "poll_id": poll_id, "result": result, "running": running.hex()})
    except (canonical.CanonicalError, TypeError, ValueError, RecursionError) as exc:
        return Rejected(f"result data: result is not canonical JSON ({exc})")


def parse_data(data) -> dict | Rejected:
    """Return {"events", "poll_id", "running": bytes, and "closed_height" or "result" if present} from data."""
    if type(data) is not bytes:
        return Rejected("result data: not bytes")
    try:
        doc = canonical.decode(data)
    except (canonical.CanonicalError, ValueError, RecursionError):
        return Rejected("result data: not canonical JSON")
    if type(doc) is not dict or not {"events", "poll_id", "running"} <= set(doc):
        return Rejected("result data: an object with events, poll_id, running")
    extra = set(doc) - {"events", "poll_id", "running"}
    if extra not in (set(), {"closed_height"}, {"result"}):
        return Rejected("result data: unknown fields")
    if not _is_int(doc["poll_id"], 1, _MAX_INT) or not _is_int(doc["events"], 1, _MAX_INT):
        return Rejected("result data: poll_id and events are integers from 1 to 2^63-1")
    running = doc["running"]
    if type(running) is not str or len(running) != 2 * _DIGEST_BYTES or running != running.lower():
        return Rejected("result data: running is 64 lower-case hex digits")
    try:
        doc["running"] = bytes.fromhex(running)
    except ValueError:
        return Rejected("result data: running is 64 lower-case hex digits")
    if "closed_height" in doc and not _is_int(doc["closed_height"], 1, _MAX_INT):
        return Rejected("result data: closed_height is an integer from 1 to 2^63-1")
    if "result" in doc and type(doc["result"]) is not dict:
        return Rejected("result data: result is an object")
    return doc


def check_trail(header, poll_id, events, datas) -> int | Rejected:
    """Return the number of events if each one's committed data matches the recomputed chain, else name the first.

    datas[n] is the ExecTxResult.data of events[n]'s tx. This catches an event hidden,
    added or altered before the last one shown; only the final data (final_data) pins
    the end, which the caller checks against its own recomputation.
    """
    if not isinstance(datas, (list, tuple)) or not isinstance(events, (list, tuple)) or len(datas) != len(events):
        return Rejected("running digest: one result data per event")
    running = trail(header, events)
    if isinstance(running, Rejected):
        return running
    for n, (expected, data) in enumerate(zip(running, datas)):
        doc = parse_data(data)
        if isinstance(doc, Rejected):
            return Rejected(f"event {n}: {doc.reason}")
        if doc["poll_id"] != poll_id:
            return Rejected(f"event {n}: the result data is for poll {doc['poll_id']}, not {poll_id}")
        if doc["events"] != n + 1 or doc["running"] != expected:
            return Rejected(
                f"event {n} (tx {events[n].tx_hash.hex().upper()}): the chain committed event {doc['events']} "
                f"with another running digest: an event before it is hidden, added or altered"
            )
    return len(events)


def check_final(header, poll_id, events, datas, result) -> int | Rejected:
    """Return the number of events if the chain checks whole and its last data is the final one for result.

    The last event's data must carry the result the caller recomputed (ballots digest, n,
    outcome) with the final running digest and count: what pins the end of the chain.
    """
    checked = check_trail(header, poll_id, events, datas)
    if isinstance(checked, Rejected):
        return checked
    if not events:
        return Rejected("running digest: no events, so no final tx")
    doc = parse_data(datas[-1])
    if "result" not in doc:
        return Rejected("running digest: the last event shown is not the final tx (the tail is hidden, or not final)")
    if type(result) is not dict or canonical.encode(doc["result"]) != _canonical_or_none(result):
        return Rejected("running digest: the final tx carries another result than the recomputed one")
    return checked


def _canonical_or_none(value) -> bytes | None:
    try:
        return canonical.encode(value)
    except (canonical.CanonicalError, TypeError, ValueError, RecursionError):
        return None
