"""Frames: unambiguous, typed, tagged."""

import pytest

from mpc_tx.protocol.encoding import Reader, Rejected, digest, frame
from mpc_tx.protocol.group import G


def test_frames_are_unambiguous():
    assert frame(b"t", b"ab", b"c") != frame(b"t", b"a", b"bc")
    assert frame(b"t", b"") != frame(b"t")
    assert frame(b"t1", b"x") != frame(b"t", b"1x")
    assert frame(b"t", 1) != frame(b"t", True)


def test_frame_item_encodings():
    assert frame(b"t") == b"\0\0\0\1t"
    assert frame(b"t", 258) == b"\0\0\0\1t" + b"\0\0\0\x08" + (258).to_bytes(8, "big")
    assert frame(b"t", True) == b"\0\0\0\1t\0\0\0\1\1"
    assert frame(b"t", G) == b"\0\0\0\1t\0\0\0\x20" + G.encode()
    assert len(digest(b"t", b"x")) == 32


def test_frame_refuses_what_it_cannot_encode():
    for item in ("text", 1.5, None):
        with pytest.raises(TypeError):
            frame(b"t", item)
    for item in (-1, 2**64):
        with pytest.raises(ValueError):
            frame(b"t", item)


def test_reader_and_rejection():
    r = Reader(b"abcdef")
    assert r.take(2) == b"ab" and not r.done()
    assert r.take(4) == b"cdef" and r.done()
    with pytest.raises(ValueError):
        r.take(1)
    assert not Rejected("why") and Rejected("why").reason == "why"
