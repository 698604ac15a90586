"""An MPyC runtime built in code, with pinned party identities and a safe zero test.

MPyC 0.11 is meant to be started from the command line: ``import mpyc.runtime`` parses
``sys.argv`` and builds a default runtime at import time. Here the runtime is built from
explicit arguments and then hardened where MPyC falls short of what mpcvote promises:

- Links. MPyC's TLS mode reads ``.config/party_{pid}.crt`` relative to the working
  directory, listens on all interfaces and believes the party number a client declares
  in its first two bytes. ``start`` is replaced: the TLS contexts are built once from
  the paths given (so the key files can be deleted right after), the listener binds
  only the party's registered host, and every link, in both directions, must present
  the certificate whose SHA-256 the registry pins for the party it claims; otherwise it
  is closed before a byte of it (or of our PRSS keys) is used.
- Zero test. MPyC 0.11's ``is_zero_public`` / ``np_is_zero_public`` open a*r at degree
  2t without resharing in large fields; the opened polynomial factors back to a. Every
  comparison ends in them. They are rebound on the runtime to versions that reshare
  a*r to degree t (a real secure multiplication) before opening.
- Peer data. MPyC unpickles what peers send (numpy arrays, ``transfer``); the runtime
  module's ``pickle`` is swapped for one that only rebuilds numpy arrays of integers.
- Lost links. MPyC raises from ``connection_lost`` and never reports a dead peer; here a
  lost link resolves ``peer_lost(rt)`` so a job can stop instead of hanging. A party that
  stops on purpose (deadline, a lost peer) says so first (``farewell``), so that its peers
  do not count the link it then closes as lost: every party's verdict rests on its own
  view of who is missing, and present parties agree on it.
"""
import asyncio
import hashlib
import hmac
import io
import logging
import math
import os
import pickle
import shutil
import ssl
import sys
import tempfile
import time
import types
import warnings
from asyncio import Future
from contextlib import contextmanager

__all__ = ["load_mpyc", "build_runtime", "private_tls_files", "exchange", "peer_lost",
           "farewell", "absent_parties", "shutdown", "prss_default", "random_shares"]

logger = logging.getLogger("mpcvote.mpc")

_MPYC_ENV = ("MPYC_NONUMPY", "MPYC_NOGMPY", "MPYC_NOPRSS", "MPYC_MIX32_64BIT", "MPYC_NOUVLOOP")
_PRSS_MAX_KEYS = 1024  # C(m, t) above this: PRSS off by default
# MPyC labels messages with 64-bit hashes of its program counter; it never awaits this one.
_FAREWELL_PC = -(2**63)


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
    return mpyc.runtime


class _PeerUnpickler(pickle.Unpickler):
    """Unpickle only what MPyC sends: numpy arrays of integers, and plain data."""

    _allowed = {
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
        ("gmpy2", "mpz"), ("gmpy2.gmpy2", "mpz"), ("gmpy2", "from_binary"),
        ("gmpy2.gmpy2", "from_binary"),
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError("peer sent a pickle with a disallowed global")


class _PeerPickle:
    """Stand-in for the pickle module inside mpyc.runtime."""

    dumps = staticmethod(pickle.dumps)

    @staticmethod
    def loads(data):
        return _PeerUnpickler(io.BytesIO(data)).load()


load_mpyc()
from mpyc import asyncoro  # noqa: E402  (after load_mpyc neutralised argv)
from mpyc.numpy import np  # noqa: E402

from mpc_tx.tls import party_name  # noqa: E402


def prss_default(m: int, t: int) -> bool:
    """Tell whether PRSS is on by default: it costs C(m, t) keys per party."""
    return math.comb(m, t) <= _PRSS_MAX_KEYS


@contextmanager
def private_tls_files(cert_pem, key_pem, ca_pem):
    """Write the TLS material into a fresh 0700 directory (files 0600); remove it on exit.

    Yields (cert_path, key_path, ca_path).
    """
    folder = tempfile.mkdtemp(prefix="mpcvote-tls-")
    os.chmod(folder, 0o700)
    try:
        paths = []
        for name, pem in (("party.crt", cert_pem), ("party.key", key_pem), ("ca.crt", ca_pem)):
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem.encode() if isinstance(pem, str) else pem)
            paths.append(path)
        yield tuple(paths)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _tls_contexts(cert_path, key_path, ca_path):
    with open(ca_path, "rb") as f:
        ca_pem = f.read().decode("ascii")
    # cadata given: only the testnet CA is trusted, never the system's CAs.
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=ca_pem)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    for context in (server, client):
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(cert_path, keyfile=key_path)
    with open(cert_path, "rb") as f:
        own_pem = f.read()
    return server, client, own_pem


def _der_sha256(cert_pem) -> bytes:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem.decode("ascii"))).digest()


class _Links:
    """Per-runtime state of the MPC links: pins, TLS contexts, losses."""

    def __init__(self, rt, pins, server_ctx, client_ctx):
        self.rt = rt
        self.pins = pins
        self.server_ctx = server_ctx
        self.client_ctx = client_ctx
        self.closing = False
        self.claimed = set()
        self.lost = set()
        self.lost_future = rt._loop.create_future()
        self.departed = set()
        self.refused = 0
        self.reasons = set()

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


class _PinnedExchanger(asyncoro.MessageExchanger):
    """MPyC's message exchanger, admitting a link only with the pinned certificate."""

    __slots__ = ("admitted", "refused", "claim")

    def __init__(self, rt, peer_pid=None):
        super().__init__(rt, peer_pid)
        self.admitted = False
        self.refused = False
        self.claim = None

    def _refuse(self, reason, once=False):
        self.refused = True
        links = self.runtime._mpcvote_links
        links.refused += 1
        peer = self.transport.get_extra_info("peername")
        level = logging.DEBUG if once and reason in links.reasons else logging.WARNING
        links.reasons.add(reason)
        logger.log(level, "refused MPC link with %s: %s", peer[0] if peer else "?", reason)
        self.transport.abort()

    def connection_made(self, transport):
        self.transport = transport
        if self.peer_pid is None:
            return  # server side: admit once the claimed party number arrives
        if not self.runtime._mpcvote_links.presents_pin(transport, self.peer_pid):
            # start() retries this server: say it once, not twice a second.
            self._refuse(f"server is not the certificate pinned for party {self.peer_pid}", once=True)
            return
        self.admitted = True
        super().connection_made(transport)  # sends our pid and PRSS keys

    def data_received(self, data):
        if self.refused:
            return
        if self.peer_pid is None and not self.admitted:
            if len(self.bytes) + len(data) < 2:
                self.bytes.extend(data)
                return
            head = (bytes(self.bytes) + bytes(data[:2]))[:2]
            claimed = int.from_bytes(head, "little")
            links = self.runtime._mpcvote_links
            reason = links.admission_error(self.transport, claimed)
            if reason:
                self._refuse(reason)
                return
            self.admitted = True
            self.claim = claimed
            links.claimed.add(claimed)
        super().data_received(data)
        if self.peer_pid is not None and isinstance(self.buffers.get(_FAREWELL_PC), bytes):
            del self.buffers[_FAREWELL_PC]
            self.runtime._mpcvote_links.peer_departed(self.peer_pid)

    def connection_lost(self, exc):
        rt = self.runtime
        links = rt._mpcvote_links
        pid = self.peer_pid
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
    logger.info("start MPyC %s runtime: party %d of %d, threshold %d, PRSS %s",
                self.version, self.pid, m, self.threshold, "off" if self.options.no_prss else "on")
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
        server = await loop.create_server(lambda: _PinnedExchanger(self), host=own.host,
                                          port=own.port, ssl=links.server_ctx,
                                          reuse_address=True)
        logger.info("listening on %s port %d", own.host, own.port)

    async def connect(peer):
        while True:
            try:
                _, protocol = await loop.create_connection(
                    lambda: _PinnedExchanger(self, peer.pid), peer.host, peer.port,
                    ssl=links.client_ctx, server_hostname=party_name(peer.pid),
                    ssl_handshake_timeout=10)
                if protocol.admitted:
                    return
                delay = 0.5  # the server is not the pinned party: retry, but slowly
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("party %d not reachable yet (%s)", peer.pid, type(exc).__name__)
                delay = 0.1
            await asyncio.sleep(delay)

    try:
        # All at once (MPyC goes one by one): a missing party must not hide the ones
        # after it, or present parties would disagree on who is absent.
        await asyncio.gather(*(connect(peer) for peer in self.parties[self.pid + 1:]))
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


def build_runtime(pid: int, parties, threshold: int, tls=None, pins=None, prss=None):
    """Build party pid's MPyC runtime for parties [(host, port), ...] at threshold t.

    tls is (cert_path, key_path, ca_path), read once here; pins lists each party's
    certificate SHA-256 (hex). Both are required when there is more than one party.
    prss=None picks PRSS when C(m, t) is small (see prss_default).
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

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    members = [mpyc_runtime.Party(i, host, int(port)) for i, (host, port) in enumerate(parties)]
    rt = mpyc_runtime.Runtime(pid, members, options)
    # One runtime per process: point MPyC's modules at this one, as runtime.setup() does.
    for module in (mpyc.sectypes, asyncoro, mpyc.mpctools, mpyc.seclists, mpyc.secpols,
                   mpyc.secgroups, mpyc.random, mpyc.statistics):
        module.runtime = rt
    mpyc_runtime.mpc = rt

    rt._mpcvote_links = _Links(rt, digests, server_ctx, client_ctx)
    rt.start = types.MethodType(_pinned_start, rt)
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


def absent_parties(rt) -> list[int]:
    """List the parties with no live link to us (not connected, or lost)."""
    links = rt._mpcvote_links
    return sorted({p.pid for p in rt.parties if p.pid != rt.pid and p.protocol is None}
                  | links.lost)


async def shutdown(rt):
    """Synchronise with all parties and close the links (MPyC's shutdown, losses expected)."""
    rt._mpcvote_links.closing = True
    await rt.shutdown()
