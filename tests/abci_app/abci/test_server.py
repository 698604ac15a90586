"""The ABCI server through its real framing code, over a real loopback socket."""

import asyncio
import json
import os
import stat

import pytest

from mpc_tx.protocol import codes
from abci_app.app import Application
from abci_app.abci.framing import encode_varint, frame, MAX_FRAME
from abci_app.abci.pb import abci
from abci_app.abci.server import AbciServer, parse_listen

from apphelpers import HOSTILE_PATHS, Chain, read_responses, req


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


def test_pipelined_requests_answered_in_order(served):
    loop, server = served

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        batch = b"".join([req(echo=abci.RequestEcho(message=f"m{i}")) for i in range(50)])
        batch += req(info=abci.RequestInfo()) + req(flush=abci.RequestFlush())
        writer.write(batch)  # coalesced: many frames in one write
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


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff",  # truncated varint, then EOF
        encode_varint(10_000) + b"short",  # a length far larger than the data
        encode_varint(2 * 1024**3) + b"\x00" * 16,  # 2 GB claimed: refused before allocating
        b"\xff" * 11,  # varint longer than 10 bytes
        frame(os.urandom(64)),  # random bytes: not a Request
    ],
)
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
    assert out[0].echo.message == "before" and rest == b""  # answered in order, then closed
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
    app = subprocess.Popen(
        [sys.executable, "-m", "abci_app", "--home", str(tmp_path / "app"), "--listen", f"tcp://127.0.0.1:{port}"],
        cwd=root,
        stderr=subprocess.DEVNULL,
    )
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
        assert "code: 18" in check.stdout  # NOT_INITIALISED: an empty home answers with a code
        query = subprocess.run(cli + ["query", "--path", "/polls", "0x00"], capture_output=True, text=True, timeout=30)
        assert "code: 18" in query.stdout
        assert app.poll() is None
    finally:
        app.terminate()
        app.wait(10)


# --- hostile input through the real framing: nothing here may stop a node ------------------------


@pytest.fixture
def served_chain(tmp_path):
    """Run an AbciServer over an initialised Chain (one block in) on a loopback port."""
    loop = asyncio.new_event_loop()
    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    server = AbciServer(c.app)
    loop.run_until_complete(server.start("tcp://127.0.0.1:0"))
    yield loop, server, c
    loop.run_until_complete(server.close())
    loop.close()
    c.app.close()


def test_hostile_queries_through_the_real_framing_keep_the_connection(served_chain):
    """Every frame the node can send parses (path as bytes), and each is answered in order."""
    loop, server, _ = served_chain
    frames = b"".join(req(query=abci.RequestQuery(path=p)) for p in HOSTILE_PATHS)

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frames + req(echo=abci.RequestEcho(message="still here")) + req(flush=abci.RequestFlush()))
        await writer.drain()
        out = await read_responses(reader, len(HOSTILE_PATHS) + 2)
        writer.close()
        return out

    out = loop.run_until_complete(asyncio.wait_for(go(), 30))
    assert [r.WhichOneof("value") for r in out[:-2]] == ["query"] * len(HOSTILE_PATHS)
    assert all(r.query.code != 0 for r in out[:-2])
    assert out[-2].echo.message == "still here" and out[-1].WhichOneof("value") == "flush"


def test_a_bug_in_query_checktx_or_info_is_answered_internal_and_the_connection_stays(served_chain):
    loop, server, chain = served_chain

    def broken(_req):
        raise KeyError("secret share 1234")  # what a bug could carry: never echoed

    chain.app.query = chain.app.check_tx = chain.app.info = broken

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            req(query=abci.RequestQuery(path=b"/status"))
            + req(check_tx=abci.RequestCheckTx(tx=b"x"))
            + req(info=abci.RequestInfo())
            + req(flush=abci.RequestFlush())
        )
        await writer.drain()
        out = await read_responses(reader, 4)
        writer.close()
        return out

    q, ctx, info, flush = loop.run_until_complete(asyncio.wait_for(go(), 30))
    assert q.query.code == codes.INTERNAL and ctx.check_tx.code == codes.INTERNAL
    assert "KeyError" in q.query.log and "1234" not in q.query.log + ctx.check_tx.log
    assert info.WhichOneof("value") == "info" and info.info.last_block_height == chain.app.store.height
    assert flush.WhichOneof("value") == "flush"


def test_a_bad_genesis_reaches_the_operator_through_the_framing(tmp_path):
    chain = Chain(tmp_path / "app")
    del chain.registry[1]["mpc_ports"]
    request = abci.Request()
    request.init_chain.CopyFrom(
        abci.RequestInitChain(chain_id="c", app_state_bytes=json.dumps(chain.genesis["app_state"]).encode())
    )
    for key in chain.cons:
        request.init_chain.validators.add(pub_key={"ed25519": key}, power=10)
    response = AbciServer(chain.app).handle(request)
    assert response.WhichOneof("value") == "exception" and "lacks mpc_ports" in response.exception.error
    chain.app.close()


# --- the listener --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "tcp://0:26658",
        "tcp://0.0.0.0:26658",
        "tcp://[::]:26658",
        "tcp://10.1.2.3:26658",
        "tcp://192.168.1.5:26658",
        "tcp://example.org:26658",
        "tcp://:26658",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:x",
        "unix://",
        "http://127.0.0.1:1",
    ],
)
def test_listener_refuses_anything_but_loopback_or_unix(address):
    with pytest.raises(ValueError):
        parse_listen(address)


def test_listener_takes_loopback_and_unix():
    assert parse_listen("tcp://127.0.0.1:26658") == ("tcp", ("127.0.0.1", 26658))
    assert parse_listen("tcp://127.0.0.2:1") == ("tcp", ("127.0.0.2", 1))
    assert parse_listen("tcp://[::1]:26658") == ("tcp", ("::1", 26658))
    assert parse_listen("tcp://localhost:26658") == ("tcp", ("127.0.0.1", 26658))


def test_unix_socket_is_the_owners_only(tmp_path):
    loop = asyncio.new_event_loop()
    app = Application(str(tmp_path / "app"))
    server = AbciServer(app)
    path = tmp_path / "abci.sock"
    loop.run_until_complete(server.start(f"unix://{path}"))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        loop.run_until_complete(server.close())
        loop.close()
        app.close()
