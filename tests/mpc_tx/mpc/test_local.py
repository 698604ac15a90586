"""Local MPC jobs: one job per party, shares that rebuild the ballots, certificates pinned by the job."""

import sys

from cryptography import x509

from mpc_tx.mpc.local import local_jobs, run_parties
from mpc_tx.mpc.tls import cert_fingerprint
from mpc_tx.protocol.sharing import reconstruct

BALLOTS = [[1], [0], [1], [1]]  # unanimity: the one kind with an MPC job


def test_one_job_per_party_with_shared_terms():
    jobs = local_jobs(5, "unanimity", BALLOTS, min_ballots=2, deadline_s=7, prss=False)
    assert [j["pid"] for j in jobs] == list(range(5))
    for key in ("job_id", "parties", "seed", "kind", "options", "threshold", "min_ballots", "deadline_s", "prss"):
        assert len({repr(j[key]) for j in jobs}) == 1, key
    job = jobs[0]
    assert (job["kind"], job["options"], job["threshold"], job["min_ballots"], job["deadline_s"], job["prss"]) == (
        "unanimity",
        1,
        2,
        2,
        7,
        False,
    )
    assert len(job["job_id"]) == 64 and len(job["seed"]) == 64
    assert local_jobs(3, "unanimity", BALLOTS)[0]["job_id"] != job["job_id"]


def test_shares_rebuild_every_ballot_and_lie_on_degree_t():
    m, t = 4, 1
    jobs = local_jobs(m, "unanimity", BALLOTS)
    assert all(j["threshold"] == t for j in jobs)
    for b, ballot in enumerate(BALLOTS):
        for e, vote in enumerate(ballot):
            shares = [int(jobs[i]["shares"][b][e]) for i in range(m)]
            assert reconstruct(shares, t) == vote
            assert all(isinstance(jobs[i]["shares"][b][e], str) for i in range(m))


def test_threshold_can_be_given():
    assert local_jobs(4, "unanimity", [[1]], threshold=2)[0]["threshold"] == 2


def test_each_party_has_a_distinct_port_and_a_certificate_the_job_pins():
    jobs = local_jobs(4, "unanimity", [[1], [1]], hosts=["127.0.0.1"] * 4)
    parties = jobs[0]["parties"]
    assert len({p["port"] for p in parties}) == 4 and all(p["host"] == "127.0.0.1" for p in parties)
    peers = jobs[0]["tls"]["peers"]
    assert len(peers) == 4 and all(job["tls"]["peers"] == peers for job in jobs)  # no CA: the pinned certificates
    for i, job in enumerate(jobs):
        assert job["tls"]["cert"] == peers[i] and "ca" not in job["tls"]
        x509.load_pem_x509_certificate(job["tls"]["cert"].encode())
        assert parties[i]["cert_sha256"] == cert_fingerprint(job["tls"]["cert"])
        assert "PRIVATE KEY" in job["tls"]["key"]
    assert len({j["tls"]["key"] for j in jobs}) == 4


def test_run_parties_feeds_each_process_its_own_job():
    jobs = [{"pid": i, "x": i * i} for i in range(3)]
    echo = "import json, sys; job = json.load(sys.stdin); print(json.dumps({'pid': job['pid'], 'y': job['x'] + 1}))"
    assert run_parties([sys.executable, "-c", echo], jobs, timeout=30) == [
        {"pid": 0, "y": 1},
        {"pid": 1, "y": 2},
        {"pid": 2, "y": 5},
    ]
