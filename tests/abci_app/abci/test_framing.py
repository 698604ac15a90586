"""ABCI wire framing without a socket: unsigned varints, and FrameBuffer cutting a byte stream into messages."""

import asyncio

import pytest

from abci_app.abci.framing import MAX_FRAME, FrameBuffer, FrameError, encode_varint, frame


def decode_varint(data: bytes) -> tuple[int, int]:
    """An independent reader: (value, bytes used) of the unsigned LEB128 varint at the start of data."""
    value = 0
    for i, b in enumerate(data):
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, i + 1
    raise ValueError("truncated varint")


VAR_INTS = [0, 1, 127, 128, 255, 300, 16383, 16384, 2**31, 2**63 - 1, 2**63, 2**64 - 1]


def test_varint_round_trip():
    for n in (0, 1, 127, 128, 300, 2**31, 2**63):
        data = encode_varint(n)

        async def parse():
            r = asyncio.StreamReader()
            r.feed_data(data + b"x" * 0)
            r.feed_eof()
            length = 0
            shift = 0
            for b in data:
                length |= (b & 0x7F) << shift
                shift += 7
            return length

        assert asyncio.run(parse()) == n
    assert encode_varint(300) == b"\xac\x02"  # unsigned LEB128, not zig-zag (which gives \xd8\x04)


@pytest.mark.parametrize("n", VAR_INTS)
def test_varint_is_minimal_unsigned_leb128(n):
    data = encode_varint(n)
    assert decode_varint(data) == (n, len(data))
    assert len(data) == max(1, -(-n.bit_length() // 7))  # no padding bytes
    assert all(b & 0x80 for b in data[:-1]) and not data[-1] & 0x80


def test_varint_boundaries():
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(128) == b"\x80\x01"
    assert encode_varint(2**64 - 1) == b"\xff" * 9 + b"\x01"  # the longest a uint64 needs: 10 bytes


def test_frame_prefixes_the_length():
    assert frame(b"") == b"\x00"
    assert frame(b"abc") == b"\x03abc"
    payload = b"x" * 300
    assert frame(payload) == b"\xac\x02" + payload


def test_whole_frames_in_one_feed_come_out_in_order():
    payloads = [b"", b"a", b"bc" * 100, bytes(range(256))]
    buf = FrameBuffer()
    assert buf.feed(b"".join(frame(p) for p in payloads)) == payloads
    assert buf.at_boundary() and buf.error is None


def test_a_frame_split_byte_by_byte_comes_out_once_whole():
    payloads = [b"first", b"x" * 200, b"last"]  # 200 needs a two-byte prefix: split inside the prefix too
    data = b"".join(frame(p) for p in payloads)
    buf, out = FrameBuffer(), []
    for i in range(len(data)):
        got = buf.feed(data[i : i + 1])
        out += got
        assert len(got) <= 1
    assert out == payloads and buf.at_boundary()


def test_a_partial_frame_is_held_until_the_rest_arrives():
    buf = FrameBuffer()
    data = frame(b"hello") + frame(b"world")
    assert buf.feed(data[:9]) == [b"hello"]
    assert not buf.at_boundary()  # "wor" of the second frame is held
    assert buf.feed(data[9:]) == [b"world"]
    assert buf.at_boundary()


def test_an_empty_feed_returns_nothing():
    buf = FrameBuffer()
    assert buf.feed(b"") == [] and buf.at_boundary()


def test_a_frame_of_exactly_max_frame_passes_and_one_more_byte_is_refused():
    ok = FrameBuffer(max_frame=16)
    assert ok.feed(frame(b"y" * 16)) == [b"y" * 16] and ok.error is None
    over = FrameBuffer(max_frame=16)
    assert over.feed(frame(b"before") + frame(b"z" * 17)) == [b"before"]
    assert isinstance(over.error, FrameError) and "17" in str(over.error)


def test_an_oversized_length_is_refused_before_its_body_arrives():
    buf = FrameBuffer()
    assert buf.feed(encode_varint(MAX_FRAME + 1)) == []
    assert isinstance(buf.error, FrameError)
    assert MAX_FRAME == 64 * 1024 * 1024


def test_a_length_prefix_longer_than_ten_bytes_is_an_error():
    buf = FrameBuffer()
    assert buf.feed(frame(b"ok") + b"\xff" * 11) == [b"ok"]
    assert isinstance(buf.error, FrameError) and "10 bytes" in str(buf.error)


def test_nine_continuation_bytes_wait_for_more():
    buf = FrameBuffer()
    assert buf.feed(b"\x80" * 9) == [] and buf.error is None  # a prefix may still end at byte 10
    assert buf.feed(b"\x80") == [] and isinstance(buf.error, FrameError)


def test_nothing_after_an_error_is_ever_returned():
    buf = FrameBuffer(max_frame=4)
    buf.feed(frame(b"too long"))
    assert buf.error is not None
    assert buf.feed(frame(b"ok")) == [] and buf.feed(frame(b"ok")) == []
    assert buf.at_boundary()  # the held bytes are dropped


def test_a_prefix_may_use_ten_bytes_but_not_eleven():
    ten = FrameBuffer()
    assert ten.feed(b"\x83" + b"\x80" * 8 + b"\x00" + b"abc") == [b"abc"]  # 3, padded to ten bytes
    eleven = FrameBuffer()
    assert eleven.feed(b"\x80" * 10 + b"\x00") == [] and isinstance(eleven.error, FrameError)
