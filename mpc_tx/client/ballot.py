"""Client side of a ballot: check the poll against the genesis registry, then build a verifiable ballot.

The voter's client trusts the validator keys in the chain's genesis file it is
configured with, never one node's answer alone: a lying node could otherwise
hand out keys of its own and read every share. Before anything is encrypted the
client checks the registry's proofs of possession (docs/PROTOCOL.md §15), that the
poll's validators are exactly the registry, and that the poll's (t, k) are ones the
chain accepts for this registry (§17); the ballot itself is §6's.
"""

import base64
import binascii
import json

from mpc_tx.protocol import ballot as protocol_ballot, registry as protocol_registry, tx as txcodec
from mpc_tx.protocol.context import PollContext, make_poll
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.group import Invalid
from mpc_tx.protocol.records import snapshot_validators

__all__ = [
    "BallotError",
    "MAX_OPTIONS",
    "encode_vote",
    "entries",
    "registry_keys",
    "check_poll_keys",
    "poll_context",
    "ballot_body",
    "build_ballot",
]

MAX_OPTIONS = 16  # a tally poll has 2..16 options (one ballot entry each)


class BallotError(ValueError):
    """A vote that cannot be cast as given (the message names no vote or share)."""


def encode_vote(poll: dict, choice: str) -> list[int]:
    """Return the vote as ballot entries: a bit for unanimity, a one-hot vector for a tally."""
    if poll["kind"] == "unanimity":
        if choice not in ("yes", "no"):
            raise BallotError("a unanimity poll takes 'yes' or 'no'")
        return [1 if choice == "yes" else 0]
    if choice not in poll["options"]:
        raise BallotError(f"poll {poll['id']} has the options {', '.join(poll['options'])}")
    return [1 if option == choice else 0 for option in poll["options"]]


def entries(poll: dict) -> int:
    """Return k, the poll's ballot entries (1 for unanimity, one per option); raise BallotError."""
    kind, options = poll.get("kind"), poll.get("options")
    if kind == "unanimity":
        return 1
    if kind == "tally" and isinstance(options, list) and 2 <= len(options) <= MAX_OPTIONS:
        return len(options)
    raise BallotError(f"poll {poll.get('id')} is neither a unanimity poll nor a tally of 2..{MAX_OPTIONS} options")


def _registry(genesis: dict) -> list:
    registry = genesis.get("app_state", {}).get("validators") if isinstance(genesis, dict) else None
    if not isinstance(registry, list) or not registry:
        raise BallotError("the genesis file has no validator registry (app_state.validators)")
    return registry


def registry_keys(genesis: dict) -> list[bytes]:
    """Return the registry's encryption keys X_i (32 bytes each) if every proof of possession checks.

    A key without its proof (§15) could be another validator's key copied, or a point
    whose discrete log nobody knows: the client encrypts to none of them.
    """
    registry, triples = _registry(genesis), []
    for i, v in enumerate(registry):
        try:
            triples.append(
                (
                    base64.b64decode(v["pub_key"], validate=True),
                    bytes.fromhex(v["enc_key"]),
                    bytes.fromhex(v["enc_proof"]),
                )
            )
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise BallotError(
                f"genesis registry entry {i} lacks a well-formed pub_key, enc_key or enc_proof: not voting"
            ) from None
    checked = protocol_registry.check_registry(str(genesis.get("chain_id", "")).encode(), triples)
    if isinstance(checked, Rejected):
        raise BallotError(f"the genesis registry does not check ({checked.reason}): not voting")
    return [p.encode() for p in checked]


def check_poll_keys(poll: dict, genesis: dict) -> list:
    """Return the genesis registry if the poll's validators and (t, k) fit it; raise BallotError.

    Same length, entry i is registry entry i as the app snapshots it, and t within the
    range the chain allows for the registry's powers: a node that lists one validator
    four times (or its own key), or claims t = 0, would otherwise get the ballot read.
    """
    registry = _registry(genesis)
    listed = poll.get("validators")
    if not isinstance(listed, list) or len(listed) != len(registry):
        raise BallotError(
            f"poll {poll.get('id')} lists {len(listed) if isinstance(listed, list) else 'no'} "
            f"validators, the genesis registry has {len(registry)}: the node may be lying; not voting"
        )
    try:
        expected = snapshot_validators(registry)  # what the app keeps of the registry in a poll
        powers = [v["power"] for v in registry]
    except (KeyError, TypeError):
        raise BallotError("the genesis file's validator registry is malformed") from None
    for i, (v, trusted) in enumerate(zip(listed, expected)):
        if v != trusted or trusted.get("index", i) != i:
            raise BallotError(
                f"validator {i} of poll {poll.get('id')} does not match genesis registry entry {i}: "
                "the node may be lying; not voting"
            )
    t = poll.get("threshold")
    on_chain = poll.get("kind") == "tally"  # a tally is opened on chain, unanimity in MPyC (§18.1)
    checked = protocol_registry.check_threshold(on_chain, powers, t)
    if isinstance(checked, Rejected):
        bounds = protocol_registry.threshold_range(on_chain, powers)
        allowed = (
            f"{bounds[0]} <= t <= {bounds[1]}"
            if not isinstance(bounds, Rejected) and bounds[0] <= bounds[1]
            else "no t at all (too few validators, or too much power in few of them)"
        )
        raise BallotError(
            f"poll {poll.get('id')} claims threshold {t!r}; the genesis registry allows {allowed}: "
            "the node may be lying; not voting"
        )
    entries(poll)
    return registry


def poll_context(poll: dict, genesis: dict) -> PollContext:
    """Return the §4 context of the poll, every fact checked against the genesis file; raise BallotError."""
    check_poll_keys(poll, genesis)
    keys, k = registry_keys(genesis), entries(poll)
    try:
        return make_poll(str(genesis["chain_id"]).encode(), str(poll["id"]).encode(), poll["threshold"], k, k > 1, keys)
    except Invalid as exc:
        raise BallotError(f"poll {poll.get('id')}: {exc.reason}") from None


def ballot_body(context: PollContext, poll_id: int, voter: bytes, values: list[int]) -> dict:
    """Return the cast_ballot body (§17) holding a fresh §6 ballot of `values` by `voter`."""
    raw = protocol_ballot.build_ballot(context, voter, values)
    return {"poll": poll_id, "m": context.m, "t": context.t, "k": context.k, "ballot": raw.hex()}


def build_ballot(
    key, poll: dict, choice: str, chain_id: str, nonce: int, genesis: dict, context: PollContext | None = None
) -> bytes:
    """Return a signed cast_ballot tx for `choice` in `poll`.

    `context` (from poll_context, for this poll and genesis) skips the registry checks: a
    load generator builds thousands of ballots over one checked context.
    """
    if isinstance(genesis, (str, bytes)):
        genesis = json.loads(genesis)
    if genesis["chain_id"] != chain_id:
        raise BallotError(f"the genesis file is for chain {genesis['chain_id']}, the node serves {chain_id}")
    context = context or poll_context(poll, genesis)
    body = ballot_body(context, poll["id"], key.public_bytes, encode_vote(poll, choice))
    return txcodec.build(key, chain_id, "cast_ballot", nonce, body)
