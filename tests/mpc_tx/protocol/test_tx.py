"""The tx codec: build/decode round trip, the signed bytes, and each stateless body check's code."""

import json

import pytest

from apphelpers import poll_body
from mpc_tx.protocol import canonical, codes
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey

CHAIN = "chain-a"
KEY = SigningKey.generate()


def _raw(type_, body, nonce=1, chain_id=CHAIN, key=KEY):
    return txcodec.build(key, chain_id, type_, nonce, body)


def _doc(raw):
    return json.loads(raw)


def _reencode(doc):
    return canonical.encode(doc)


def _code(raw):
    with pytest.raises(codes.TxError) as err:
        txcodec.verify(txcodec.decode(raw))
    return err.value.code


BODIES = {
    "create_poll": poll_body(10, kind="tally", options=["a", "b"]),
    "cast_ballot": {"poll": 3, "m": 4, "t": 1, "k": 1, "ballot": "ab" * 609},
    "close_poll": {"poll": 3},
    "complain": {"poll": 3, "validator": 1, "voter": "cd" * 32, "ballot_tx": "EF" * 32, "complaint": "01" * 96},
    "aggregate": {"poll": 3, "validator": 2, "pairs": "01" * 128},
}
# l, the group order, little-endian: the least 32 bytes that are not a canonical scalar.
_L_LE = (2**252 + 27742317777372353535851937790883648493).to_bytes(32, "little").hex()


@pytest.mark.parametrize("type_", sorted(BODIES))
def test_build_then_decode_round_trips(type_):
    raw = _raw(type_, BODIES[type_], nonce=7)
    tx = txcodec.decode(raw)
    assert (tx.type, tx.chain_id, tx.signer, tx.nonce, tx.body, tx.raw) == (
        type_,
        CHAIN,
        KEY.public_hex,
        7,
        BODIES[type_],
        raw,
    )
    txcodec.verify(tx)
    assert tx.hash == txcodec.tx_hash(raw) and len(tx.hash) == 64 and tx.hash == tx.hash.upper()


def test_signing_bytes_bind_domain_chain_type_signer_nonce_and_body():
    body = BODIES["close_poll"]
    signed = txcodec.signing_bytes(CHAIN, "close_poll", KEY.public_hex, 5, body)
    assert canonical.decode(signed) == {
        "domain": txcodec.DOMAIN,
        "chain_id": CHAIN,
        "type": "close_poll",
        "signer": KEY.public_hex,
        "nonce": 5,
        "body": body,
    }
    others = [
        txcodec.signing_bytes("chain-b", "close_poll", KEY.public_hex, 5, body),
        txcodec.signing_bytes(CHAIN, "close_poll", KEY.public_hex, 6, body),
        txcodec.signing_bytes(CHAIN, "close_poll", KEY.public_hex, 5, {"poll": 4}),
        txcodec.signing_bytes(CHAIN, "close_poll", SigningKey.generate().public_hex, 5, body),
    ]
    assert signed not in others and len(set(others)) == len(others)


@pytest.mark.parametrize("type_", sorted(BODIES))
def test_signed_part_is_the_signing_bytes(type_):
    tx = txcodec.decode(_raw(type_, BODIES[type_], nonce=3))
    assert txcodec.signed_part(tx) == txcodec.signing_bytes(CHAIN, type_, KEY.public_hex, 3, BODIES[type_])


@pytest.mark.parametrize(
    "field, value",
    [("chain_id", "chain-b"), ("nonce", 2), ("body", {"poll": 4}), ("type", "cast_ballot"), ("signer", "ab" * 32)],
)
def test_a_changed_signed_field_breaks_the_signature(field, value):
    doc = _doc(_raw("close_poll", {"poll": 3}))
    doc[field] = value
    if field == "type":
        doc["body"] = BODIES["cast_ballot"]
    assert _code(_reencode(doc)) == codes.BAD_SIGNATURE


def test_repr_does_not_show_the_body():
    tx = txcodec.decode(_raw("cast_ballot", BODIES["cast_ballot"]))
    assert "abab" not in repr(tx) and "cast_ballot" in repr(tx)


def _with(doc_change):
    doc = _doc(_raw("close_poll", {"poll": 3}))
    doc_change(doc)
    return _reencode(doc)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1}',
        b"[]",
        _with(lambda d: d.pop("sig")),
        _with(lambda d: d.update(extra=1)),
        _with(lambda d: d.update(type="vote")),
        _with(lambda d: d.update(chain_id="")),
        _with(lambda d: d.update(chain_id="c" * 65)),
        _with(lambda d: d.update(signer="AB" * 32)),
        _with(lambda d: d.update(nonce=0)),
        _with(lambda d: d.update(nonce=True)),
        _with(lambda d: d.update(sig="00" * 63)),
        _with(lambda d: d.update(sig="ZZ" * 64)),
        _with(lambda d: d.update(body=[])),
    ],
)
def test_envelope_faults_are_malformed(raw):
    with pytest.raises(codes.TxError) as err:
        txcodec.decode(raw)
    assert err.value.code == codes.MALFORMED


def _poll(**change):
    return dict(BODIES["create_poll"], **change)


def _ballot(**change):
    return dict(BODIES["cast_ballot"], **change)


def _complaint(**change):
    return dict(BODIES["complain"], **change)


def _aggregate(**change):
    return dict(BODIES["aggregate"], **change)


@pytest.mark.parametrize(
    "type_, body, code",
    [
        ("create_poll", dict(_poll(), extra=1), codes.BAD_POLL),
        ("create_poll", _poll(question=" "), codes.BAD_POLL),
        ("create_poll", _poll(kind="ranked"), codes.BAD_POLL),
        ("create_poll", _poll(options=["a"]), codes.BAD_POLL),
        ("create_poll", _poll(options=["a", "a"]), codes.BAD_POLL),
        ("create_poll", _poll(options=[str(i) for i in range(17)]), codes.BAD_POLL),
        ("create_poll", _poll(options=["a", ""]), codes.BAD_POLL),
        ("create_poll", _poll(kind="unanimity", options=["a", "b"]), codes.BAD_POLL),
        ("create_poll", _poll(voters=[]), codes.BAD_POLL),
        ("create_poll", _poll(voters=["bb" * 32, "aa" * 32]), codes.BAD_POLL),
        ("create_poll", _poll(voters=["aa" * 32, "aa" * 32]), codes.BAD_POLL),
        ("create_poll", _poll(voters=["xyz"]), codes.BAD_POLL),
        ("create_poll", _poll(close_height=-1), codes.BAD_POLL),
        ("create_poll", _poll(max_revotes=True), codes.BAD_POLL),
        ("create_poll", _poll(max_ballots=0, min_ballots=0), codes.BAD_POLL),
        ("create_poll", _poll(max_ballots=2, min_ballots=3), codes.BAD_POLL),
        ("create_poll", _poll(threshold=-1), codes.BAD_POLL),
        ("create_poll", _poll(threshold=True), codes.BAD_POLL),
        ("create_poll", _poll(threshold="1"), codes.BAD_POLL),
        ("create_poll", {k: v for k, v in _poll().items() if k != "threshold"}, codes.BAD_POLL),
        ("cast_ballot", {"poll": 3}, codes.BAD_BALLOT),
        ("cast_ballot", {"poll": 3, "payloads": ["00"]}, codes.BAD_BALLOT),
        ("cast_ballot", _ballot(poll=0), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(m=0), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(m=1025), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(t=4), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(t=-1), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(k=0), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(k=17), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(k=True), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(ballot=""), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(ballot="0"), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(ballot="AB"), codes.BAD_BALLOT),
        ("cast_ballot", _ballot(ballot=["ab"]), codes.BAD_BALLOT),
        ("complain", _complaint(extra=1), codes.BAD_COMPLAINT),
        ("complain", _complaint(poll=0), codes.BAD_COMPLAINT),
        ("complain", _complaint(validator=-1), codes.BAD_COMPLAINT),
        ("complain", _complaint(validator=1024), codes.BAD_COMPLAINT),
        ("complain", _complaint(voter="CD" * 32), codes.BAD_COMPLAINT),
        ("complain", _complaint(ballot_tx="ef" * 32), codes.BAD_COMPLAINT),
        ("complain", _complaint(ballot_tx="EF" * 31), codes.BAD_COMPLAINT),
        ("complain", _complaint(complaint="01" * 95), codes.BAD_COMPLAINT),
        ("complain", _complaint(complaint="01" * 97), codes.BAD_COMPLAINT),
        ("complain", _complaint(complaint="GG" * 96), codes.BAD_COMPLAINT),
        ("aggregate", _aggregate(extra=1), codes.BAD_AGGREGATE),
        ("aggregate", {"poll": 3, "validator": 2}, codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(poll=0), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(poll=True), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(validator=-1), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(validator=1024), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs=""), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs="01" * 63), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs="01" * 65), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs="01" * 64 * 17), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs="AB" * 64), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs=["01" * 64]), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs=_L_LE + "00" * 32), codes.BAD_AGGREGATE),
        ("aggregate", _aggregate(pairs="00" * 32 + "ff" * 32), codes.BAD_AGGREGATE),
        ("close_poll", {"poll": 3, "why": "x"}, codes.MALFORMED),
        ("close_poll", {"poll": "3"}, codes.MALFORMED),
        ("submit_outcome", {"poll": 3, "validator": 0}, codes.BAD_OUTCOME),
        ("submit_outcome", {"poll": -1, "validator": 0, "result": {}}, codes.BAD_OUTCOME),
        ("submit_outcome", {"poll": 3, "validator": -1, "result": {}}, codes.BAD_OUTCOME),
        ("submit_outcome", {"poll": 3, "validator": 0, "result": {"status": "maybe"}}, codes.BAD_OUTCOME),
    ],
)
def test_each_body_check_has_its_code(type_, body, code):
    with pytest.raises(codes.TxError) as err:
        txcodec.decode(_raw(type_, body))
    assert err.value.code == code, err.value.reason


def test_a_valid_unanimity_poll_and_an_open_voter_list_pass():
    txcodec.decode(_raw("create_poll", poll_body(5)))
    txcodec.decode(_raw("create_poll", _poll(voters=["aa" * 32, "bb" * 32])))


def test_an_aggregate_of_one_to_sixteen_options_of_canonical_scalars_passes():
    below_l = (2**252 + 27742317777372353535851937790883648492).to_bytes(32, "little").hex()
    for k in (1, 3, 16):
        txcodec.decode(_raw("aggregate", _aggregate(pairs=(below_l + "00" * 32) * k)))


def test_every_type_has_a_body_check_and_a_sample():
    assert set(txcodec.TYPES) - {"submit_outcome"} == set(BODIES)


@pytest.mark.parametrize("m, t, k", [(4, 1, 1), (4, 1, 3), (7, 3, 16), (16, 7, 16)])
def test_ballot_tx_size_bounds_every_cast_ballot(m, t, k):
    from mpc_tx.protocol.context import ballot_size

    widest = (1 << 63) - 1
    body = {"poll": widest, "m": m, "t": t, "k": k, "ballot": "ab" * ballot_size(m, t, k, k > 1)}
    raw = txcodec.build(KEY, "c" * 64, "cast_ballot", widest, body)
    assert len(raw) == txcodec.ballot_tx_size("c" * 64, m, t, k)
    assert len(txcodec.build(KEY, "c", "cast_ballot", 1, dict(body, poll=1))) < txcodec.ballot_tx_size("c", m, t, k)
