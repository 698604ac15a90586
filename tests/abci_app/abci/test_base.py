"""BaseApplication: each default answers as CometBFT expects, and the server routes to every method."""

from abci_app.abci.base import BaseApplication, CODE_TYPE_OK
from abci_app.abci.pb import abci
from abci_app.abci.server import METHODS, AbciServer
from abci_app.app import Application


def test_every_routed_method_has_a_default():
    routed = {method for method, _field in METHODS.values() if method is not None}
    assert routed == {
        "echo",
        "info",
        "query",
        "check_tx",
        "init_chain",
        "prepare_proposal",
        "process_proposal",
        "finalize_block",
        "extend_vote",
        "verify_vote_extension",
        "commit",
        "list_snapshots",
        "offer_snapshot",
        "load_snapshot_chunk",
        "apply_snapshot_chunk",
    }
    for method in routed:
        assert callable(getattr(BaseApplication, method)), method
    assert METHODS["flush"] == (None, "flush")  # the server's own, never the app's


def test_info_connection_defaults():
    app = BaseApplication()
    assert app.echo(abci.RequestEcho(message="hi")).message == "hi"
    info = app.info(abci.RequestInfo())
    assert info.last_block_height == 0 and info.last_block_app_hash == b""  # replay from genesis
    assert app.query(abci.RequestQuery(path=b"/x")).code == CODE_TYPE_OK


def test_mempool_default_accepts():
    assert BaseApplication().check_tx(abci.RequestCheckTx(tx=b"x")).code == CODE_TYPE_OK


def test_consensus_defaults():
    app = BaseApplication()
    init = app.init_chain(abci.RequestInitChain(chain_id="c"))
    assert list(init.validators) == [] and init.app_hash == b""
    prepared = app.prepare_proposal(abci.RequestPrepareProposal(txs=[b"aa", b"bbb", b"c"], max_tx_bytes=5))
    assert list(prepared.txs) == [b"aa", b"bbb"]  # in order, stopping at the first that does not fit
    assert app.process_proposal(abci.RequestProcessProposal(txs=[b"x"])).status == abci.ResponseProcessProposal.ACCEPT
    assert app.extend_vote(abci.RequestExtendVote()).vote_extension == b""
    assert (
        app.verify_vote_extension(abci.RequestVerifyVoteExtension()).status == abci.ResponseVerifyVoteExtension.ACCEPT
    )
    block = app.finalize_block(abci.RequestFinalizeBlock(txs=[b"a", b"b"], height=1))
    assert [r.code for r in block.tx_results] == [CODE_TYPE_OK] * 2 and not block.validator_updates
    assert app.commit(abci.RequestCommit()).retain_height == 0  # keep every block


def test_snapshot_defaults_offer_nothing_and_refuse_what_is_offered():
    app = BaseApplication()
    assert list(app.list_snapshots(abci.RequestListSnapshots()).snapshots) == []
    assert app.offer_snapshot(abci.RequestOfferSnapshot()).result == abci.ResponseOfferSnapshot.REJECT
    assert app.load_snapshot_chunk(abci.RequestLoadSnapshotChunk()).chunk == b""
    assert app.apply_snapshot_chunk(abci.RequestApplySnapshotChunk()).result == abci.ResponseApplySnapshotChunk.ABORT


def test_the_server_answers_every_request_of_a_bare_base_application():
    server = AbciServer(BaseApplication())
    for field, (_method, response_field) in METHODS.items():
        request = abci.Request()
        getattr(request, field).SetInParent()
        response = server.handle(request)
        assert response.WhichOneof("value") == response_field, field


def test_the_app_keeps_the_defaults_it_does_not_mean_to_change():
    for method in (
        "echo",
        "extend_vote",
        "verify_vote_extension",
        "list_snapshots",
        "offer_snapshot",
        "load_snapshot_chunk",
        "apply_snapshot_chunk",
    ):
        assert getattr(Application, method) is getattr(BaseApplication, method), method
