"""The one JSON-RPC client, against a tiny node stand-in on loopback (http.server, no CometBFT)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mpc_tx.client.rpc import CommitTimeout, QueryError, Rpc, RpcError

COMMITTED = "AB" * 32


class _Node(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as CometBFT's RPC server

    def log_message(self, *args):
        pass

    def do_POST(self):
        node = self.server
        node.connections.add(self.client_address)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        node.bodies.append(body)
        if node.garbage:
            self._send(b"<html>bad gateway</html>", 502)
            return
        doc = json.loads(body)
        answer = [self._answer(d) for d in doc] if isinstance(doc, list) else self._answer(doc)
        self._send(json.dumps(answer).encode())
        if node.drop_after_answer:
            node.drop_after_answer = False
            self.close_connection = True

    def _send(self, data, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, req):
        method, params = req["method"], req.get("params", {})
        ok = {"jsonrpc": "2.0", "id": req["id"]}
        if method == "status":
            return dict(ok, result={"sync_info": {"latest_block_height": str(self.server.height)}})
        if method == "tx":
            if base64.b64decode(params["hash"]).hex().upper() in self.server.committed:
                return dict(ok, result={"height": "7", "hash": base64.b64decode(params["hash"]).hex().upper()})
            return dict(ok, error={"code": -32603, "message": "Internal error", "data": "tx (X) not found"})
        if method == "abci_query":
            self.server.queries.append(params)
            if params["path"] == "/missing":
                return dict(ok, result={"response": {"code": 20, "log": "no poll 9", "height": "5"}})
            value = base64.b64encode(json.dumps({"path": params["path"]}).encode()).decode()
            return dict(ok, result={"response": {"code": 0, "value": value, "height": "5"}})
        if method == "broadcast_tx_sync":
            return dict(ok, result={"code": 0, "tx": params["tx"]})
        return dict(ok, error={"code": -32601, "message": "Method not found", "data": method})


@pytest.fixture
def node():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Node)
    server.daemon_threads = True
    server.connections, server.bodies, server.queries = set(), [], []
    server.committed, server.height = {COMMITTED}, 12
    server.garbage = server.drop_after_answer = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def rpc(node):
    client = Rpc(f"http://127.0.0.1:{node.server_address[1]}", timeout=5)
    yield client
    client.close()


def test_url_forms():
    assert Rpc("127.0.0.1:5").url == "http://127.0.0.1:5"
    assert Rpc("http://node0").url == "http://node0:26657"
    assert repr(Rpc("http://h:1")) == "Rpc(http://h:1)"


def test_an_ipv6_node_keeps_a_url_that_opens_again():
    rpc = Rpc("http://[::1]:26657")
    assert rpc.url == "http://[::1]:26657"
    assert Rpc(rpc.url).host == "::1"


def test_calls_share_one_keep_alive_connection(node, rpc):
    assert rpc.height() == 12
    assert rpc.status()["sync_info"]["latest_block_height"] == "12"
    rpc.query("/poll/1")
    assert len(node.connections) == 1 and len(node.bodies) == 3
    ids = [json.loads(b)["id"] for b in node.bodies]
    assert ids == sorted(set(ids))


def test_a_dropped_connection_is_opened_again(node, rpc):
    node.drop_after_answer = True
    assert rpc.height() == 12
    assert rpc.height() == 12  # the node closed the first connection; the client reconnects
    assert len(node.connections) == 2


def test_post_sends_a_batch_as_it_is(node, rpc):
    batch = [{"jsonrpc": "2.0", "id": i, "method": "status", "params": {}} for i in (1, 2)]
    answer = rpc.post(json.dumps(batch).encode())
    assert [a["id"] for a in answer] == [1, 2] and all("result" in a for a in answer)
    assert json.loads(node.bodies[-1]) == batch


def test_an_error_answer_is_an_rpc_error_naming_the_method(rpc):
    with pytest.raises(RpcError, match="no_such_method: Method not found"):
        rpc.call("no_such_method")


def test_a_non_json_answer_is_an_rpc_error_with_the_status(node, rpc):
    node.garbage = True
    with pytest.raises(RpcError, match="HTTP 502"):
        rpc.status()


def test_an_unreachable_node_is_an_rpc_error(node):
    port = node.server_address[1]
    node.shutdown()
    node.server_close()
    with pytest.raises(RpcError, match="cannot reach"):
        Rpc(f"http://127.0.0.1:{port}", timeout=2).status()


def test_query_decodes_the_value_and_raises_query_error_on_a_code(node, rpc):
    assert rpc.query("/poll/1", b"\x01\xff") == ({"path": "/poll/1"}, 5)
    assert node.queries[-1] == {"path": "/poll/1", "data": "01ff"}  # abci_query data goes as hex
    with pytest.raises(QueryError) as err:
        rpc.query("/missing")
    assert (err.value.code, err.value.log, err.value.height) == (20, "no poll 9", 5)


def test_broadcast_sends_base64(node, rpc):
    assert base64.b64decode(rpc.broadcast_tx_sync(b"\x00tx")["tx"]) == b"\x00tx"


def test_wait_txs_returns_committed_txs(rpc):
    assert rpc.wait_tx(COMMITTED, timeout=5)["height"] == "7"
    assert set(rpc.wait_txs([COMMITTED], timeout=5)) == {COMMITTED}


def test_wait_txs_times_out_with_commit_timeout(rpc):
    missing = "CD" * 32
    with pytest.raises(CommitTimeout, match="1 of 2 txs not committed") as err:
        rpc.wait_txs([COMMITTED, missing], timeout=0.2, poll=0.05)
    assert isinstance(err.value, TimeoutError) and isinstance(err.value, RpcError)
    with pytest.raises(CommitTimeout, match=f"tx {missing}"):
        rpc.wait_tx(missing, timeout=0.1, poll=0.05)


def test_wait_txs_raises_other_errors_at_once_unless_told(node, rpc):
    node.garbage = True
    with pytest.raises(RpcError) as err:
        rpc.wait_txs([COMMITTED], timeout=5)
    assert not isinstance(err.value, CommitTimeout)
    with pytest.raises(CommitTimeout):
        rpc.wait_txs([COMMITTED], timeout=0.2, poll=0.05, through_errors=True)
