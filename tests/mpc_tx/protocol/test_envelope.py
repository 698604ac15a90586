"""Envelopes: the key and associated data bind the context; the one share decoder is strict."""

import pytest

from mpc_tx.protocol import envelope
from mpc_tx.protocol.group import L, Invalid, base, mul

from protocolhelpers import VOTER, test_poll

POLL, KEYS = test_poll(4, 1, 2, True, seed=b"envelope")
RHO = 12345678901234567890
E = base(RHO)
DIGEST = b"\x07" * 32
PAIRS = [(1, 2), (L - 1, 0)]


def _seal(i=1):
    return envelope.seal(POLL, VOTER, i, E, mul(RHO, POLL.keys[i]), DIGEST, envelope.encode_pairs(PAIRS))


def test_round_trip_with_either_side_of_the_exchange():
    ct = _seal()
    assert len(ct) == 2 * 64 + 16
    for k_point in (mul(RHO, POLL.keys[1]), mul(KEYS[1], E)):
        plaintext = envelope.open_(POLL, VOTER, 1, E, k_point, DIGEST, ct)
        assert envelope.decode_pairs(plaintext, 2) == PAIRS


@pytest.mark.parametrize("change", ["voter", "i", "E", "K", "digest", "poll", "byte"])
def test_every_bound_element_matters(change):
    ct = _seal()
    args = dict(
        poll=POLL, voter=VOTER, i=1, e_point=E, k_point=mul(RHO, POLL.keys[1]), commitments_digest=DIGEST, ciphertext=ct
    )
    if change == "voter":
        args["voter"] = b"\x12" * 32
    elif change == "i":
        args["i"] = 2
    elif change == "E":
        args["e_point"] = E + base(1)
    elif change == "K":
        args["k_point"] = mul(RHO, POLL.keys[2])
    elif change == "digest":
        args["commitments_digest"] = b"\x08" * 32
    elif change == "poll":
        args["poll"] = test_poll(4, 1, 2, True, seed=b"other")[0]
    else:
        args["ciphertext"] = ct[:5] + bytes([ct[5] ^ 1]) + ct[6:]
    with pytest.raises(Invalid, match="does not decrypt"):
        envelope.open_(**args)


def test_the_decoder_takes_exactly_k_pairs_of_canonical_scalars():
    good = envelope.encode_pairs(PAIRS)
    assert envelope.decode_pairs(good, 2) == PAIRS
    for bad in (good[:-1], good + b"\0", b"", good[:64]):
        with pytest.raises(Invalid):
            envelope.decode_pairs(bad, 2)
    for value in (L, L + 1, 2**255 - 1, 2**256 - 1):
        for at in (0, 32, 64, 96):
            with pytest.raises(Invalid, match="share"):
                envelope.decode_pairs(good[:at] + value.to_bytes(32, "little") + good[at + 32 :], 2)
    with pytest.raises(Invalid):
        envelope.open_(POLL, VOTER, 1, E, mul(RHO, POLL.keys[1]), DIGEST, _seal()[:-1])
