"""The application without a socket: every rejection code, state, app hash, finality."""
import json

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey

from apphelpers import CHAIN, Chain, attested_result, cast, payloads, poll_body, result_codes


def create(chain, creator, **kw):
    res = chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + kw.pop("close_in", 10), **kw)))
    assert result_codes(res) == [0], res.tx_results[0].log
    return int([a.value for e in res.tx_results[0].events for a in e.attributes if a.key == "poll_id"][0])


def test_info_reports_committed_height_and_hash(chain):
    info = chain.app.info(None)
    assert info.last_block_height == 1 and len(info.last_block_app_hash) == 32


def test_ballot_committed_and_queryable(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator)
    res = chain.block(chain.tx(voter, "cast_ballot", {"poll": pid, "payloads": payloads(4)}))
    assert result_codes(res) == [0]
    code, page = chain.query(f"/poll/{pid}/ballots?validator=2")
    assert code == 0 and len(page["ballots"]) == 1
    assert "payload" in page["ballots"][0] and "payloads" not in page["ballots"][0]
    code, poll = chain.query(f"/poll/{pid}")
    assert poll["ballots"] == 1 and poll["threshold"] == 1 and len(poll["validators"]) == 4
    code, short = chain.query(f"/poll/{pid}/ballots?fields=tx")   # what a worker checks at the close
    assert code == 0 and short["ballots"] == [{"voter": voter.public_hex, "tx": page["ballots"][0]["tx"]}]
    code, _ = chain.query(f"/poll/{pid}/ballots?fields=payloads")
    assert code == codes.BAD_QUERY


@pytest.mark.parametrize("mutate, code", [
    (lambda c, k, pid: b"not json", codes.MALFORMED),
    (lambda c, k, pid: c.tx(k, "cast_ballot", {"poll": pid, "payloads": payloads(4)}, chain_id="other"), codes.WRONG_CHAIN),
    (lambda c, k, pid: c.tx(k, "cast_ballot", {"poll": 999, "payloads": payloads(4)}), codes.UNKNOWN_POLL),
    (lambda c, k, pid: c.tx(k, "cast_ballot", {"poll": pid, "payloads": payloads(3)}), codes.BAD_BALLOT),
    (lambda c, k, pid: c.tx(k, "close_poll", {"poll": pid}), codes.NOT_CREATOR),
    (lambda c, k, pid: c.tx(k, "submit_outcome", {"poll": pid, "validator": 0, "result": {"status": "ok"}}), codes.NOT_VALIDATOR),
    (lambda c, k, pid: c.tx(k, "create_poll", poll_body(c.height + 10**7)), codes.BAD_POLL),
    (lambda c, k, pid: b"{" + b" " * 70000 + b"}", codes.TOO_LARGE),
])
def test_rejections_have_codes_in_checktx_and_finalizeblock(chain, mutate, code):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator)
    before = chain.app.info(None).last_block_app_hash
    raw = mutate(chain, voter, pid)
    checked = chain.check(raw)
    assert checked.code == code and checked.log
    res = chain.block(raw)
    assert result_codes(res) == [code] and res.tx_results[0].log
    assert chain.app.info(None).last_block_app_hash == before  # a rejected tx changes nothing


def test_bad_signature(chain):
    voter = SigningKey.generate()
    raw = json.loads(chain.tx(voter, "create_poll", poll_body(chain.height + 5)))
    raw["sig"] = "00" * 64
    from mpc_tx.protocol import canonical
    assert chain.check(canonical.encode(raw)).code == codes.BAD_SIGNATURE


def test_replayed_nonce_rejected(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator)
    raw = chain.tx(voter, "cast_ballot", {"poll": pid, "payloads": payloads(4)})
    assert result_codes(chain.block(raw)) == [0]
    assert result_codes(chain.block(raw)) == [codes.REPLAY]
    lower = chain.tx(voter, "cast_ballot", {"poll": pid, "payloads": payloads(4)}, nonce=1)
    assert chain.check(lower).code == codes.REPLAY


def test_non_canonical_encoding_rejected(chain):
    creator = SigningKey.generate()
    raw = chain.tx(creator, "create_poll", poll_body(chain.height + 5))
    spaced = json.dumps(json.loads(raw), indent=1).encode()
    assert chain.check(spaced).code == codes.MALFORMED


def test_eligibility_revote_and_cap(chain):
    creator = SigningKey.generate()
    alice, bob = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator, voters=sorted([alice.public_hex]), max_revotes=1)
    assert result_codes(chain.block(chain.tx(bob, "cast_ballot", {"poll": pid, "payloads": payloads(4)}))) == [codes.NOT_ELIGIBLE]
    first = payloads(4)
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": pid, "payloads": first}))) == [0]
    second = payloads(4)
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": pid, "payloads": second}))) == [0]
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": pid, "payloads": payloads(4)}))) == [codes.REVOTE_LIMIT]
    _, page = chain.query(f"/poll/{pid}/ballots")
    assert [b["payloads"] for b in page["ballots"]] == [second]  # the later ballot replaced the first
    assert chain.query(f"/poll/{pid}")[1]["ballots"] == 1


def test_poll_closes_at_height_and_rejects_late_ballots(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator, close_in=6)   # created at height 2, closes at 7 (min_close_blocks 5)
    for _ in range(4):
        open_block = chain.block()
        assert not any(e.type == "poll_closed" for e in open_block.events)
    closed = chain.block()
    assert any(e.type == "poll_closed" for e in closed.events)
    assert chain.query(f"/poll/{pid}")[1]["status"] == "closed"
    late = chain.tx(voter, "cast_ballot", {"poll": pid, "payloads": payloads(4)})
    assert chain.check(late).code == codes.POLL_CLOSED
    assert result_codes(chain.block(late)) == [codes.POLL_CLOSED]


def test_outcome_final_at_more_than_two_thirds(chain):
    creator = SigningKey.generate()
    pid = create(chain, creator)
    cast(chain, pid)
    chain.block(chain.tx(creator, "close_poll", {"poll": pid}))
    good, bad = attested_result(chain, pid, True), attested_result(chain, pid, False)
    att = lambda i, r: chain.tx(chain.attest[i], "submit_outcome", {"poll": pid, "validator": i, "result": r})
    # an attestation signed by the wrong validator key is refused
    wrong = chain.tx(chain.attest[1], "submit_outcome", {"poll": pid, "validator": 0, "result": good})
    assert result_codes(chain.block(wrong)) == [codes.NOT_VALIDATOR]
    assert result_codes(chain.block(att(0, good), att(3, bad))) == [0, 0]
    assert chain.query(f"/poll/{pid}/outcome")[1]["status"] == "closed"   # 2 of 4: not final
    assert result_codes(chain.block(att(0, good))) == [codes.ALREADY_ATTESTED]
    res = chain.block(att(1, good))
    assert chain.query(f"/poll/{pid}/outcome")[1]["status"] == "closed"   # 20/40 power: still not
    res = chain.block(att(2, good))
    out = chain.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "final" and out["result"]["outcome"] == {"unanimous": True}
    assert out["attesters"] == [0, 1, 2] and out["dissenters"] == [3]
    assert any(e.type == "outcome_final" for e in res.events)
    late = chain.tx(chain.attest[3], "submit_outcome", {"poll": pid, "validator": 3, "result": good})
    assert result_codes(chain.block(late)) == [codes.POLL_NOT_CLOSED]  # final already


def test_malformed_outcome_rejected(chain):
    creator = SigningKey.generate()
    pid = create(chain, creator)
    cast(chain, pid)
    chain.block(chain.tx(creator, "close_poll", {"poll": pid}))
    r = attested_result(chain, pid)
    r["ballots"] = "00" * 32
    raw = chain.tx(chain.attest[0], "submit_outcome", {"poll": pid, "validator": 0, "result": r})
    assert result_codes(chain.block(raw)) == [codes.BAD_OUTCOME]


def test_deadline_fails_poll_naming_absent(tmp_path):
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 4})
    c.init()
    c.block()
    creator = SigningKey.generate()
    pid = create(c, creator)
    cast(c, pid)
    c.block(c.tx(creator, "close_poll", {"poll": pid}))
    r = attested_result(c, pid)
    c.block(c.tx(c.attest[1], "submit_outcome", {"poll": pid, "validator": 1, "result": r}))
    for _ in range(4):
        c.block()
    out = c.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [0, 2, 3]
    c.app.close()


def test_app_hash_deterministic_and_state_sensitive(tmp_path):
    a, b = Chain(tmp_path / "a"), Chain(tmp_path / "b")
    b.registry, b.genesis, b.attest, b.enc, b.cons = a.registry, a.genesis, a.attest, a.enc, a.cons
    creator = SigningKey.generate()
    raws = [a.tx(creator, "create_poll", poll_body(50, question=f"q{i}")) for i in range(3)]
    hashes = []
    for c in (a, b):
        c.init()
        c.block()
        c.block(*raws)
        hashes.append(c.app.info(None).last_block_app_hash)
    assert hashes[0] == hashes[1]
    a.block(a.tx(creator, "create_poll", poll_body(60)))
    b.block()
    assert a.app.info(None).last_block_app_hash != b.app.info(None).last_block_app_hash
    a.app.close(), b.app.close()


def test_nothing_persists_before_commit_and_restart_keeps_state(tmp_path):
    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    creator = SigningKey.generate()
    c.block(c.tx(creator, "create_poll", poll_body(50)), commit=False)
    c.reopen()     # a crash between FinalizeBlock and Commit
    assert c.app.info(None).last_block_height == 1
    assert c.query("/polls")[1]["polls"] == []
    c.height = 1
    c.nonces.clear()
    c.block(c.tx(creator, "create_poll", poll_body(50)))
    c.reopen()
    assert c.app.info(None).last_block_height == 2
    assert len(c.query("/polls")[1]["polls"]) == 1
    c.app.close()


def test_uninitialised_app_answers_with_codes(tmp_path):
    c = Chain(tmp_path / "empty")
    assert c.check(b"x").code == codes.NOT_INITIALISED
    assert c.query("/polls")[0] == codes.NOT_INITIALISED
    res = c.block(b"a", b"b")
    assert result_codes(res) == [codes.NOT_INITIALISED] * 2
    c.app.close()


def test_checktx_tracks_pending_nonces_until_commit(chain):
    creator = SigningKey.generate()
    raw = chain.tx(creator, "create_poll", poll_body(chain.height + 10))
    assert chain.check(raw).code == 0
    assert chain.check(raw).code == codes.REPLAY  # same tx twice in the mempool
    assert txcodec.decode(raw).chain_id == CHAIN


def closed_poll(tmp_path):
    """A chain with a short MPC schedule (A=2, D=6) and a poll closed early with 3 ballots: (chain, id, digest)."""
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 6})
    c.init()
    c.block()
    creator = SigningKey.generate()
    pid = create(c, creator)
    cast(c, pid)
    c.block(c.tx(creator, "close_poll", {"poll": pid}))
    return c, pid, c.query(f"/poll/{pid}")[1]["ballots_digest"]


def test_attempt_report_names_absent_without_using_the_attestation(tmp_path):
    c, pid, digest = closed_poll(tmp_path)
    report = {"status": "failed", "code": "party_absent", "absent": [3], "ballots": digest}
    res = c.block(*[c.tx(c.attest[i], "submit_outcome", {"poll": pid, "validator": i, "result": report})
                    for i in range(3)])
    assert result_codes(res) == [0, 0, 0]
    assert c.query(f"/poll/{pid}/outcome")[1]["status"] == "closed"       # a report is never final
    ok = attested_result(c, pid)
    assert result_codes(c.block(c.tx(c.attest[0], "submit_outcome", {"poll": pid, "validator": 0, "result": ok}))) == [0]
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "failed" and out["result"] == {"status": "failed", "code": "deadline",
                                                          "absent": [3], "ballots": digest}
    c.app.close()


def test_deadline_never_names_a_reporter_absent(tmp_path):
    # Validator 0 attests but never joins the MPC; the others report it missing. At the
    # deadline the reporters, who were there, are not named absent; 0 is named a dissenter.
    c, pid, digest = closed_poll(tmp_path)
    ok = attested_result(c, pid)
    assert result_codes(c.block(c.tx(c.attest[0], "submit_outcome", {"poll": pid, "validator": 0, "result": ok}))) == [0]
    report = {"status": "failed", "code": "party_absent", "absent": [0], "ballots": digest}
    c.block(*[c.tx(c.attest[i], "submit_outcome", {"poll": pid, "validator": i, "result": report}) for i in (1, 2, 3)])
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [] and out["dissenters"] == [0]
    c.app.close()


def test_ballot_digest_is_the_canonical_encoding_of_the_payloads():
    import hashlib
    from mpc_tx.protocol.digests import ballot_digest
    from mpc_tx.protocol import canonical
    voter = SigningKey.generate().public_hex
    for listed in (["00"], ["ab" * 80, "0f" * 80, "9e" * 80, "01" * 80]):
        assert ballot_digest(voter, listed) == \
            hashlib.sha256(voter.encode() + canonical.encode(listed)).hexdigest()


def test_ballot_record_encoding_is_canonical():
    from abci_app.handlers.ballots import encode_record
    from mpc_tx.protocol import canonical
    record = {"voter": "ab" * 32, "payloads": ["0f" * 80, "9e" * 80], "height": 12, "revotes": 0, "tx": "AB" * 32}
    assert encode_record(record) == canonical.encode(record)


def test_close_height_too_near_is_refused_with_the_nearest_allowed(chain):
    creator = SigningKey.generate()
    near = chain.tx(creator, "create_poll", poll_body(chain.height + 3))     # CheckTx runs at height + 1
    res = chain.check(near)
    assert res.code == codes.BAD_POLL and "too near" in res.log and "at least 5 blocks" in res.log
    assert result_codes(chain.block(near)) == [codes.BAD_POLL]
    create(chain, creator, close_in=6)      # runs at height + 1: exactly min_close_blocks ahead, fine


def test_min_ballots_below_the_chain_floor_is_refused(chain):
    creator = SigningKey.generate()
    res = chain.check(chain.tx(creator, "create_poll", poll_body(chain.height + 20, min_ballots=2)))
    assert res.code == codes.BAD_POLL and "floor of 3" in res.log and "how the others voted" in res.log


def test_unanimity_below_min_ballots_must_be_withheld(chain):
    creator = SigningKey.generate()
    pid = create(chain, creator)
    cast(chain, pid, n=1)
    chain.block(chain.tx(creator, "close_poll", {"poll": pid}))
    revealed = attested_result(chain, pid, True)
    raw = chain.tx(chain.attest[0], "submit_outcome", {"poll": pid, "validator": 0, "result": revealed})
    res = chain.block(raw)
    assert result_codes(res) == [codes.BAD_OUTCOME] and "withheld" in res.tx_results[0].log
    withheld = dict(revealed, outcome={"withheld": True})
    ok = chain.tx(chain.attest[0], "submit_outcome", {"poll": pid, "validator": 0, "result": withheld})
    assert result_codes(chain.block(ok)) == [0]


def test_check_tx_query_gives_the_verdict_without_touching_state(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    pid = create(chain, creator, close_in=6)
    ballot = chain.tx(voter, "cast_ballot", {"poll": pid, "payloads": payloads(4)})
    code, verdict = chain.query("/check_tx", ballot)
    assert code == 0 and verdict["code"] == 0 and verdict["code_name"] == "OK"
    assert verdict["hash"] == txcodec.tx_hash(ballot) and verdict["height"] == chain.height + 1
    assert chain.query(f"/poll/{pid}")[1]["ballots"] == 0          # a dry run: nothing staged or kept
    assert chain.app.check.writes == {}
    for _ in range(5):
        chain.block()
    code, verdict = chain.query("/check_tx", ballot)                 # what a recheck now says
    assert code == 0 and verdict["code_name"] == "POLL_CLOSED" and f"poll {pid} closed" in verdict["log"]
    assert chain.query("/check_tx")[0] == codes.BAD_QUERY            # no tx given
    assert chain.query("/check_tx", b"junk")[1]["code"] == codes.MALFORMED
    assert chain.query("/check_tx?x=1", ballot)[0] == codes.BAD_QUERY


def test_closings_over_the_quota_are_refused_by_create_and_by_early_close(tmp_path):
    c = Chain(tmp_path / "app", params={"max_closings_per_height": 2})
    c.init()
    c.block()
    creator = SigningKey.generate()
    at = c.height + 12
    first = [create(c, creator, close_in=at - c.height) for _ in range(2)]
    res = c.block(c.tx(creator, "create_poll", poll_body(at)))
    assert result_codes(res) == [codes.CLOSING_QUOTA] and "max_closings_per_height" in res.tx_results[0].log
    # An early close gives its scheduled closing back...
    assert result_codes(c.block(c.tx(creator, "close_poll", {"poll": first[0]}))) == [0]
    assert result_codes(c.block(c.tx(creator, "create_poll", poll_body(at)))) == [0]
    # ...and counts against the height it closes at: here two polls close already.
    later = [create(c, creator, close_in=20) for _ in range(3)]
    while c.height + 1 < at:
        c.block()
    res = c.block(*[c.tx(creator, "close_poll", {"poll": p}) for p in later])
    assert result_codes(res) == [codes.CLOSING_QUOTA] * 3   # at height `at`, the two scheduled ones close
    res = c.block(*[c.tx(creator, "close_poll", {"poll": p}) for p in later])
    assert result_codes(res) == [0, 0, codes.CLOSING_QUOTA]
    assert [c.query(f"/poll/{p}")[1]["status"] for p in later] == ["closed", "closed", "open"]
    c.app.close()


def test_one_validators_false_reports_name_nobody_honest(tmp_path):
    c, pid, digest = closed_poll(tmp_path)

    def report(i, code, named):
        result = {"status": "failed", "code": code, "absent": named, "ballots": digest}
        return c.tx(c.attest[i], "submit_outcome", {"poll": pid, "validator": i, "result": result})

    # Validator 3 (1/4 of the power) blames everyone, again and again; the honest ones
    # saw 3's messages outstanding at their deadline, or 3 refused a message of theirs.
    for _ in range(3):
        res = c.block(report(3, "party_absent", [0, 1, 2]), report(3, "bad_message", [0, 1, 2]))
        assert result_codes(res) == [0, 0]
    assert result_codes(c.block(report(1, "timeout", [3]), report(2, "bad_message", [3]))) == [0, 0]
    assert result_codes(c.block(c.tx(c.attest[0], "submit_outcome",
                                      {"poll": pid, "validator": 0, "result": attested_result(c, pid)}))) == [0]
    for _ in range(6):
        c.block()
    out = c.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "failed" and out["result"]["code"] == "deadline"
    assert out["result"]["absent"] == [3]
    c.app.close()


def test_reports_below_a_third_of_the_power_name_nobody(tmp_path):
    c, pid, digest = closed_poll(tmp_path)
    # 3 names 0; 1 and 2 name nobody in particular (they report 3 only by its own report's word).
    bad = {"status": "failed", "code": "party_absent", "absent": [0], "ballots": digest}
    c.block(c.tx(c.attest[3], "submit_outcome", {"poll": pid, "validator": 3, "result": bad}))
    for i in (0, 1, 2):
        ok = attested_result(c, pid)
        c.block(c.tx(c.attest[i], "submit_outcome", {"poll": pid, "validator": i, "result": ok}))
    out = c.query(f"/poll/{pid}/outcome")[1]
    assert out["status"] == "final" and out["attesters"] == [0, 1, 2]   # 3's report changes nothing
    c.app.close()
