"""Records: every record the app writes round-trips byte for byte; a malformed one is a RecordError, never a crash."""

import copy

import pytest
from hypothesis import given, settings, strategies as st

from mpc_tx.protocol import canonical
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import (
    Attestation,
    Ballot,
    Complaint,
    Aggregate,
    Poll,
    PollValidator,
    RecordError,
    poll_entries,
    poll_facts,
    poll_threshold,
    snapshot_validators,
)

from apphelpers import poll_body
from statehelpers import life_cycle

RECORDS = {
    b"poll/": Poll,
    b"ballot/": Ballot,
    b"attest/": Attestation,
    b"complaint/": Complaint,
    b"aggregate/": Aggregate,
}

VALIDATOR = {
    "index": 0,
    "name": "node0",
    "power": 10,
    "attest_key": "ab" * 32,
    "enc_key": "cd" * 32,
    "mpc_host": "127.0.0.1",
    "mpc_port": 40000,
    "mpc_ports": 4,
    "tls_sha256": "0" * 64,
}
POLL = {
    "id": 1,
    "creator": "ef" * 32,
    "question": "Ship it?",
    "kind": "tally",
    "options": ["a", "b"],
    "open": False,
    "eligible": 2,
    "created_height": 2,
    "close_height": 12,
    "max_ballots": 100,
    "max_revotes": 2,
    "min_ballots": 3,
    "validators": [VALIDATOR],
    "threshold": 1,
    "field": "7237",
    "status": "final",
    "ballots": 3,
    "closed_height": 9,
    "deadline_height": 309,
    "seed": "12" * 32,
    "ballots_digest": "34" * 32,
    "mpc_slot": 0,
    "mpc_start": 9,
    "result": {
        "status": "ok",
        "outcome": {"tally": {"a": 2, "b": 1}},
        "counted": 3,
        "excluded": [],
        "unusable": [[]],
        "ballots": "34" * 32,
    },
    "final_height": 11,
    "attesters": [0],
    "dissenters": [],
    "complaints_until": 13,
    "counted_fixed_height": 14,
    "named_validators": [2],
    "events": 7,
    "running": "78" * 32,
    "final_tx": "9A" * 32,
}
BALLOT = {
    "voter": "ab" * 32,
    "ballot": "0f9e" * 80,
    "tx": "AB" * 32,
    "height": 12,
    "revotes": 1,
    "replaced": ["CD" * 32],
    "disqualified": {"by": 2, "height": 13, "reason": "share 2: does not match the ballot's commitments"},
}
COMPLAINT = {
    "validator": 2,
    "voter": "ab" * 32,
    "ballot_tx": "AB" * 32,
    "verdict": "ballot_bad",
    "reason": "share 2: does not match the ballot's commitments",
    "height": 13,
}
ATTESTATION = {"validator": 0, "digest": "56" * 32, "result": POLL["result"], "height": 10}
AGGREGATE = {
    "validator": 3,
    "pairs": "01" * 128,
    "verdict": "named",
    "reason": "aggregate pair 1 of validator 3: does not match the commitments",
    "height": 16,
    "tx": "CD" * 32,
}


def test_every_record_the_app_writes_round_trips_byte_for_byte(tmp_path):
    c = life_cycle(tmp_path)
    statuses, seen = set(), {prefix: 0 for prefix in RECORDS}
    for blocks in (0, 5):
        for _ in range(blocks):
            c.block()
        for key, raw in c.app.store.db.iterator():
            prefix = key[: key.index(b"/") + 1]
            if prefix not in RECORDS:
                continue
            seen[prefix] += 1
            value = canonical.decode(raw)
            record = RECORDS[prefix].from_state(value)
            assert record.to_state() == value and canonical.encode(record.to_state()) == raw
            assert list(record.to_state()) == list(value)  # the same key order as a decode gives
            if isinstance(record, Poll):
                statuses.add(record.status)
    assert statuses == {"open", "closed", "final", "failed"} and all(seen.values())
    c.app.close()


@pytest.mark.parametrize(
    "cls, doc",
    [
        (Poll, POLL),
        (Ballot, BALLOT),
        (Attestation, ATTESTATION),
        (PollValidator, VALIDATOR),
        (Complaint, COMPLAINT),
        (Aggregate, AGGREGATE),
    ],
)
def test_records_are_frozen_and_typed(cls, doc):
    record = cls.from_state(copy.deepcopy(doc))
    assert record.to_state() == doc
    with pytest.raises(AttributeError):
        record.height = 1
    for name, value in vars(record).items():
        assert not isinstance(value, list), name  # lists are tuples in a record


def test_a_record_is_independent_of_the_state_value_it_came_from():
    doc = copy.deepcopy(POLL)
    poll = Poll.from_state(doc)
    doc["result"]["counted"] = 99
    doc["options"].append("c")
    assert poll.result["counted"] == 3 and poll.options == ("a", "b")
    out = poll.to_state()
    out["result"]["outcome"]["tally"]["a"] = 0
    assert poll.result["outcome"]["tally"]["a"] == 2


def test_each_record_checks_exactly_its_fields():
    from dataclasses import fields

    for cls in (Poll, Ballot, Attestation, PollValidator, Complaint):
        assert list(cls._CHECKS) == [f.name for f in fields(cls)], cls.__name__


def test_poll_fields_read_as_their_domain():
    poll = Poll.from_state(POLL)
    assert poll.validators[0].attest_key == "ab" * 32 and poll.ballots == 3 and poll.ballots_digest == "34" * 32
    ballot = Ballot.from_state(BALLOT)
    assert ballot.replaced == ("CD" * 32,) and ballot.disqualified["by"] == 2
    assert Ballot.from_state(dict(BALLOT, disqualified=None, replaced=[])).disqualified is None


@pytest.mark.parametrize(
    "cls, doc, change, message",
    [
        (Poll, POLL, lambda d: d.pop("seed"), "lacks seed"),
        (Poll, POLL, lambda d: d.update(colour="red"), "unknown field 'colour'"),
        (Poll, POLL, lambda d: d.update(id=True), "poll id must be an integer"),
        (Poll, POLL, lambda d: d.update(ballots=-1), "poll ballots must be an integer"),
        (Poll, POLL, lambda d: d.update(status="lost"), "poll status must be one of"),
        (Poll, POLL, lambda d: d.update(kind="vote"), "poll kind must be one of"),
        (Poll, POLL, lambda d: d.update(options="a"), "poll options must be a list"),
        (Poll, POLL, lambda d: d.update(seed="XY" * 32), "poll seed must be 64 lower-case hex"),
        (Poll, POLL, lambda d: d.update(result=[1]), "poll result must be an object"),
        (Poll, POLL, lambda d: d["validators"][0].pop("power"), "poll validator record lacks power"),
        (Poll, POLL, lambda d: d.update(attesters=[0, "1"]), r"poll attesters\[1\] must be an integer"),
        (Ballot, BALLOT, lambda d: d.update(ballot="xyz"), "ballot ballot must be non-empty"),
        (Ballot, BALLOT, lambda d: d.update(replaced=["ab" * 32]), r"ballot replaced\[0\] must be 64 upper-case"),
        (Ballot, BALLOT, lambda d: d.update(disqualified={"by": 1}), "ballot disqualified must be null or"),
        (Ballot, BALLOT, lambda d: d["disqualified"].update(by="1"), "ballot disqualified by must be an integer"),
        (Poll, POLL, lambda d: d.update(named_validators=[None]), r"poll named_validators\[0\] must be"),
        (Poll, POLL, lambda d: d.update(complaints_until="9"), "poll complaints_until must be"),
        (Poll, POLL, lambda d: d.update(running="AB" * 32), "poll running must be 64 lower-case hex"),
        (Poll, POLL, lambda d: d.update(final_tx="ab" * 32), "poll final_tx must be 64 upper-case hex"),
        (Aggregate, AGGREGATE, lambda d: d.update(verdict="valid?"), "aggregate verdict must be one of valid, named"),
        (Aggregate, AGGREGATE, lambda d: d.update(pairs=""), "aggregate pairs must be non-empty lower-case hex"),
        (Complaint, COMPLAINT, lambda d: d.update(verdict="guilty"), "complaint verdict must be one of"),
        (Complaint, COMPLAINT, lambda d: d.update(ballot_tx="x"), "complaint ballot_tx must be 64 upper-case"),
        (Ballot, BALLOT, lambda d: d.update(tx="ab" * 32), "ballot tx must be 64 upper-case"),
        (Ballot, BALLOT, lambda d: d.update(voter=None), "ballot voter must be"),
        (Attestation, ATTESTATION, lambda d: d.update(result={1: 2}), "string keys"),
        (Attestation, ATTESTATION, lambda d: d.update(result={"x": 1.5}), "not a JSON value"),
        (Attestation, ATTESTATION, lambda d: d.update({3: 1}), "unknown field of type int"),
    ],
)
def test_a_malformed_record_is_named(cls, doc, change, message):
    bad = copy.deepcopy(doc)
    change(bad)
    with pytest.raises(RecordError, match=message):
        cls.from_state(bad)


def test_deep_nesting_is_a_record_error():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(RecordError, match="nested too deeply"):
        Attestation.from_state(dict(ATTESTATION, result={"x": deep}))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(
    "cls, doc",
    [(Poll, POLL), (Ballot, BALLOT), (Attestation, ATTESTATION), (Complaint, COMPLAINT), (Aggregate, AGGREGATE)],
)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_from_state_is_total(cls, doc, data):
    """Any value, or a good record with any one field replaced or dropped: a record or a RecordError."""
    choice = data.draw(st.sampled_from(["whole", "field", "drop"]))
    if choice == "whole":
        value = data.draw(_json)
    else:
        value = copy.deepcopy(doc)
        name = data.draw(st.sampled_from(sorted(doc)))
        if choice == "drop":
            del value[name]
        else:
            value[name] = data.draw(_json)
    try:
        record = cls.from_state(value)
    except RecordError:
        return
    assert record.to_state() == value


def test_snapshot_validators_keeps_what_a_poll_needs():
    entry = dict(VALIDATOR, address="AB" * 20, pub_key="key", tls_cert="PEM")
    assert snapshot_validators([entry]) == [VALIDATOR]
    assert PollValidator.from_state(snapshot_validators([entry])[0]).to_state() == VALIDATOR


def _registry(powers):
    return [dict(VALIDATOR, index=i, power=p, enc_key=f"{i:064x}") for i, p in enumerate(powers)]


@pytest.mark.parametrize(
    "kind, powers, asked, t",
    [
        ("unanimity", [10] * 4, None, 1),
        ("unanimity", [10] * 7, None, 3),
        ("unanimity", [10] * 7, 2, 2),
        ("unanimity", [10] * 3, None, 1),
        ("unanimity", [1, 1, 1, 10], None, None),  # f = 3 > (m-1)//2: no threshold
        ("unanimity", [10] * 2, None, None),  # MPyC needs 2t+1 <= m
        ("unanimity", [10] * 7, 1, None),  # below f = 2
        ("unanimity", [10] * 7, 4, None),  # above MPyC's top
        # A tally is opened on chain: max(f, 1) <= t <= m-f-1 (docs/PROTOCOL.md §18.1).
        ("tally", [10] * 2, None, 1),  # both must post
        ("tally", [10] * 4, None, 2),
        ("tally", [10] * 4, 1, 1),
        ("tally", [10] * 7, None, 4),
        ("tally", [10] * 7, 4, 4),  # above MPyC's top, within the tally's
        ("tally", [10] * 7, 5, None),
        ("tally", [10] * 7, 1, None),  # below f = 2
        ("tally", [10], None, None),  # m = 1: empty
    ],
)
def test_poll_threshold_is_the_range_of_the_kind_and_the_powers(kind, powers, asked, t):
    got = poll_threshold(asked, _registry(powers), kind)
    if t is None:
        assert isinstance(got, Rejected) and "threshold" in got.reason
    else:
        assert got == t


def test_poll_facts_derive_the_threshold_and_refuse_one_out_of_range():
    body = poll_body(20, threshold=None)
    assert poll_facts(1, "ef" * 32, body, 2, _registry([10] * 7))["threshold"] == 3
    assert poll_facts(1, "ef" * 32, dict(body, threshold=2), 2, _registry([10] * 7))["threshold"] == 2
    with pytest.raises(RecordError, match="threshold: need 2 <= t <= 3"):
        poll_facts(1, "ef" * 32, dict(body, threshold=5), 2, _registry([10] * 7))
    tally = poll_body(20, kind="tally", options=["a", "b"], threshold=None)
    assert poll_facts(1, "ef" * 32, tally, 2, _registry([10] * 7))["threshold"] == 4
    with pytest.raises(RecordError, match="threshold: need 2 <= t <= 4"):
        poll_facts(1, "ef" * 32, dict(tally, threshold=5), 2, _registry([10] * 7))
    assert poll_entries("unanimity", []) == 1 and poll_entries("tally", ["a", "b", "c"]) == 3
