"""Sigma proofs: each verifies, each field tampered or badly encoded is refused with a reason."""

import pytest

from mpc_tx.protocol.group import G, H, L, Invalid, base, mul
from mpc_tx.protocol.proofs import prove_bit, prove_dleq, prove_dlog, verify_bit, verify_dleq, verify_dlog
from mpc_tx.protocol.seeded import SeededScalars

from protocolhelpers import BAD_SCALARS

TAG = b"mpcvote/v1/test"
CONTEXT = (b"header", b"voter", 3)


def _flip(proof: bytes, byte: int) -> bytes:
    return proof[:byte] + bytes([proof[byte] ^ 1]) + proof[byte + 1 :]


def _substitute(proof: bytes, j: int, field: bytes) -> bytes:
    return proof[: 32 * j] + field + proof[32 * j + 32 :]


def _refused(verify, proof, name="proof"):
    with pytest.raises(Invalid) as err:
        verify(proof)
    assert err.value.reason.startswith(name)


@pytest.fixture
def rng():
    return SeededScalars(b"test_proofs")


def test_dlog(rng):
    x = rng()
    pub = base(x)
    proof = prove_dlog(TAG, CONTEXT, G, pub, x, rng)
    verify = lambda p, ctx=CONTEXT, pub=pub: verify_dlog(TAG, ctx, G, pub, p, "proof")  # noqa: E731
    verify(proof)
    for byte in range(64):
        _refused(verify, _flip(proof, byte))
    _refused(lambda p: verify(p, ctx=CONTEXT[:2] + (4,)), proof)
    _refused(lambda p: verify(p, pub=base(x + 1)), proof)
    _refused(lambda p: verify_dlog(b"mpcvote/v1/other", CONTEXT, G, pub, p, "proof"), proof)
    for j in range(2):
        for data in BAD_SCALARS.values():
            _refused(verify, _substitute(proof, j, data))
        _refused(verify, _substitute(proof, j, bytes(32)))
    for data in (b"", proof[:63], proof + b"\0", None, "text"):
        _refused(verify, data)


def test_dlog_responses_are_canonical(rng):
    x = rng()
    proof = prove_dlog(TAG, CONTEXT, G, base(x), x, rng)
    z = int.from_bytes(proof[32:], "little")
    if z + L < 2**256:
        _refused(
            lambda p: verify_dlog(TAG, CONTEXT, G, base(x), p, "proof"), proof[:32] + (z + L).to_bytes(32, "little")
        )


@pytest.mark.parametrize("value", [0, 1])
def test_bit(rng, value):
    s = rng()
    c = base(value) + mul(s, H)
    proof = prove_bit(TAG, CONTEXT, c, value, s, rng)
    verify = lambda p, c=c: verify_bit(TAG, CONTEXT, c, p, "bit proof")  # noqa: E731
    verify(proof)
    for byte in range(0, 128, 7):
        _refused(verify, _flip(proof, byte), "bit proof")
    for j in range(4):
        for data in list(BAD_SCALARS.values()) + [bytes(32)]:
            _refused(verify, _substitute(proof, j, data), "bit proof")
    _refused(lambda p: verify(p, c=c + G), proof, "bit proof")
    _refused(lambda p: verify_bit(TAG, CONTEXT[:2] + (4,), c, p, "bit proof"), proof, "bit proof")


def test_bit_proof_refuses_a_two(rng):
    s = rng()
    two = base(2) + mul(s, H)
    with pytest.raises(ValueError):
        prove_bit(TAG, CONTEXT, two, 2, s, rng)
    # A prover who runs the real branch on the wrong value produces a proof that fails.
    for claimed in (0, 1):
        proof = prove_bit(TAG, CONTEXT, two, claimed, s, rng)
        _refused(lambda p: verify_bit(TAG, CONTEXT, two, p, "bit proof"), proof, "bit proof")


def test_dleq(rng):
    x = rng()
    xpub = base(x)
    e = base(rng())
    k = mul(x, e)
    proof = prove_dleq(TAG, CONTEXT, G, xpub, e, k, x, rng)
    verify = lambda p, k=k, xpub=xpub: verify_dleq(TAG, CONTEXT, G, xpub, e, k, p, "dleq")  # noqa: E731
    verify(proof)
    for byte in range(64):
        _refused(verify, _flip(proof, byte), "dleq")
    _refused(lambda p: verify(p, k=k + G), proof, "dleq")
    _refused(lambda p: verify(p, xpub=xpub + G), proof, "dleq")
    for j in range(2):
        for data in list(BAD_SCALARS.values()) + [bytes(32)]:
            _refused(verify, _substitute(proof, j, data), "dleq")
    # The right K with a proof for another key fails: a validator cannot reuse a proof.
    y = rng()
    other = prove_dleq(TAG, CONTEXT, G, base(y), e, mul(y, e), y, rng)
    _refused(verify, other, "dleq")
