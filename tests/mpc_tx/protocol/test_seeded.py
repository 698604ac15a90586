"""The seeded scalar stream of the test vectors."""

import hashlib

from mpc_tx.protocol.encoding import frame
from mpc_tx.protocol.group import L, scalar_from_wide
from mpc_tx.protocol.seeded import TAG_SEEDED, SeededScalars


def test_the_same_seed_gives_the_same_stream():
    a, b = SeededScalars(b"seed"), SeededScalars(b"seed")
    assert [a() for _ in range(5)] == [b() for _ in range(5)]


def test_another_seed_gives_another_stream():
    a, b = SeededScalars(b"a"), SeededScalars(b"b")
    assert [a() for _ in range(3)] != [b() for _ in range(3)]


def test_scalars_follow_the_documented_derivation():
    draw = SeededScalars(b"vectors")
    for n in range(4):
        expected = scalar_from_wide(hashlib.sha512(frame(TAG_SEEDED, b"vectors", n)).digest())
        assert draw() == expected


def test_scalars_are_nonzero_and_reduced():
    draw = SeededScalars(b"range")
    values = [draw() for _ in range(50)]
    assert all(0 < s < L for s in values)
    assert len(set(values)) == 50


def test_repr_shows_the_count_not_the_seed():
    draw = SeededScalars(b"my-secret-seed")
    draw()
    draw()
    assert repr(draw) == "SeededScalars(drawn=2)"
    assert "secret" not in repr(draw)
