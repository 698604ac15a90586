"""The app hash: a versioned, domain-separated chain of each block's write set."""

import hashlib
import random
import struct

from mpc_tx.protocol.keys import SigningKey

from abci_app.store.apphash import GENESIS, VERSION, next_app_hash
from apphelpers import Chain, poll_body

WRITES = {b"poll/0000000000000001": b'{"id":1}', b"nonce/ab": b"3", b"ballot/0000000000000001/ab": None}


def test_genesis_and_version():
    assert GENESIS == bytes(32) and VERSION == 1


def test_the_hash_is_32_raw_bytes_and_deterministic():
    h = next_app_hash(GENESIS, WRITES)
    assert isinstance(h, bytes) and len(h) == 32
    assert next_app_hash(GENESIS, dict(WRITES)) == h


def test_the_order_the_writes_were_made_in_does_not_matter():
    """The write set is hashed in sorted key order, so two nodes that staged the same writes agree."""
    items = list(WRITES.items()) + [(b"k%03d" % i, b"v%d" % i) for i in range(50)]
    expected = next_app_hash(GENESIS, dict(items))
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert next_app_hash(GENESIS, dict(items)) == expected


def test_an_empty_block_keeps_the_hash():
    previous = next_app_hash(GENESIS, WRITES)
    assert next_app_hash(previous, {}) == previous
    assert next_app_hash(GENESIS, {}) == GENESIS


def test_every_part_of_the_write_set_and_the_previous_hash_count():
    h = next_app_hash(GENESIS, WRITES)
    variants = [
        next_app_hash(b"\x01" * 32, WRITES),  # another history
        next_app_hash(GENESIS, {**WRITES, b"nonce/ab": b"4"}),  # another value
        next_app_hash(GENESIS, {**WRITES, b"nonce/ab": None}),  # a delete instead of a put
        next_app_hash(GENESIS, {**WRITES, b"nonce/ab": b""}),  # an empty value is not a delete
        next_app_hash(GENESIS, {k: v for k, v in WRITES.items() if k != b"nonce/ab"}),  # a write fewer
        next_app_hash(GENESIS, {**WRITES, b"x": b"y"}),  # a write more
    ]
    assert len({h, *variants}) == len(variants) + 1


def test_lengths_keep_keys_and_values_apart():
    """Without length prefixes these two write sets would hash the same bytes."""
    assert next_app_hash(GENESIS, {b"ab": b"c"}) != next_app_hash(GENESIS, {b"a": b"bc"})


def test_the_documented_construction():
    """sha256(domain, previous, then per sorted key: len(key) key, and 0 for a delete or 1 len(value) value)."""
    expected = hashlib.sha256(
        b"mpcvote/app-hash/v1\x00"
        + GENESIS
        + struct.pack(">I", 1)
        + b"a"
        + b"\x01"
        + struct.pack(">Q", 1)
        + b"1"
        + struct.pack(">I", 1)
        + b"b"
        + b"\x00"
    ).digest()
    assert next_app_hash(GENESIS, {b"b": None, b"a": b"1"}) == expected


def test_pinned_value():
    """A change to the encoding changes every chain's app hash: it needs a new VERSION, not a quiet edit."""
    assert (
        next_app_hash(GENESIS, {b"a": b"1", b"b": None}).hex()
        == "04163bda7d16ecc0edd5960c14fb3680b2471ff226ffdc41014b37fe65d64e44"
    )


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
