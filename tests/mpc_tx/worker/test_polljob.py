"""A poll's job in the worker: its MPC job's ports and identity per attempt, its cached shares, its state."""

from mpc_tx.protocol import tally
from mpc_tx.protocol.ballot import build_ballot
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.worker import shares
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
    assert job.set_state("waiting", 2.5, reason="complaint window")  # quiet, but it says why anew
    assert not job.set_state("waiting", 2.6, reason="complaint window")
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
    assert job.held_sum is None and not job.sum_lost
    assert job.state == "attested" and job.attempted == {0, 1}


def test_a_job_runs_while_it_holds_a_thread():
    job = PollJob(5)
    assert not job.running
    job.thread = object()
    assert job.running


def test_the_held_sum_follows_every_ballot_held_and_the_counted_sum_is_the_fresh_one(kit):
    """Revotes, a tx its block refused, and bytes that are no ballot: held_sum is always the fresh sum."""
    vals = kit.Validators()
    job = PollJob(7)
    voters = [SigningKey.generate().public_hex for _ in range(4)]

    def opened(voter, vote):
        raw = build_ballot(vals.ctx, bytes.fromhex(voter), vote)
        return shares.open_share(vals.ctx, voter, raw, 0, vals.x[0]).held()

    assert job.counted_sum(set()) is None  # nothing summed: the caller sums afresh
    held = {}
    for n, (voter, vote) in enumerate(
        [(voters[0], [1, 0, 0]), (voters[1], [0, 1, 0]), (voters[2], [0, 0, 1]), (voters[0], [0, 1, 0])]
        + [(voters[3], [1, 0, 0]), (voters[1], [0, 0, 1])]
    ):
        held[voter] = opened(voter, vote)
        job.hold(voter, (f"{n:064X}", held[voter]))
        fresh = tally.fresh_sums(3, 1, [o.commitments for o in held.values()])
        assert job.held_sum.encode() == fresh.encode()
    nothing = shares.open_share(vals.ctx, voters[3], b"no ballot", 0, vals.x[0])
    job.hold(voters[3], ("EE" * 32, nothing))  # a refused tx, no commitments: voter 3's ballot leaves the sum
    del held[voters[3]]
    counted = {voters[0], voters[2]}  # voter 1's ballot put out by a complaint
    mine = job.counted_sum(counted)
    assert mine.encode() == tally.fresh_sums(3, 1, [held[v].commitments for v in sorted(counted)]).encode()
    assert job.counted_sum(set()).encode() == tally.empty_sums(3, 1).encode()


def test_a_held_sum_that_does_not_add_up_is_dropped_for_a_fresh_one(kit):
    vals = kit.Validators()
    job = PollJob(7)
    voter = SigningKey.generate().public_hex
    raw = build_ballot(vals.ctx, bytes.fromhex(voter), [1, 0, 0])
    good = shares.open_share(vals.ctx, voter, raw, 0, vals.x[0]).held()
    job.hold(voter, ("AA", good))
    odd = shares.Opened(good.pairs, None, "", good.digest, good.commitments[:2])  # another shape
    job.hold("bb" * 32, ("BB", odd))
    assert job.sum_lost and job.held_sum is None and job.counted_sum({voter}) is None
