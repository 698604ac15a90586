"""Attestations, failed-attempt reports, complaints and aggregate posts: sign them, submit them through the node.

The payload is mpc_tx.protocol.outcome's (its one builder, ``from_job``); it goes on chain
as the ``result`` of a ``submit_outcome`` tx signed with the validator's attestation key,
through the validator's own node. A complaint (mpc_tx.worker.complaints) goes the same way
as a ``complain`` tx, a tally poll's aggregate pairs (mpc_tx.worker.aggregates) as an
``aggregate`` tx: ``send_tx`` is the one sender, with its nonce and retry rules.
"""

import logging
import threading
import time

from mpc_tx.protocol import outcome, tx as txcodec
from mpc_tx.protocol.codes import ALREADY_ATTESTED, POLL_NOT_CLOSED, OK

__all__ = [
    "chain_result",
    "attempt_report",
    "payload",
    "submit_body",
    "next_nonce",
    "send_tx",
    "Attester",
    "SUBMIT_TRIES",
    "SETTLED",
]

log = logging.getLogger("mpc_tx.worker")

SUBMIT_TRIES = 10
# Rejections that no retry changes: attested already, or the poll is no longer closed (final).
SETTLED = (ALREADY_ATTESTED, POLL_NOT_CLOSED)


def payload(poll: dict, job: dict) -> dict | None:
    """Return what to submit for a job's result on `poll` (outcome.from_job), or None."""
    return outcome.from_job(job, poll["ballots_digest"], poll["options"], len(poll["validators"]))


def chain_result(poll: dict, job: dict) -> dict | None:
    """Return the payload to attest for a job's result, or None to retry at the next attempt."""
    built = payload(poll, job)
    return None if built is None or outcome.is_report(built) else built


def attempt_report(poll: dict, job: dict) -> dict | None:
    """Return the failed-attempt report naming parties for a failed job, or None if it names nobody.

    Absent parties (never connected, or lost), the sender of a refused message, or the
    parties whose messages were outstanding when the attempt timed out.
    """
    built = payload(poll, job)
    return built if built is not None and outcome.is_report(built) else None


def submit_body(poll_id: int, validator: int, result: dict) -> dict:
    """Return the body of the submit_outcome tx carrying `result`."""
    return {"poll": poll_id, "validator": validator, "result": result}


def next_nonce(last: int, now_us: int) -> int:
    """Return a nonce above the account's last one: the time in microseconds, if that is above it."""
    return max(last + 1, now_us)


def send_tx(rpc, key, chain_id: str, type_: str, body: dict, retry_s: float, settled, what: str) -> bool | None:
    """Sign and send a `type_` tx of `body` with `key`, retrying a refusal every retry_s.

    Return True if the node took it, False if refused with a code in `settled` (no retry
    changes it), None if every try was refused. Each try takes a fresh nonce above the
    account's last one.
    """
    for _ in range(SUBMIT_TRIES):
        last = rpc.query(f"/account/{key.public_hex}")[0]["nonce"]
        res = rpc.broadcast_tx_sync(txcodec.build(key, chain_id, type_, next_nonce(last, time.time_ns() // 1000), body))
        if int(res["code"]) == OK:
            log.info("%s: sent (tx %s)", what, res["hash"])
            return True
        log.warning("%s: refused: code %s %s", what, res["code"], res.get("log"))
        if int(res["code"]) in settled:
            return False
        time.sleep(retry_s)
    return None


class Attester:
    """Sign and submit one validator's attestations and reports."""

    def __init__(self, key, chain_id: str, index: int):
        self.key, self.chain_id, self.index = key, chain_id, index
        # One tx at a time from this key (attestations and complaints): each takes the next nonce.
        self.lock = threading.Lock()

    def __repr__(self):  # never the key
        return f"Attester(validator {self.index}, {self.key.public_hex[:12]}…)"

    def build(self, poll_id: int, result: dict, nonce: int) -> bytes:
        """Return the signed submit_outcome tx."""
        return txcodec.build(self.key, self.chain_id, "submit_outcome", nonce, submit_body(poll_id, self.index, result))

    def submit(self, rpc, poll_id: int, result: dict, retry_s: float) -> bool:
        """Submit `result` through `rpc`, retrying a refusal every retry_s; return whether the node took it."""
        what = f"poll {poll_id}: {result.get('code', result['status'])} attestation"
        body = submit_body(poll_id, self.index, result)
        with self.lock:
            return bool(send_tx(rpc, self.key, self.chain_id, "submit_outcome", body, retry_s, SETTLED, what))

    def complain(self, rpc, body: dict, retry_s: float, settled) -> bool | None:
        """Send a complain tx of `body` (see send_tx for the answer); the body names nothing secret."""
        what = f"poll {body['poll']}: complaint about ballot tx {body['ballot_tx'][:12]}…"
        with self.lock:
            return send_tx(rpc, self.key, self.chain_id, "complain", body, retry_s, settled, what)

    def aggregate(self, rpc, body: dict, retry_s: float, settled) -> bool | None:
        """Send an aggregate tx of `body` (see send_tx for the answer); the log names the poll, not the pairs."""
        what = f"poll {body['poll']}: aggregate pairs of validator {body['validator']}"
        with self.lock:
            return send_tx(rpc, self.key, self.chain_id, "aggregate", body, retry_s, settled, what)
