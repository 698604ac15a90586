"""The attested outcome payload: one schema, one builder, one checker, one code list.

A validator's worker turns the result of a poll's MPC job into this payload
(``from_job``), signs it as the ``result`` of a ``submit_outcome`` tx, and the chain
checks it (``check_form`` in the codec, ``check`` against the poll) before it hashes it
(``digests.outcome_digest``) and counts it towards finality. Its two forms::

    {"status": "ok", "ballots": <counted-set digest>, "outcome": OUTCOME, "counted": N}
    {"status": "failed", "ballots": <counted-set digest>, "code": CODE, "absent": [validator indices]}

OUTCOME is ``{"unanimous": true|false}`` or ``{"withheld": true}`` (always below
min_ballots). Only a unanimity poll is attested: a tally is opened on chain from the
validators' aggregate pairs (docs/PROTOCOL.md §18), and ``check`` refuses any payload
for one; its result has the ok form with ``{"tally": {option: count, ...}}``. N is the
size of the poll's fixed counted set: the MPC runs over exactly that set (docs/PROTOCOL.md
§17), so nothing is excluded there. Index lists are sorted, distinct and in range.

The failure codes, and who writes each (``CODES``):

- ``inconsistent_shares`` (attested): the parties' inputs do not lie on one degree-t
  polynomial (a party input other shares than its checked ones); uses the validator's one
  attestation, and fails the poll once more than 2/3 attest it.
- ``party_absent``, ``timeout``, ``bad_message`` (reported): a failed attempt names parties
  for the record and for the deadline verdict, without using up the attestation, since a
  later attempt may succeed. "absent" lists whom it names: not connected (party_absent),
  whose messages were outstanding at the job's deadline (timeout), or the sender of a
  refused message (bad_message).
- ``deadline`` (the chain's own): written by the chain when a poll has no final outcome by
  its deadline height; never accepted in a transaction.
- ``error`` (the job's own): an MPC job that failed for no enumerated reason; never on
  chain (the worker retries at the next attempt).

Attested failures are enumerated, never free text, so honest workers agree byte for byte.
"""

from .codes import TxError, BAD_OUTCOME

__all__ = [
    "OK",
    "FAILED",
    "INCONSISTENT_SHARES",
    "PARTY_ABSENT",
    "TIMEOUT",
    "BAD_MESSAGE",
    "DEADLINE",
    "ERROR",
    "ATTESTED",
    "REPORTED",
    "CHAIN",
    "JOB",
    "CODES",
    "FAILURE_CODES",
    "REPORT_CODES",
    "JOB_CODES",
    "WITHHELD",
    "from_job",
    "is_report",
    "is_job_result",
    "check_form",
    "check",
]

OK, FAILED = "ok", "failed"
INCONSISTENT_SHARES = "inconsistent_shares"
PARTY_ABSENT = "party_absent"
TIMEOUT = "timeout"
BAD_MESSAGE = "bad_message"
DEADLINE = "deadline"
ERROR = "error"

# Who writes a failure code (see the module docstring).
ATTESTED, REPORTED, CHAIN, JOB = "attested", "reported", "chain", "job"
# The one code list, in the order the chain names them in its messages.
CODES = {
    INCONSISTENT_SHARES: ATTESTED,
    PARTY_ABSENT: REPORTED,
    TIMEOUT: REPORTED,
    BAD_MESSAGE: REPORTED,
    DEADLINE: CHAIN,
    ERROR: JOB,
}
FAILURE_CODES = tuple(c for c, who in CODES.items() if who == ATTESTED)  # attested failures
REPORT_CODES = tuple(c for c, who in CODES.items() if who == REPORTED)  # failed-attempt reports
# What an MPC job may answer with: every code a worker submits, and its own error.
JOB_CODES = tuple(c for c, who in CODES.items() if who in (ATTESTED, REPORTED, JOB))

WITHHELD = {"withheld": True}
_OK_FIELDS = {"status", "outcome", "counted", "ballots"}
_FAILED_FIELDS = {"status", "code", "absent", "ballots"}
_JOB_OK_FIELDS = {"outcome", "counted"}


# --- the builder -------------------------------------------------------------------------


def from_job(job: dict, ballots_digest: str, options: list, parties: int) -> dict | None:
    """Return the payload a worker submits for its MPC job's result, or None for nothing to submit.

    An outcome (a tally's counts keyed by the poll's options) or an attested failure is
    an attestation; a failed attempt that names parties among the `parties` validators
    is a report (``is_report``); anything else (an error, a timeout naming nobody) is
    None: the next attempt may succeed.
    """
    if job["status"] == FAILED:
        code = job.get("code")
        if code == INCONSISTENT_SHARES:
            return {
                "ballots": ballots_digest,
                "status": FAILED,
                "code": INCONSISTENT_SHARES,
                "absent": sorted(job.get("absent", [])),
            }
        if code == PARTY_ABSENT:
            named = job.get("absent", [])
        elif code == BAD_MESSAGE and isinstance(job.get("sender"), int):
            named = [job["sender"]]
        elif code == TIMEOUT:
            named = job.get("outstanding", [])
        else:
            return None
        named = sorted({int(p) for p in named if isinstance(p, int) and 0 <= p < parties})
        if not named:
            return None
        return {"status": FAILED, "code": code, "absent": named, "ballots": ballots_digest}
    outcome = job["outcome"]
    if "tally" in outcome:
        outcome = {"tally": dict(zip(options, outcome["tally"]))}
    return {"ballots": ballots_digest, "status": OK, "outcome": outcome, "counted": job["counted"]}


def is_report(payload: dict) -> bool:
    """Whether a (checked) payload is a failed-attempt report rather than an attestation."""
    return payload["status"] == FAILED and payload["code"] in REPORT_CODES


def is_job_result(result) -> bool:
    """Whether an MPC job's answer has the form the worker builds payloads from."""
    if not isinstance(result, dict):
        return False
    if result.get("status") == OK and _JOB_OK_FIELDS <= result.keys():
        return True
    return result.get("status") == FAILED and result.get("code") in JOB_CODES


# --- the checker -------------------------------------------------------------------------


def check_form(result) -> None:
    """Raise BAD_OUTCOME unless `result` is an object with status 'ok' or 'failed' (no state needed)."""
    if not isinstance(result, dict) or result.get("status") not in (OK, FAILED):
        raise TxError(BAD_OUTCOME, "result must be an object with status 'ok' or 'failed'")


def check(poll: dict, result) -> None:
    """Raise BAD_OUTCOME unless `result` is a well-formed payload for `poll`; never raise anything else.

    `poll` is the chain's record: id, ballots_digest, ballots (the size of the fixed counted
    set), validators, min_ballots, kind, options.
    """
    check_form(result)

    def bad(reason):
        raise TxError(BAD_OUTCOME, f"outcome for poll {poll['id']}: {reason}")

    if poll["kind"] == "tally":
        # docs/PROTOCOL.md §18.1: no MPC job, no attestation; the aggregate txs open it.
        bad("a tally is opened on chain from aggregate pairs, not attested")

    def index_list(v, bound):
        # Element types first: set() of a list, or sorted() of mixed types, would raise.
        return (
            isinstance(v, list)
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < bound for i in v)
            and v == sorted(set(v))
        )

    if result.get("ballots") != poll["ballots_digest"]:
        bad("ballots digest differs from the ballot set committed at the close")
    n, m = poll["ballots"], len(poll["validators"])
    if result["status"] == FAILED:
        if set(result) != _FAILED_FIELDS:
            bad("a failure has exactly the fields absent, ballots, code, status")
        if result["code"] not in FAILURE_CODES + REPORT_CODES:
            bad(f"failure code must be one of {', '.join(FAILURE_CODES + REPORT_CODES)}")
        if not index_list(result["absent"], m):
            bad("absent must be a sorted list of validator indices")
        return
    if set(result) != _OK_FIELDS:
        bad("a result has exactly the fields ballots, counted, outcome, status")
    if not (isinstance(result["counted"], int) and not isinstance(result["counted"], bool) and result["counted"] == n):
        bad("counted must be the number of ballots in the fixed counted set")
    outcome = result["outcome"]
    if outcome == WITHHELD:
        return
    if result["counted"] < poll["min_ballots"]:
        bad(f"an outcome below min_ballots ({poll['min_ballots']}) must be withheld, whatever the kind")
    if not (isinstance(outcome, dict) and set(outcome) == {"unanimous"} and isinstance(outcome["unanimous"], bool)):
        bad('a unanimity outcome is {"unanimous": true|false} or {"withheld": true}')
