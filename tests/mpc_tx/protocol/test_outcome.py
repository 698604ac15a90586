"""The attested outcome payload: builder and checker agree, every code has its place, hostile payloads refused."""

import pytest
from hypothesis import given, settings, strategies as st

from mpc_tx.protocol import outcome
from mpc_tx.protocol.codes import BAD_OUTCOME, TxError
from mpc_tx.protocol.digests import outcome_digest

DIGEST = "ab" * 32


def poll(kind="unanimity", options=(), ballots=4, m=4, min_ballots=0):
    return {
        "id": 7,
        "kind": kind,
        "options": list(options),
        "ballots": ballots,
        "min_ballots": min_ballots,
        "ballots_digest": DIGEST,
        "validators": [{"index": i} for i in range(m)],
    }


def job_ok(out, counted=4):
    return {"status": "ok", "outcome": out, "counted": counted}


def build(p, job):
    return outcome.from_job(job, p["ballots_digest"], p["options"], len(p["validators"]))


def rejected(p, result) -> str:
    with pytest.raises(TxError) as err:
        outcome.check(p, result)
    assert err.value.code == BAD_OUTCOME and err.value.reason
    return err.value.reason


def test_every_code_has_one_writer_and_deadline_is_the_chains_own():
    assert set(outcome.CODES.values()) == {outcome.ATTESTED, outcome.REPORTED, outcome.CHAIN, outcome.JOB}
    assert outcome.FAILURE_CODES == ("inconsistent_shares",)
    assert outcome.REPORT_CODES == ("party_absent", "timeout", "bad_message")
    assert outcome.CODES[outcome.DEADLINE] == outcome.CHAIN and outcome.DEADLINE not in outcome.JOB_CODES
    assert set(outcome.JOB_CODES) == {"inconsistent_shares", "timeout", "party_absent", "bad_message", "error"}


@pytest.mark.parametrize(
    "p, job",
    [
        (poll(), job_ok({"unanimous": True})),
        (poll(), job_ok({"unanimous": False})),
        (poll(), job_ok({"withheld": True})),
        (poll(min_ballots=5), job_ok({"withheld": True})),
        (poll(ballots=0), {"status": "ok", "outcome": {"withheld": True}, "counted": 0}),
    ],
)
def test_built_outcomes_pass_the_check_and_are_attested(p, job):
    payload = build(p, job)
    outcome.check(p, payload)
    assert not outcome.is_report(payload) and payload["status"] == "ok" and payload["ballots"] == DIGEST


def test_the_ok_form_is_the_fixed_set_digest_its_outcome_and_its_size_only():
    one = build(poll(), job_ok({"unanimous": True}))
    assert one == {"status": "ok", "ballots": DIGEST, "outcome": {"unanimous": True}, "counted": 4}
    assert outcome_digest(one) == outcome_digest(build(poll(), job_ok({"unanimous": True})))
    outcome.check(poll(), one)
    # The MPC runs over exactly the fixed counted set: nothing is excluded there.
    assert "counted must be the number of ballots in the fixed counted set" in rejected(poll(ballots=5), one)
    for old in ({"excluded": []}, {"unusable": [[], [], [], []]}):
        assert "exactly the fields ballots, counted, outcome, status" in rejected(poll(), {**one, **old})


@pytest.mark.parametrize(
    "job, expected",
    [
        (
            {"status": "failed", "code": "inconsistent_shares", "absent": []},
            {"status": "failed", "code": "inconsistent_shares", "absent": [], "ballots": DIGEST},
        ),
        (
            {"status": "failed", "code": "party_absent", "absent": [3, 1]},
            {"status": "failed", "code": "party_absent", "absent": [1, 3], "ballots": DIGEST},
        ),
        (
            {"status": "failed", "code": "timeout", "absent": [], "outstanding": [2, 9, -1]},
            {"status": "failed", "code": "timeout", "absent": [2], "ballots": DIGEST},
        ),
        (
            {"status": "failed", "code": "bad_message", "absent": [], "sender": 0},
            {"status": "failed", "code": "bad_message", "absent": [0], "ballots": DIGEST},
        ),
    ],
)
def test_failures_are_attested_or_reported_and_pass_the_check(job, expected):
    payload = build(poll(), job)
    assert payload == expected
    outcome.check(poll(), payload)
    assert outcome.is_report(payload) == (job["code"] in outcome.REPORT_CODES)


@pytest.mark.parametrize(
    "job",
    [
        {"status": "failed", "code": "error", "absent": []},
        {"status": "failed", "code": "timeout", "absent": []},
        {"status": "failed", "code": "party_absent", "absent": [4, 9]},  # out of range: names nobody
        {"status": "failed", "code": "bad_message", "absent": [], "sender": 9},
        {"status": "failed", "code": "bad_message", "absent": [], "sender": "0"},
        {"status": "failed", "code": "deadline", "absent": [1]},  # the chain's own, never a worker's
    ],
)
def test_failures_naming_nobody_submit_nothing(job):
    assert build(poll(), job) is None


def test_deadline_and_error_are_refused_in_a_transaction():
    for code in ("deadline", "error", "other"):
        reason = rejected(poll(), {"status": "failed", "code": code, "absent": [], "ballots": DIGEST})
        assert (
            reason == "outcome for poll 7: failure code must be one of "
            "inconsistent_shares, party_absent, timeout, bad_message"
        )


def test_job_results_the_worker_takes():
    assert outcome.is_job_result(job_ok({"unanimous": True}))
    assert outcome.is_job_result({**job_ok({"unanimous": True}), "excluded": []})  # the builder takes its fields
    assert outcome.is_job_result({"status": "failed", "code": "error", "absent": []})
    for bad in (
        None,
        [],
        "ok",
        {"status": "ok", "outcome": {}},
        {"status": "failed", "code": "deadline"},
        {"status": "failed", "code": ["timeout"]},
        {"status": "maybe"},
    ):
        assert not outcome.is_job_result(bad)


OK_PAYLOAD = {"status": "ok", "outcome": {"unanimous": True}, "counted": 4, "ballots": DIGEST}
FAILED_PAYLOAD = {"status": "failed", "code": "party_absent", "absent": [1], "ballots": DIGEST}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"ballots": "cd" * 32}, "ballots digest differs"),
        ({"extra": 1}, "exactly the fields ballots, counted"),
        ({"excluded": [3]}, "exactly the fields ballots, counted"),
        ({"counted": True}, "counted must be"),
        ({"counted": 3}, "counted must be"),
        ({"counted": 10**30}, "counted must be"),
        ({"counted": "4"}, "counted must be"),
        ({"outcome": {"unanimous": 1}}, "a unanimity outcome"),
        ({"outcome": {"unanimous": True, "x": 1}}, "a unanimity outcome"),
        ({"outcome": [True]}, "a unanimity outcome"),
    ],
)
def test_hostile_ok_payloads_are_bad_outcome(change, reason):
    assert reason in rejected(poll(), {**OK_PAYLOAD, **change})


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"absent": [1, 1]}, "absent must be a sorted list"),
        ({"absent": [4]}, "absent must be a sorted list"),
        ({"absent": [-1]}, "absent must be a sorted list"),
        ({"absent": [1, "a"]}, "absent must be a sorted list"),
        ({"absent": {}}, "absent must be a sorted list"),
        ({"code": ["party_absent"]}, "failure code must be one of"),
        ({"code": {"a": 1}}, "failure code must be one of"),
        ({"sender": 0}, "a failure has exactly the fields"),
    ],
)
def test_hostile_failures_are_bad_outcome(change, reason):
    assert reason in rejected(poll(), {**FAILED_PAYLOAD, **change})


def test_a_tally_is_never_attested_whatever_the_payload():
    # docs/PROTOCOL.md §18.1: a tally is opened on chain from aggregate pairs, so no payload is one for it.
    p = poll("tally", ["a", "b"], min_ballots=1)
    for result in (
        {**OK_PAYLOAD, "outcome": {"tally": {"a": 3, "b": 1}}},
        {**OK_PAYLOAD, "outcome": {"withheld": True}},
        FAILED_PAYLOAD,
    ):
        assert "a tally is opened on chain from aggregate pairs" in rejected(p, result)
    with pytest.raises(TxError):
        outcome.check(p, None)  # the form first, as for any kind


def test_the_form_check_needs_no_poll():
    for result in (None, [], "ok", 1, {}, {"status": "maybe"}, {"status": ["ok"]}):
        with pytest.raises(TxError) as err:
            outcome.check_form(result)
        assert err.value.code == BAD_OUTCOME
        assert err.value.reason == "result must be an object with status 'ok' or 'failed'"
        rejected(poll(), result)  # the full check starts with the form
    outcome.check_form(OK_PAYLOAD)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63, -(2**64), 10**40])
    | st.text(max_size=6)
    | st.sampled_from(["ok", "failed", DIGEST] + list(outcome.CODES)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD = st.sampled_from(["status", "outcome", "counted", "excluded", "unusable", "ballots", "code", "absent", "x"])


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from([OK_PAYLOAD, FAILED_PAYLOAD]),
    changes=st.dictionaries(FIELD, JSON, max_size=3),
    drop=st.lists(FIELD, max_size=2),
    kind=st.sampled_from(["unanimity", "tally"]),
)
def test_the_checker_is_total(base, changes, drop, kind):
    result = {k: v for k, v in {**base, **changes}.items() if k not in drop}
    try:
        outcome.check(poll(kind, ["a", "b"] if kind == "tally" else ()), result)
    except TxError as err:
        assert err.code == BAD_OUTCOME and err.reason


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_the_checker_is_total_on_anything(result):
    try:
        outcome.check(poll(), result)
    except TxError as err:
        assert err.code == BAD_OUTCOME
