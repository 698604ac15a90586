"""The ABCI server through its real framing code, over a real loopback socket."""
import asyncio
import os

import pytest

from abci_app.app import Application
from abci_app.abci.framing import encode_varint, frame, MAX_FRAME
from abci_app.abci.pb import abci
from abci_app.abci.server import AbciServer, parse_listen

from apphelpers import read_frame, read_responses, req


@pytest.fixture
def served(tmp_path):
    """Run an AbciServer on a loopback port in a fresh event loop."""
    loop = asyncio.new_event_loop()
    app = Application(str(tmp_path / "app"))
    server = AbciServer(app)
    loop.run_until_complete(server.start("tcp://127.0.0.1:0"))
    yield loop, server
    loop.run_until_complete(server.close())
    loop.close()
    app.close()


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 30))


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


def test_pipelined_requests_answered_in_order(served):
    loop, server = served

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        batch = b"".join([req(echo=abci.RequestEcho(message=f"m{i}")) for i in range(50)])
        batch += req(info=abci.RequestInfo()) + req(flush=abci.RequestFlush())
        writer.write(batch)                    # coalesced: many frames in one write
        await writer.drain()
        out = await read_responses(reader, 52)
        writer.close()
        return out
    out = run(loop, go())
    assert [r.echo.message for r in out[:50]] == [f"m{i}" for i in range(50)]
    assert out[50].WhichOneof("value") == "info" and out[51].WhichOneof("value") == "flush"


def test_split_frames_one_byte_at_a_time(served):
    loop, server = served

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        data = req(echo=abci.RequestEcho(message="split")) + req(flush=abci.RequestFlush())
        for b in data:
            writer.write(bytes([b]))
            await writer.drain()
            await asyncio.sleep(0)
        out = await read_responses(reader, 2)
        writer.close()
        return out
    out = run(loop, go())
    assert out[0].echo.message == "split" and out[1].WhichOneof("value") == "flush"


def test_multi_megabyte_message(served):
    loop, server = served
    big = "x" * (6 * 1024 * 1024)

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=1 << 24)
        writer.write(req(echo=abci.RequestEcho(message=big)) + req(flush=abci.RequestFlush()))
        await writer.drain()
        out = await read_responses(reader, 2)
        writer.close()
        return out
    out = run(loop, go())
    assert out[0].echo.message == big


def test_four_connections_served_concurrently(served):
    loop, server = served

    async def one(i):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(req(echo=abci.RequestEcho(message=str(i))) + req(flush=abci.RequestFlush()))
        await writer.drain()
        out = await read_responses(reader, 2)
        writer.close()
        return out[0].echo.message

    async def go():
        return await asyncio.gather(*(one(i) for i in range(4)))
    assert run(loop, go()) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("garbage", [
    b"\xff",                                   # truncated varint, then EOF
    encode_varint(10_000) + b"short",          # a length far larger than the data
    encode_varint(2 * 1024**3) + b"\x00" * 16,  # 2 GB claimed: refused before allocating
    b"\xff" * 11,                              # varint longer than 10 bytes
    frame(os.urandom(64)),                     # random bytes: not a Request
])
def test_malformed_frames_close_the_connection(served, garbage):
    loop, server = served

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(req(echo=abci.RequestEcho(message="before")) + req(flush=abci.RequestFlush()) + garbage)
        await writer.drain()
        writer.write_eof()
        out = await read_responses(reader, 2)
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return out, rest
    out, rest = run(loop, go())
    assert out[0].echo.message == "before" and rest == b""   # answered in order, then closed
    assert 2 * 1024**3 > MAX_FRAME


def test_refuses_all_interfaces():
    with pytest.raises(ValueError):
        parse_listen("tcp://0.0.0.0:26658")
    assert parse_listen("unix:///tmp/x.sock") == ("unix", "/tmp/x.sock")


def test_abci_cli_drives_the_server(tmp_path):
    """CometBFT's own reference client talks to our server."""
    import subprocess
    import socket
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[3]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    app = subprocess.Popen([sys.executable, "-m", "abci_app", "--home", str(tmp_path / "app"),
                            "--listen", f"tcp://127.0.0.1:{port}"], cwd=root,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                import time
                time.sleep(0.05)
        cli = [str(root / ".bin" / "abci-cli"), "--address", f"tcp://127.0.0.1:{port}"]
        echo = subprocess.run(cli + ["echo", "hello"], capture_output=True, text=True, timeout=30)
        assert "hello" in echo.stdout
        info = subprocess.run(cli + ["info"], capture_output=True, text=True, timeout=30)
        assert "mpcvote" in info.stdout
        check = subprocess.run(cli + ["check_tx", "0x00"], capture_output=True, text=True, timeout=30)
        assert "code: 18" in check.stdout   # NOT_INITIALISED: an empty home answers with a code
        query = subprocess.run(cli + ["query", "--path", "/polls", "0x00"], capture_output=True, text=True, timeout=30)
        assert "code: 18" in query.stdout
        assert app.poll() is None
    finally:
        app.terminate()
        app.wait(10)
