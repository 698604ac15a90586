"""Hostile input to the app, in process: queries through the real framing, CheckTx's cache,
the proposal checks, the genesis checks, the listener. Nothing here may stop a node."""
import asyncio
import json
import os
import stat

import pytest

from mpc_tx.protocol import codes
from abci_app.app import Application
from abci_app.genesis import GenesisError
from abci_app.abci.pb import abci
from abci_app.abci.server import AbciServer, parse_listen
from mpc_tx.protocol.keys import SigningKey

from apphelpers import Chain, poll_body, payloads
from apphelpers import HOSTILE_PATHS, read_responses, req as _request

def query(app, path: bytes):
    return app.query(abci.RequestQuery(path=path))


# --- queries ----------------------------------------------------------------------------------

def test_every_hostile_query_gets_a_code_not_an_exception(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 100)))
    chain.block(chain.tx(voter, "cast_ballot", {"poll": 1, "payloads": payloads(4)}))
    assert len(HOSTILE_PATHS) >= 50
    for path in HOSTILE_PATHS:
        res = query(chain.app, path)
        assert res.code in (codes.BAD_QUERY, codes.UNKNOWN_PATH, codes.NOT_FOUND), (path, res.code, res.log)
        assert res.log and len(res.log) < 300, path          # a reason, never an echo of the whole path
    for good in (b"/polls?after=0&limit=1", b"/poll/1", b"/poll/1/ballots?validator=3&fields=tx",
                 b"/account/" + voter.public_hex.encode(), b"/status"):
        assert query(chain.app, good).code == 0, good


def test_unknown_argument_and_repeats_are_named(chain):
    res = query(chain.app, b"/polls?after=1&after=2")
    assert res.code == codes.BAD_QUERY and "twice" in res.log
    res = query(chain.app, b"/polls?colour=red")
    assert res.code == codes.BAD_QUERY and "colour" in res.log
    res = query(chain.app, b"/poll/\xff")
    assert res.code == codes.BAD_QUERY and "UTF-8" in res.log


@pytest.fixture
def served(tmp_path):
    loop = asyncio.new_event_loop()
    c = Chain(tmp_path / "app")
    c.init()
    c.block()
    server = AbciServer(c.app)
    loop.run_until_complete(server.start("tcp://127.0.0.1:0"))
    yield loop, server, c
    loop.run_until_complete(server.close())
    loop.close()
    c.app.close()


def test_hostile_queries_through_the_real_framing_keep_the_connection(served):
    """Every frame the node can send parses (path as bytes), and each is answered in order."""
    loop, server, _ = served
    frames = b"".join(_request(query=abci.RequestQuery(path=p)) for p in HOSTILE_PATHS)

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frames + _request(echo=abci.RequestEcho(message="still here")) + _request(flush=abci.RequestFlush()))
        await writer.drain()
        out = await read_responses(reader, len(HOSTILE_PATHS) + 2)
        writer.close()
        return out
    out = loop.run_until_complete(asyncio.wait_for(go(), 30))
    assert [r.WhichOneof("value") for r in out[:-2]] == ["query"] * len(HOSTILE_PATHS)
    assert all(r.query.code != 0 for r in out[:-2])
    assert out[-2].echo.message == "still here" and out[-1].WhichOneof("value") == "flush"


def test_a_bug_in_query_checktx_or_info_is_answered_internal_and_the_connection_stays(served):
    loop, server, chain = served

    def broken(_req):
        raise KeyError("secret share 1234")     # what a bug could carry: never echoed
    chain.app.query = chain.app.check_tx = chain.app.info = broken

    async def go():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(_request(query=abci.RequestQuery(path=b"/status")) + _request(check_tx=abci.RequestCheckTx(tx=b"x"))
                     + _request(info=abci.RequestInfo()) + _request(flush=abci.RequestFlush()))
        await writer.drain()
        out = await read_responses(reader, 4)
        writer.close()
        return out
    q, ctx, info, flush = loop.run_until_complete(asyncio.wait_for(go(), 30))
    assert q.query.code == codes.INTERNAL and ctx.check_tx.code == codes.INTERNAL
    assert "KeyError" in q.query.log and "1234" not in q.query.log + ctx.check_tx.log
    assert info.WhichOneof("value") == "info" and info.info.last_block_height == chain.app.store.height
    assert flush.WhichOneof("value") == "flush"


# --- CheckTx: cheap checks first, only accepted txs cached ---------------------------------------

def test_cache_holds_only_accepted_txs_and_drops_what_a_recheck_rejects(chain):
    creator = SigningKey.generate()
    wrong_chain = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10), chain_id="other")
                   for _ in range(20)]
    for raw in wrong_chain:
        assert chain.check(raw).code == codes.WRONG_CHAIN
    assert len(chain.app.txs.items) == 0
    good = chain.tx(creator, "create_poll", poll_body(chain.height + 10))
    assert chain.check(good).code == 0 and chain.app.txs.get(good) is not None
    # The same nonce commits through another tx: the recheck rejects `good`, and it leaves the cache.
    chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 10), nonce=chain.nonces[creator.public_hex]))
    res = chain.app.check_tx(abci.RequestCheckTx(tx=good, type=abci.RECHECK))
    assert res.code == codes.REPLAY and chain.app.txs.get(good) is None


def test_cache_is_bounded_in_bytes(chain):
    chain.app.txs.max_bytes = 20_000
    for k in range(40):     # each its own close height: the closing quota is per height
        raw = chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10 + k, question="q" * 900))
        assert chain.check(raw).code == 0
    assert chain.app.txs.bytes <= 20_000 and len(chain.app.txs.items) < 40
    assert chain.app.txs.bytes == sum(len(tx.raw) for tx in chain.app.txs.items.values())


# --- ProcessProposal / PrepareProposal -----------------------------------------------------------

def proposal(app, txs, height=2):
    return app.process_proposal(abci.RequestProcessProposal(txs=txs, height=height)).status


ACCEPT, REJECT = abci.ResponseProcessProposal.ACCEPT, abci.ResponseProcessProposal.REJECT


def test_process_proposal_rejects_junk_and_accepts_stateful_failures(chain):
    creator = SigningKey.generate()
    good = chain.tx(creator, "create_poll", poll_body(chain.height + 10))
    replay = chain.tx(creator, "create_poll", poll_body(chain.height + 10), nonce=1)   # stateful: FinalizeBlock's job
    forged = bytearray(good)
    forged[-20] ^= 1
    assert proposal(chain.app, [good, replay]) == ACCEPT
    assert proposal(chain.app, []) == ACCEPT
    for junk in (b"\x00", b"{}", bytes(forged), b"x" * 70000,
                 chain.tx(creator, "create_poll", poll_body(5), chain_id="other-chain")):
        assert proposal(chain.app, [good, junk]) == REJECT, junk[:20]


def test_process_proposal_caps_the_number_of_txs(tmp_path):
    chain = Chain(tmp_path / "app", params={"max_block_txs": 3})
    chain.init()
    chain.block()
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)) for _ in range(4)]
    assert proposal(chain.app, txs[:3]) == ACCEPT
    assert proposal(chain.app, txs) == REJECT
    assert proposal(chain.app, [txs[0]] * 4) == REJECT      # duplicates count too
    prepared = chain.app.prepare_proposal(abci.RequestPrepareProposal(txs=txs, max_tx_bytes=1 << 20)).txs
    assert list(prepared) == txs[:3]
    chain.app.close()


def test_proposal_answer_does_not_depend_on_the_cache(chain):
    """Two nodes, one that saw the txs in CheckTx and one that did not, answer alike."""
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10 + k)) for k in range(5)]
    forged = bytearray(txs[2])
    forged[-20] ^= 1
    cold = proposal(chain.app, txs), proposal(chain.app, txs + [bytes(forged)])
    for raw in txs:
        assert chain.check(raw).code == 0
    warm = proposal(chain.app, txs), proposal(chain.app, txs + [bytes(forged)])
    assert cold == warm == (ACCEPT, REJECT)


def test_prepare_proposal_drops_junk_and_stays_under_max_tx_bytes(chain):
    txs = [chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)) for _ in range(6)]
    mixed = [b"\x01", txs[0], b"junk", txs[1], txs[2], txs[3], txs[4], txs[5]]
    limit = sum(len(t) for t in txs[:4]) + 10
    out = list(chain.app.prepare_proposal(abci.RequestPrepareProposal(txs=mixed, max_tx_bytes=limit)).txs)
    assert out == txs[:4] and sum(map(len, out)) <= limit
    assert proposal(chain.app, out) == ACCEPT


def test_finalize_block_still_answers_junk_with_codes(chain):
    """Blocksync and replay skip ProcessProposal: junk in a committed block gets a code each."""
    res = chain.block(b"\x00", b"{}", b"x" * 70000)
    assert [r.code for r in res.tx_results] == [codes.MALFORMED, codes.MALFORMED, codes.TOO_LARGE]


# --- genesis -------------------------------------------------------------------------------------

def _genesis_variants():
    def drop(field):
        return lambda reg: reg[1].pop(field)

    def setf(i, field, value):
        return lambda reg: reg[i].__setitem__(field, value)

    return {
        "no mpc_ports": (drop("mpc_ports"), "lacks mpc_ports"),
        "mpc_ports 0": (setf(1, "mpc_ports", 0), "MPC ports"),
        "mpc_port string": (setf(1, "mpc_port", "26610"), "mpc_port must be"),
        "power as bool": (setf(0, "power", True), "power must be"),
        "duplicate attest key": (lambda reg: reg[2].__setitem__("attest_key", reg[0]["attest_key"]), "attest_key is used"),
        "duplicate enc key": (lambda reg: reg[3].__setitem__("enc_key", reg[1]["enc_key"]), "enc_key is used"),
        "duplicate consensus key": (lambda reg: reg[3].update(pub_key=reg[0]["pub_key"], address=reg[0]["address"]),
                                    "is used by another validator"),
        "attest key not a point": (setf(1, "attest_key", "ff" * 32), "attest_key must be"),
        "attest key upper-case": (lambda reg: reg[1].__setitem__("attest_key", reg[1]["attest_key"].upper()), "attest_key"),
        "enc key short": (setf(1, "enc_key", "ab" * 31), "enc_key must be"),
        "wrong index": (setf(2, "index", 3), "index order"),
        "wrong address": (setf(2, "address", "00" * 20), "address"),
        "extra field": (setf(0, "shares", 1), "unknown field"),
        "port over 65535": (setf(0, "mpc_port", 65535), "MPC ports"),
        "huge power": (setf(0, "power", 1 << 63), "power must be"),
        "bad tls hash": (setf(0, "tls_sha256", "xyz"), "tls_sha256"),
        "missing entry": (lambda reg: reg.pop(), "registry lists 3"),
        "entry not an object": (lambda reg: reg.__setitem__(1, "node1"), "must be an object"),
    }


@pytest.mark.parametrize("name", list(_genesis_variants()))
def test_genesis_variants_stop_init_chain_with_a_message(tmp_path, name):
    change, message = _genesis_variants()[name]
    chain = Chain(tmp_path / "app")
    change(chain.registry)
    with pytest.raises(GenesisError, match=message):
        chain.init()
    assert chain.app.genesis is None
    chain.app.close()


@pytest.mark.parametrize("params, message", [
    ({"max_tx_bytes": 1 << 63}, "below 2"), ({"max_tx_bytes": 0}, "positive"), ({"max_block_txs": "5"}, "positive"),
    ({"mpc_deadline_blocks": 10 ** 12}, "at most"), ({"nope": 1}, "unknown"), ({"max_voters": 1.5}, "float"),
])
def test_genesis_params_in_range(tmp_path, params, message):
    chain = Chain(tmp_path / "app", params=params)
    with pytest.raises(GenesisError, match=message):
        chain.init()
    chain.app.close()


def test_a_bad_genesis_reaches_the_operator_through_the_framing(tmp_path):
    chain = Chain(tmp_path / "app")
    del chain.registry[1]["mpc_ports"]
    request = abci.Request()
    request.init_chain.CopyFrom(abci.RequestInitChain(chain_id="c", app_state_bytes=json.dumps(chain.genesis["app_state"]).encode()))
    for key in chain.cons:
        request.init_chain.validators.add(pub_key={"ed25519": key}, power=10)
    response = AbciServer(chain.app).handle(request)
    assert response.WhichOneof("value") == "exception" and "lacks mpc_ports" in response.exception.error
    chain.app.close()


def test_validator_set_is_static(chain):
    """No validator updates, ever: not at InitChain, not in any block."""
    fresh = Chain(chain.home + "-2")
    assert list(fresh.init().validators) == []
    creator = SigningKey.generate()
    res = chain.block(chain.tx(creator, "create_poll", poll_body(chain.height + 10)))
    res2 = chain.block()
    res3 = chain.block()
    assert not res.validator_updates and not res2.validator_updates and not res3.validator_updates
    fresh.app.close()


def test_polls_that_cannot_keep_a_secret_are_refused(tmp_path):
    for m in (1, 2):
        chain = Chain(tmp_path / f"app{m}", m=m)
        chain.init()
        chain.block()
        res = chain.block(chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)))
        assert res.tx_results[0].code == codes.BAD_POLL and "at least 3" in res.tx_results[0].log
        chain.app.close()


# --- the listener --------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["tcp://0:26658", "tcp://0.0.0.0:26658", "tcp://[::]:26658",
                                     "tcp://10.1.2.3:26658", "tcp://192.168.1.5:26658", "tcp://example.org:26658",
                                     "tcp://:26658", "tcp://127.0.0.1", "tcp://127.0.0.1:x", "unix://", "http://127.0.0.1:1"])
def test_listener_refuses_anything_but_loopback_or_unix(address):
    with pytest.raises(ValueError):
        parse_listen(address)


def test_listener_takes_loopback_and_unix():
    assert parse_listen("tcp://127.0.0.1:26658") == ("tcp", ("127.0.0.1", 26658))
    assert parse_listen("tcp://127.0.0.2:1") == ("tcp", ("127.0.0.2", 1))
    assert parse_listen("tcp://[::1]:26658") == ("tcp", ("::1", 26658))
    assert parse_listen("tcp://localhost:26658") == ("tcp", ("127.0.0.1", 26658))


def test_unix_socket_is_the_owners_only(tmp_path):
    loop = asyncio.new_event_loop()
    app = Application(str(tmp_path / "app"))
    server = AbciServer(app)
    path = tmp_path / "abci.sock"
    loop.run_until_complete(server.start(f"unix://{path}"))
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        loop.run_until_complete(server.close())
        loop.close()
        app.close()


# --- fault switches ------------------------------------------------------------------------------

def test_production_entry_points_have_no_fault_switch():
    """Faults exist only in tests/faults/: python -m abci_app and python -m mpc_tx.worker take none."""
    import inspect
    import abci_app.__main__ as app_main
    import abci_app.app as app_module
    import mpc_tx.worker as worker_module
    for module in (app_main, app_module, worker_module):
        source = inspect.getsource(module)
        assert "MPCVOTE_FAULT" not in source and "MPCVOTE_WORKER_FAULT" not in source and "--fault" not in source
    with pytest.raises(SystemExit):
        app_main.main(["--home", "/nonexistent", "--fault", "exit-before-commit"])
