"""A poll's job in the worker: its MPC job's ports and identity per attempt, its cached shares, its state."""

from mpc_tx.worker.polljob import PollJob, QUIET_STATES, job_identity, job_input, opened_from

DIGEST = "ab" * 32


def poll(pid=5, slot=1, ports=8, m=4):
    return {
        "id": pid,
        "mpc_slot": slot,
        "threshold": 1,
        "kind": "unanimity",
        "options": [],
        "seed": "00" * 32,
        "min_ballots": 0,
        "ballots_digest": DIGEST,
        "validators": [
            {"mpc_host": "127.0.0.1", "mpc_port": 30000 + 100 * i, "mpc_ports": ports, "tls_sha256": f"{i:064x}"}
            for i in range(m)
        ],
    }


def test_job_ports_follow_the_slot_and_alternate_by_attempt():
    ports = {
        (slot, attempt): [p["port"] for p in job_input(poll(slot=slot), 0, attempt, [], {}, 5)["parties"]]
        for slot in range(4)
        for attempt in range(2)
    }
    assert ports[(1, 0)] == [30002, 30102, 30202, 30302] and ports[(1, 1)] == [30003, 30103, 30203, 30303]
    assert len({tuple(p) for p in ports.values()}) == 8  # slots computing together never meet


def test_job_identity_binds_chain_poll_attempt_and_counted_set():
    base = job_identity("chain", poll(), 0)
    assert len(bytes.fromhex(base)) == 32
    assert job_input(poll(), 2, 0, [], {}, 5, chain_id="chain")["job_id"] == base
    others = [
        job_identity("other", poll(), 0),
        job_identity("chain", poll(pid=6), 0),
        job_identity("chain", poll(), 1),
        job_identity("chain", {**poll(), "ballots_digest": "cd" * 32}, 0),
    ]
    assert base not in others and len(set(others)) == 4


def test_shares_are_held_only_for_the_tx_they_were_opened_from():
    job = PollJob(5)
    assert not job.holds("v1", "AA") and not opened_from(None, "AA")
    job.shares["v1"] = ("AA", [1, 2])
    assert job.holds("v1", "AA") and not job.holds("v1", "BB") and not job.holds("v2", "AA")
    job.shares["v2"] = ("CC", None)  # a bad share, but opened from CC: not opened (nor complained of) again
    assert job.holds("v2", "CC")


def test_quiet_states_are_recorded_once_others_every_time():
    job = PollJob(5)
    assert job.state is None and job.status is None
    assert job.set_state("waiting", 1.0, reason="poll open") and job.status == {
        "state": "waiting",
        "updated": 1.0,
        "reason": "poll open",
    }
    assert not job.set_state("waiting", 2.0, reason="poll open") and job.status["updated"] == 1.0
    assert job.set_state("queued", 3.0) and not job.set_state("queued", 4.0)
    assert job.set_state("running", 5.0, attempt=0) and job.set_state("running", 6.0, attempt=0)
    assert job.status == {"state": "running", "updated": 6.0, "attempt": 0}
    assert job.set_state("failed", 7.0, attempt=1, reason="timeout", absent=None) and job.status == {
        "state": "failed",
        "updated": 7.0,
        "attempt": 1,
        "reason": "timeout",
    }  # no None fields
    assert set(QUIET_STATES) == {"waiting", "queued"}


def test_a_finished_job_forgets_its_record_and_shares_but_not_its_state():
    job = PollJob(5)
    job.record, job.shares["v1"], job.attempted = {"id": 5}, ("AA", [1]), {0, 1}
    job.set_state("attested", 1.0, attempt=1)
    assert not job.done and "shares" not in repr(job) and "[1]" not in repr(job)
    job.finish()
    assert job.done and job.record is None and job.shares == {} and not job.holds("v1", "AA")
    assert job.state == "attested" and job.attempted == {0, 1}


def test_a_job_runs_while_it_holds_a_thread():
    job = PollJob(5)
    assert not job.running
    job.thread = object()
    assert job.running
