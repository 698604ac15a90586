"""Opening and checking a validator's share of a ballot, its key file, and the counted set's digest."""

import hashlib
import json

import pytest

from mpc_tx.protocol import digests
from mpc_tx.protocol.ballot import build_ballot, share_check
from mpc_tx.protocol.complaint import BALLOT_BAD, adjudicate, make_complaint
from mpc_tx.protocol.context import make_poll
from mpc_tx.protocol.group import L, base, random_scalar
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.sharing import reconstruct
from mpc_tx.worker import shares


def _key_file(tmp_path, doc):
    path = tmp_path / "enc_key.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    path.chmod(0o600)
    return path


def test_the_key_file_gives_the_scalar_and_the_registry_key(tmp_path):
    x = random_scalar()
    path = _key_file(tmp_path, {"type": "ristretto255-scalar", "secret": x.to_bytes(32, "little").hex()})
    assert shares.load_enc_scalar(path) == x
    assert shares.enc_public_hex(x) == base(x).encode().hex()


@pytest.mark.parametrize(
    "doc, reason",
    [
        ("{", "is not JSON"),
        ({"type": "ed25519", "seed": "11" * 32}, "does not hold a key of type ristretto255-scalar"),
        ({"type": "ristretto255-scalar", "secret": "zz" * 32}, "not hex"),
        ({"type": "ristretto255-scalar", "secret": "00" * 32}, "not a scalar in 1..l-1"),
        ({"type": "ristretto255-scalar", "secret": L.to_bytes(32, "little").hex()}, "not a scalar in 1..l-1"),
        ({"type": "ristretto255-scalar", "secret": "11" * 31}, "no 32-byte secret"),
    ],
)
def test_a_bad_key_file_is_refused_naming_the_file_not_its_content(tmp_path, doc, reason):
    path = _key_file(tmp_path, doc)
    with pytest.raises(ValueError) as err:
        shares.load_enc_scalar(path)
    assert reason in str(err.value) and str(path) in str(err.value)
    assert "11" * 8 not in str(err.value)
    with pytest.raises(ValueError, match="cannot read key file"):
        shares.load_enc_scalar(tmp_path / "missing.json")


def test_the_poll_context_is_the_chains(kit):
    vals = kit.Validators()
    keys = [base(x).encode() for x in vals.x]
    assert vals.ctx.header == make_poll(b"mpcvote-test", b"7", 1, 3, True, keys).header
    unanimity = shares.poll_context(kit.CHAIN, {**vals.record, "options": []})
    assert (unanimity.k, unanimity.one_hot) == (1, False)


def test_every_validator_opens_its_checked_value_shares_of_a_good_ballot(kit):
    vals = kit.Validators()
    voter = SigningKey.generate().public_hex
    raw = build_ballot(vals.ctx, bytes.fromhex(voter), [0, 1, 0])
    opened = [shares.open_share(vals.ctx, voter, raw, i, vals.x[i]) for i in range(vals.m)]
    assert all(o.good and o.reason == "" and o.ballot is not None for o in opened)
    for e, vote in enumerate([0, 1, 0]):
        assert reconstruct([o.values[e] for o in opened], 1) == vote  # the value halves: what the MPC takes
    assert all(len(o.values) == 3 and o.values == tuple(f for f, _ in o.pairs) for o in opened)
    ballot = opened[0].ballot
    for i, o in enumerate(opened):  # both halves kept, each pair on the committed polynomials (§10)
        assert share_check(vals.ctx, ballot, i, o.pairs) and o.commitments == ballot.commitments
    assert opened[0].digest == shares.ballot_digest(voter, raw)
    assert repr(opened[0]) == "Opened(good)" and str(opened[0].values[0]) not in repr(opened[0])
    assert str(opened[0].pairs[0][1]) not in repr(opened[0])
    held = opened[0].held()  # what the worker keeps until the fix: not the parsed ballot
    assert held.ballot is None and (held.pairs, held.commitments, held.digest, held.good) == (
        opened[0].pairs,
        ballot.commitments,
        opened[0].digest,
        True,
    )


def test_a_bad_share_is_found_by_its_validator_only_and_the_complaint_puts_the_ballot_out(kit):
    vals = kit.Validators()
    voter = SigningKey.generate().public_hex
    raw = kit.bad_ballot(vals, bytes.fromhex(voter), [1, 0, 0], 2)
    mine = shares.open_share(vals.ctx, voter, raw, 2, vals.x[2])
    assert not mine.good and mine.values is None and mine.pairs is None and "share 2" in mine.reason
    assert mine.commitments == mine.ballot.commitments  # public: what the aggregate sums
    assert all(shares.open_share(vals.ctx, voter, raw, i, vals.x[i]).good for i in (0, 1, 3))
    made = make_complaint(vals.ctx, b"\x11" * 32, mine.ballot, 2, vals.x[2])
    verdict = adjudicate(vals.ctx, bytes.fromhex(voter), b"\x11" * 32, raw, 2, made)
    assert verdict.outcome == BALLOT_BAD


def test_bytes_that_are_not_a_ballot_of_the_poll_give_nothing_to_complain_about(kit):
    vals = kit.Validators()
    voter = SigningKey.generate().public_hex
    for raw in (
        b"",
        b"\x01" * 100,
        build_ballot(shares.poll_context(kit.CHAIN, {**vals.record, "options": []}), bytes.fromhex(voter), [1]),
    ):
        opened = shares.open_share(vals.ctx, voter, raw, 0, vals.x[0])
        assert not opened.good and opened.ballot is None and opened.reason.startswith("ballot:")
    good = build_ballot(vals.ctx, bytes.fromhex(voter), [0, 0, 1])
    assert shares.open_share(vals.ctx, "not hex", good, 0, vals.x[0]).ballot is None


def test_the_counted_digest_is_over_each_ballots_voter_and_bytes_in_order():
    one, two = shares.ballot_digest("aa" * 32, b"\x01\x02"), shares.ballot_digest("bb" * 32, b"\x03")
    assert one == hashlib.sha256(("aa" * 32).encode() + b"\x01\x02").hexdigest()
    assert shares.counted_digest([one, two]) == digests.counted_set_digest([one, two])
    assert shares.counted_digest([one, two]) != shares.counted_digest([two, one])


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = _key_file(tmp_path, {"type": "ristretto255-scalar", "secret": random_scalar().to_bytes(32, "little").hex()})
    path.chmod(0o644)
    with pytest.raises(ValueError, match="open to other users"):
        shares.load_enc_scalar(path)
