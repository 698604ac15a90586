"""Return codes of the mpcvote application (0 is success), one name each.

Every rejection carries one of these codes and a message the user can act on;
CheckTx and FinalizeBlock use the same codes for the same causes.
"""

__all__ = [
    "OK",
    "MALFORMED",
    "TOO_LARGE",
    "BAD_SIGNATURE",
    "WRONG_CHAIN",
    "REPLAY",
    "NOT_ELIGIBLE",
    "UNKNOWN_POLL",
    "POLL_CLOSED",
    "NOT_VALIDATOR",
    "BAD_POLL",
    "BAD_BALLOT",
    "REVOTE_LIMIT",
    "POLL_FULL",
    "NOT_CREATOR",
    "ALREADY_ATTESTED",
    "POLL_NOT_CLOSED",
    "BAD_OUTCOME",
    "NOT_INITIALISED",
    "UNKNOWN_PATH",
    "NOT_FOUND",
    "BAD_QUERY",
    "CLOSING_QUOTA",
    "UNKNOWN_BALLOT",
    "ALREADY_COMPLAINED",
    "COMPLAINT_WINDOW",
    "BAD_COMPLAINT",
    "NOT_TALLY",
    "AGGREGATE_WINDOW",
    "TOO_FEW_BALLOTS",
    "ALREADY_AGGREGATED",
    "BAD_AGGREGATE",
    "INTERNAL",
    "NAMES",
    "TxError",
]

OK = 0
MALFORMED = 1  # not a canonical mpcvote transaction
TOO_LARGE = 2  # over the chain's max_tx_bytes
BAD_SIGNATURE = 3  # signature does not verify for the signer's key
WRONG_CHAIN = 4  # signed for another chain id
REPLAY = 5  # nonce not above the signer's last committed nonce
NOT_ELIGIBLE = 6  # voter not on the poll's list of eligible voters
UNKNOWN_POLL = 7  # no poll with that id
POLL_CLOSED = 8  # ballot or close for a poll that no longer accepts it
NOT_VALIDATOR = 9  # attestation from a key that is not one of the poll's validators
BAD_POLL = 10  # poll parameters out of the chain's bounds
BAD_BALLOT = 11  # ballot malformed, its proofs fail, or not for the poll's (m, t, k)
REVOTE_LIMIT = 12  # the voter has used up the poll's revotes
POLL_FULL = 13  # the poll holds max_ballots ballots already
NOT_CREATOR = 14  # only the poll's creator may close it early
ALREADY_ATTESTED = 15  # this validator attested this poll already
POLL_NOT_CLOSED = 16  # attestation for a poll that is still open, or already final
BAD_OUTCOME = 17  # attestation payload malformed
NOT_INITIALISED = 18  # the app has no chain yet (InitChain not received)
UNKNOWN_PATH = 19  # query path not served
NOT_FOUND = 20  # query for something that does not exist
BAD_QUERY = 21  # query argument malformed, out of range, repeated or unknown
CLOSING_QUOTA = 22  # that height already has max_closings_per_height polls closing
UNKNOWN_BALLOT = 23  # a complaint about a ballot tx the voter never had counted in the poll
ALREADY_COMPLAINED = 24  # this validator complained about this ballot tx already
COMPLAINT_WINDOW = 25  # a complaint after the poll's complaints_until height
BAD_COMPLAINT = 26  # a complaint malformed, or its proof fails (adjudicate refused it)
NOT_TALLY = 27  # an aggregate post for a poll that is not a tally
AGGREGATE_WINDOW = 28  # an aggregate post before the counted set is fixed, or after the poll is final
TOO_FEW_BALLOTS = 29  # an aggregate post for a poll below min_ballots (final, withheld)
ALREADY_AGGREGATED = 30  # this validator posted its aggregate pairs for this poll already
BAD_AGGREGATE = 31  # an aggregate post malformed, or not 64·k bytes for the poll's k
INTERNAL = 99  # a bug: reported, never silently ignored

NAMES = {
    value: name for name, value in globals().items() if name.isupper() and isinstance(value, int) and name != "NAMES"
}


class TxError(Exception):
    """A rejection: a code from this module and a reason the user can act on."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason

    def __repr__(self):
        return f"TxError({NAMES.get(self.code, self.code)}, {self.reason!r})"
