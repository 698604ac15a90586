"""The MPC programs over verified shares: coefficients, outcomes, the input check, and what each program opens.

Single-party runs (m = 1, no network) cover the outcome logic in this process; runs
with 3 and 4 parties (this file run as a script, real TLS on loopback) record every
value a party opens.
"""

import asyncio
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if __name__ == "__main__":
    sys.path.insert(0, str(REPO))

from mpc_tx.mpc.programs import InconsistentShares, derive_coefficients, poll_outcome  # noqa: E402
from mpc_tx.mpc.runtime import build_runtime, np  # noqa: E402
from mpc_tx.protocol.sharing import L  # noqa: E402
from mpc_tx.mpc.local import local_jobs, run_parties  # noqa: E402


# ---------------------------------------------------------------- coefficients


def test_coefficients_are_deterministic_nonzero_and_separated():
    seed = bytes(range(32))
    c = derive_coefficients(seed, "unanimity", 50)
    assert list(c) == list(derive_coefficients(seed, "unanimity", 50))
    assert all(isinstance(x, int) and 0 < x < L for x in c)
    assert len(set(c)) == 50
    assert list(derive_coefficients(seed, "unanimity", 10)) == list(c[:10])  # counter mode
    assert list(derive_coefficients(seed, "input-check", 50)) != list(c)
    assert list(derive_coefficients(seed[:-1] + b"\x00", "unanimity", 50)) != list(c)
    assert derive_coefficients(seed, "unanimity", 0).size == 0


# ---------------------------------------------------------------- one party, in process


@pytest.fixture
def solo():
    """Run poll_outcome with a single party (t = 0): the shares are the votes."""
    rt = build_runtime(0, [("127.0.0.1", 0)], 0)

    def run(kind, ballots, k=1, min_ballots=0):
        shares = np.zeros((len(ballots), k), dtype=object)
        for j, b in enumerate(ballots):
            shares[j] = [v % L for v in b]

        async def go():
            await rt.start()
            return await poll_outcome(rt, kind, shares, b"seed", min_ballots)

        return rt._loop.run_until_complete(go())

    yield run
    rt._loop.close()
    asyncio.set_event_loop(None)


def test_unanimity_outcomes(solo):
    assert solo("unanimity", [[1]] * 5) == {"outcome": {"unanimous": True}, "counted": 5}
    assert solo("unanimity", [[1], [1], [0], [1]]) == {"outcome": {"unanimous": False}, "counted": 4}
    assert solo("unanimity", [[1]] * 3, min_ballots=4) == {"outcome": {"withheld": True}, "counted": 3}
    assert solo("unanimity", [[0]] * 3, min_ballots=4)["outcome"] == {"withheld": True}  # nothing opened
    assert solo("unanimity", []) == {"outcome": {"unanimous": True}, "counted": 0}


def test_no_program_computes_a_tally(solo):
    from mpc_tx.mpc import programs

    assert not hasattr(programs, "tally") and "tally" not in programs.__all__
    with pytest.raises(ValueError, match="a tally is opened on chain"):  # before anything is exchanged
        solo("tally", [[1, 0, 0]], k=3)


def test_an_unknown_kind_is_refused_before_anything_is_exchanged(solo):
    with pytest.raises(ValueError):
        solo("median", [[1]])


# ---------------------------------------------------------------- several parties


def _jobs(m, t, kind, k, ballots, min_ballots=0):
    return local_jobs(m, kind, ballots, k, threshold=t, min_ballots=min_ballots, deadline_s=30)


def _tamper(jobs, pid, ballot, entry=0):
    shares = jobs[pid]["shares"][ballot]
    shares[entry] = str((int(shares[entry]) + 1) % L)


def _party(spec):
    """One instrumented party: run poll_outcome, record every opening it takes part in."""
    from mpc_tx.mpc import programs as mpc_programs
    from mpc_tx.mpc.job import parse_job
    from mpc_tx.mpc.runtime import private_tls_files, shutdown

    job = parse_job(spec)
    tls = job["tls"]
    with private_tls_files(tls["cert"], tls["key"], "".join(tls["peers"])) as paths:
        rt = build_runtime(
            job["pid"], job["addresses"], job["threshold"], tls=paths, pins=job["pins"], prss=job["prss"]
        )
    outputs, all_share_openings = [], []
    output = rt.output

    def recording_output(x, *args, **kwargs):
        future = output(x, *args, **kwargs)

        def record(f):
            value = f.result()
            values = value.value.reshape(-1) if hasattr(value.value, "reshape") else [value.value]
            outputs.append([int(v) for v in values])

        future.add_done_callback(record)
        return future

    rt.output = recording_output
    open_all = mpc_programs.open_all

    async def recording_open_all(rt_, values):
        opened = await open_all(rt_, values)
        all_share_openings.append(len(opened))
        return opened

    mpc_programs.open_all = recording_open_all

    async def run():
        await rt.start()
        try:
            result = await mpc_programs.poll_outcome(
                rt, job["kind"], job["shares"], job["seed"], job["min_ballots"], job["context"]
            )
        except InconsistentShares:
            result = "inconsistent"
        await shutdown(rt)
        return result

    result = rt._loop.run_until_complete(run())
    return {"result": result, "outputs": outputs, "open_all": all_share_openings}


def _run_parties(jobs):
    return run_parties([sys.executable, __file__, "party"], jobs, timeout=60, cwd=REPO)


def test_a_withheld_poll_is_never_opened():
    m, t = 4, 1
    for report in _run_parties(_jobs(m, t, "unanimity", 1, [[1], [0]], min_ballots=3)):
        assert report["result"] == {"outcome": {"withheld": True}, "counted": 2}
        assert report["open_all"] == [1] and report["outputs"] == []  # the masked check only


def test_one_party_inputting_another_share_fails_every_party_as_inconsistent():
    m, t, n = 4, 1, 20
    jobs = _jobs(m, t, "unanimity", 1, [[1]] * n)
    _tamper(jobs, 2, 13)  # party 2 inputs another share than its checked one, for one value
    for report in _run_parties(jobs):
        # The masked check fails with all m shares: nothing else is opened, nobody is named.
        assert report["result"] == "inconsistent"
        assert report["open_all"] == [1] and report["outputs"] == []


def test_unanimity_opens_one_masked_value_never_a_count():
    m, t = 3, 1
    ballots = [[1]] * 6 + [[0]] + [[1]] * 3
    reports = _run_parties(_jobs(m, t, "unanimity", 1, ballots))
    for report in reports:
        assert report["result"]["outcome"] == {"unanimous": False}
        assert report["result"]["counted"] == 10
        assert report["open_all"] == [1]  # the masked input check
        assert len(report["outputs"]) == 1 and len(report["outputs"][0]) == 1
        opened = report["outputs"][0][0]
        assert 1000 < opened < L - 1000  # c*(v-1)*r: uniform, not the number of 'no's
    assert len({r["outputs"][0][0] for r in reports}) == 1


if __name__ == "__main__":
    import logging

    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    if sys.argv[1] == "party":
        print(json.dumps(_party(json.loads(sys.stdin.read()))), flush=True)
