"""A node that lies about one tx of a poll, for `mpcvote verify`'s tests (docs/PROTOCOL.md §18.5).

A `TallyProxy` forwards every JSON-RPC call to a real node and tells one lie consistently
in every answer that could show the tx: `tx_search` pages, `block` and `block_results`,
`tx` by hash, and the app's ballot queries. The lies:

- `Hide(tx)`: the tx is never shown (as if the node had dropped a ballot from its index);
- `Add(raw, like)`: a signed tx that never committed is shown beside a real one, with the
  real one's height, index, result and proof (as if the node had slipped a ballot in);
- `Alter(tx, "tx" | "result")`: the tx's bytes (one hex digit of its ballot) or its result's
  data (one hex digit of the running digest) are changed wherever they are shown.

A correct verifier fails on each one (a hidden event breaks the running digest or the
final tx's count; an added or altered one fails its proof against a signed header).
"""

import base64
import hashlib
import json
from urllib.parse import parse_qsl, urlsplit

from lyingproxy import LyingProxy

__all__ = ["TallyProxy", "Hide", "Add", "Alter", "tweak_hex_after", "request_of", "hash_param"]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _hash_of_b64(tx_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(tx_b64)).hexdigest().upper()


def tweak_hex_after(raw: bytes, marker: bytes, offset: int = 8) -> bytes:
    """Return raw with one hex digit changed, `offset` characters into the string value after marker."""
    at = raw.find(marker)
    if at < 0:
        raise ValueError(f"{marker!r} not in the bytes")
    at += len(marker) + offset
    digit = raw[at : at + 1]
    return raw[:at] + (b"1" if digit == b"0" else b"0") + raw[at + 1 :]


def request_of(verb: str, path: str, body: bytes | None) -> tuple[str, dict, object]:
    """Return (method, params, request id) of a JSON-RPC call made by POST or by GET with URI arguments."""
    if verb == "POST":
        try:
            request = json.loads(body)
            return request.get("method", ""), request.get("params") or {}, request.get("id", -1)
        except (ValueError, AttributeError):
            return "", {}, -1
    url = urlsplit(path)
    return url.path.strip("/"), {k: v.strip('"') for k, v in parse_qsl(url.query)}, -1


def hash_param(params: dict) -> str | None:
    """Return the upper-case hex tx hash a `tx` call asks for (base64 by POST, 0x-hex by GET), or None."""
    value = params.get("hash")
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value[2:]) if value.startswith("0x") else base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw.hex().upper()


def _block_height(result: dict) -> str:
    return str(((result.get("block") or {}).get("header") or {}).get("height"))


def _matches(entry: dict, tx: str) -> bool:
    return str(entry.get("hash", "")).upper() == tx


def _drop_from_ballot_query(result: dict, tx: str) -> dict:
    """Drop the ballot record of tx from an abci_query answer listing a poll's ballots (its JSON value)."""
    response = result.get("response") or {}
    if not response.get("value"):
        return result
    value = json.loads(base64.b64decode(response["value"]))
    if isinstance(value, dict) and isinstance(value.get("ballots"), list):
        value["ballots"] = [b for b in value["ballots"] if str(b.get("tx", "")).upper() != tx]
        response["value"] = _b64(json.dumps(value).encode())
    return result


class Hide:
    """Never show one committed tx (hash, height, index): the node drops it from every answer."""

    def __init__(self, tx: str, height: int, index: int):
        self.tx, self.height, self.index = tx.upper(), int(height), int(index)

    def rewrite(self, method, params, result):
        if method == "tx_search":
            kept = [e for e in result.get("txs") or [] if not _matches(e, self.tx)]
            dropped = len(result.get("txs") or []) - len(kept)
            result["txs"], result["total_count"] = kept, str(int(result.get("total_count", 0)) - dropped)
        elif method == "block" and self._here(_block_height(result)):
            data = result["block"]["data"]
            data["txs"] = [t for t in data.get("txs") or [] if _hash_of_b64(t) != self.tx]
        elif method == "block_results" and self._here(result.get("height")):
            results = result.get("txs_results") or []
            result["txs_results"] = results[: self.index] + results[self.index + 1 :]
        elif method == "abci_query" and "/ballots" in str(params.get("path", "")):
            result = _drop_from_ballot_query(result, self.tx)
        return result

    def answer(self, method, params, request_id):
        if method == "tx" and hash_param(params) == self.tx:
            return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32603, "message": "tx not found"}}
        return None

    def _here(self, height) -> bool:
        return str(height) == str(self.height)


class Add:
    """Show a tx that never committed (raw) beside a real one: like is the node's `tx` answer (with proof) for it."""

    def __init__(self, raw: bytes, like: dict):
        self.raw, self.like = raw, like
        self.like_hash = str(like["hash"]).upper()
        self.tx = hashlib.sha256(raw).hexdigest().upper()
        self.forged = dict(like, hash=self.tx, tx=_b64(raw))
        if isinstance(like.get("proof"), dict):
            self.forged["proof"] = dict(like["proof"], data=_b64(raw))

    def rewrite(self, method, params, result):
        if method == "tx_search":
            txs = result.get("txs") or []
            at = next((n for n, e in enumerate(txs) if _matches(e, self.like_hash)), None)
            if at is not None and not any(_matches(e, self.tx) for e in txs):
                entry = dict(txs[at], hash=self.tx, tx=_b64(self.raw))
                if isinstance(entry.get("proof"), dict):
                    entry["proof"] = dict(entry["proof"], data=_b64(self.raw))
                result["txs"] = txs[: at + 1] + [entry] + txs[at + 1 :]
                result["total_count"] = str(int(result.get("total_count", 0)) + 1)
        elif method == "block" and str(_block_height(result)) == str(self.like["height"]):
            data = result["block"]["data"]
            txs = data.get("txs") or []
            at = int(self.like["index"])
            data["txs"] = txs[: at + 1] + [_b64(self.raw)] + txs[at + 1 :]
        return result

    def answer(self, method, params, request_id):
        if method == "tx" and hash_param(params) == self.tx:
            return {"jsonrpc": "2.0", "id": request_id, "result": self.forged}
        return None


class Alter:
    """Change one committed tx wherever it is shown: its bytes ("tx") or its result's data ("result")."""

    def __init__(self, tx: str, height: int, index: int, what: str):
        if what not in ("tx", "result"):
            raise ValueError("what: tx or result")
        self.tx, self.height, self.index, self.what = tx.upper(), int(height), int(index), what

    def _tx(self, tx_b64: str) -> str:
        return _b64(tweak_hex_after(base64.b64decode(tx_b64), b'"ballot":"'))

    def _data(self, data_b64: str | None) -> str:
        return _b64(tweak_hex_after(base64.b64decode(data_b64 or ""), b'"running":"', 0))

    def _entry(self, entry: dict) -> dict:
        if self.what == "tx":
            entry["tx"] = self._tx(entry["tx"])
            if isinstance(entry.get("proof"), dict) and entry["proof"].get("data"):
                entry["proof"]["data"] = self._tx(entry["proof"]["data"])
        else:
            entry["tx_result"]["data"] = self._data(entry["tx_result"].get("data"))
        return entry

    def rewrite(self, method, params, result):
        if method == "tx_search":
            result["txs"] = [self._entry(e) if _matches(e, self.tx) else e for e in result.get("txs") or []]
        elif method == "tx" and _matches(result, self.tx):
            result = self._entry(result)
        elif self.what == "tx" and method == "block" and str(_block_height(result)) == str(self.height):
            txs = result["block"]["data"].get("txs") or []
            if self.index < len(txs) and _hash_of_b64(txs[self.index]) == self.tx:
                txs[self.index] = self._tx(txs[self.index])
        elif self.what == "result" and method == "block_results" and str(result.get("height")) == str(self.height):
            results = result.get("txs_results") or []
            if self.index < len(results):
                results[self.index]["data"] = self._data(results[self.index].get("data"))
        return result

    def answer(self, method, params, request_id):
        return None


class TallyProxy(LyingProxy):
    """A lying node in front of one real node: tells `lie` (a Hide, Add or Alter) in every answer."""

    def __init__(self, upstream: str, lie):
        super().__init__(upstream, lie.rewrite)
        self.lie = lie

    def _forward(self, verb, path, body):
        method, params, request_id = request_of(verb, path, body)
        answer = self.lie.answer(method, params, request_id)
        if answer is None:
            return super()._forward(verb, path, body)
        with self.lock:
            self.calls.append((method, params))
        return 200, json.dumps(answer).encode()
