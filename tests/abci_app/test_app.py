"""The ABCI methods without a socket: rejection codes in CheckTx and FinalizeBlock, CheckTx's cache,
the proposal checks, persistence. Each tx type's own rules are in tests/abci_app/handlers; the app hash
is in tests/abci_app/store/test_apphash.py."""

import json

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol import tx as txcodec
from abci_app.abci.pb import abci
from mpc_tx.protocol.keys import SigningKey

from apphelpers import CHAIN, Chain, ballot_tx, cast_body, create, poll_body, result_codes


def test_info_reports_committed_height_and_hash(chain):
    info = chain.app.info(None)
    assert info.last_block_height == 1 and len(info.last_block_app_hash) == 32


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda c, k, poll_id: b"not json", codes.MALFORMED),
        (
            lambda c, k, poll_id: ballot_tx(c, k, poll_id, chain_id="other"),
            codes.WRONG_CHAIN,
        ),
        (lambda c, k, poll_id: ballot_tx(c, k, 999), codes.UNKNOWN_POLL),
        (lambda c, k, poll_id: c.tx(k, "cast_ballot", {**cast_body(c, poll_id, k), "m": 3}), codes.BAD_BALLOT),
        (lambda c, k, poll_id: c.tx(k, "close_poll", {"poll": poll_id}), codes.NOT_CREATOR),
        (
            lambda c, k, poll_id: c.tx(
                k, "submit_outcome", {"poll": poll_id, "validator": 0, "result": {"status": "ok"}}
            ),
            codes.NOT_VALIDATOR,
        ),
        (lambda c, k, poll_id: c.tx(k, "create_poll", poll_body(c.height + 10**7)), codes.BAD_POLL),
        (lambda c, k, poll_id: b"{" + b" " * 70000 + b"}", codes.TOO_LARGE),
    ],
)
def test_rejections_have_codes_in_checktx_and_finalizeblock(chain, mutate, code):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator)
    before = chain.app.info(None).last_block_app_hash
    raw = mutate(chain, voter, poll_id)
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
    poll_id = create(chain, creator)
    raw = ballot_tx(chain, voter, poll_id)
    assert result_codes(chain.block(raw)) == [0]
    assert result_codes(chain.block(raw)) == [codes.REPLAY]
    lower = ballot_tx(chain, voter, poll_id, nonce=1)
    assert chain.check(lower).code == codes.REPLAY


def test_non_canonical_encoding_rejected(chain):
    creator = SigningKey.generate()
    raw = chain.tx(creator, "create_poll", poll_body(chain.height + 5))
    spaced = json.dumps(json.loads(raw), indent=1).encode()
    assert chain.check(spaced).code == codes.MALFORMED


def test_nothing_persists_before_commit_and_restart_keeps_state(tmp_path):
    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    creator = SigningKey.generate()
    c.block(c.tx(creator, "create_poll", poll_body(50)), commit=False)
    c.reopen()  # a crash between FinalizeBlock and Commit
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


# --- CheckTx: cheap checks first, only accepted txs cached ---------------------------------------


def test_cache_holds_only_accepted_txs_and_drops_what_a_recheck_rejects(chain):
    creator = SigningKey.generate()
    wrong_chain = [
        chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10), chain_id="other")
        for _ in range(20)
    ]
    for raw in wrong_chain:
        assert chain.check(raw).code == codes.WRONG_CHAIN
    assert len(chain.app.txs.items) == 0
    good = chain.tx(creator, "create_poll", poll_body(chain.height + 10))
    assert chain.check(good).code == 0 and chain.app.txs.get(good) is not None
    # The same nonce commits through another tx: the recheck rejects `good`, and it leaves the cache.
    chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 10), nonce=chain.nonces[creator.public_hex]))
    res = chain.app.check_tx(abci.RequestCheckTx(tx=good, type=abci.RECHECK))
    assert res.code == codes.REPLAY and chain.app.txs.get(good) is None


def test_cache_is_bounded_in_bytes(chain):
    chain.app.txs.max_bytes = 20_000
    for k in range(40):  # each its own close height: the closing quota is per height
        raw = chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10 + k, question="q" * 900))
        assert chain.check(raw).code == 0
    assert chain.app.txs.bytes <= 20_000 and len(chain.app.txs.items) < 40
    assert chain.app.txs.bytes == sum(len(tx.raw) for tx in chain.app.txs.items.values())


# --- ProcessProposal / PrepareProposal -----------------------------------------------------------


def proposal(app, txs, height=2):
    return app.process_proposal(abci.RequestProcessProposal(txs=txs, height=height)).status


ACCEPT, REJECT = abci.ResponseProcessProposal.ACCEPT, abci.ResponseProcessProposal.REJECT


def test_process_proposal_rejects_junk_and_accepts_stateful_failures(chain):
    creator = SigningKey.generate()
    good = chain.tx(creator, "create_poll", poll_body(chain.height + 10))
    replay = chain.tx(creator, "create_poll", poll_body(chain.height + 10), nonce=1)  # stateful: FinalizeBlock's job
    forged = bytearray(good)
    forged[-20] ^= 1
    assert proposal(chain.app, [good, replay]) == ACCEPT
    assert proposal(chain.app, []) == ACCEPT
    for junk in (
        b"\x00",
        b"{}",
        bytes(forged),
        b"x" * 70000,
        chain.tx(creator, "create_poll", poll_body(5), chain_id="other-chain"),
    ):
        assert proposal(chain.app, [good, junk]) == REJECT, junk[:20]


def test_a_byzantine_proposer_cannot_put_a_malformed_aggregate_in_a_block(chain):
    # §18.3: an aggregate's shape and scalars are stateless checks, like a ballot's proofs: a
    # proposal carrying a malformed one is rejected (it never lands, so it never names anyone);
    # a well-formed one that fails on state is FinalizeBlock's to refuse with its code.
    validator = chain.attest[0]
    ok = {"poll": 99, "validator": 0, "pairs": "00" * 64 * 3}
    assert proposal(chain.app, [chain.tx(validator, "aggregate", ok)]) == ACCEPT  # unknown poll: a stateful code
    for bad in (
        dict(ok, pairs="ff" * 64 * 3),  # scalars >= l
        dict(ok, pairs="00" * 63),  # not 64·k bytes
        dict(ok, pairs="AA" * 64),  # upper-case hex
        dict(ok, pairs="00" * 64 * 17),  # k over 16
        dict(ok, validator=1024),
        dict(ok, extra=1),
    ):
        assert proposal(chain.app, [chain.tx(validator, "aggregate", bad)]) == REJECT, bad


def test_process_proposal_caps_the_number_of_txs(tmp_path):
    chain = Chain(tmp_path / "app", params={"max_block_txs": 3})
    chain.init()
    chain.block()
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)) for _ in range(4)]
    assert proposal(chain.app, txs[:3]) == ACCEPT
    assert proposal(chain.app, txs) == REJECT
    assert proposal(chain.app, [txs[0]] * 4) == REJECT  # duplicates count too
    prepared = chain.app.prepare_proposal(abci.RequestPrepareProposal(txs=txs, max_tx_bytes=1 << 20)).txs
    assert list(prepared) == txs[:3]
    chain.app.close()


def test_proposal_answer_does_not_depend_on_the_cache(chain):
    """Two nodes, one that saw the txs in CheckTx and one that did not, answer alike."""
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10 + k)) for k in range(5)]
    forged = bytearray(txs[2])
    forged[-20] ^= 1
    cold = proposal(chain.app, txs), proposal(chain.app, txs + [bytes(forged)])
    for raw in txs:
        assert chain.check(raw).code == 0
    warm = proposal(chain.app, txs), proposal(chain.app, txs + [bytes(forged)])
    assert cold == warm == (ACCEPT, REJECT)


def test_prepare_proposal_drops_junk_and_stays_under_max_tx_bytes(chain):
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)) for _ in range(6)]
    mixed = [b"\x01", txs[0], b"junk", txs[1], txs[2], txs[3], txs[4], txs[5]]
    limit = sum(len(t) for t in txs[:4]) + 10
    out = list(chain.app.prepare_proposal(abci.RequestPrepareProposal(txs=mixed, max_tx_bytes=limit)).txs)
    assert out == txs[:4] and sum(map(len, out)) <= limit
    assert proposal(chain.app, out) == ACCEPT


def test_finalize_block_still_answers_junk_with_codes(chain):
    """Blocksync and replay skip ProcessProposal: junk in a committed block gets a code each."""
    res = chain.block(b"\x00", b"{}", b"x" * 70000)
    assert [r.code for r in res.tx_results] == [codes.MALFORMED, codes.MALFORMED, codes.TOO_LARGE]


# --- InitChain ----------------------------------------------------------------------------------


def test_validator_set_is_static(chain):
    """No validator updates, ever: not at InitChain, not in any block."""
    fresh = Chain(chain.home + "-2")
    assert list(fresh.init().validators) == []
    creator = SigningKey.generate()
    res = chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 10)))
    res2 = chain.block()
    res3 = chain.block()
    assert not res.validator_updates and not res2.validator_updates and not res3.validator_updates
    fresh.app.close()


def test_result_data_is_what_a_light_client_trusts():
    from abci_app.app import result_data

    assert result_data("create_poll", 7) == b'{"poll_id":7}'
    running_data = b'{"events":1,"poll_id":7,"running":"' + b"ab" * 32 + b'"}'
    for tx_type in ("cast_ballot", "complain", "close_poll", "aggregate"):
        assert result_data(tx_type, running_data) == running_data  # the handler's canonical bytes, as they are
    assert result_data("submit_outcome", None) == b""
