"""The two hardenings of MPyC 0.11 stay closed: the zero-test leak, and unpinned party identities.

Parties run as child processes on loopback with real TLS (certificates from a CA made
here). The leak test's parties are this file run as a script (``leak`` role).
"""

import itertools
import json
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO))

from mpc_tx.mpc.job import run_job  # noqa: E402
from mpc_tx.mpc.runtime import link_hello  # noqa: E402
from mpc_tx.mpc.local import local_jobs, party_cert  # noqa: E402
from mpc_tx.protocol.sharing import L, share  # noqa: E402


# ---------------------------------------------------------------- helpers


def make_jobs(m, t, hosts=None, deadline=10.0, ballots=((1,),)):
    jobs = local_jobs(m, "unanimity", [list(b) for b in ballots], threshold=t, deadline_s=deadline, hosts=hosts)
    certs = [(job["tls"]["cert"].encode(), job["tls"]["key"].encode()) for job in jobs]
    return jobs, {"peers": "".join(jobs[0]["tls"]["peers"]), "certs": certs}


def client_context(tmp_path, peers, cert, key):
    """A client that trusts the parties' certificates (as a party does) and presents cert."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=peers)
    context.check_hostname = False
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    name = secrets.token_hex(4)
    (tmp_path / f"{name}.crt").write_bytes(cert)
    (tmp_path / f"{name}.key").write_bytes(key)
    context.load_cert_chain(tmp_path / f"{name}.crt", tmp_path / f"{name}.key")
    return context


def server_context(tmp_path, cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    name = secrets.token_hex(4)
    (tmp_path / f"{name}.crt").write_bytes(cert)
    (tmp_path / f"{name}.key").write_bytes(key)
    context.load_cert_chain(tmp_path / f"{name}.crt", tmp_path / f"{name}.key")
    return context


def prss_key_bytes(m, t, claimed, server):
    """Bytes of PRSS keys MPyC's client `claimed` sends to `server` after its pid."""
    return 16 * sum(1 for s in itertools.combinations(range(m), m - t) if s[0] == claimed and server in s)


def connect_tls(context, host, port, server_pid, within=5.0):
    end = time.monotonic() + within
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=1)
            return context.wrap_socket(sock)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def is_closed_by_peer(conn, wait=1.5):
    """Tell whether the peer closes the link within wait seconds (its hello read and dropped)."""
    end = time.monotonic() + wait
    for _ in range(64):  # the server's hello, then the close
        conn.settimeout(max(0.01, end - time.monotonic()))
        try:
            if conn.recv(4096) == b"":
                return True
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionError, ssl.SSLError):
            return True
    return False


def start_job(job, timeout_s, log_path):
    box = {}
    log = open(log_path, "wb")

    def go():
        try:
            box["result"] = run_job(job, timeout_s, stderr=log)
        finally:
            log.close()

    thread = threading.Thread(target=go)
    thread.start()
    return thread, box


# ---------------------------------------------------------------- zero-test leak


def _sqrt_mod_L(a):
    """Square root modulo L (L = 5 mod 8, Atkin's method)."""
    a %= L
    v = pow(2 * a, (L - 5) // 8, L)
    i = 2 * a * v * v % L
    x = a * v * (i - 1) % L
    assert x * x % L == a
    return x


def _coefficients(points):
    """Monomial coefficients (low to high) of the polynomial through points mod L."""
    coeffs = [0] * len(points)
    for i, (x_i, y_i) in enumerate(points):
        basis, denom = [1], 1
        for j, (x_j, _) in enumerate(points):
            if j != i:
                basis = [(a - x_j * b) % L for a, b in zip([0] + basis, basis + [0])]
                denom = denom * (x_i - x_j) % L
        scale = y_i * pow(denom, -1, L) % L
        coeffs = [(c + scale * b) % L for c, b in zip(coeffs, basis)]
    return coeffs


def _roots(coeffs):
    if len(coeffs) == 2:
        c0, c1 = coeffs
        return [-c0 * pow(c1, -1, L) % L]
    c0, c1, c2 = coeffs
    root = _sqrt_mod_L(c1 * c1 - 4 * c2 * c0)
    inv = pow(2 * c2, -1, L)
    return [(-c1 + root) * inv % L, (-c1 - root) * inv % L]


def _candidates(opened, own_share_of_a):
    """A party at x=1 who sees polynomial opened: each root rho of it, taken as the
    root of a(x), gives a(0) = rho * a(1) / (rho - 1)."""
    return [rho * own_share_of_a * pow(rho - 1, -1, L) % L for rho in _roots(_coefficients(opened)) if rho != 1]


def _leak_party(spec):
    """One party of the leak test: stock and hardened zero tests on the same secrets."""
    from mpc_tx.mpc.job import parse_job
    from mpc_tx.mpc.runtime import _np_is_zero_public, build_runtime, private_tls_files, shutdown
    from mpyc import thresha  # after mpc_runtime, which imports MPyC with argv neutralised

    job = parse_job(spec["job"])
    tls = job["tls"]
    with private_tls_files(tls["cert"], tls["key"], "".join(tls["peers"])) as paths:
        rt = build_runtime(job["pid"], job["addresses"], job["threshold"], tls=paths, pins=job["pins"], prss=True)
    secfld = rt.SecFld(L)
    field = secfld.field
    stock_runtime = type(rt)

    opened = []  # every interpolation this party does: the last one is the opening
    recombine = thresha.recombine

    def recording_recombine(fld, points, x_rs=0):
        opened.append([[int(x), int(getattr(ys[0], "value", ys[0]))] for x, ys in points])
        return recombine(fld, points, x_rs)

    thresha.recombine = recording_recombine
    r_shares = []
    random = rt._random

    def recording_random(sftype, bound=None):
        r = random(sftype, bound)
        r_shares.append(int(r.value))
        return r

    rt._random = recording_random
    calls = [0]
    hardened = rt.is_zero_public

    def counting(a):
        calls[0] += 1
        return hardened(a)

    rt.is_zero_public = counting

    async def run():
        await rt.start()
        trials = []
        for s in spec["a_shares"]:
            a = secfld(field(int(s)))
            trial = {}
            for name, zero_test in (
                ("stock", lambda x: stock_runtime.is_zero_public(rt, x)),
                ("hardened", rt.is_zero_public),
            ):
                opened.clear()
                r_shares.clear()
                trial[name] = {"zero": bool(await zero_test(a)), "opened": opened[-1], "r_share": r_shares[-1]}
            trials.append(trial)
        before = calls[0]
        secint = rt.SecInt(16)
        lt = await rt.output(secint(3) < secint(5))
        ge = await rt.output(secint(3) >= secint(5))
        compare_calls = calls[0] - before
        public = secfld.array(field.array([0, 5, 0, 7]))  # a constant is a degree-0 sharing
        np_zero = await rt.np_is_zero_public(public)
        await shutdown(rt)
        return {
            "trials": trials,
            "lt": int(lt),
            "ge": int(ge),
            "compare_calls": compare_calls,
            "np_zero": [bool(z) for z in np_zero],
            "np_bound": rt.np_is_zero_public.__func__ is _np_is_zero_public,
        }

    return rt._loop.run_until_complete(run())


def test_stock_zero_test_leaks_and_hardened_one_does_not():
    m, t = 3, 1
    jobs, _ = make_jobs(m, t, deadline=30)
    secrets_a = [secrets.randbelow(L - 1) + 1 for _ in range(3)] + [0]
    sharings = [share(a, m, t) for a in secrets_a]
    procs = [
        subprocess.Popen([sys.executable, __file__, "leak"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        for _ in range(m)
    ]
    outs = [None] * m

    def feed(i):
        spec = {"job": jobs[i], "a_shares": [str(s[i]) for s in sharings]}
        outs[i] = procs[i].communicate(json.dumps(spec).encode(), timeout=60)[0]

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(m)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    reports = [json.loads(o) for o in outs]

    party0 = reports[0]
    for a, sharing, trial in zip(secrets_a, sharings, party0["trials"]):
        stock, hardened = trial["stock"], trial["hardened"]
        assert stock["zero"] == hardened["zero"] == (a == 0)
        if a == 0:
            continue
        a1, r1 = sharing[0], stock["r_share"]
        # Stock: party 0 sees all 2t+1 = 3 points of a(x) r(x), a degree-2 polynomial...
        assert len(stock["opened"]) == 2 * t + 1
        c = _coefficients(stock["opened"])
        assert sum(c) % L == a1 * r1 % L  # ...equal to its own a(1) r(1) at x=1
        # ...whose roots hand it two candidates, one of them the secret.
        assert a in _candidates(stock["opened"], a1)
        # Hardened: t+1 points of a fresh degree-t polynomial with only a*r in common.
        assert len(hardened["opened"]) == t + 1
        b = _coefficients(hardened["opened"])
        assert sum(b) % L != a1 * hardened["r_share"] % L
        assert a not in _candidates(hardened["opened"], a1)

    for report in reports:
        assert report["lt"] == 1 and report["ge"] == 0
        assert report["compare_calls"] >= 2  # comparisons end in the rebound zero test
        assert report["np_zero"] == [True, False, True, False]
        assert report["np_bound"]


def _object_array_pickle(pointer=b"A" * 8):
    """The forged payload: an ndarray whose dtype state, set through BUILD, declares an object
    field over raw bytes (flags 0: no list pickle), so the bytes become an object pointer.
    It uses only globals the old restricted unpickler allowed (ndarray, dtype, _reconstruct)."""
    import pickle

    import numpy

    class ForgedDType:
        def __reduce__(self):
            return (numpy.dtype, ("V8", False, True), (3, "|", None, ("f",), {"f": (numpy.dtype("O"), 0)}, 8, 1, 0))

    class ForgedArray:
        def __reduce__(self):
            return (
                numpy.ndarray.__reduce__(numpy.zeros(0))[0],
                (numpy.ndarray, (0,), b"b"),
                (1, (1,), ForgedDType(), False, pointer),
            )

    return pickle.dumps(ForgedArray(), protocol=4)


def _structured_array_pickle():
    import pickle

    import numpy

    return pickle.dumps(numpy.zeros(2, dtype=[("a", "i8"), ("b", "O")]))


def test_transfer_unpickles_no_global_and_only_a_small_int():
    import os
    import pickle

    import pytest

    from mpc_tx.mpc.runtime import PeerRefused, load_mpyc, np

    peer_pickle = load_mpyc().pickle  # what mpyc.runtime unpickles transfer() payloads with
    assert peer_pickle.loads(pickle.dumps(7)) == 7  # the shutdown barrier: a pid
    for forged in (
        pickle.dumps(np.array([1, 2**252], dtype=object)),
        _object_array_pickle(),
        _structured_array_pickle(),
        pickle.dumps(os.system),
        b"cos\nsystem\n(S'true'\ntR.",
        pickle.dumps("7"),
        pickle.dumps(2**70),
        pickle.dumps(True),
        b"\x80\x04K",
        b"",
    ):
        with pytest.raises(PeerRefused):
            peer_pickle.loads(forged)


def test_share_messages_are_refused_unless_exact_length_and_in_range():
    import pytest

    from mpc_tx.mpc.runtime import PeerRefused, _Inbound, _expected_count, load_mpyc

    load_mpyc()
    from mpyc.finfields import GF

    field = GF(L)
    good = field.to_bytes([1, L - 1, 5])

    def received(data):
        payload = _Inbound(data)
        payload.sender = 1
        return payload

    token = _expected_count.set(3)
    try:
        assert field.from_bytes(received(good)) == [1, L - 1, 5]
        for bad in (
            good[:-1],
            good[:-32],
            good + bytes(32),
            _object_array_pickle(),
            field.to_bytes([1, L, 5]),
            b"\xff" * 96,
        ):
            with pytest.raises(PeerRefused) as refused:
                field.from_bytes(received(bad))
            assert refused.value.sender == 1
    finally:
        _expected_count.reset(token)


# ---------------------------------------------------------------- forged messages over a real pinned link

_FORGERIES = {
    # MPyC 0.11 unpickled numpy arrays from peers; this one turns raw bytes into an object pointer.
    "object-array": lambda real: _object_array_pickle(),
    "structured-dtype": lambda real: _structured_array_pickle(),
    "short": lambda real: real[:-32] if len(real) > 32 else real[:-1],
    "long": lambda real: real + bytes(32),
    "out-of-range": lambda real: L.to_bytes(32, "little") + real[32:],
    "oversized": lambda real: bytes(1 << 20),
}
_GLOBAL_PICKLE = b"cos\nsystem\n(S'true'\ntR."


def _forging_party(kind):
    """Run mpc_job's main as a party that sends forged share messages (or a forged transfer)."""
    from mpc_tx.mpc import job as mpc_job, runtime as mpc_runtime
    from mpyc.finfields import FiniteFieldElement

    if kind == "transfer-global":
        mpc_runtime._PeerPickle.dumps = staticmethod(lambda obj, *a, **k: _GLOBAL_PICKLE)
    elif kind == "silent":  # connected, then sends nothing at all
        mpc_runtime._PinnedExchanger.send = lambda self, pc, payload: None
    else:
        real_to_bytes = FiniteFieldElement.to_bytes.__func__
        forge = _FORGERIES[kind]
        FiniteFieldElement.to_bytes = classmethod(lambda cls, x: forge(real_to_bytes(cls, x)))
    mpc_job.main()


def run_processes(jobs, argvs, tmp_path, timeout=60):
    """Run one job process per party (argv each); return [(result, returncode, log text)]."""
    out = [None] * len(jobs)

    def go(i):
        log_path = tmp_path / f"party{i}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argvs[i], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO)
            stdout, _ = proc.communicate(json.dumps(jobs[i]).encode(), timeout=timeout)
        out[i] = (json.loads(stdout.splitlines()[-1]), proc.returncode, log_path.read_text())

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


@pytest.mark.parametrize("kind", sorted(_FORGERIES) + ["transfer-global"])
def test_forged_peer_message_is_refused_and_names_its_sender(tmp_path, kind):
    m, t = 3, 1
    jobs, _ = make_jobs(m, t, deadline=8, ballots=[(1,)] * 4)
    honest = [sys.executable, "-m", "mpc_tx.mpc.job"]
    forger = [sys.executable, str(Path(__file__).resolve()), "forge", kind]
    runs = run_processes(jobs, [honest, forger, honest], tmp_path)
    for pid in (0, 2):
        result, code, log = runs[pid]
        assert result == {"status": "failed", "code": "bad_message", "absent": [], "sender": 1}
        assert code == 1  # a clean exit, not a signal: no process crashes
        assert "refused a message from party 1" in log
        assert "Traceback" not in log
        assert "PRIVATE KEY" not in log and jobs[pid]["shares"][0][0] not in log
    assert runs[1][1] >= 0  # the forger too ends by itself


def test_silent_party_is_named_outstanding_at_the_deadline(tmp_path):
    m, t = 3, 1
    jobs, _ = make_jobs(m, t, deadline=4, ballots=[(1,)] * 4)
    jobs[1]["deadline_s"] = 10  # it stays connected past the others' deadline, silent
    honest = [sys.executable, "-m", "mpc_tx.mpc.job"]
    silent = [sys.executable, str(Path(__file__).resolve()), "forge", "silent"]
    runs = run_processes(jobs, [honest, silent, honest], tmp_path)
    for pid in (0, 2):
        assert runs[pid][0] == {"status": "failed", "code": "timeout", "absent": [], "outstanding": [1]}


def test_honest_parties_still_agree_without_pickle(tmp_path):
    m, t = 3, 1
    jobs, _ = make_jobs(m, t, deadline=20, ballots=[(1,)] * 4)
    runs = run_processes(jobs, [[sys.executable, "-m", "mpc_tx.mpc.job"]] * m, tmp_path)
    assert [r[0]["outcome"] for r in runs] == [{"unanimous": True}] * m
    assert [r[1] for r in runs] == [0] * m


# ---------------------------------------------------------------- pinned identities


def test_link_claiming_another_party_is_refused(tmp_path):
    m, t = 3, 1
    jobs, material = make_jobs(m, t, deadline=4)
    peers, certs = material["peers"], material["certs"]
    server = jobs[2]["parties"][2]
    log_path = tmp_path / "party2.log"
    thread, box = start_job(jobs[2], 15, log_path)

    # Party 0's genuine certificate, trusted by every party, claiming to be party 1.
    impostor = connect_tls(client_context(tmp_path, peers, *certs[0]), server["host"], server["port"], 2)
    hello = link_hello(bytes.fromhex(jobs[2]["job_id"]))  # the job identity is public
    impostor.sendall(hello + (1).to_bytes(2, "little") + bytes(prss_key_bytes(m, t, 1, 2)))
    assert is_closed_by_peer(impostor)

    # A self-signed certificate for party 1's host that is no party's: not even trusted.
    rogue_cert = party_cert("party 1", "127.0.0.1")
    rogue = connect_tls(client_context(tmp_path, peers, *rogue_cert), server["host"], server["port"], 2)
    try:
        rogue.sendall(hello + (1).to_bytes(2, "little") + bytes(prss_key_bytes(m, t, 1, 2)))
        assert is_closed_by_peer(rogue)
    except (ConnectionError, ssl.SSLError):
        pass  # the server refused the handshake before the hello went out

    # A claim party 2 never accepts (only lower parties connect to it).
    upward = connect_tls(client_context(tmp_path, peers, *certs[1]), server["host"], server["port"], 2)
    upward.sendall(hello + (2).to_bytes(2, "little"))
    assert is_closed_by_peer(upward)

    # Party 1's pinned certificate claiming party 1 is admitted and stays connected.
    genuine = connect_tls(client_context(tmp_path, peers, *certs[1]), server["host"], server["port"], 2)
    genuine.sendall(hello + (1).to_bytes(2, "little") + bytes(prss_key_bytes(m, t, 1, 2)))
    assert not is_closed_by_peer(genuine, wait=0.5)

    thread.join()
    genuine.close()
    for conn in (impostor, rogue, upward):
        conn.close()
    # Only party 0 is missing: the impostors never took party 1's seat.
    assert box["result"] == {"status": "failed", "code": "party_absent", "absent": [0]}
    log = log_path.read_text()
    assert log.count("refused MPC link") == 2  # the untrusted certificate never got past TLS
    assert "PRIVATE KEY" not in log and jobs[2]["shares"][0][0] not in log


def test_link_to_another_job_of_the_same_validators_is_refused(tmp_path):
    # Same parties, same pinned certificates, same ports: only the job identity differs,
    # as for a stale attempt or another poll's job on a colliding port.
    jobs, _ = make_jobs(2, 0, deadline=3)
    jobs[1]["job_id"] = secrets.token_hex(32)
    runs = run_processes(jobs, [[sys.executable, "-m", "mpc_tx.mpc.job"]] * 2, tmp_path)
    assert [r[0] for r in runs] == [
        {"status": "failed", "code": "party_absent", "absent": [1]},
        {"status": "failed", "code": "party_absent", "absent": [0]},
    ]
    assert "greets with another job's identity" in runs[1][2]


def test_server_without_pinned_certificate_gets_nothing(tmp_path):
    m, t = 3, 1
    jobs, material = make_jobs(m, t, deadline=3)
    party1 = jobs[0]["parties"][1]
    rogue_cert = material["certs"][2]  # trusted (a party's), but not the one pinned for party 1
    context = server_context(tmp_path, *rogue_cert)
    listener = socket.create_server((party1["host"], party1["port"]))
    listener.settimeout(0.2)
    stop = threading.Event()
    seen = {"accepted": 0, "bytes": 0}

    def rogue_server():
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            seen["accepted"] += 1
            try:
                sock.settimeout(1)
                conn = context.wrap_socket(sock, server_side=True)
                seen["bytes"] += len(conn.recv(4096))
            except (OSError, ssl.SSLError):
                pass  # party 0 aborts as soon as it sees the certificate
            finally:
                sock.close()

    rogue = threading.Thread(target=rogue_server)
    rogue.start()
    try:
        result = run_job(jobs[0], 15, stderr=open(tmp_path / "party0.log", "wb"))
    finally:
        stop.set()
        rogue.join()
        listener.close()
    assert seen["accepted"] >= 1  # party 0 reached the rogue server...
    assert seen["bytes"] == 0  # ...and sent neither its pid nor its PRSS keys
    assert result == {"status": "failed", "code": "party_absent", "absent": [1, 2]}
    log = (tmp_path / "party0.log").read_text()
    assert "server is not the certificate pinned for party 1" in log


def test_listener_binds_only_the_registered_host(tmp_path):
    jobs, _ = make_jobs(2, 0, hosts=["127.0.0.1", "127.0.0.2"], deadline=3)
    port = jobs[1]["parties"][1]["port"]
    thread, box = start_job(jobs[1], 15, tmp_path / "party1.log")
    end = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.2", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < end, "party 1 never listened on its registered host"
            time.sleep(0.05)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        reachable_elsewhere = True
    except ConnectionRefusedError:
        reachable_elsewhere = False
    thread.join()
    assert not reachable_elsewhere
    assert box["result"] == {"status": "failed", "code": "party_absent", "absent": [0]}


if __name__ == "__main__":
    import logging

    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    role = sys.argv[1]
    if role == "leak":
        print(json.dumps(_leak_party(json.loads(sys.stdin.read()))), flush=True)
    elif role == "forge":
        _forging_party(sys.argv[2])
