"""An MPyC runtime built in code, with pinned party identities and a safe zero test.

MPyC 0.11 is meant to be started from the command line: ``import mpyc.runtime`` parses
``sys.argv`` and builds a default runtime at import time. Here the runtime is built from
explicit arguments and then hardened where MPyC falls short of what mpcvote promises:

- Links. MPyC's TLS mode reads ``.config/party_{pid}.crt`` relative to the working
  directory, listens on all interfaces and believes the party number a client declares
  in its first two bytes. ``start`` is replaced: the TLS contexts are built once from
  the paths given (so the key files can be deleted right after) and trust exactly the
  parties' self-signed certificates from the registry (no CA, no names checked), the
  listener binds only the party's registered host, and every link, in both directions,
  must present the certificate whose SHA-256 the registry pins for the party it claims;
  otherwise it is closed before a byte of it (or of our PRSS keys) is used.
- Zero test. MPyC 0.11's ``is_zero_public`` / ``np_is_zero_public`` open a*r at degree
  2t without resharing in large fields; the opened polynomial factors back to a. Every
  comparison ends in them. They are rebound on the runtime to versions that reshare
  a*r to degree t (a real secure multiplication) before opening.
- Job identity. Right after TLS both ends of a link send the job's identity (poll,
  attempt, counted set: ``job_id``) and refuse a mismatch before a party slot is taken or
  a PRSS key is sent: a link that reaches another job's process (a stale port, a job of
  the same validator) is closed, never admitted.
- Peer data. Nothing a peer sends is unpickled as an object. Arrays go the way MPyC's
  ``mix32_64bit`` option sends them (``to_bytes``/``from_bytes``), and ``from_bytes`` is
  replaced by one that refuses a message of the wrong length (the receiver's own share
  count, set per call of ``input``/``output``/``_reshare``) or holding a value not below
  the field's order; ``transfer`` (the shutdown barrier) unpickles with no global
  allowed and accepts only a small int. The link refuses a frame over the job's message
  cap, a second frame under one label, and more unread data than the job can need. A
  refused message ends the job: ``refusal(rt)`` names the sender (see mpc_tx.mpc.job).
- Lost links. MPyC raises from ``connection_lost`` and never reports a dead peer; here a
  lost link resolves ``peer_lost(rt)`` so a job can stop instead of hanging. A party that
  stops on purpose (deadline, a lost peer) says so first (``farewell``), so that its peers
  do not count the link it then closes as lost: every party's verdict rests on its own
  view of who is missing, and present parties agree on it.
"""

import asyncio
import contextvars
import hashlib
import hmac
import io
import logging
import math
import os
import pickle
import shutil
import ssl
import struct
import sys
import tempfile
import time
import types
import warnings
from asyncio import Future
from contextlib import contextmanager

__all__ = [
    "load_mpyc",
    "build_runtime",
    "private_tls_files",
    "pem_sha256",
    "exchange",
    "peer_lost",
    "farewell",
    "absent_parties",
    "outstanding_parties",
    "shutdown",
    "prss_default",
    "random_shares",
    "PeerRefused",
    "refuse_message",
    "refusal",
    "refused",
    "link_hello",
    "message_cap",
]

logger = logging.getLogger("mpcvote.mpc")

_MPYC_ENV = ("MPYC_NONUMPY", "MPYC_NOGMPY", "MPYC_NOPRSS", "MPYC_MIX32_64BIT", "MPYC_NOUVLOOP")
_PRSS_MAX_KEYS = 1024  # C(m, t) above this: PRSS off by default
# MPyC labels messages with 64-bit hashes of its program counter; it never awaits this one.
_FAREWELL_PC = -(2**63)
# Sent by both ends right after TLS: a fixed tag, then the 32-byte job identity.
_HELLO_TAG = b"mpcvote/mpc-link/v1\x00"
_HELLO_BYTES = len(_HELLO_TAG) + 32
_FRAME_HEAD = struct.Struct("<qI")  # MPyC's frame: program counter label, payload size
_SMALL_INT = 1 << 16  # what transfer() may carry: MPyC's shutdown barrier sends a pid
# Share count the current input/output/_reshare call expects from each peer; a Task
# copies the context it is created in, so each MPyC coroutine sees its own count.
_expected_count = contextvars.ContextVar("mpcvote_expected_count", default=None)


def load_mpyc():
    """Import mpyc.runtime without letting it read this process's argv or configure logging."""
    if "mpyc.runtime" in sys.modules:
        return sys.modules["mpyc.runtime"]
    saved_argv = sys.argv
    for name in _MPYC_ENV:  # these switch off numpy, gmpy2 or PRSS behind our back
        os.environ.pop(name, None)
    guard = None
    if not logging.root.handlers:  # MPyC's basicConfig would log to stdout
        guard = logging.NullHandler()
        logging.root.addHandler(guard)
    sys.argv = [saved_argv[0] if saved_argv else "mpcvote"]
    try:
        with warnings.catch_warnings():  # MPyC 0.11 still imports numpy.core
            warnings.filterwarnings("ignore", "numpy.core is deprecated", DeprecationWarning)
            import mpyc.runtime
    finally:
        sys.argv = saved_argv
        if guard is not None:
            logging.root.removeHandler(guard)
    mpyc.runtime.pickle = _PeerPickle
    from mpyc import finfields

    finfields.FiniteFieldElement.from_bytes = classmethod(_checked_from_bytes)
    return mpyc.runtime


class PeerRefused(Exception):
    """A peer's message broke the wire contract; the job ends naming the sender."""

    def __init__(self, sender, reason):
        super().__init__(f"party {sender}: {reason}")
        self.sender = sender
        self.reason = reason


class _Inbound(bytes):
    """A payload as received, tagged with the party that sent it."""

    sender = None


def refuse_message(sender, reason) -> "PeerRefused":
    """Record that party sender's message is refused; return the exception that ends the job."""
    from mpyc import asyncoro as coro

    rt = coro.runtime
    links = getattr(rt, "_mpcvote_links", None)
    if links is not None and sender is not None:
        links.refuse_peer(sender, reason)
    return PeerRefused(sender, reason)


class _NoGlobals(pickle.Unpickler):
    """Unpickle plain data only: no class, no function, no numpy state."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("a global in a peer's pickle")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("a persistent id in a peer's pickle")


class _PeerPickle:
    """Stand-in for the pickle module inside mpyc.runtime: only transfer() still uses it."""

    dumps = staticmethod(pickle.dumps)

    @staticmethod
    def loads(data):
        sender = getattr(data, "sender", None)
        try:
            value = _NoGlobals(io.BytesIO(data)).load()
        except Exception as exc:  # any malformed pickle: never let its details through
            raise refuse_message(sender, f"transfer payload refused ({type(exc).__name__})") from None
        if type(value) is not int or not 0 <= value < _SMALL_INT:
            raise refuse_message(sender, "transfer payload is not a small int")
        return value


def _checked_from_bytes(cls, data):
    """Return the field values in a share message, refusing a wrong length or a value >= the order."""
    sender = getattr(data, "sender", None)
    width = cls.byte_length
    count = _expected_count.get()
    size = len(data)
    if size % width or (count is not None and size != count * width):
        expected = "a multiple of %d" % width if count is None else str(count * width)
        raise refuse_message(sender, f"share message of {size} bytes, expected {expected}")
    from_bytes = int.from_bytes
    values = [from_bytes(data[i : i + width], "little") for i in range(0, size, width)]
    order = cls.order
    if any(v >= order for v in values):
        raise refuse_message(sender, "share message holds a value not below the field's order")
    return values


def _share_count(x) -> int | None:
    """Return how many field elements MPyC marshals for x (it sends x[0] of a list of arrays)."""
    if isinstance(x, list):
        if not x:
            return 0
        first = x[0]
        return _share_count(first) if hasattr(first, "shape") else len(x)
    shape = getattr(x, "shape", None)
    return math.prod(shape) if shape is not None else 1


def _sized(method):
    """Wrap an MPyC communication method so that its coroutine knows the share count to expect."""

    def call(x, *args, **kwargs):
        token = _expected_count.set(_share_count(x))
        try:
            return method(x, *args, **kwargs)
        finally:
            _expected_count.reset(token)

    call.__wrapped__ = method
    return call


load_mpyc()
from mpyc import asyncoro  # noqa: E402  (after load_mpyc neutralised argv)
from mpyc.numpy import np  # noqa: E402


def prss_default(m: int, t: int) -> bool:
    """Tell whether PRSS is on by default: it costs C(m, t) keys per party."""
    return math.comb(m, t) <= _PRSS_MAX_KEYS


@contextmanager
def private_tls_files(cert_pem, key_pem, peers_pem):
    """Write the TLS material into a fresh 0700 directory (files 0600); remove it on exit.

    peers_pem is the parties' pinned certificates, concatenated. Yields (cert_path,
    key_path, peers_path).
    """
    folder = tempfile.mkdtemp(prefix="mpcvote-tls-")
    os.chmod(folder, 0o700)
    try:
        paths = []
        for name, pem in (("party.crt", cert_pem), ("party.key", key_pem), ("peers.crt", peers_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem.encode() if isinstance(pem, str) else pem)
            paths.append(path)
        yield tuple(paths)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tls_contexts(cert_path, key_path, peers_path):
    with open(peers_path, "rb") as f:
        peers_pem = f.read().decode("ascii")
    # Trust exactly the parties' self-signed certificates (cadata: never the system's CAs), each
    # as its own anchor (partial chain). No names are checked: a link is admitted only on the
    # certificate pinned for the party it claims (_Links.presents_pin), in both directions.
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=peers_pem)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=peers_pem)
    client.check_hostname = False
    for context in (server, client):
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(cert_path, keyfile=key_path)
    with open(cert_path, "rb") as f:
        own_pem = f.read()
    return server, client, own_pem


def _der_sha256(cert_pem) -> bytes:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem.decode("ascii"))).digest()


def pem_sha256(cert_pem) -> str | None:
    """Return the SHA-256 (lower-case hex) of a PEM certificate's DER, as the registry pins it; None if not PEM."""
    try:
        text = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).hexdigest()
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError):
        return None


class _Links:
    """Per-runtime state of the MPC links: pins, job identity, caps, losses, refusals."""

    def __init__(self, rt, pins, server_ctx, client_ctx, job_id=bytes(32), max_message=1 << 20):
        self.rt = rt
        self.pins = pins
        self.server_ctx = server_ctx
        self.client_ctx = client_ctx
        self.hello = link_hello(job_id)
        self.max_message = max_message
        # A peer may run a few steps ahead of us; more unread data than this it cannot need.
        self.max_held = 8 * max_message
        self.closing = False
        self.claimed = set()
        self.lost = set()
        self.lost_future = rt._loop.create_future()
        self.departed = set()
        self.refused = 0
        self.reasons = set()
        self.refusal = None  # (sender, reason) of the first refused message
        self.refusal_future = rt._loop.create_future()

    def presents_pin(self, transport, pid) -> bool:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return der is not None and hmac.compare_digest(hashlib.sha256(der).digest(), self.pins[pid])

    def admission_error(self, transport, claimed):
        rt = self.rt
        if not 0 <= claimed < rt.pid:
            return f"claims party {claimed}, which never connects to party {rt.pid}"
        if claimed in self.claimed or rt.parties[claimed].protocol is not None:
            return f"claims party {claimed}, which is already connected"
        if not self.presents_pin(transport, claimed):
            return f"claims party {claimed} with a certificate not pinned for it"
        return None

    def peer_departed(self, pid):
        if pid not in self.departed:
            self.departed.add(pid)
            logger.info("party %d is leaving the job", pid)

    def peer_lost(self, pid, exc):
        if pid in self.lost or pid in self.departed:
            return
        self.lost.add(pid)
        logger.warning("lost the link to party %d (%s)", pid, type(exc).__name__ if exc else "closed")
        if not self.lost_future.done():
            self.lost_future.set_result(pid)

    def refuse_peer(self, pid, reason):
        """Record that party pid sent a message breaking the wire contract (the first one counts)."""
        if self.refusal is not None:
            return
        self.refusal = (pid, reason)
        logger.warning("refused a message from party %d: %s", pid, reason)
        if not self.refusal_future.done():
            self.refusal_future.set_result(pid)


def link_hello(job_id: bytes) -> bytes:
    """Return what both ends of a link send right after TLS: a tag and the job identity."""
    if len(job_id) != 32:
        raise ValueError("a job identity is 32 bytes")
    return _HELLO_TAG + bytes(job_id)


class _PinnedExchanger(asyncoro.MessageExchanger):
    """MPyC's message exchanger: same job, pinned certificate, bounded frames, tagged payloads.

    A link goes: TLS; both ends send the job's hello and check the other's; the client
    (lower pid) then sends its pid and PRSS keys, which the server admits only with the
    certificate pinned for that pid; then MPyC's frames, each within the job's cap.
    """

    __slots__ = ("admitted", "refused", "claim", "greeted", "greeting", "held")

    def __init__(self, rt, peer_pid=None):
        super().__init__(rt, peer_pid)
        self.admitted = False
        self.refused = False
        self.claim = None
        self.greeted = False
        self.greeting = rt._loop.create_future()  # client side: True once admitted, else False
        self.held = 0  # bytes received and not yet claimed by the computation

    def _settle(self, admitted):
        if not self.greeting.done():
            self.greeting.set_result(admitted)

    def _refuse(self, reason, once=False):
        self.refused = True
        links = self.runtime._mpcvote_links
        links.refused += 1
        peer = self.transport.get_extra_info("peername")
        level = logging.DEBUG if once and reason in links.reasons else logging.WARNING
        links.reasons.add(reason)
        logger.log(level, "refused MPC link with %s: %s", peer[0] if peer else "?", reason)
        self.transport.abort()
        self._settle(False)

    def _refuse_message(self, reason):
        """End the job: this admitted peer sent a frame that breaks the wire contract."""
        self.runtime._mpcvote_links.refuse_peer(self.peer_pid, reason)
        self.refused = True
        self.transport.abort()

    def connection_made(self, transport):
        self.transport = transport
        links = self.runtime._mpcvote_links
        if self.peer_pid is not None and not links.presents_pin(transport, self.peer_pid):
            # start() retries this server: say it once, not twice a second.
            self._refuse(f"server is not the certificate pinned for party {self.peer_pid}", once=True)
            return
        transport.write(links.hello)  # our job's identity; nothing else until the peer's matches

    def data_received(self, data):
        if self.refused:
            return
        self.bytes.extend(data)
        buf = self.bytes
        rt = self.runtime
        links = rt._mpcvote_links
        if not self.greeted:
            if len(buf) < _HELLO_BYTES:
                if bytes(buf) != links.hello[: len(buf)]:
                    self._refuse("greets with another job's identity", once=True)
                return
            if not hmac.compare_digest(bytes(buf[:_HELLO_BYTES]), links.hello):
                self._refuse("greets with another job's identity", once=True)
                return
            del buf[:_HELLO_BYTES]
            self.greeted = True
            if self.peer_pid is not None:  # client: the server runs our job; now our pid and keys
                self.admitted = True
                asyncoro.MessageExchanger.connection_made(self, self.transport)
                self._settle(True)
        if self.peer_pid is None:  # server: the client's claimed pid, then its PRSS keys
            if len(buf) < 2:
                return
            claimed = int.from_bytes(buf[:2], "little")
            if not self.admitted:
                reason = links.admission_error(self.transport, claimed)
                if reason:
                    self._refuse(reason)
                    return
                self.admitted = True
                self.claim = claimed
                links.claimed.add(claimed)
            keys = 0 if rt.options.no_prss else rt._prss_keys_from_peer(claimed)
            if len(buf) < 2 + keys:
                return
            if keys:
                rt._prss_keys_from_peer(claimed, bytes(buf[2 : 2 + keys]))
            del buf[: 2 + keys]
            self.peer_pid = claimed
            rt.set_protocol(claimed, self)
        self._frames(buf, links)

    def _frames(self, buf, links):
        while len(buf) >= _FRAME_HEAD.size:
            pc, size = _FRAME_HEAD.unpack_from(buf)
            if size > links.max_message:
                self._refuse_message(f"a message of {size} bytes, over the job's cap of {links.max_message}")
                return
            end = _FRAME_HEAD.size + size
            if len(buf) < end:
                break
            payload = _Inbound(buf[_FRAME_HEAD.size : end])
            payload.sender = self.peer_pid
            del buf[:end]
            if pc == _FAREWELL_PC:
                links.peer_departed(self.peer_pid)
                continue
            waiting = self.buffers.get(pc)
            if isinstance(waiting, Future):
                del self.buffers[pc]
                if not waiting.done():
                    waiting.set_result(payload)
            elif waiting is not None:
                self._refuse_message("two messages under one label")
                return
            else:
                self.held += size
                if self.held > links.max_held:
                    self._refuse_message(f"more than {links.max_held} bytes of unread messages")
                    return
                self.buffers[pc] = payload

    def receive(self, pc):
        payload = self.buffers.pop(pc, None)
        if payload is None:
            payload = self.buffers[pc] = Future(loop=self.runtime._loop)
        else:
            self.held -= len(payload)
        return payload

    def connection_lost(self, exc):
        rt = self.runtime
        links = rt._mpcvote_links
        pid = self.peer_pid
        self._settle(False)
        if self.refused or not self.admitted:
            return
        if pid is None or rt.parties[pid].protocol is not self:
            links.claimed.discard(self.claim)  # admitted, but dropped before its keys arrived
            return
        if links.closing:
            rt.unset_protocol(pid)
            return
        links.peer_lost(pid, exc)


async def _pinned_start(self):
    """Open pinned TLS links with all parties; listen on our registered host only."""
    m = len(self.parties)
    logger.info(
        "start MPyC %s runtime: party %d of %d, threshold %d, PRSS %s",
        self.version,
        self.pid,
        m,
        self.threshold,
        "off" if self.options.no_prss else "on",
    )
    if m == 1:
        self.start_time = time.time()
        return

    links = self._mpcvote_links
    loop = self._loop
    for peer in self.parties:
        peer.protocol = Future(loop=loop) if peer.pid == self.pid else None
    server = None
    if self.pid:  # parties with a lower number connect to us
        own = self.parties[self.pid]
        server = await loop.create_server(
            lambda: _PinnedExchanger(self), host=own.host, port=own.port, ssl=links.server_ctx, reuse_address=True
        )
        logger.info("listening on %s port %d", own.host, own.port)

    async def connect(peer):
        while True:
            try:
                _, protocol = await loop.create_connection(
                    lambda: _PinnedExchanger(self, peer.pid),
                    peer.host,
                    peer.port,
                    ssl=links.client_ctx,
                    ssl_handshake_timeout=10,
                )
                try:
                    admitted = await asyncio.wait_for(asyncio.shield(protocol.greeting), 10)
                except asyncio.TimeoutError:
                    protocol.transport.abort()
                    admitted = False
                if admitted:
                    return
                # Not the pinned party, or another job's process: retry, but slowly.
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("party %d not reachable yet (%s)", peer.pid, type(exc).__name__)
                delay = 0.1
            await asyncio.sleep(delay)

    try:
        # All at once (MPyC goes one by one): a missing party must not hide the ones
        # after it, or present parties would disagree on who is absent.
        await asyncio.gather(*(connect(peer) for peer in self.parties[self.pid + 1 :]))
        await self.parties[self.pid].protocol
    finally:
        if server is not None:
            server.close()
    logger.info("all %d parties connected via pinned TLS", m)
    self.start_time = time.time()


async def random_shares(rt, field, n, nonzero=False):
    """Return this party's shares of fresh random field elements (a scalar if n is None)."""
    while True:
        if n is None:
            r = rt._random(field)
            if rt.options.no_prss:
                r = (await r)[0]
        else:
            r = rt._np_randoms(field, n)
            if rt.options.no_prss:
                r = await r
        if not nonzero:
            return r
        # Small field: r = 0 is likely. Open r*s, reshared, for a second random s: it is
        # uniform given r != 0 and tells nothing about r.
        s = await random_shares(rt, field, n, False)
        rs = await rt.output(await rt._reshare(r * s))
        if not np.any(rs == 0):
            return r


def _field_of(rt, sftype):
    if issubclass(sftype, rt.SecureArray):
        return sftype.sectype.field
    if issubclass(sftype, rt.SecureObject):
        return sftype.field
    return getattr(sftype, "field", sftype)  # a field, or a field's array type


def _small_field(rt, field):
    return field.order.bit_length() // rt.options.sec_param < 2


@asyncoro.mpc_coro
async def _is_zero_public(self, a) -> Future:
    """Secure public zero test of a: open a*r for a random r, reshared to degree t."""
    sftype = type(a)
    if issubclass(sftype, self.SecureFloat):
        return await sftype.is_zero_public(a)

    field = _field_of(self, sftype)
    r = await random_shares(self, field, None, _small_field(self, field))
    if issubclass(sftype, self.SecureObject):
        a = await self.gather(a)
    b = await self._reshare(a * r)  # degree 2t -> fresh degree t: nothing but a*r is opened
    c = await self.output(b)
    return c == 0


@asyncoro.mpc_coro
async def _np_is_zero_public(self, a) -> Future:
    """Secure public zero test of a, elementwise, each entry masked and reshared."""
    sftype = type(a)
    field = _field_of(self, sftype)
    n = a.size
    r = await random_shares(self, field, n, _small_field(self, field))
    if issubclass(sftype, self.SecureObject):
        a = await self.gather(a)
    shape = a.shape
    b = await self._reshare(a.reshape(-1) * r)
    c = await self.output(b)
    return (c == 0).reshape(shape)


def _quiet_refusals(loop, context):
    """Log a refused peer message in one line (it was logged when refused); the rest as usual."""
    if isinstance(context.get("exception"), PeerRefused):
        logger.debug("MPyC coroutine stopped: %s", context["exception"])
        return
    asyncoro.exception_handler(loop, context)


def build_runtime(
    pid: int,
    parties,
    threshold: int,
    tls=None,
    pins=None,
    prss=None,
    job_id: bytes = bytes(32),
    max_message: int = 1 << 20,
):
    """Build party pid's MPyC runtime for parties [(host, port), ...] at threshold t.

    tls is (cert_path, key_path, peers_path), read once here (peers_path: the parties' pinned
    certificates, the only ones trusted); pins lists each party's
    certificate SHA-256 (hex). Both are required when there is more than one party.
    prss=None picks PRSS when C(m, t) is small (see prss_default). job_id (32 bytes)
    is the job's identity every link must greet with; max_message caps a peer's frame.
    """
    mpyc_runtime = load_mpyc()
    import mpyc

    m = len(parties)
    if not 0 <= pid < m:
        raise ValueError("pid out of range")
    if not (isinstance(threshold, int) and 0 <= threshold and 2 * threshold < m):
        raise ValueError("threshold must satisfy 0 <= 2t < m")
    if prss is None:
        prss = prss_default(m, threshold)

    server_ctx = client_ctx = None
    digests = []
    if m > 1:
        if tls is None or pins is None or len(pins) != m:
            raise ValueError("TLS material and one pin per party are required")
        digests = [bytes.fromhex(p) for p in pins]
        if any(len(d) != 32 for d in digests):
            raise ValueError("pins must be SHA-256 digests")
        server_ctx, client_ctx, own_pem = _tls_contexts(*tls)
        if not hmac.compare_digest(_der_sha256(own_pem), digests[pid]):
            raise ValueError("own certificate does not match its pin")

    options = mpyc._get_arg_parser().parse_args([])
    options.threshold = threshold
    options.no_prss = not prss
    options.ssl = m > 1
    options.no_async = False
    options.mix32_64bit = True  # arrays as to_bytes/from_bytes (checked), never pickle

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    members = [mpyc_runtime.Party(i, host, int(port)) for i, (host, port) in enumerate(parties)]
    rt = mpyc_runtime.Runtime(pid, members, options)
    loop.set_exception_handler(_quiet_refusals)  # over the one Runtime() sets
    # One runtime per process: point MPyC's modules at this one, as runtime.setup() does.
    for module in (
        mpyc.sectypes,
        asyncoro,
        mpyc.mpctools,
        mpyc.seclists,
        mpyc.secpols,
        mpyc.secgroups,
        mpyc.random,
        mpyc.statistics,
    ):
        module.runtime = rt
    mpyc_runtime.mpc = rt

    rt._mpcvote_links = _Links(rt, digests, server_ctx, client_ctx, bytes(job_id), max_message)
    rt.start = types.MethodType(_pinned_start, rt)
    # Each communication step learns the share count it expects from every peer.
    rt.output = _sized(rt.output)
    rt._reshare = _sized(rt._reshare)
    rt._distribute = _sized(rt._distribute)
    rt.is_zero_public = types.MethodType(_is_zero_public, rt)
    rt.np_is_zero_public = types.MethodType(_np_is_zero_public, rt)
    return rt


@asyncoro.mpc_coro
async def _exchange(rt, payload) -> Future:
    m = len(rt.parties)
    for peer in range(m):
        if peer != rt.pid:
            rt._send_message(peer, payload)
    received = [payload if peer == rt.pid else rt._receive_message(peer) for peer in range(m)]
    received = await rt.gather(received)
    return [bytes(r) for r in received]


async def exchange(rt, payload: bytes) -> list[bytes]:
    """Send payload to every party; return every party's payload, in party order (no pickle)."""
    if len(rt.parties) == 1:
        return [bytes(payload)]
    return await _exchange(rt, bytes(payload))


def peer_lost(rt) -> Future:
    """Return a future that resolves to the pid of the first peer whose link is lost."""
    return rt._mpcvote_links.lost_future


async def farewell(rt):
    """Tell every connected peer that this party is leaving on purpose, not crashing."""
    for peer in rt.parties:
        if isinstance(peer.protocol, _PinnedExchanger) and peer.protocol.transport is not None:
            try:
                peer.protocol.send(_FAREWELL_PC, b"")
            except Exception:
                pass
    await asyncio.sleep(0.01)  # let the frames leave before the process exits


def refusal(rt) -> Future:
    """Return a future that resolves to the pid of the first peer whose message is refused."""
    return rt._mpcvote_links.refusal_future


def refused(rt):
    """Return (sender, reason) of the first refused message, or None."""
    return rt._mpcvote_links.refusal


def message_cap(ballots: int, entries: int) -> int:
    """Return the largest frame a job over ballots x entries shares needs (32 bytes a share)."""
    return 32 * max(1, ballots) * max(1, entries) + 4096


def outstanding_parties(rt) -> list[int]:
    """List the peers whose message this party is waiting for."""
    out = []
    for peer in rt.parties:
        protocol = peer.protocol
        if (
            peer.pid != rt.pid
            and isinstance(protocol, _PinnedExchanger)
            and any(isinstance(f, Future) and not f.done() for f in protocol.buffers.values())
        ):
            out.append(peer.pid)
    return out


def absent_parties(rt) -> list[int]:
    """List the parties with no live link to us (not connected, or lost)."""
    links = rt._mpcvote_links
    return sorted({p.pid for p in rt.parties if p.pid != rt.pid and p.protocol is None} | links.lost)


async def shutdown(rt):
    """Synchronise with all parties and close the links (MPyC's shutdown, losses expected)."""
    rt._mpcvote_links.closing = True
    await rt.shutdown()
