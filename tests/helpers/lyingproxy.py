"""A lying node for tests: an HTTP proxy on loopback in front of one real node's RPC.

It forwards every JSON-RPC call (POST, or GET with URI arguments) to the node and
lets the test rewrite the answers: `rewrite(method, params, result)` returns the
result to send instead (or the same one). It records every method called, so a
test can assert that nothing was broadcast.
"""

import base64
import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

__all__ = ["LyingProxy", "query_values", "hide_from_search"]


def _pump(src, dst):
    """Copy bytes until either side closes (each end closing ends the loop)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class LyingProxy:
    """A rewriting proxy for one node; use as a context manager (it stops its thread on exit)."""

    def __init__(self, upstream: str, rewrite=None):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rewrite = rewrite
        self.calls = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer("POST", "/", body)

            def do_GET(self):
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    self._tunnel()  # `cometbft light` subscribes to its primary: passed through as is
                    return
                self._answer("GET", self.path, None)

            def _tunnel(self):
                upstream = socket.create_connection(proxy.upstream, timeout=30)
                upstream.settimeout(None)
                head = f"GET {self.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
                upstream.sendall(head.encode() + b"\r\n")
                back = threading.Thread(target=_pump, args=(upstream, self.connection), daemon=True)
                back.start()
                _pump(self.connection, upstream)
                back.join(30)
                upstream.close()
                self.close_connection = True

            def _answer(self, verb, path, body):
                status, data = proxy._forward(verb, path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def methods(self) -> list:
        with self.lock:
            return [m for m, _ in self.calls]

    def _forward(self, verb, path, body):
        if verb == "POST":
            try:
                request = json.loads(body)
                method, params = request.get("method", ""), request.get("params") or {}
            except ValueError:
                method, params = "", {}
        else:
            url = urlsplit(path)
            method, params = url.path.strip("/"), {k: v.strip('"') for k, v in parse_qsl(url.query)}
        with self.lock:
            self.calls.append((method, params))
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(verb, path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            status, data = resp.status, resp.read()
        finally:
            conn.close()
        if self.rewrite is None:
            return status, data
        try:
            doc = json.loads(data)
        except ValueError:
            return status, data
        if isinstance(doc, dict) and isinstance(doc.get("result"), dict):
            doc["result"] = self.rewrite(method, params, doc["result"])
        return status, json.dumps(doc).encode()

    def submitted(self) -> list:
        """The broadcast methods called through the proxy."""
        return [m for m in self.methods() if m.startswith("broadcast_tx")]


def query_values(change):
    """Make a rewrite from change(path, value) -> new value or None, over abci_query's JSON values."""

    def rewrite(method, params, result):
        response = result.get("response") or {}
        if method == "abci_query" and response.get("value"):
            value = json.loads(base64.b64decode(response["value"]))
            changed = change(params.get("path", ""), value)
            if changed is not None:
                response["value"] = base64.b64encode(json.dumps(changed).encode()).decode()
        return result

    return rewrite


def hide_from_search(*hashes):
    """Make a rewrite that leaves these tx hashes out of every tx_search answer (a node hiding events)."""
    hidden = {h.upper() for h in hashes}

    def rewrite(method, params, result):
        if method == "tx_search" and isinstance(result.get("txs"), list):
            result["txs"] = [t for t in result["txs"] if str(t.get("hash", "")).upper() not in hidden]
            result["total_count"] = str(len(result["txs"]))
        return result

    return rewrite
