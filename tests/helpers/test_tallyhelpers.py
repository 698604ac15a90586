"""The pure parts of tallyhelpers: A from ballot records, a validator's own post, the counted-set digest."""

import itertools
from types import SimpleNamespace

from mpc_tx.protocol import tally
from mpc_tx.protocol.ballot import build_ballot
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest
from mpc_tx.protocol.group import base, random_scalar
from mpc_tx.protocol.keys import SigningKey

from badballots import chain_poll, one_hot_values
from tallyhelpers import fresh_aggregate, own_post, recomputed_digest

M, T, OPTIONS = 4, 2, ("a", "b", "c")


def _poll_and_records(choices):
    secrets = [random_scalar() for _ in range(M)]
    ctx = chain_poll("chain", 5, T, len(OPTIONS), [base(x).encode().hex() for x in secrets])
    poll = SimpleNamespace(ctx=ctx, k=len(OPTIONS), t=T, m=M)
    records = []
    for choice in choices:
        key = SigningKey.generate()
        raw = build_ballot(ctx, bytes.fromhex(key.public_hex), one_hot_values(poll.k, OPTIONS.index(choice)))
        records.append({"voter": key.public_hex, "ballot": raw.hex()})
    return poll, secrets, sorted(records, key=lambda r: r["voter"])


def test_every_validators_own_post_is_valid_and_any_t_plus_1_open_the_clear_text():
    poll, secrets, records = _poll_and_records(["a", "c", "c", "a", "c"])
    sums = fresh_aggregate(poll, records)
    posts = [tally.judge_pairs(sums, M, i, own_post(poll, i, secrets[i], records, sums)) for i in range(M)]
    assert [p.verdict for p in posts] == [tally.VALID] * M
    openings = {tally.open_tally(sums, 5, True, list(c)).counts for c in itertools.combinations(posts, T + 1)}
    assert openings == {(2, 0, 3)}


def test_a_post_over_another_set_is_named_and_the_digest_follows_the_records():
    poll, secrets, records = _poll_and_records(["a", "b", "b"])
    sums = fresh_aggregate(poll, records)
    other = own_post(poll, 1, secrets[1], records[:2], fresh_aggregate(poll, records[:2]))
    assert tally.judge_pairs(sums, M, 1, other).verdict == tally.NAMED
    assert fresh_aggregate(poll, records[::-1]) == sums  # the order of the records does not matter
    assert recomputed_digest(records) == counted_set_digest(
        [ballot_digest(r["voter"], bytes.fromhex(r["ballot"])) for r in records]
    )
