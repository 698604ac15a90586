"""Client side of a ballot: encode the vote, Shamir-share it, encrypt each validator's shares.

The voter's client trusts the validator keys in the chain's genesis file it is
configured with, never one node's answer alone: a lying node could otherwise
hand out keys of its own and read every share.
"""
import json

from . import envelope, tx as txcodec
from .sharing import share

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


def check_poll_keys(poll: dict, genesis: dict):
    """Raise BallotError unless the poll's validators match the genesis registry."""
    registry = {v["index"]: v for v in genesis["app_state"]["validators"]}
    for v in poll["validators"]:
        trusted = registry.get(v["index"])
        if trusted is None or (trusted["enc_key"], trusted["attest_key"]) != (v["enc_key"], v["attest_key"]):
            raise BallotError(f"validator {v['index']} of poll {poll['id']} does not match the genesis "
                              "registry: the node may be lying; not voting")
    if poll["threshold"] != (len(poll["validators"]) - 1) // 2:
        raise BallotError(f"poll {poll['id']} has an unexpected threshold")
    if int(poll["field"]) != envelope.L:
        raise BallotError(f"poll {poll['id']} uses another share field")


def seal_ballot(poll: dict, values: list[int], chain_id: str, voter: str) -> list[str]:
    """Share each entry with a fresh degree-t polynomial; return one payload (hex) per validator."""
    m, t = len(poll["validators"]), poll["threshold"]
    per_entry = [share(value, m, t) for value in values]
    return [envelope.seal(v["enc_key"], [shares[i] for shares in per_entry], chain_id=chain_id,
                          poll_id=poll["id"], voter=voter, validator=i).hex()
            for i, v in enumerate(poll["validators"])]


def build_ballot(key, poll: dict, choice: str, chain_id: str, nonce: int, genesis: dict) -> bytes:
    """Return a signed CastBallot tx for `choice` in `poll`."""
    if isinstance(genesis, (str, bytes)):
        genesis = json.loads(genesis)
    if genesis["chain_id"] != chain_id:
        raise BallotError(f"the genesis file is for chain {genesis['chain_id']}, the node serves {chain_id}")
    check_poll_keys(poll, genesis)
    payloads = seal_ballot(poll, encode_vote(poll, choice), chain_id, key.public_hex)
    return txcodec.build(key, chain_id, "cast_ballot", nonce, {"poll": poll["id"], "payloads": payloads})
