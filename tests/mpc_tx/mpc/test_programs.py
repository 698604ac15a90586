"""The MPC programs: coefficients, bisection, outcomes, and what each program opens.

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

from mpc_tx.mpc.programs import bisect, derive_coefficients, poll_outcome  # noqa: E402
from mpc_tx.mpc.runtime import build_runtime, np  # noqa: E402
from mpc_tx.protocol.sharing import L  # noqa: E402
from mpc_tx.mpc.local import local_jobs, run_parties  # noqa: E402


# ---------------------------------------------------------------- coefficients, bisection


def test_coefficients_are_deterministic_nonzero_and_separated():
    seed = bytes(range(32))
    c = derive_coefficients(seed, "unanimity", 50)
    assert list(c) == list(derive_coefficients(seed, "unanimity", 50))
    assert all(isinstance(x, int) and 0 < x < L for x in c)
    assert len(set(c)) == 50
    assert list(derive_coefficients(seed, "unanimity", 10)) == list(c[:10])  # counter mode
    assert list(derive_coefficients(seed, "tally/bits", 50)) != list(c)
    assert list(derive_coefficients(seed[:-1] + b"\x00", "unanimity", 50)) != list(c)
    assert derive_coefficients(seed, "unanimity", 0).size == 0


@pytest.mark.parametrize("n,bad", [(1, {0}), (10, set()), (13, {12}), (64, {0, 17, 18, 63}), (100, set(range(100)))])
def test_bisect_finds_exactly_the_failing_ballots(n, bad):
    rounds = []

    async def oracle(groups, round_):
        rounds.append(round_)
        return [not (set(int(j) for j in g) & bad) for g in groups]

    assert asyncio.run(bisect(oracle, np.arange(n))) == sorted(bad)
    assert rounds == list(range(len(rounds)))
    if not bad:
        assert rounds == [0]  # one round when all is well


def test_bisect_of_nothing_asks_nothing():
    async def oracle(groups, round_):
        raise AssertionError("no groups to test")

    assert asyncio.run(bisect(oracle, np.arange(0))) == []


# ---------------------------------------------------------------- one party, in process


@pytest.fixture
def solo():
    """Run poll_outcome with a single party (t = 0): the shares are the votes."""
    rt = build_runtime(0, [("127.0.0.1", 0)], 0)

    def run(kind, ballots, k=1, min_ballots=0):
        shares = np.zeros((len(ballots), k), dtype=object)
        usable = np.array([b is not None for b in ballots], dtype=bool)
        for j, b in enumerate(ballots):
            if b is not None:
                shares[j] = [v % L for v in b]

        async def go():
            await rt.start()
            return await poll_outcome(rt, kind, shares, usable, b"seed", min_ballots)

        return rt._loop.run_until_complete(go())

    yield run
    rt._loop.close()
    asyncio.set_event_loop(None)


def test_unanimity_outcomes(solo):
    assert solo("unanimity", [[1]] * 5) == {
        "outcome": {"unanimous": True},
        "counted": 5,
        "excluded": [],
        "unusable": [[]],
    }
    assert solo("unanimity", [[1], [1], [0], [1]])["outcome"] == {"unanimous": False}
    assert solo("unanimity", [[1], [2], [1]])["outcome"] == {"unanimous": False}
    assert solo("unanimity", [[1], [-1], [1]])["outcome"] == {"unanimous": False}
    assert solo("unanimity", [[1], None, [1]]) == {
        "outcome": {"unanimous": False},
        "counted": 2,
        "excluded": [1],
        "unusable": [[1]],
    }
    assert solo("unanimity", [[1]] * 3, min_ballots=4)["outcome"] == {"withheld": True}
    assert solo("unanimity", [])["outcome"] == {"unanimous": True}


def test_tally_outcomes(solo):
    ballots = [[1, 0, 0]] * 7 + [[0, 1, 0]] * 9 + [[0, 0, 1]] * 4
    assert solo("tally", ballots, k=3) == {
        "outcome": {"tally": [7, 9, 4]},
        "counted": 20,
        "excluded": [],
        "unusable": [[]],
    }
    bad = [[0, 2, 0], [1, 1, 0], [0, 0, 0], [L - 1, 1, 1], None]
    result = solo("tally", ballots[:10] + bad + ballots[10:], k=3)
    assert result["outcome"] == {"tally": [7, 9, 4]}
    assert result["excluded"] == [10, 11, 12, 13, 14] and result["unusable"] == [[14]]
    assert solo("tally", ballots, k=3, min_ballots=21) == {
        "outcome": {"withheld": True},
        "counted": 20,
        "excluded": [],
        "unusable": [[]],
    }
    assert solo("tally", [None, [0, 3, 0]], k=3)["outcome"] == {"tally": [0, 0, 0]}


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
    with private_tls_files(tls["cert"], tls["key"], tls["ca"]) as paths:
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
        result = await mpc_programs.poll_outcome(
            rt, job["kind"], job["shares"], job["usable"], job["seed"], job["min_ballots"], job["context"]
        )
        await shutdown(rt)
        return result

    result = rt._loop.run_until_complete(run())
    return {"result": result, "outputs": outputs, "open_all": all_share_openings}


def _run_parties(jobs):
    return run_parties([sys.executable, __file__, "party"], jobs, timeout=60, cwd=REPO)


def test_bisection_finds_bad_sharings_and_withheld_tally_is_never_opened():
    m, t, k, n = 4, 1, 3, 64
    ballots = [[int(e == j % k) for e in range(k)] for j in range(n)]
    jobs = _jobs(m, t, "tally", k, ballots, min_ballots=n)
    _tamper(jobs, 3, 5, 0)
    _tamper(jobs, 0, 40, 2)
    _tamper(jobs, 2, 41, 1)
    reports = _run_parties(jobs)
    expected = {"outcome": {"withheld": True}, "counted": n - 3, "excluded": [5, 40, 41], "unusable": [[]] * m}
    for report in reports:
        assert report["result"] == expected
        # Opened with all shares: one masked combination per group of the input check,
        # bisecting 64 -> 32 -> ... -> {5}, {40}, {41}, then one check of the rest; never
        # the k = 3 option sums. Through MPyC: only the n - 3 per-ballot zero tests.
        assert report["open_all"] == [1, 2, 4, 4, 4, 4, 4, 1]
        assert [len(o) for o in report["outputs"]] == [n - 3]
        assert all(v == 0 for v in report["outputs"][0])  # every remaining ballot is one-hot


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
