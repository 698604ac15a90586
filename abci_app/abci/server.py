"""An asyncio ABCI 2.0 socket server: framing, connections, in-order responses.

CometBFT opens four connections (query, snapshot, mempool, consensus) and
pipelines requests on each, sending Flush after every synchronous call. The node
kills itself on a response out of order or of the wrong type, so each connection
answers its requests strictly in arrival order, and buffered responses go out on
Flush. The application's handlers are plain synchronous methods: one event loop
thread runs them one at a time, so no two handlers ever interleave.

Each connection is an asyncio.Protocol that cuts what one read brought into
messages and answers them right there: no coroutine switch per message (a
quarter of the app's time per CheckTx with streams). A read is at most 256 KiB,
so a burst of CheckTx on the mempool connection yields to the consensus
connection every ~170 txs.
"""

import asyncio
import ipaddress
import logging
import os

from mpc_tx.protocol import codes
from abci_app.abci.framing import FrameBuffer, frame, MAX_FRAME
from abci_app.abci.pb import abci

__all__ = ["METHODS", "AbciServer", "parse_listen"]

log = logging.getLogger("abci_app.abci.server")

# request field -> (application method, response field); every method is one of
# BaseApplication's (abci_app.abci.base), so an app answers each request, if only with the default.
METHODS = {
    "echo": ("echo", "echo"),
    "flush": (None, "flush"),
    "info": ("info", "info"),
    "init_chain": ("init_chain", "init_chain"),
    "query": ("query", "query"),
    "check_tx": ("check_tx", "check_tx"),
    "commit": ("commit", "commit"),
    "list_snapshots": ("list_snapshots", "list_snapshots"),
    "offer_snapshot": ("offer_snapshot", "offer_snapshot"),
    "load_snapshot_chunk": ("load_snapshot_chunk", "load_snapshot_chunk"),
    "apply_snapshot_chunk": ("apply_snapshot_chunk", "apply_snapshot_chunk"),
    "prepare_proposal": ("prepare_proposal", "prepare_proposal"),
    "process_proposal": ("process_proposal", "process_proposal"),
    "extend_vote": ("extend_vote", "extend_vote"),
    "verify_vote_extension": ("verify_vote_extension", "verify_vote_extension"),
    "finalize_block": ("finalize_block", "finalize_block"),
}


def parse_listen(address: str):
    """Split tcp://HOST:PORT or unix://PATH; a TCP host must be a loopback address.

    The app trusts its one peer (its own node) with the consensus connection, so
    nothing else may reach it: `0`, `0.0.0.0`, a host name or a LAN address are refused.
    """
    if address.startswith("unix://"):
        path = address[len("unix://") :]
        if not path:
            raise ValueError("unix:// needs a socket path")
        return ("unix", path)
    if address.startswith("tcp://"):
        host, sep, port = address[len("tcp://") :].rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"listen address {address!r} needs a port from 0 (any free one) to 65535")
        if host == "localhost":
            host = "127.0.0.1"
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(
                f"refusing to listen on {address}: give a loopback IP (127.0.0.1, ::1) "
                "or a unix:// socket, so that only the app's own node can reach it"
            )
        return ("tcp", (host, int(port)))
    raise ValueError(f"listen address must be tcp://HOST:PORT or unix://PATH, not {address!r}")


class AbciServer:
    """Serve one application (a BaseApplication) to any number of ABCI connections."""

    def __init__(self, app, max_frame: int = MAX_FRAME):
        self.app = app
        self.max_frame = max_frame
        self._server = None
        self.connections = 0

    async def start(self, address: str):
        kind, where = parse_listen(address)
        loop = asyncio.get_running_loop()
        if kind == "unix":
            if os.path.exists(where):
                os.unlink(where)
            # Only the owner (the node runs as the same user) may connect: create it 0600.
            umask = os.umask(0o177)
            try:
                self._server = await loop.create_unix_server(lambda: _Connection(self), path=where)
            finally:
                os.umask(umask)
            os.chmod(where, 0o600)
        else:
            self._server = await loop.create_server(lambda: _Connection(self), host=where[0], port=where[1])
        return self._server

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    async def serve_forever(self):
        async with self._server:
            await self._server.serve_forever()

    async def close(self):
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def handle(self, request) -> "abci.Response":
        """Answer one request.

        On the connections an outsider can reach (Info and Query through the RPC,
        CheckTx through the mempool) an unexpected exception becomes an answer with
        code INTERNAL: the node kills itself on an exception response, so one bad
        request would stop it. On the consensus connection a failure stays an
        exception response: the node stops rather than diverge.
        """
        which = request.WhichOneof("value")
        response = abci.Response()
        if which is None:
            response.exception.error = "empty request"
            return response
        method, field = METHODS[which]
        if method is None:
            response.flush.SetInParent()
            return response
        try:
            result = getattr(self.app, method)(getattr(request, which))
        except Exception as exc:
            fallback = _FALLBACKS.get(which)
            if fallback is not None:
                log.exception("%s failed; answered with code INTERNAL", which)
                getattr(response, field).CopyFrom(fallback(self.app, exc))
                return response
            log.exception("%s failed", which)
            # Genesis errors are the operator's to read; other messages may hold state, so only the type.
            detail = str(exc) if which == "init_chain" and isinstance(exc, ValueError) else type(exc).__name__
            response.exception.error = f"{which} failed: {detail}"
            return response
        getattr(response, field).CopyFrom(result)
        return response


def _internal_log(exc) -> str:
    # The exception's type only: its message could quote a tx or state.
    return f"internal error ({type(exc).__name__}); the app's log has the details"


def _info_fallback(app, exc):
    # Info is the handshake: the height and app hash must be the committed ones, or nothing.
    store = getattr(app, "store", None)
    return abci.ResponseInfo(
        data="mpcvote: " + _internal_log(exc),
        last_block_height=getattr(store, "height", 0),
        last_block_app_hash=getattr(store, "app_hash", b""),
    )


# Answers for requests an outsider can cause, when the application raised.
_FALLBACKS = {
    "echo": lambda app, exc: abci.ResponseEcho(),
    "info": _info_fallback,
    "query": lambda app, exc: abci.ResponseQuery(code=codes.INTERNAL, log=_internal_log(exc), codespace="mpcvote"),
    "check_tx": lambda app, exc: abci.ResponseCheckTx(code=codes.INTERNAL, log=_internal_log(exc), codespace="mpcvote"),
}


class _Connection(asyncio.Protocol):
    """One ABCI connection: messages in arrival order, responses held until Flush (or 1 MiB)."""

    def __init__(self, server: AbciServer):
        self.server = server
        self.frames = FrameBuffer(server.max_frame)
        self.pending, self.pending_bytes = [], 0
        self.transport, self.peer = None, "unix"

    def connection_made(self, transport):
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or "unix"
        self.server.connections += 1
        log.info("connection from %s", self.peer)

    def connection_lost(self, exc):
        self.server.connections -= 1

    # The node stops reading only if it is stuck; then stop reading it too (bounded memory).
    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def data_received(self, data: bytes):
        handle = self.server.handle
        for data in self.frames.feed(data):
            request = abci.Request()
            try:
                request.ParseFromString(data)
            except Exception:
                self._close("undecodable request")
                return
            out = frame(handle(request).SerializeToString())
            self.pending.append(out)
            self.pending_bytes += len(out)
            if self.pending_bytes > (1 << 20) or request.WhichOneof("value") == "flush":
                self.transport.write(b"".join(self.pending))
                self.pending, self.pending_bytes = [], 0
        if self.frames.error is not None:
            self._close(str(self.frames.error))

    def eof_received(self):
        if not self.frames.at_boundary():
            log.warning("connection from %s closed inside a frame", self.peer)
        return False  # close our side too

    def _close(self, why: str):
        # Answers already made go out first: the node sees every answer up to the bad frame.
        if self.pending:
            self.transport.write(b"".join(self.pending))
            self.pending, self.pending_bytes = [], 0
        log.warning("closing connection from %s: %s", self.peer, why)
        self.transport.close()
