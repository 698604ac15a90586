"""The ABCI classes generated at set-up time from CometBFT's protos, as abci_app.abci.pb loads them."""

from abci_app.abci import pb


def test_the_generated_modules_load():
    assert pb.abci.Request.DESCRIPTOR.full_name == "tendermint.abci.Request"
    assert pb.types.Header.DESCRIPTOR.full_name == "tendermint.types.Header"
    assert pb.keys.PublicKey.DESCRIPTOR.full_name == "tendermint.crypto.PublicKey"
    assert pb.canonical.CanonicalVote.DESCRIPTOR.full_name == "tendermint.types.CanonicalVote"
    assert pb.validator.Validator.DESCRIPTOR.full_name == "tendermint.types.Validator"
    assert pb.version.Consensus.DESCRIPTOR.full_name == "tendermint.version.Consensus"
    assert set(pb.__all__) == {"abci", "canonical", "keys", "types", "validator", "version"}


def test_request_carries_the_abci_2_methods():
    oneof = {f.name for f in pb.abci.Request.DESCRIPTOR.oneofs_by_name["value"].fields}
    assert {"prepare_proposal", "process_proposal", "finalize_block", "extend_vote", "commit"} <= oneof
    assert "begin_block" not in oneof and "deliver_tx" not in oneof  # ABCI 2.0, not 0.34's


def test_request_query_path_is_bytes():
    """scripts/setup declares RequestQuery.path as bytes: a path that is not UTF-8 still parses."""
    field = pb.abci.RequestQuery.DESCRIPTOR.fields_by_name["path"]
    assert field.type == field.TYPE_BYTES
    wire = pb.abci.RequestQuery(path=b"/poll/\xff\xfe", data=b"x").SerializeToString()
    parsed = pb.abci.RequestQuery()
    parsed.ParseFromString(wire)
    assert parsed.path == b"/poll/\xff\xfe"


def test_a_request_round_trips_through_its_wire_bytes():
    req = pb.abci.Request()
    req.finalize_block.CopyFrom(pb.abci.RequestFinalizeBlock(txs=[b"a", b"bc"], height=7, hash=b"\x01" * 32))
    back = pb.abci.Request()
    back.ParseFromString(req.SerializeToString())
    assert back.WhichOneof("value") == "finalize_block"
    assert list(back.finalize_block.txs) == [b"a", b"bc"] and back.finalize_block.height == 7
