"""The worker's pure parts: a job's ports and identity per attempt, and what a failed attempt reports."""
from mpc_tx.worker.follower import attempt_report, chain_result, job_identity, job_input

DIGEST = "ab" * 32


def poll(pid=5, slot=1, ports=8, m=4):
    return {"id": pid, "mpc_slot": slot, "threshold": 1, "kind": "unanimity", "options": [], "seed": "00" * 32,
            "min_ballots": 0, "ballots_digest": DIGEST,
            "validators": [{"mpc_host": "127.0.0.1", "mpc_port": 30000 + 100 * i, "mpc_ports": ports,
                            "tls_sha256": f"{i:064x}"} for i in range(m)]}


def test_job_ports_follow_the_slot_and_alternate_by_attempt():
    ports = {(slot, attempt): [p["port"] for p in job_input(poll(slot=slot), 0, attempt, [], {}, 5)["parties"]]
             for slot in range(4) for attempt in range(2)}
    assert ports[(1, 0)] == [30002, 30102, 30202, 30302] and ports[(1, 1)] == [30003, 30103, 30203, 30303]
    assert len({tuple(p) for p in ports.values()}) == 8   # slots computing together never meet


def test_job_identity_binds_chain_poll_attempt_and_counted_set():
    base = job_identity("chain", poll(), 0)
    assert len(bytes.fromhex(base)) == 32
    assert job_input(poll(), 2, 0, [], {}, 5, chain_id="chain")["job_id"] == base
    others = [job_identity("other", poll(), 0), job_identity("chain", poll(pid=6), 0),
              job_identity("chain", poll(), 1), job_identity("chain", {**poll(), "ballots_digest": "cd" * 32}, 0)]
    assert base not in others and len(set(others)) == 4


def test_failed_attempts_report_whom_they_name():
    p = poll()
    assert attempt_report(p, {"status": "failed", "code": "party_absent", "absent": [3, 1]}) == \
        {"status": "failed", "code": "party_absent", "absent": [1, 3], "ballots": DIGEST}
    assert attempt_report(p, {"status": "failed", "code": "timeout", "absent": [], "outstanding": [2]})["absent"] == [2]
    assert attempt_report(p, {"status": "failed", "code": "bad_message", "absent": [], "sender": 0})["absent"] == [0]
    for names_nobody in ({"status": "failed", "code": "timeout", "absent": []},
                         {"status": "failed", "code": "error", "absent": []},
                         {"status": "failed", "code": "bad_message", "absent": [], "sender": 9}):
        assert attempt_report(p, names_nobody) is None
    assert chain_result(p, {"status": "failed", "code": "bad_message", "absent": [], "sender": 0}) is None
