"""A lying node for tests: an HTTP proxy on loopback in front of a real node's RPC.

It forwards every JSON-RPC request to the real node and rewrites the answers of
`abci_query` for the paths it is told to (a function of the decoded value), and
records every method a client called through it (so a test can say "nothing was
submitted").
"""
import base64
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["LyingProxy"]


class LyingProxy:
    """Serve on 127.0.0.1:PORT; `rewrite(path, value) -> value` lies about abci_query answers."""

    def __init__(self, upstream: str, rewrite):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.rewrite = rewrite
        self.methods = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = json.loads(body)
                with proxy.lock:
                    proxy.methods.append(request.get("method"))
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                conn.request("POST", "/", body, {"Content-Type": "application/json"})
                answer = json.loads(conn.getresponse().read())
                conn.close()
                if request.get("method") == "abci_query" and answer.get("result"):
                    proxy._lie(request["params"]["path"], answer["result"]["response"])
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _lie(self, path: str, response: dict):
        if not response.get("value"):
            return
        value = json.loads(base64.b64decode(response["value"]))
        changed = self.rewrite(path, value)
        if changed is not None:
            response["value"] = base64.b64encode(json.dumps(changed).encode()).decode()

    def submitted(self) -> list:
        return [m for m in self.methods if m and m.startswith("broadcast_tx")]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
