"""Typed records of the chain's state: a Poll, a Ballot, an Attestation, a Complaint, an Aggregate post.

Each record is frozen, has exactly the fields of its JSON object in state, and converts
both ways: ``from_state`` checks a decoded state value whole and raises RecordError
(a ValueError) on anything malformed, never another exception; ``to_state`` gives back
the identical object, so its canonical encoding (and with it the app hash) is unchanged.
Lists in state are tuples in a record; a poll's ``result`` and an attestation's
``result`` stay plain JSON objects (their schema is the attested outcome payload's).
"""

from dataclasses import dataclass, fields
import re
from typing import ClassVar

from .encoding import Rejected
from .registry import check_threshold, default_threshold
from .sharing import L

__all__ = [
    "RecordError",
    "PollValidator",
    "Poll",
    "Ballot",
    "Attestation",
    "Complaint",
    "Aggregate",
    "snapshot_validators",
    "POLL_FACTS",
    "poll_facts",
    "poll_threshold",
    "poll_entries",
    "POLL_STATUSES",
    "POLL_KINDS",
    "VERDICTS",
    "AGGREGATE_VERDICTS",
]

POLL_KINDS = ("unanimity", "tally")
# open -> closed (at the close height, or early by its creator) -> final or failed
POLL_STATUSES = ("open", "closed", "final", "failed")
# A judged complaint: the ballot leaves the counted set, the validator is named, or nobody is.
VERDICTS = ("ballot_bad", "complaint_false", "moot")
# A judged aggregate post: its pairs match the aggregate commitments, or its validator is named.
AGGREGATE_VERDICTS = ("valid", "named")

_MAX_INT = (1 << 63) - 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TX_HASH = re.compile(r"[0-9A-F]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


class RecordError(ValueError):
    """A state value that is not a well-formed record of its kind."""


# --- field checks: each returns the record's value for a state value, or raises RecordError ---


def _int(value, what):
    if type(value) is not int or not 0 <= value <= _MAX_INT:
        raise RecordError(f"{what} must be an integer from 0 to 2^63-1")
    return value


def _bool(value, what):
    if type(value) is not bool:
        raise RecordError(f"{what} must be true or false")
    return value


def _str(value, what):
    if type(value) is not str:
        raise RecordError(f"{what} must be a string")
    return value


def _matching(pattern, description):
    def check(value, what):
        if type(value) is not str or not pattern.fullmatch(value):
            raise RecordError(f"{what} must be {description}")
        return value

    return check


_hex64 = _matching(_HEX64, "64 lower-case hex digits")
_tx_hash = _matching(_TX_HASH, "64 upper-case hex digits (a tx hash)")
_hex = _matching(_HEX, "non-empty lower-case hex")


def _one_of(choices):
    def check(value, what):
        if type(value) is not str or value not in choices:
            raise RecordError(f"{what} must be one of {', '.join(choices)}")
        return value

    return check


def _optional(check):
    def optional(value, what):
        return None if value is None else check(value, what)

    return optional


def _list_of(check):
    def listed(value, what):
        if type(value) is not list:
            raise RecordError(f"{what} must be a list")
        return tuple(check(item, f"{what}[{i}]") for i, item in enumerate(value))

    return listed


def _json(value, what):
    """Return a fresh copy of a JSON value (objects with string keys, lists, strings, ints, bools, null)."""
    if value is None or type(value) in (str, int, bool):
        return value
    if type(value) is list:
        return [_json(item, what) for item in value]
    if type(value) is dict:
        if not all(type(key) is str for key in value):
            raise RecordError(f"{what} must have string keys only")
        return {key: _json(item, what) for key, item in value.items()}
    raise RecordError(f"{what} holds a {type(value).__name__}, not a JSON value")


def _object(value, what):
    if type(value) is not dict:
        raise RecordError(f"{what} must be an object")
    try:
        return _json(value, what)
    except RecursionError:
        raise RecordError(f"{what} is nested too deeply") from None


def _from_state(cls, doc, checks: dict, what: str):
    if type(doc) is not dict:
        raise RecordError(f"{what} record must be an object, not {type(doc).__name__}")
    for name in checks:
        if name not in doc:
            raise RecordError(f"{what} record lacks {name}")
    for key in doc:
        if key not in checks:
            shown = repr(key[:40]) if type(key) is str else f"of type {type(key).__name__}"
            raise RecordError(f"{what} record has an unknown field {shown}")
    return cls(**{name: check(doc[name], f"{what} {name}") for name, check in checks.items()})


def _to_state(record) -> dict:
    """The record's JSON object, keys in sorted order (as a decode of its canonical bytes gives)."""
    out = {}
    for name in sorted(f.name for f in fields(record)):
        value = getattr(record, name)
        if isinstance(value, tuple):
            value = [item.to_state() if hasattr(item, "to_state") else item for item in value]
        elif isinstance(value, dict):
            value = _json(value, name)
        out[name] = value
    return out


class _Record:
    """from_state and to_state for a frozen dataclass with one check per field (_CHECKS, in field order)."""

    _WHAT: ClassVar[str]
    _CHECKS: ClassVar[dict]

    @classmethod
    def from_state(cls, doc):
        """Return the record of a decoded state value; raise RecordError if it is not well formed."""
        return _from_state(cls, doc, cls._CHECKS, cls._WHAT)

    def to_state(self) -> dict:
        """Return the state value: the identical JSON object from_state was given."""
        return _to_state(self)


@dataclass(frozen=True)
class PollValidator(_Record):
    """One validator as a poll snapshots it at its creation: what its MPC and attestations need."""

    index: int
    name: str
    power: int
    attest_key: str
    enc_key: str
    mpc_host: str
    mpc_port: int
    mpc_ports: int
    tls_sha256: str

    _WHAT = "poll validator"
    _CHECKS = {
        "index": _int,
        "name": _str,
        "power": _int,
        "attest_key": _hex64,
        "enc_key": _hex64,
        "mpc_host": _str,
        "mpc_port": _int,
        "mpc_ports": _int,
        "tls_sha256": _hex64,
    }


def snapshot_validators(validators: list) -> list:
    """Return the registry entries a poll keeps: what its MPC and attestations need."""
    return [{k: v[k] for k in PollValidator._CHECKS} for v in validators]


# The fields of a poll that its create_poll tx, the block holding it and the (static)
# registry determine: what a light client can prove, and what a node must agree with.
POLL_FACTS = (
    "id",
    "creator",
    "question",
    "kind",
    "options",
    "open",
    "eligible",
    "created_height",
    "close_height",
    "max_ballots",
    "max_revotes",
    "min_ballots",
    "validators",
    "threshold",
    "field",
)


def poll_threshold(threshold, registry: list, kind: str) -> int | Rejected:
    """Return a poll's privacy threshold t: the one asked for, or the top of the range for its kind and the powers.

    A tally is opened on chain from t+1 valid aggregate pairs, so its range is
    max(f, 1) <= t <= m-f-1; a unanimity poll is computed in MPyC, whose range is
    max(f, 1) <= t <= (m-1)//2 (docs/PROTOCOL.md §15, §18.1). Rejected names the range.
    """
    powers = [v["power"] for v in registry]
    on_chain = kind == "tally"
    if threshold is None:
        return default_threshold(on_chain, powers)
    return check_threshold(on_chain, powers, threshold)


def poll_entries(kind: str, options) -> int:
    """Return k, a ballot's entries: 1 for unanimity, one per option for a tally."""
    return 1 if kind == "unanimity" else len(options)


def poll_facts(poll_id: int, creator: str, body: dict, created_height: int, registry: list) -> dict:
    """Return a new poll's POLL_FACTS, from its create_poll body and the validator registry.

    The one place the app (creating the poll) and a client (verifying it) derive them.
    Raises RecordError for a threshold the chain refuses (the app checks it first).
    """
    voters = body["voters"]
    threshold = poll_threshold(body["threshold"], registry, body["kind"])
    if isinstance(threshold, Rejected):
        raise RecordError(threshold.reason)
    return {
        "id": poll_id,
        "creator": creator,
        "question": body["question"],
        "kind": body["kind"],
        "options": body["options"],
        "open": voters is None,
        "eligible": None if voters is None else len(voters),
        "created_height": created_height,
        "close_height": body["close_height"],
        "max_ballots": body["max_ballots"],
        "max_revotes": body["max_revotes"],
        "min_ballots": body["min_ballots"],
        "validators": snapshot_validators(registry),
        "threshold": threshold,
        "field": str(L),
    }


@dataclass(frozen=True)
class Poll(_Record):
    """A poll in state (``poll/<id>``): its terms, its validators, and where it is in its life.

    ``ballots`` is the number of counted ballots (not disqualified). At the close the poll
    stops taking ballots and ``complaints_until`` is set; at ``complaints_until + 1`` the
    counted set is fixed (``counted_fixed_height``, ``seed``, ``ballots_digest``).
    ``named_validators`` are those proven to have lied in this poll: a complaint judged
    false, or aggregate pairs that do not match the commitments. ``events`` and
    ``running`` are the count and latest value of the poll's running digest
    (docs/PROTOCOL.md §18.4); ``final_tx`` is the aggregate tx that made a tally final.
    """

    id: int
    creator: str
    question: str
    kind: str
    options: tuple
    open: bool
    eligible: int | None
    created_height: int
    close_height: int
    max_ballots: int
    max_revotes: int
    min_ballots: int
    validators: tuple
    threshold: int
    field: str
    status: str
    ballots: int
    closed_height: int | None
    deadline_height: int | None
    seed: str | None
    ballots_digest: str | None
    mpc_slot: int | None
    mpc_start: int | None
    result: dict | None
    final_height: int | None
    attesters: tuple
    dissenters: tuple
    complaints_until: int | None
    counted_fixed_height: int | None
    named_validators: tuple
    events: int
    running: str
    final_tx: str | None

    _WHAT = "poll"
    _CHECKS = {
        "id": _int,
        "creator": _hex64,
        "question": _str,
        "kind": _one_of(POLL_KINDS),
        "options": _list_of(_str),
        "open": _bool,
        "eligible": _optional(_int),
        "created_height": _int,
        "close_height": _int,
        "max_ballots": _int,
        "max_revotes": _int,
        "min_ballots": _int,
        "validators": _list_of(lambda item, _what: PollValidator.from_state(item)),
        "threshold": _int,
        "field": _str,
        "status": _one_of(POLL_STATUSES),
        "ballots": _int,
        "closed_height": _optional(_int),
        "deadline_height": _optional(_int),
        "seed": _optional(_hex64),
        "ballots_digest": _optional(_hex64),
        "mpc_slot": _optional(_int),
        "mpc_start": _optional(_int),
        "result": _optional(_object),
        "final_height": _optional(_int),
        "attesters": _list_of(_int),
        "dissenters": _list_of(_int),
        "complaints_until": _optional(_int),
        "counted_fixed_height": _optional(_int),
        "named_validators": _list_of(_int),
        "events": _int,
        "running": _hex64,
        "final_tx": _optional(_tx_hash),
    }


def _disqualified(value, what):
    if value is None:
        return None
    if type(value) is not dict or set(value) != {"by", "height", "reason"}:
        raise RecordError(f"{what} must be null or an object with by, height, reason")
    return {
        "by": _int(value["by"], f"{what} by"),
        "height": _int(value["height"], f"{what} height"),
        "reason": _str(value["reason"], f"{what} reason"),
    }


@dataclass(frozen=True)
class Ballot(_Record):
    """A voter's latest ballot in state (``ballot/<poll>/<voter>``); counted iff not disqualified.

    ``replaced`` holds the tx hashes of the voter's earlier ballots in the poll, oldest
    first; ``disqualified`` is null or {"by": validator, "height", "reason"} (a complaint
    judged the ballot bad).
    """

    voter: str
    ballot: str
    tx: str
    height: int
    revotes: int
    replaced: tuple
    disqualified: dict | None

    _WHAT = "ballot"
    _CHECKS = {
        "voter": _hex64,
        "ballot": _hex,
        "tx": _tx_hash,
        "height": _int,
        "revotes": _int,
        "replaced": _list_of(_tx_hash),
        "disqualified": _disqualified,
    }


@dataclass(frozen=True)
class Attestation(_Record):
    """A validator's attestation in state (``attest/<poll>/<validator>``): the payload and its digest."""

    validator: int
    digest: str
    result: dict
    height: int

    _WHAT = "attestation"
    _CHECKS = {"validator": _int, "digest": _hex64, "result": _object, "height": _int}


@dataclass(frozen=True)
class Complaint(_Record):
    """A judged complaint in state (``complaint/<poll>/<ballot tx>/<validator>``)."""

    validator: int
    voter: str
    ballot_tx: str
    verdict: str
    reason: str
    height: int

    _WHAT = "complaint"
    _CHECKS = {
        "validator": _int,
        "voter": _hex64,
        "ballot_tx": _tx_hash,
        "verdict": _one_of(VERDICTS),
        "reason": _str,
        "height": _int,
    }


@dataclass(frozen=True)
class Aggregate(_Record):
    """A judged aggregate post in state (``aggregate/<poll>/<validator>``): the pairs, verdict, tx."""

    validator: int
    pairs: str
    verdict: str
    reason: str
    height: int
    tx: str

    _WHAT = "aggregate"
    _CHECKS = {
        "validator": _int,
        "pairs": _hex,
        "verdict": _one_of(AGGREGATE_VERDICTS),
        "reason": _str,
        "height": _int,
        "tx": _tx_hash,
    }
