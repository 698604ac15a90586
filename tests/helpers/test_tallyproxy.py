"""The lying node of tallyproxy: each lie told in every answer that shows the tx, the rest passed through."""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mpc_tx.client.rpc import Rpc, RpcError

from tallyproxy import Add, Alter, Hide, TallyProxy, hash_param, request_of, tweak_hex_after


def _tx(n: int) -> bytes:
    return (
        json.dumps({"body": {"ballot": f"{n:02d}" + "ab" * 20, "poll": 5}, "type": "cast_ballot"})
        .replace(" ", "")
        .encode()
    )


TXS = [_tx(n) for n in range(3)]
HASHES = [hashlib.sha256(t).hexdigest().upper() for t in TXS]
DATA = [base64.b64encode(b'{"events":%d,"poll_id":5,"running":"%s"}' % (n + 1, b"c" * 64)).decode() for n in range(3)]


def _entry(n: int) -> dict:
    tx = base64.b64encode(TXS[n]).decode()
    return {
        "hash": HASHES[n],
        "height": "7",
        "index": n,
        "tx": tx,
        "tx_result": {"code": 0, "data": DATA[n], "events": []},
        "proof": {"root_hash": "00", "data": tx, "proof": {"index": str(n), "total": "3"}},
    }


def _answer(method: str, params: dict):
    if method == "tx_search":
        return {"txs": [_entry(n) for n in range(3)], "total_count": "3"}
    if method == "tx":
        want = base64.b64decode(params["hash"]).hex().upper()
        return next((_entry(n) for n in range(3) if HASHES[n] == want), None)
    if method == "block":
        return {"block": {"header": {"height": params["height"]}, "data": {"txs": [_entry(n)["tx"] for n in range(3)]}}}
    if method == "block_results":
        return {"height": params["height"], "txs_results": [{"code": 0, "data": DATA[n]} for n in range(3)]}
    return None


class _Node(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        result = _answer(request["method"], request.get("params") or {})
        doc = {"jsonrpc": "2.0", "id": request["id"]}
        doc.update({"result": result} if result is not None else {"error": {"code": -32603, "message": "not found"}})
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def node():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(10)


def _ask(url: str, lie):
    with TallyProxy(url, lie) as proxy:
        rpc = Rpc(proxy.url)
        found = rpc.call("tx_search", query="ballot.poll_id=5")
        block = rpc.call("block", height="7")
        results = rpc.call("block_results", height="7")
        try:
            one = rpc.call("tx", hash=base64.b64encode(bytes.fromhex(HASHES[1])).decode(), prove=True)
        except RpcError:
            one = None
        return found, block, results, one


def test_hide_drops_the_tx_everywhere(node):
    found, block, results, one = _ask(node, Hide(HASHES[1], 7, 1))
    assert [e["hash"] for e in found["txs"]] == [HASHES[0], HASHES[2]] and found["total_count"] == "2"
    assert block["block"]["data"]["txs"] == [_entry(0)["tx"], _entry(2)["tx"]]
    assert [r["data"] for r in results["txs_results"]] == [DATA[0], DATA[2]]
    assert one is None


def test_add_shows_a_forged_tx_beside_the_real_one(node):
    forged = _tx(9)
    lie = Add(forged, _entry(1))
    with TallyProxy(node, lie) as proxy:
        rpc = Rpc(proxy.url)
        found = rpc.call("tx_search", query="ballot.poll_id=5")
        shown = rpc.call("tx", hash=base64.b64encode(hashlib.sha256(forged).digest()).decode(), prove=True)
        block = rpc.call("block", height="7")
    assert [e["hash"] for e in found["txs"]] == [HASHES[0], HASHES[1], lie.tx, HASHES[2]]
    assert found["total_count"] == "4"
    assert base64.b64decode(shown["tx"]) == forged == base64.b64decode(shown["proof"]["data"])
    assert shown["height"] == "7" and shown["proof"]["proof"] == _entry(1)["proof"]["proof"]  # the real one's proof
    assert base64.b64decode(block["block"]["data"]["txs"][2]) == forged


@pytest.mark.parametrize("what", ["tx", "result"])
def test_alter_changes_the_tx_or_its_data_wherever_shown(node, what):
    found, block, results, one = _ask(node, Alter(HASHES[1], 7, 1, what))
    shown = [found["txs"][1], one]
    if what == "tx":
        for entry in shown:
            raw = base64.b64decode(entry["tx"])
            assert raw != TXS[1] and len(raw) == len(TXS[1]) and base64.b64decode(entry["proof"]["data"]) == raw
            assert entry["tx_result"]["data"] == DATA[1]
        assert base64.b64decode(block["block"]["data"]["txs"][1]) == base64.b64decode(one["tx"])
        assert results["txs_results"][1]["data"] == DATA[1]
    else:
        for entry in shown:
            assert entry["tx"] == _entry(1)["tx"] and entry["tx_result"]["data"] != DATA[1]
            assert json.loads(base64.b64decode(entry["tx_result"]["data"]))["running"] != "c" * 64
        assert results["txs_results"][1]["data"] == one["tx_result"]["data"]
        assert block["block"]["data"]["txs"][1] == _entry(1)["tx"]
    # The other txs are shown as they are.
    assert found["txs"][0] == _entry(0) and found["txs"][2] == _entry(2)


def test_the_parsers():
    assert tweak_hex_after(b'{"ballot":"0123"}', b'"ballot":"', 0) == b'{"ballot":"1123"}'
    assert tweak_hex_after(b'{"ballot":"1123"}', b'"ballot":"', 1) == b'{"ballot":"1023"}'
    with pytest.raises(ValueError):
        tweak_hex_after(b"{}", b'"ballot":"')
    assert hash_param({"hash": base64.b64encode(b"\x01" * 32).decode()}) == "01" * 32
    assert hash_param({"hash": "0x" + "ab" * 32}) == "AB" * 32
    assert hash_param({"hash": "not base64!"}) is None and hash_param({}) is None
    assert request_of("POST", "/", b'{"method": "tx", "params": {"hash": "x"}, "id": 4}') == ("tx", {"hash": "x"}, 4)
    assert request_of("GET", '/tx?hash="0xab"', None) == ("tx", {"hash": "0xab"}, -1)
    assert request_of("POST", "/", b"not json")[0] == ""
