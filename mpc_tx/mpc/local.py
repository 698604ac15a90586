"""MPC jobs for m parties on this machine, for tests and benchmarks (never for a chain).

Each party gets a loopback port, a certificate from a throwaway CA, and its shares
of the given ballots, in the job format `mpc_job` runs (see `worker.job_input`).
"""
import secrets
import socket

from mpc_tx.protocol.sharing import share
from mpc_tx.mpc.tls import cert_fingerprint, make_ca, make_party_cert

__all__ = ["free_ports", "local_jobs"]


def free_ports(n: int) -> list:
    """n loopback ports free at the time of the call."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def local_jobs(m: int, kind: str, ballots: list, options: int = 1, *, threshold: int | None = None,
               min_ballots: int = 0, deadline_s: float = 30, prss: bool = True) -> list:
    """One job per party for m loopback parties; each ballot is a list of `options` votes,
    shared with a fresh degree-t polynomial per entry (t = (m-1)//2 unless given)."""
    t = (m - 1) // 2 if threshold is None else threshold
    ca, ca_key = make_ca("local parties CA")
    certs = [make_party_cert(ca, ca_key, i, "127.0.0.1") for i in range(m)]
    parties = [{"host": "127.0.0.1", "port": port, "cert_sha256": cert_fingerprint(cert)}
               for port, (cert, _) in zip(free_ports(m), certs)]
    per_party = [[] for _ in range(m)]
    for ballot in ballots:
        entries = [share(v, m, t) for v in ballot]
        for i in range(m):
            per_party[i].append([str(e[i]) for e in entries])
    seed, job_id = secrets.token_hex(32), secrets.token_hex(32)
    return [{"pid": i, "job_id": job_id, "parties": parties, "threshold": t, "kind": kind, "options": options,
             "shares": per_party[i], "seed": seed, "min_ballots": min_ballots,
             "tls": {"cert": certs[i][0].decode(), "key": certs[i][1].decode(), "ca": ca.decode()},
             "deadline_s": deadline_s, "prss": prss} for i in range(m)]
