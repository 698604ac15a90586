"""Queries over the committed state (abci_query paths), answered as JSON.

    /status                      chain id, height, app hash
    /params                      chain parameters
    /validators                  the validator registry
    /polls?after=ID&limit=N      polls in id order
    /poll/ID                     one poll
    /poll/ID/ballots?after=VOTER&limit=N&validator=I&fields=tx
                                 ballots in state order; with validator=I only
                                 that validator's payload; with fields=tx only
                                 each ballot's voter and tx hash
    /poll/ID/ballot/VOTER?validator=I
                                 one voter's counted ballot
    /poll/ID/outcome             status, result, attesters and dissenters
    /poll/ID/attestations        every attestation received
    /account/KEY                 a signer's last committed nonce
"""
import json
from urllib.parse import parse_qs

from .codes import TxError, UNKNOWN_PATH, NOT_FOUND, NOT_INITIALISED
from .state import (PARAMS, VALIDATORS, CHAIN_ID, NEXT_POLL, poll_key, ballot_prefix,
                    ballot_key, attest_prefix, nonce_key)

__all__ = ["answer", "MAX_PAGE"]

MAX_PAGE = 1000


def answer(state, path: str, height: int, app_hash: bytes):
    """Return the JSON-compatible answer for a path, or raise TxError."""
    route, _, query = path.partition("?")
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    parts = [p for p in route.split("/") if p]
    if parts == ["status"]:
        return {"chain_id": state.get(CHAIN_ID), "height": height, "app_hash": app_hash.hex().upper()}
    if state.get(CHAIN_ID) is None:
        raise TxError(NOT_INITIALISED, "the app has no chain yet: InitChain was not received")
    if parts == ["params"]:
        return state.get(PARAMS)
    if parts == ["validators"]:
        return {"validators": state.get(VALIDATORS)}
    if parts == ["polls"]:
        return _polls(state, args)
    if len(parts) == 2 and parts[0] == "account":
        return {"signer": parts[1], "nonce": state.get(nonce_key(parts[1]), 0)}
    if len(parts) >= 2 and parts[0] == "poll":
        poll = state.get(poll_key(_int(parts[1], "poll id"))) if parts[1].isdigit() else None
        if poll is None:
            raise TxError(NOT_FOUND, f"no poll with id {parts[1]}")
        if len(parts) == 2:
            return poll
        if parts[2:] == ["ballots"]:
            return _ballots(state, poll, args)
        if len(parts) == 4 and parts[2] == "ballot":
            ballot = state.get(ballot_key(poll["id"], parts[3]))
            if ballot is None:
                raise TxError(NOT_FOUND, f"no ballot of {parts[3][:16]}… in poll {poll['id']}")
            return _one_validator(poll, dict(ballot), args.get("validator"))
        if parts[2:] == ["outcome"]:
            return {key: poll[key] for key in ("id", "kind", "options", "status", "ballots", "closed_height",
                                               "deadline_height", "final_height", "result",
                                               "attesters", "dissenters")}
        if parts[2:] == ["attestations"]:
            return {"attestations": [a for _k, a in state.scan(attest_prefix(poll["id"]))]}
    raise TxError(UNKNOWN_PATH, f"no query path {route!r}; see the README's query table")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TxError(UNKNOWN_PATH, f"{what} must be an integer, not {text!r}") from None


def _limit(args) -> int:
    return max(1, min(MAX_PAGE, _int(args.get("limit", "100"), "limit")))


def _polls(state, args):
    after, limit = _int(args.get("after", "0"), "after"), _limit(args)
    out, next_id = [], state.get(NEXT_POLL, 1)
    poll_id = after + 1
    while poll_id < next_id and len(out) < limit:
        poll = state.get(poll_key(poll_id))
        out.append({k: poll[k] for k in ("id", "question", "kind", "status", "ballots", "close_height")})
        poll_id += 1
    return {"polls": out, "next": poll_id - 1 if poll_id < next_id else None}


def _validator(poll, text):
    if text is None:
        return None
    validator = _int(text, "validator")
    if not 0 <= validator < len(poll["validators"]):
        raise TxError(NOT_FOUND, f"poll {poll['id']} has no validator {validator}")
    return validator


def _one_validator(poll, ballot, text):
    validator = _validator(poll, text)
    if validator is not None:
        ballot["payload"] = ballot.pop("payloads")[validator]
    return ballot


def _ballots(state, poll, args):
    limit = _limit(args)
    validator = _validator(poll, args.get("validator"))
    fields = args.get("fields")
    if fields not in (None, "tx"):
        raise TxError(UNKNOWN_PATH, f"fields={fields} is not known; the one choice is fields=tx")
    after = args.get("after")
    prefix = ballot_prefix(poll["id"])
    out = []
    for key, raw in state.store.scan(prefix, after=ballot_key(poll["id"], after) if after else None):
        ballot = json.loads(raw)
        if fields == "tx":          # what a worker needs to check the ballots it opened as they came
            ballot = {"voter": ballot["voter"], "tx": ballot["tx"]}
        elif validator is not None:
            ballot["payload"] = ballot.pop("payloads")[validator]
        out.append(ballot)
        if len(out) == limit:
            break
    return {"poll": poll["id"], "ballots": out, "next": out[-1]["voter"] if len(out) == limit else None}
