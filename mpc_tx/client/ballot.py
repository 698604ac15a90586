"""Client side of a ballot: encode the vote, Shamir-share it, encrypt each validator's shares.

The voter's client trusts the validator keys in the chain's genesis file it is
configured with, never one node's answer alone: a lying node could otherwise
hand out keys of its own and read every share.
"""

import json

from mpc_tx.protocol import x25519_envelope as envelope, tx as txcodec
from mpc_tx.protocol.records import poll_threshold, snapshot_validators
from mpc_tx.protocol.sharing import share

__all__ = ["BallotError", "encode_vote", "check_poll_keys", "seal_ballot", "build_ballot"]


class BallotError(ValueError):
    """A vote that cannot be cast as given (the message names no vote or share)."""


def encode_vote(poll: dict, choice: str) -> list[int]:
    """Return the vote as field entries: a bit for unanimity, a one-hot vector for a tally."""
    if poll["kind"] == "unanimity":
        if choice not in ("yes", "no"):
            raise BallotError("a unanimity poll takes 'yes' or 'no'")
        return [1 if choice == "yes" else 0]
    if choice not in poll["options"]:
        raise BallotError(f"poll {poll['id']} has the options {', '.join(poll['options'])}")
    return [1 if option == choice else 0 for option in poll["options"]]


def check_poll_keys(poll: dict, genesis: dict) -> list:
    """Return the genesis registry if the poll's validators are exactly it; raise BallotError.

    Same length, entry i is registry entry i with the same keys, and the threshold
    recomputed from the registry: a node that lists one validator four times (or
    its own key) would otherwise get every share of the ballot sent to one reader.
    """
    registry = genesis.get("app_state", {}).get("validators")
    if not isinstance(registry, list) or not registry:
        raise BallotError("the genesis file has no validator registry (app_state.validators)")
    listed = poll.get("validators")
    if not isinstance(listed, list) or len(listed) != len(registry):
        raise BallotError(
            f"poll {poll.get('id')} lists {len(listed) if isinstance(listed, list) else 'no'} "
            f"validators, the genesis registry has {len(registry)}: the node may be lying; not voting"
        )
    try:
        expected = snapshot_validators(registry)  # what the app keeps of the registry in a poll
    except (KeyError, TypeError):
        raise BallotError("the genesis file's validator registry is malformed") from None
    for i, (v, trusted) in enumerate(zip(listed, expected)):
        if v != trusted or trusted["index"] != i:
            raise BallotError(
                f"validator {i} of poll {poll.get('id')} does not match genesis registry entry {i}: "
                "the node may be lying; not voting"
            )
    threshold = poll_threshold(len(registry))
    if threshold < 1:
        raise BallotError(
            f"the chain has {len(registry)} validators: a ballot needs at least 3, "
            "so that no single validator can read it"
        )
    if poll.get("threshold") != threshold:
        raise BallotError(
            f"poll {poll.get('id')} claims threshold {poll.get('threshold')}, "
            f"the registry gives {threshold}: the node may be lying; not voting"
        )
    if str(poll.get("field")) != str(envelope.L):
        raise BallotError(f"poll {poll.get('id')} uses another share field")
    return registry


def seal_ballot(poll: dict, values: list[int], chain_id: str, voter: str, validators=None) -> list[str]:
    """Share each entry with a fresh degree-t polynomial; return one payload (hex) per validator.

    `validators` (the checked registry) is whom the shares go to; default: the poll's list.
    """
    validators = validators or poll["validators"]
    m, t = len(validators), poll_threshold(len(validators))
    per_entry = [share(value, m, t) for value in values]
    return [
        envelope.seal(
            v["enc_key"],
            [shares[i] for shares in per_entry],
            chain_id=chain_id,
            poll_id=poll["id"],
            voter=voter,
            validator=i,
        ).hex()
        for i, v in enumerate(validators)
    ]


def build_ballot(key, poll: dict, choice: str, chain_id: str, nonce: int, genesis: dict) -> bytes:
    """Return a signed CastBallot tx for `choice` in `poll`."""
    if isinstance(genesis, (str, bytes)):
        genesis = json.loads(genesis)
    if genesis["chain_id"] != chain_id:
        raise BallotError(f"the genesis file is for chain {genesis['chain_id']}, the node serves {chain_id}")
    registry = check_poll_keys(poll, genesis)
    payloads = seal_ballot(poll, encode_vote(poll, choice), chain_id, key.public_hex, registry)
    return txcodec.build(key, chain_id, "cast_ballot", nonce, {"poll": poll["id"], "payloads": payloads})
