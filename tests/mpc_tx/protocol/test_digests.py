"""The domain-separated digests: pinned values (a change would fork the app hash or the MPC greeting)."""

import hashlib

from mpc_tx.protocol.digests import ballot_digest, counted_set_digest, job_identity, outcome_digest, poll_seed


def test_pinned_values():
    # Written out from the formulas in docs (README, State), independently of the module.
    assert (
        poll_seed(b"\x01" * 32, 7)
        == hashlib.sha256(b"mpcvote/seed/v1\x00" + b"\x01" * 32 + (7).to_bytes(8, "big")).hexdigest()
    )
    assert ballot_digest("ab" * 32, b"\x01\x02") == hashlib.sha256(("ab" * 32).encode() + b"\x01\x02").hexdigest()
    assert (
        counted_set_digest(["aa" * 32, "bb" * 32])
        == hashlib.sha256(b"mpcvote/ballots/v1\x00" + b"\xaa" * 32 + b"\xbb" * 32).hexdigest()
    )
    assert (
        outcome_digest({"status": "ok", "counted": 3})
        == hashlib.sha256(b'mpcvote/outcome/v1\x00{"counted":3,"status":"ok"}').hexdigest()
    )
    assert job_identity("c", 5, 1, "ab" * 32) == "7a7c7e673928d69a81b2e4128e3073acfeef1807c03985af95c4be485f290a54"


def test_every_input_counts():
    base = job_identity("c", 5, 1, "ab" * 32)
    assert (
        len(
            {
                base,
                job_identity("d", 5, 1, "ab" * 32),
                job_identity("c", 6, 1, "ab" * 32),
                job_identity("c", 5, 2, "ab" * 32),
                job_identity("c", 5, 1, "cd" * 32),
            }
        )
        == 5
    )
    assert counted_set_digest([]) != counted_set_digest(["00" * 32])
    assert poll_seed(b"\x01" * 32, 7) != poll_seed(b"\x01" * 32, 8)
