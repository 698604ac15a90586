"""A small client for a CometBFT node's JSON-RPC (HTTP), standard library only."""

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

__all__ = ["RpcError", "QueryError", "CommitTimeout", "Rpc"]


class RpcError(Exception):
    """The node could not be reached, or answered with an error."""


class CommitTimeout(RpcError, TimeoutError):
    """Txs were not committed within the time allowed."""


class QueryError(Exception):
    """An abci_query answered with a non-zero code."""

    def __init__(self, code: int, log: str, height: int = 0):
        super().__init__(f"query failed with code {code}: {log}")
        self.code, self.log, self.height = code, log, height


class Rpc:
    """JSON-RPC over one keep-alive HTTP connection to a node."""

    def __init__(self, url: str = "http://127.0.0.1:26601", timeout: float = 10.0):
        parts = urlsplit(url if "://" in url else "http://" + url)
        # An IPv6 literal keeps its brackets, so the URL named in errors opens again.
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        self.url = f"http://{host}:{parts.port or 26657}"
        self.host, self.port, self.timeout = parts.hostname, parts.port or 26657, timeout
        self._conn = None
        self._id = 0

    def __repr__(self):
        return f"Rpc({self.url})"

    def call(self, method: str, **params):
        """Call one RPC method; return its result or raise RpcError."""
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        doc = self.post(body.encode(), what=method)
        if "error" in doc and doc["error"]:
            err = doc["error"]
            raise RpcError(f"{method}: {err.get('message', '')} {err.get('data', '')}".strip())
        return doc["result"]

    def post(self, body: bytes, *, attempts: int = 2, what: str = "a request"):
        """Post a JSON-RPC request or batch as it is; return the parsed answer or raise RpcError.

        A connection the node dropped is opened again, up to `attempts` tries in all.
        """
        for attempt in range(1, attempts + 1):
            try:
                if self._conn is None:
                    self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self._conn.request("POST", "/", body, {"Content-Type": "application/json"})
                resp = self._conn.getresponse()
                data = resp.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == attempts:
                    raise RpcError(f"cannot reach the node at {self.url}: {exc}") from None
        try:
            return json.loads(data)
        except ValueError:
            raise RpcError(f"{self.url} answered {what} with HTTP {resp.status}: {data[:200]!r}") from None

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- helpers ------------------------------------------------------------------
    def status(self):
        return self.call("status")

    def height(self) -> int:
        return int(self.status()["sync_info"]["latest_block_height"])

    def broadcast_tx_sync(self, tx: bytes):
        return self.call("broadcast_tx_sync", tx=base64.b64encode(tx).decode())

    def broadcast_tx_async(self, tx: bytes):
        return self.call("broadcast_tx_async", tx=base64.b64encode(tx).decode())

    def query(self, path: str, data: bytes = b""):
        """Run abci_query and return (value, height); raise QueryError on a non-zero code."""
        # The node takes abci_query's data as hex (a HexBytes), unlike /tx's base64 hash.
        res = self.call("abci_query", path=path, **({"data": data.hex()} if data else {}))["response"]
        if int(res.get("code", 0)) != 0:
            raise QueryError(int(res["code"]), res.get("log", ""), int(res.get("height", 0)))
        value = base64.b64decode(res["value"]) if res.get("value") else b"null"
        return json.loads(value), int(res.get("height", 0))

    def tx(self, tx_hash: str):
        # JSON-RPC over POST takes []byte params as base64 (GET URIs take 0x-hex).
        return self.call("tx", hash=base64.b64encode(bytes.fromhex(tx_hash)).decode())

    def wait_tx(self, tx_hash: str, timeout: float = 30.0, poll: float = 0.1):
        """Wait until a tx is committed; return its /tx result."""
        return self.wait_txs([tx_hash], timeout, poll)[tx_hash]

    def wait_txs(
        self, hashes: list[str], timeout: float = 30.0, poll: float = 0.1, *, through_errors: bool = False
    ) -> dict:
        """Wait until every tx is committed; return {hash: its /tx result}.

        Raise CommitTimeout after `timeout` seconds; any other RpcError at once, unless
        through_errors (a node that is briefly unreachable is then waited for too).
        """
        deadline = time.monotonic() + timeout
        found = {}
        while True:
            for h in hashes:
                if h in found:
                    continue
                try:
                    found[h] = self.tx(h)
                except RpcError as exc:
                    if not through_errors and "not found" not in str(exc):
                        raise
            if len(found) == len(hashes):
                return found
            if time.monotonic() > deadline:
                left = [h for h in hashes if h not in found]
                what = f"tx {left[0]}" if len(hashes) == 1 else f"{len(left)} of {len(hashes)} txs"
                raise CommitTimeout(f"{what} not committed within {timeout:.0f} s")
            time.sleep(poll)

    def wait_height(self, height: int, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while self.height() < height:
            if time.monotonic() > deadline:
                raise RpcError(f"{self.url} did not reach height {height} within {timeout:.0f} s")
            time.sleep(0.1)
