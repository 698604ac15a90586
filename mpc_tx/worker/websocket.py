"""A minimal websocket client for a CometBFT node's /websocket event subscription.

Standard library only: enough of RFC 6455 for text frames, ping/pong and close.
The worker uses it to wake on every new block; polling remains the fallback.
"""
import base64
import json
import os
import socket
import struct
import threading

__all__ = ["BlockWaker"]


class _Socket:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1024)
            if not chunk or len(head) > 16384:
                raise ConnectionError("websocket handshake failed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError("websocket upgrade refused")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, payload: bytes, opcode=1):
        mask = os.urandom(4)   # clients must mask every frame
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def recv(self) -> bytes:
        """Return the next text message, answering pings on the way."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            if n > 64 * 1024 * 1024:
                raise ConnectionError("websocket frame too large")
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 9:
                self.send(data, opcode=10)
            elif opcode == 8:
                raise ConnectionError("websocket closed by the node")
            elif opcode in (0, 1, 2):
                message += data
                if b0 & 0x80:
                    return message

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class BlockWaker:
    """Set an event on every new block the node reports; reconnect quietly on failure.

    It subscribes to NewBlockHeader, not NewBlock: a NewBlock event carries the whole
    block and every tx result, which the node encodes to JSON for each subscriber
    (most of a node's RPC time under load); the worker fetches what it needs itself.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.event = threading.Event()
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def wait(self, timeout: float) -> bool:
        """Wait for a new block, or `timeout` seconds (the polling fallback)."""
        woke = self.event.wait(timeout)
        self.event.clear()
        return woke

    def _run(self):
        while not self._stop.is_set():
            ws = None
            try:
                ws = _Socket(self.host, self.port, timeout=10)
                ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": 1,
                                    "params": {"query": "tm.event='NewBlockHeader'"}}).encode())
                ws.sock.settimeout(30)
                self.connected = True
                while not self._stop.is_set():
                    ws.recv()
                    self.event.set()
            except (OSError, ConnectionError, ValueError):
                self.connected = False
            finally:
                if ws:
                    ws.close()
            self._stop.wait(2.0)
