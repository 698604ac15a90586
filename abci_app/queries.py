"""Queries over the committed state (abci_query paths), answered as JSON.

    /status                      chain id, height, app hash
    /params                      chain parameters
    /validators                  the validator registry
    /polls?after=ID&limit=N      polls in id order
    /poll/ID                     one poll (a Poll record: complaints_until,
                                 counted_fixed_height, named_validators too)
    /poll/ID/ballots?after=VOTER&limit=N&fields=tx
                                 ballot records in voter order (counted and
                                 disqualified); with fields=tx only each
                                 one's voter, tx hash and disqualified
    /poll/ID/ballot/VOTER        one voter's latest ballot record
    /poll/ID/complaints?after=TX/I&limit=N
                                 judged complaints in (ballot tx, validator)
                                 order
    /poll/ID/aggregate           the poll's aggregate commitments A (hex of
                                 the k·(t+1) points) and its counted ballots n
    /poll/ID/aggregates          the judged aggregate posts, in validator order
    /poll/ID/outcome             status, result, attesters and dissenters
    /poll/ID/attestations        every attestation received
    /account/KEY                 a signer's last committed nonce
    /check_tx  (data: tx bytes)  CheckTx's verdict on a tx against the latest
                                 committed state (code, code_name, log, hash);
                                 the mempool is not touched

Anyone who can reach a node's RPC can send any bytes as a path, so every part
of it is validated here and a bad one is answered with a code (UNKNOWN_PATH for
a route that does not exist, BAD_QUERY for an argument that is not acceptable),
never with an exception: the node stops on an exception response.
"""

import json
import re

from mpc_tx.protocol.codes import TxError, UNKNOWN_PATH, NOT_FOUND, NOT_INITIALISED, BAD_QUERY
from mpc_tx.protocol.records import Aggregate, Attestation, Ballot, Complaint, Poll
from abci_app.dryrun import check_tx
from abci_app.store.keys import (
    PARAMS,
    VALIDATORS,
    CHAIN_ID,
    NEXT_POLL,
    poll_key,
    ballot_prefix,
    ballot_key,
    attest_prefix,
    nonce_key,
    complaint_prefix,
    complaint_key,
    sums_key,
    aggregate_prefix,
)

__all__ = ["answer", "parse_path", "MAX_PAGE", "MAX_PATH_BYTES"]

MAX_PAGE = 1000
MAX_PATH_BYTES = 1024
_MAX_INT = (1 << 63) - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"[0-9a-f]{64}")
_COMPLAINT_AFTER = re.compile(r"([0-9A-F]{64})/([0-9]{1,4})")
# The arguments each route takes; anything else is refused rather than ignored.
_ARGS = {
    "status": (),
    "params": (),
    "validators": (),
    "polls": ("after", "limit"),
    "account": (),
    "poll": (),
    "ballots": ("after", "limit", "fields"),
    "ballot": (),
    "complaints": ("after", "limit"),
    "aggregate": (),
    "aggregates": (),
    "outcome": (),
    "attestations": (),
    "check_tx": (),
}
# What /poll/ID/outcome answers of a poll.
_OUTCOME_FIELDS = (
    "id",
    "kind",
    "options",
    "status",
    "ballots",
    "min_ballots",
    "closed_height",
    "deadline_height",
    "final_height",
    "final_tx",
    "result",
    "attesters",
    "dissenters",
)


def parse_path(path) -> tuple[list, dict]:
    """Split a raw query path (bytes or str) into its route parts and arguments; raise TxError."""
    if isinstance(path, (bytes, bytearray)):
        if len(path) > MAX_PATH_BYTES:
            raise TxError(BAD_QUERY, f"path longer than {MAX_PATH_BYTES} bytes")
        try:
            path = bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise TxError(BAD_QUERY, "path is not valid UTF-8") from None
    if len(path.encode()) > MAX_PATH_BYTES:
        raise TxError(BAD_QUERY, f"path longer than {MAX_PATH_BYTES} bytes")
    route, question, query = path.partition("?")
    if not route.startswith("/") or route == "/":
        raise TxError(
            UNKNOWN_PATH, f"no query path {_shown(route)}; paths start with '/', see the README's query table"
        )
    parts = route[1:].split("/")
    if "" in parts:
        raise TxError(UNKNOWN_PATH, f"empty segment in query path {_shown(route)}")
    args = {}
    if question and query:
        for item in query.split("&"):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise TxError(BAD_QUERY, f"query argument {_shown(item)} is not key=value")
            if key in args:
                raise TxError(BAD_QUERY, f"query argument {_shown(key)} given twice")
            if not value:
                raise TxError(BAD_QUERY, f"query argument {_shown(key)} is empty")
            args[key] = value
    elif question:
        raise TxError(BAD_QUERY, "'?' without arguments")
    return parts, args


def answer(state, path, height: int, app_hash: bytes, data: bytes = b""):
    """Return the JSON-compatible answer for a path (and the query's data), or raise TxError."""
    parts, args = parse_path(path)
    if parts == ["status"]:
        _only(args, "status")
        return {"chain_id": state.get(CHAIN_ID), "height": height, "app_hash": app_hash.hex().upper()}
    if state.get(CHAIN_ID) is None:
        raise TxError(NOT_INITIALISED, "the app has no chain yet: InitChain was not received")
    if parts == ["params"]:
        _only(args, "params")
        return state.get(PARAMS)
    if parts == ["check_tx"]:
        _only(args, "check_tx")
        return check_tx(state, data, height)
    if parts == ["validators"]:
        _only(args, "validators")
        return {"validators": state.get(VALIDATORS)}
    if parts == ["polls"]:
        _only(args, "polls")
        return _polls(state, args)
    if len(parts) == 2 and parts[0] == "account":
        _only(args, "account")
        signer = _key(parts[1], "account key")
        return {"signer": signer, "nonce": state.get(nonce_key(signer), 0)}
    if 2 <= len(parts) <= 4 and parts[0] == "poll":
        poll_id = _int(parts[1], "poll id", low=1)
        stored = state.get(poll_key(poll_id))
        if stored is None:
            raise TxError(NOT_FOUND, f"no poll with id {poll_id}")
        poll = Poll.from_state(stored)
        if len(parts) == 2:
            _only(args, "poll")
            return poll.to_state()
        if parts[2:] == ["ballots"]:
            _only(args, "ballots")
            return _ballots(state, poll, args)
        if len(parts) == 4 and parts[2] == "ballot":
            _only(args, "ballot")
            voter = _key(parts[3], "voter key")
            ballot = state.get(ballot_key(poll.id, voter))
            if ballot is None:
                raise TxError(NOT_FOUND, f"no ballot of {voter[:16]}… in poll {poll.id}")
            return Ballot.from_state(ballot).to_state()
        if parts[2:] == ["complaints"]:
            _only(args, "complaints")
            return _complaints(state, poll, args)
        if parts[2:] == ["aggregate"]:
            _only(args, "aggregate")
            return {"aggregate": state.get(sums_key(poll.id)), "ballots": poll.ballots}
        if parts[2:] == ["aggregates"]:
            _only(args, "aggregates")
            return {
                "poll": poll.id,
                "aggregates": [Aggregate.from_state(a).to_state() for _k, a in state.scan(aggregate_prefix(poll.id))],
            }
        if parts[2:] == ["outcome"]:
            _only(args, "outcome")
            whole = poll.to_state()
            return {key: whole[key] for key in _OUTCOME_FIELDS}
        if parts[2:] == ["attestations"]:
            _only(args, "attestations")
            return {
                "attestations": [Attestation.from_state(a).to_state() for _k, a in state.scan(attest_prefix(poll.id))]
            }
    raise TxError(UNKNOWN_PATH, f"no query path {_shown('/' + '/'.join(parts))}; see the README's query table")


def _shown(text: str) -> str:
    # Echo at most a little of what the caller sent (it may be long, or not printable).
    return repr(text[:64] + ("…" if len(text) > 64 else ""))


def _only(args: dict, route: str):
    unknown = sorted(set(args) - set(_ARGS[route]))
    if unknown:
        takes = ", ".join(_ARGS[route]) or "no arguments"
        raise TxError(BAD_QUERY, f"unknown query argument {_shown(unknown[0])} for /{route} (it takes {takes})")


def _int(text: str, what: str, low: int = 0, high: int = _MAX_INT) -> int:
    """Parse a decimal integer (digits only: no sign, no spaces, no underscores) within [low, high]."""
    if not _DIGITS.fullmatch(text):
        raise TxError(BAD_QUERY, f"{what} must be a decimal integer, not {_shown(text)}")
    value = int(text)
    if not low <= value <= high:
        raise TxError(BAD_QUERY, f"{what} must be from {low} to {high}, not {value}")
    return value


def _key(text: str, what: str) -> str:
    if not _KEY.fullmatch(text):
        raise TxError(BAD_QUERY, f"{what} must be 64 lower-case hex digits, not {_shown(text)}")
    return text


def _limit(args) -> int:
    return _int(args.get("limit", "100"), "limit", low=1, high=MAX_PAGE)


def _polls(state, args):
    after, limit = _int(args.get("after", "0"), "after"), _limit(args)
    out, next_id = [], state.get(NEXT_POLL, 1)
    poll_id = after + 1
    while poll_id < next_id and len(out) < limit:
        poll = Poll.from_state(state.get(poll_key(poll_id)))
        result = poll.result  # the outcome only: a result's index lists can be long
        out.append(
            {
                "id": poll.id,
                "question": poll.question,
                "kind": poll.kind,
                "status": poll.status,
                "ballots": poll.ballots,
                "close_height": poll.close_height,
                "closed_height": poll.closed_height,
                "min_ballots": poll.min_ballots,
                "outcome": None
                if result is None
                else result.get("outcome")
                if result["status"] == "ok"
                else {"failed": result["code"]},
            }
        )
        poll_id += 1
    return {"polls": out, "next": poll_id - 1 if poll_id < next_id else None}


def _ballots(state, poll: Poll, args):
    limit = _limit(args)
    fields = args.get("fields")
    if fields not in (None, "tx"):
        raise TxError(BAD_QUERY, f"fields={_shown(fields)} is not known; the one choice is fields=tx")
    after = args.get("after")
    if after is not None:
        _key(after, "after (a voter key)")
    prefix = ballot_prefix(poll.id)
    out = []
    # Raw committed values, not records: a page is up to MAX_PAGE ballots of kilobytes each.
    for _key_bytes, raw in state.store.scan(prefix, after=ballot_key(poll.id, after) if after else None):
        ballot = json.loads(raw)
        if fields == "tx":  # what a worker needs to follow the ballots it opened as they came
            ballot = {"voter": ballot["voter"], "tx": ballot["tx"], "disqualified": ballot["disqualified"]}
        out.append(ballot)
        if len(out) == limit:
            break
    return {"poll": poll.id, "ballots": out, "next": out[-1]["voter"] if len(out) == limit else None}


def _complaints(state, poll: Poll, args):
    limit = _limit(args)
    after = args.get("after")
    start = None
    if after is not None:
        match = _COMPLAINT_AFTER.fullmatch(after)
        if match is None:
            raise TxError(BAD_QUERY, f"after must be BALLOT_TX/VALIDATOR (a page's next), not {_shown(after)}")
        start = complaint_key(poll.id, match.group(1), int(match.group(2)))
    out = []
    for _key_bytes, raw in state.store.scan(complaint_prefix(poll.id), after=start):
        out.append(Complaint.from_state(json.loads(raw)).to_state())
        if len(out) == limit:
            break
    last = out[-1] if len(out) == limit else None
    return {
        "poll": poll.id,
        "complaints": out,
        "next": None if last is None else f"{last['ballot_tx']}/{last['validator']}",
    }
