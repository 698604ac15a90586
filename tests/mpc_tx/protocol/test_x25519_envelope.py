"""Tests of mpc_tx.protocol.x25519_envelope: sealing ballot shares to one validator."""

import json
import secrets

import pytest

from mpc_tx.protocol.x25519_envelope import L, EnvelopeError, open_, payload_size, seal
from mpc_tx.protocol.keys import EncryptionKey
from mpc_tx.keyfile import save_key

CTX = dict(chain_id="mpcvote-test", poll_id="poll-1", voter="ab" * 32, validator=2)


def _shares(n=3):
    return [secrets.randbelow(L) for _ in range(n)] + [0, L - 1]


@pytest.fixture
def key():
    return EncryptionKey.generate()


def test_round_trip(key):
    shares = _shares()
    payload = seal(key.public_hex, shares, **CTX)
    assert len(payload) == payload_size(len(shares))
    assert open_(key, payload, entries=len(shares), **CTX) == shares


def test_fresh_ephemeral_key_per_payload(key):
    shares = _shares()
    a, b = seal(key.public_hex, shares, **CTX), seal(key.public_hex, shares, **CTX)
    assert a[:32] != b[:32] and a[32:] != b[32:]


def test_another_validators_key_cannot_open(key):
    payload = seal(key.public_hex, _shares(), **CTX)
    with pytest.raises(EnvelopeError):
        open_(EncryptionKey.generate(), payload, entries=5, **CTX)


@pytest.mark.parametrize(
    "field, value",
    [
        ("chain_id", "mpcvote-other"),
        ("poll_id", "poll-2"),
        ("voter", "cd" * 32),
        ("validator", 3),
    ],
)
def test_payload_cannot_move_to_another_context(key, field, value):
    payload = seal(key.public_hex, _shares(), **CTX)
    with pytest.raises(EnvelopeError):
        open_(key, payload, entries=5, **{**CTX, field: value})


def test_poll_id_type_is_bound(key):
    payload = seal(key.public_hex, [1], **{**CTX, "poll_id": 7})
    assert open_(key, payload, entries=1, **{**CTX, "poll_id": 7}) == [1]
    with pytest.raises(EnvelopeError):
        open_(key, payload, entries=1, **{**CTX, "poll_id": "7"})


def test_wrong_entry_count_fails(key):
    payload = seal(key.public_hex, _shares(), **CTX)
    for entries in (4, 6):
        with pytest.raises(EnvelopeError):
            open_(key, payload, entries=entries, **CTX)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p[:-1],
        lambda p: p[:32],
        lambda p: b"",
        lambda p: p[:40] + bytes([p[40] ^ 1]) + p[41:],
        lambda p: bytes([p[0] ^ 1]) + p[1:],
        lambda p: bytes(32) + p[32:],  # low-order ephemeral point
        lambda p: secrets.token_bytes(len(p)),
        lambda p: "not bytes",
        lambda p: None,
    ],
)
def test_truncated_or_garbage_payload_raises(key, mangle):
    payload = seal(key.public_hex, _shares(), **CTX)
    with pytest.raises(EnvelopeError):
        open_(key, mangle(payload), entries=5, **CTX)


def test_share_out_of_field_is_rejected_on_open(key, monkeypatch):
    import mpc_tx.protocol.x25519_envelope as envelope

    monkeypatch.setattr(envelope, "L", 2**256)  # let a dishonest voter seal L itself
    payload = seal(key.public_hex, [5, L], **CTX)
    monkeypatch.undo()
    with pytest.raises(EnvelopeError, match="outside the field"):
        open_(key, payload, entries=2, **CTX)


@pytest.mark.parametrize("shares", [[], [L], [-1], [True], [1.0], "12", None])
def test_seal_rejects_bad_shares(key, shares):
    with pytest.raises(EnvelopeError):
        seal(key.public_hex, shares, **CTX)


@pytest.mark.parametrize("public", ["", "zz" * 32, "00" * 31, None, b"\0" * 32])
def test_seal_rejects_bad_recipient(public):
    with pytest.raises(EnvelopeError):
        seal(public, [1], **CTX)


def test_seal_rejects_low_order_recipient():
    with pytest.raises(EnvelopeError):
        seal("00" * 32, [1], **CTX)


@pytest.mark.parametrize(
    "ctx",
    [
        {"chain_id": ""},
        {"chain_id": None},
        {"validator": -1},
        {"validator": True},
        {"validator": "2"},
        {"voter": b"raw bytes"},
        {"poll_id": 1.5},
    ],
)
def test_bad_context_raises_envelope_error(key, ctx):
    with pytest.raises(EnvelopeError):
        seal(key.public_hex, [1], **{**CTX, **ctx})


def test_errors_hold_no_secret(key, tmp_path):
    shares = [secrets.randbelow(L) for _ in range(3)]
    path = tmp_path / "enc.json"
    save_key(key, path)
    secret = json.loads(path.read_text())["secret"]
    payload = seal(key.public_hex, shares, **CTX)
    errors = []
    for call in (
        lambda: open_(key, payload, entries=3, **{**CTX, "validator": 0}),
        lambda: open_(key, payload[:-3], entries=3, **CTX),
        lambda: seal(key.public_hex, shares + [L], **CTX),
    ):
        with pytest.raises(EnvelopeError) as info:
            call()
        errors.append(info.value)
    for err in errors:
        text = repr(err) + str(err)
        assert secret not in text
        for s in shares:
            assert str(s) not in text and f"{s:x}" not in text
        # No chained exception (whose text could quote internals) is shown either.
        assert err.__cause__ is None
        assert err.__context__ is None or err.__suppress_context__
