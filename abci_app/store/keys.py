"""The store's key layout: every key the app writes, in one place.

Values are canonical JSON (mpc_tx.protocol.canonical) unless said otherwise. Numbers in
keys are zero-padded decimals, so LevelDB's byte order is numeric order and a prefix scan
walks ids or heights in order.

    meta/height                         last committed height (decimal text, not JSON)
    meta/app_hash                       last committed app hash (raw bytes)
    chain/params                        the genesis parameters (abci_app.params)
    chain/validators                    the validator registry from genesis
    chain/chain_id                      the chain id
    chain/next_poll                     the next poll id to assign
    poll/<poll>                         a poll: question, options, kind, state, outcome
    eligible/<poll>/<voter>             present when voter may vote in poll
    ballot/<poll>/<voter>               the voter's current ballot (its encrypted shares)
    bdig/<poll>/<voter>                 the digest of that ballot (for the counted-set digest)
    nonce/<signer>                      the signer's last committed nonce
    attest/<poll>/<validator>           a validator's attestation of the poll's outcome
    report/<poll>/<validator>           a validator's report of a failed MPC attempt
    due/<height>/<poll>                 poll closes (or its MPC attempt ends) at height
    closings/<height>                   how many polls close at height (the closing quota)
    mpcslot/<slot>                      the poll holding MPC port slot <slot> (abci_app.mpcslots)
    mpcwait/<close height>/<poll>       a closed poll waiting for a slot, in close order

<poll> and <height> are 16 digits, <validator> and <slot> 4 digits; <voter> and <signer>
are 64 lower-case hex characters (an ed25519 public key).
"""

__all__ = ["HEIGHT", "APP_HASH", "PARAMS", "VALIDATORS", "CHAIN_ID", "NEXT_POLL", "poll_key", "ballot_prefix", "ballot_key", "digest_prefix", "digest_key", "eligible_key", "nonce_key", "attest_prefix", "attest_key", "report_prefix", "report_key", "due_prefix", "due_key", "closings_key", "mpc_slot_prefix", "mpc_slot_key", "mpc_wait_prefix", "mpc_wait_key"]

HEIGHT = b"meta/height"
APP_HASH = b"meta/app_hash"
PARAMS = b"chain/params"
VALIDATORS = b"chain/validators"
CHAIN_ID = b"chain/chain_id"
NEXT_POLL = b"chain/next_poll"


def poll_key(poll_id: int) -> bytes:
    return b"poll/%016d" % poll_id


def ballot_prefix(poll_id: int) -> bytes:
    return b"ballot/%016d/" % poll_id


def ballot_key(poll_id: int, voter: str) -> bytes:
    return ballot_prefix(poll_id) + voter.encode()


def digest_prefix(poll_id: int) -> bytes:
    return b"bdig/%016d/" % poll_id


def digest_key(poll_id: int, voter: str) -> bytes:
    return digest_prefix(poll_id) + voter.encode()


def eligible_key(poll_id: int, voter: str) -> bytes:
    return b"eligible/%016d/" % poll_id + voter.encode()


def nonce_key(signer: str) -> bytes:
    return b"nonce/" + signer.encode()


def attest_prefix(poll_id: int) -> bytes:
    return b"attest/%016d/" % poll_id


def attest_key(poll_id: int, validator: int) -> bytes:
    return attest_prefix(poll_id) + b"%04d" % validator


def report_prefix(poll_id: int) -> bytes:
    return b"report/%016d/" % poll_id


def report_key(poll_id: int, validator: int) -> bytes:
    return report_prefix(poll_id) + b"%04d" % validator


def due_prefix(height: int) -> bytes:
    return b"due/%016d/" % height


def due_key(height: int, poll_id: int) -> bytes:
    return due_prefix(height) + b"%016d" % poll_id


def closings_key(height: int) -> bytes:
    """Number of polls closing at height (scheduled closes and early closes)."""
    return b"closings/%016d" % height


def mpc_slot_prefix() -> bytes:
    return b"mpcslot/"


def mpc_slot_key(slot: int) -> bytes:
    """The poll holding MPC slot `slot` (see mpcslots)."""
    return mpc_slot_prefix() + b"%04d" % slot


def mpc_wait_prefix() -> bytes:
    return b"mpcwait/"


def mpc_wait_key(closed_height: int, poll_id: int) -> bytes:
    """A closed poll waiting for an MPC slot, in (close height, poll id) order."""
    return mpc_wait_prefix() + b"%016d/%016d" % (closed_height, poll_id)
