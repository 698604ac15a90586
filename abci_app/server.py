"""An asyncio ABCI 2.0 socket server: framing, connections, in-order responses.

CometBFT opens four connections (query, snapshot, mempool, consensus) and
pipelines requests on each, sending Flush after every synchronous call. The node
kills itself on a response out of order or of the wrong type, so each connection
answers its requests strictly in arrival order, and buffered responses go out on
Flush. The application's handlers are plain synchronous methods: one event loop
thread runs them one at a time, so no two handlers ever interleave.
"""
import asyncio
import logging
import os

from .framing import FrameError, frame, read_frame, MAX_FRAME
from .pb import abci

__all__ = ["METHODS", "AbciServer", "parse_listen"]

log = logging.getLogger("abci_app.server")

# request field -> (application method, response field)
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
    """Split tcp://HOST:PORT or unix://PATH; refuse to listen on all interfaces."""
    if address.startswith("unix://"):
        return ("unix", address[len("unix://"):])
    if address.startswith("tcp://"):
        host, _, port = address[len("tcp://"):].rpartition(":")
        host = host.strip("[]")
        if host in ("", "0.0.0.0", "::"):
            raise ValueError(f"refusing to listen on all interfaces ({address}): give a loopback address")
        return ("tcp", (host, int(port)))
    raise ValueError(f"listen address must be tcp://HOST:PORT or unix://PATH, not {address!r}")


class AbciServer:
    """Serve one application object to any number of ABCI connections."""

    def __init__(self, app, max_frame: int = MAX_FRAME):
        self.app = app
        self.max_frame = max_frame
        self._server = None
        self.connections = 0

    async def start(self, address: str):
        kind, where = parse_listen(address)
        if kind == "unix":
            if os.path.exists(where):
                os.unlink(where)
            self._server = await asyncio.start_unix_server(self._serve, path=where, limit=1 << 20)
        else:
            self._server = await asyncio.start_server(self._serve, host=where[0], port=where[1],
                                                      limit=1 << 20)
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
        """Answer one request; an exception becomes an Exception response."""
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
        except Exception as exc:  # a bug: the node stops rather than diverge
            log.exception("%s failed", which)
            response.exception.error = f"{which} failed: {type(exc).__name__}"
            return response
        getattr(response, field).CopyFrom(result)
        return response

    async def _serve(self, reader, writer):
        self.connections += 1
        peer = writer.get_extra_info("peername") or "unix"
        log.info("connection from %s", peer)
        # Responses wait here until the node's Flush (one send for many), or until 1 MiB.
        pending, pending_bytes = [], 0
        try:
            while True:
                try:
                    data = await read_frame(reader, self.max_frame)
                except FrameError as exc:
                    log.warning("closing connection from %s: %s", peer, exc)
                    return
                if data is None:
                    return
                request = abci.Request()
                try:
                    request.ParseFromString(data)
                except Exception:
                    log.warning("closing connection from %s: undecodable request", peer)
                    return
                response = self.handle(request)
                out = frame(response.SerializeToString())
                pending.append(out)
                pending_bytes += len(out)
                which = request.WhichOneof("value")
                if which == "flush" or pending_bytes > (1 << 20):
                    writer.write(b"".join(pending))
                    pending, pending_bytes = [], 0
                    await writer.drain()
                elif which == "check_tx":
                    # A burst of CheckTx (new txs, or the recheck after a commit) is all in the
                    # buffer: without a yield here the consensus connection waits it out, and
                    # proposals and votes time out.
                    await asyncio.sleep(0)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            writer.close()
