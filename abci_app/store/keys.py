"""The store's key layout: every key the app writes, in one place.

Values are canonical JSON (mpc_tx.protocol.canonical) unless said otherwise. Numbers in
keys are zero-padded decimals, so LevelDB's byte order is numeric order and a prefix scan
walks ids or heights in order. Every key but meta/ is in the app hash
(abci_app.store.apphash): the chain/ keys InitChain stages make the genesis hash, and are
committed with block 1.

    key                              value                                      written by
    meta/height                      last committed height (decimal text,       Store.commit
                                     not JSON)
    meta/app_hash                    last committed app hash (32 raw bytes)     Store.commit
    chain/chain_id                   the chain id (a string)                    app.init_chain
    chain/params                     the chain parameters: genesis              app.init_chain
                                     app_state.params over the defaults
                                     (abci_app.params.resolve)
    chain/validators                 the validator registry, every field of     app.init_chain
                                     each entry (abci_app.genesis.check_registry)
    chain/next_poll                  the id the next poll gets (absent: 1)      handlers.polls
    poll/<poll>                      a Poll record (mpc_tx.protocol.records):   handlers.polls (create, close, fix),
                                     terms, snapshotted validators, status,     handlers.ballots, handlers.complaints
                                     counted ballots, complaint window, fixed   (count, named_validators),
                                     counted set, named validators, result,     handlers.aggregates (named, final),
                                     running digest (events, running),          mpcslots (slot, start, deadline),
                                     final_tx                                   handlers.outcomes (final, failed);
                                                                                every event tx (events, running)
    agg/<poll>                       the poll's aggregate commitments A[e][j]   handlers.polls (create),
                                     (hex of the k·(t+1) point encodings,       handlers.ballots (count, revote),
                                     tally.Sums.encode): the sum over the       handlers.complaints (ballot_bad)
                                     counted set, frozen at its fix
    aggregate/<poll>/<i>             an Aggregate record: validator i's judged  handlers.aggregates
                                     aggregate post (pairs hex, verdict valid
                                     or named, reason, height, tx)
    eligible/<poll>/<voter>          1, for each voter a poll lists (none       handlers.polls
                                     for an open poll: anyone may vote)
    ballot/<poll>/<voter>            a Ballot record: the voter's latest        handlers.ballots (cast),
                                     ballot (hex), tx hash, height, revotes     handlers.complaints (disqualified)
                                     used, the tx hashes it replaced,
                                     disqualified (null or by, height, reason)
    bdig/<poll>/<voter>              that ballot's ballot_digest (hex),         handlers.ballots (cast),
                                     present iff it is counted; in voter        handlers.complaints (deleted when
                                     order the counted-set digest's input       the ballot is disqualified)
    badc/<poll>/<cdigest>            the tx hash (a string) of a disqualified   handlers.complaints
                                     ballot, by its commitments digest (64
                                     hex): a ballot with these commitments is
                                     refused in this poll
    complaint/<poll>/<tx>/<i>        a Complaint record: validator i's judged   handlers.complaints
                                     complaint about ballot tx <tx> (verdict
                                     ballot_bad, complaint_false or moot)
    nonce/<signer>                   the signer's last committed nonce (int)    execution.apply_tx
    attest/<poll>/<validator>        an Attestation record: the validator's     handlers.outcomes
                                     outcome payload, its outcome_digest, height
    report/<poll>/<validator>        the validator's latest failed-attempt      handlers.outcomes
                                     report: {"validator", "absent" (party
                                     indices), "height"}
    due/<height>/<poll>              "close": the poll's scheduled close        handlers.polls (create, close,
                                     (deleted by an early close); "fix": the    a tally's fix); mpcslots (at a
                                     counted set is fixed then (at              unanimity poll's MPC start)
                                     complaints_until + 1); "deadline": the
                                     poll fails then unless final. Deleted
                                     when its height is processed
                                     (handlers.polls.process_due)
    closings/<height>                how many polls close at height, scheduled  handlers.polls
                                     or early (the closing quota); an early
                                     close gives its scheduled one back
    mpcslot/<slot>                   {"poll": id, "free_at": null while the     mpcslots
                                     poll holds the slot, else the height it
                                     is free again}
    mpcwait/<height>/<poll>          1: a poll closed at height, its counted    mpcslots (deleted when it gets one)
                                     set fixed, waiting for a slot, in (close
                                     height, poll id) order

<poll> and <height> are 16 digits, <validator>, <i> and <slot> 4 digits; <voter> and <signer>
are 64 lower-case hex characters (an ed25519 public key); <tx> is a tx hash (64 upper-case
hex characters); <cdigest> 64 lower-case hex characters.
"""

__all__ = [
    "HEIGHT",
    "APP_HASH",
    "PARAMS",
    "VALIDATORS",
    "CHAIN_ID",
    "NEXT_POLL",
    "poll_key",
    "ballot_prefix",
    "ballot_key",
    "digest_prefix",
    "digest_key",
    "bad_commitments_key",
    "complaint_prefix",
    "complaint_key",
    "sums_key",
    "aggregate_prefix",
    "aggregate_key",
    "eligible_key",
    "nonce_key",
    "attest_prefix",
    "attest_key",
    "report_prefix",
    "report_key",
    "due_prefix",
    "due_key",
    "closings_key",
    "mpc_slot_prefix",
    "mpc_slot_key",
    "mpc_wait_prefix",
    "mpc_wait_key",
]

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


def bad_commitments_key(poll_id: int, cdigest: str) -> bytes:
    """A disqualified ballot's commitments digest (hex) in a poll."""
    return b"badc/%016d/" % poll_id + cdigest.encode()


def complaint_prefix(poll_id: int) -> bytes:
    return b"complaint/%016d/" % poll_id


def complaint_key(poll_id: int, ballot_tx: str, validator: int) -> bytes:
    """Validator `validator`'s complaint about ballot tx `ballot_tx` in a poll."""
    return complaint_prefix(poll_id) + ballot_tx.encode() + b"/%04d" % validator


def sums_key(poll_id: int) -> bytes:
    """A poll's aggregate commitments (docs/PROTOCOL.md §18.2)."""
    return b"agg/%016d" % poll_id


def aggregate_prefix(poll_id: int) -> bytes:
    return b"aggregate/%016d/" % poll_id


def aggregate_key(poll_id: int, validator: int) -> bytes:
    """Validator `validator`'s judged aggregate post in a poll."""
    return aggregate_prefix(poll_id) + b"%04d" % validator


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
