"""Outcomes: finality at more than 2/3 of the power, malformed payloads, reports, failure at the deadline."""

from mpc_tx.protocol import codes
from mpc_tx.protocol.keys import SigningKey

from apphelpers import attested_result, cast, closed_poll, create, fixed, result_codes


def test_outcome_final_at_more_than_two_thirds(chain):
    creator = SigningKey.generate()
    poll_id = create(chain, creator)
    cast(chain, poll_id)
    chain.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    fixed(chain, poll_id)
    good, bad = attested_result(chain, poll_id, True), attested_result(chain, poll_id, False)
    att = lambda i, r: chain.tx(chain.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": r})
    # an attestation signed by the wrong validator key is refused
    wrong = chain.tx(chain.attest[1], "submit_outcome", {"poll": poll_id, "validator": 0, "result": good})
    assert result_codes(chain.block(wrong)) == [codes.NOT_VALIDATOR]
    assert result_codes(chain.block(att(0, good), att(3, bad))) == [0, 0]
    assert chain.query(f"/poll/{poll_id}/outcome")[1]["status"] == "closed"  # 2 of 4: not final
    assert result_codes(chain.block(att(0, good))) == [codes.ALREADY_ATTESTED]
    res = chain.block(att(1, good))
    assert chain.query(f"/poll/{poll_id}/outcome")[1]["status"] == "closed"  # 20/40 power: still not
    res = chain.block(att(2, good))
    out = chain.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "final" and out["result"]["outcome"] == {"unanimous": True}
    assert out["attesters"] == [0, 1, 2] and out["dissenters"] == [3]
    assert any(e.type == "outcome_final" for e in res.events)
    late = chain.tx(chain.attest[3], "submit_outcome", {"poll": poll_id, "validator": 3, "result": good})
    assert result_codes(chain.block(late)) == [codes.POLL_NOT_CLOSED]  # final already


def test_malformed_outcome_rejected(chain):
    creator = SigningKey.generate()
    poll_id = create(chain, creator)
    cast(chain, poll_id)
    chain.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    fixed(chain, poll_id)
    r = attested_result(chain, poll_id)
    r["ballots"] = "00" * 32
    raw = chain.tx(chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": r})
    assert result_codes(chain.block(raw)) == [codes.BAD_OUTCOME]


def test_deadline_fails_poll_naming_absent(tmp_path):
    c, poll_id, _digest = closed_poll(tmp_path, deadline_blocks=4)
    r = attested_result(c, poll_id)
    c.block(c.tx(c.attest[1], "submit_outcome", {"poll": poll_id, "validator": 1, "result": r}))
    for _ in range(4):
        c.block()
    out = c.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [0, 2, 3]
    c.app.close()


def test_attempt_report_names_absent_without_using_the_attestation(tmp_path):
    c, poll_id, digest = closed_poll(tmp_path)
    report = {"status": "failed", "code": "party_absent", "absent": [3], "ballots": digest}
    res = c.block(
        *[c.tx(c.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": report}) for i in range(3)]
    )
    assert result_codes(res) == [0, 0, 0]
    assert c.query(f"/poll/{poll_id}/outcome")[1]["status"] == "closed"  # a report is never final
    ok = attested_result(c, poll_id)
    assert result_codes(
        c.block(c.tx(c.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": ok}))
    ) == [0]
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "failed" and out["result"] == {
        "status": "failed",
        "code": "deadline",
        "absent": [3],
        "ballots": digest,
    }
    c.app.close()


def test_deadline_never_names_a_reporter_absent(tmp_path):
    # Validator 0 attests but never joins the MPC; the others report it missing. At the
    # deadline the reporters, who were there, are not named absent; 0 is named a dissenter.
    c, poll_id, digest = closed_poll(tmp_path)
    ok = attested_result(c, poll_id)
    assert result_codes(
        c.block(c.tx(c.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": ok}))
    ) == [0]
    report = {"status": "failed", "code": "party_absent", "absent": [0], "ballots": digest}
    c.block(
        *[c.tx(c.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": report}) for i in (1, 2, 3)]
    )
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [] and out["dissenters"] == [0]
    c.app.close()


def test_attestations_wait_for_the_fixed_counted_set(chain):
    creator = SigningKey.generate()
    poll_id = create(chain, creator)
    cast(chain, poll_id)
    chain.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    early = {"status": "ok", "outcome": {"unanimous": True}, "counted": 3, "ballots": None}
    raw = chain.tx(chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": early})
    res = chain.block(raw)
    assert result_codes(res) == [codes.POLL_NOT_CLOSED] and "takes complaints until height" in res.tx_results[0].log
    fixed(chain, poll_id)
    ok = chain.tx(
        chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": attested_result(chain, poll_id)}
    )
    assert result_codes(chain.block(ok)) == [0]


def test_unanimity_below_min_ballots_must_be_withheld(chain):
    creator = SigningKey.generate()
    poll_id = create(chain, creator)
    cast(chain, poll_id, n=1)
    chain.block(chain.tx(creator, "close_poll", {"poll": poll_id}))
    fixed(chain, poll_id)
    revealed = attested_result(chain, poll_id, True)
    raw = chain.tx(chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": revealed})
    res = chain.block(raw)
    assert result_codes(res) == [codes.BAD_OUTCOME] and "withheld" in res.tx_results[0].log
    withheld = dict(revealed, outcome={"withheld": True})
    ok = chain.tx(chain.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": withheld})
    assert result_codes(chain.block(ok)) == [0]


def test_one_validators_false_reports_name_nobody_honest(tmp_path):
    c, poll_id, digest = closed_poll(tmp_path)

    def report(i, code, named):
        result = {"status": "failed", "code": code, "absent": named, "ballots": digest}
        return c.tx(c.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": result})

    # Validator 3 (1/4 of the power) blames everyone, again and again; the honest ones
    # saw 3's messages outstanding at their deadline, or 3 refused a message of theirs.
    for _ in range(3):
        res = c.block(report(3, "party_absent", [0, 1, 2]), report(3, "bad_message", [0, 1, 2]))
        assert result_codes(res) == [0, 0]
    assert result_codes(c.block(report(1, "timeout", [3]), report(2, "bad_message", [3]))) == [0, 0]
    assert result_codes(
        c.block(
            c.tx(
                c.attest[0], "submit_outcome", {"poll": poll_id, "validator": 0, "result": attested_result(c, poll_id)}
            )
        )
    ) == [0]
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [3]
    c.app.close()


def test_reports_below_a_third_of_the_power_name_nobody(tmp_path):
    c, poll_id, digest = closed_poll(tmp_path)
    # 3 names 0; 1 and 2 name nobody in particular (they report 3 only by its own report's word).
    bad = {"status": "failed", "code": "party_absent", "absent": [0], "ballots": digest}
    c.block(c.tx(c.attest[3], "submit_outcome", {"poll": poll_id, "validator": 3, "result": bad}))
    for i in (0, 1, 2):
        ok = attested_result(c, poll_id)
        c.block(c.tx(c.attest[i], "submit_outcome", {"poll": poll_id, "validator": i, "result": ok}))
    out = c.query(f"/poll/{poll_id}/outcome")[1]
    assert out["status"] == "final" and out["attesters"] == [0, 1, 2]  # 3's report changes nothing
    c.app.close()
