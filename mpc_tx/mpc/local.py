"""MPC jobs for m parties on this machine, for tests and benchmarks (never for a chain).

Each party gets a loopback port, a self-signed certificate (pinned, as the registry pins
it), and its value shares of the given ballots, in the job format `mpc_tx.mpc.job` runs
(see `mpc_tx.worker.polljob.job_input`).
"""

import json
import secrets
import subprocess
import threading

from mpc_tx.mpc import tls as mpc_tls
from mpc_tx.protocol.sharing import share
from node_config.ports import free_ports

__all__ = ["party_cert", "local_jobs", "run_parties"]


def party_cert(name: str, host: str) -> tuple[bytes, bytes]:
    """Return a party's self-signed certificate and key (PEM) for host, as a validator's registry entry pins it."""
    return mpc_tls.make_party_cert(name, host)


def local_jobs(
    m: int,
    kind: str,
    ballots: list,
    options: int = 1,
    *,
    threshold: int | None = None,
    min_ballots: int = 0,
    deadline_s: float = 30,
    prss: bool = True,
    hosts: list[str] | None = None,
) -> list:
    """One job per party for m loopback parties; each ballot is a list of `options` votes,
    shared with a fresh degree-t polynomial per entry (t = (m-1)//2 unless given).

    Party i listens on hosts[i] (127.0.0.1 for all unless given).
    """
    t = (m - 1) // 2 if threshold is None else threshold
    hosts = list(hosts or ["127.0.0.1"] * m)
    certs = [party_cert(f"local party {i}", hosts[i]) for i in range(m)]
    parties = [
        {"host": host, "port": port, "cert_sha256": mpc_tls.cert_fingerprint(cert)}
        for host, port, (cert, _) in zip(hosts, _ports(hosts), certs)
    ]
    peers = [cert.decode() for cert, _ in certs]
    per_party = [[] for _ in range(m)]
    for ballot in ballots:
        entries = [share(v, m, t) for v in ballot]
        for i in range(m):
            per_party[i].append([str(e[i]) for e in entries])
    seed, job_id = secrets.token_hex(32), secrets.token_hex(32)
    return [
        {
            "pid": i,
            "job_id": job_id,
            "parties": parties,
            "threshold": t,
            "kind": kind,
            "options": options,
            "shares": per_party[i],
            "seed": seed,
            "min_ballots": min_ballots,
            "tls": {"cert": certs[i][0].decode(), "key": certs[i][1].decode(), "peers": peers},
            "deadline_s": deadline_s,
            "prss": prss,
        }
        for i in range(m)
    ]


def _ports(hosts: list[str]) -> list[int]:
    # Distinct ports per host: one call per host binds them all at once.
    free = {h: free_ports(hosts.count(h), h) for h in set(hosts)}
    return [free[h].pop() for h in hosts]


def run_parties(command: list[str], jobs: list, *, timeout: float = 60, **popen) -> list:
    """Run one `command` process per job, each given its job as JSON on stdin; return their JSON outputs."""
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, **popen) for _ in jobs]
    outs = [None] * len(jobs)

    def feed(i):
        outs[i] = procs[i].communicate(json.dumps(jobs[i]).encode(), timeout=timeout)[0]

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [json.loads(o) for o in outs]
