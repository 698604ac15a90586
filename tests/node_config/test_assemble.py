"""Tests of node_config.assemble: a genesis from public entries, in a deterministic order, checked whole."""

import copy
import json
import base64

import pytest

from mpc_tx.protocol import registry
from node_config.assemble import (
    BLOCK_MAX_BYTES,
    EVIDENCE_MAX_BYTES,
    assemble_genesis,
    check_genesis_registry,
)
from node_config.entries import REGISTRY_FIELDS, EntryError


def test_genesis_orders_by_consensus_address_and_assigns_indexes(entries, template):
    genesis, peers = assemble_genesis(list(reversed(entries)), "mpcvote-t", template)
    by_address = sorted(entries, key=lambda e: e["address"])
    reg = genesis["app_state"]["validators"]
    assert [e["address"] for e in reg] == [e["address"] for e in by_address]
    assert [e["index"] for e in reg] == [0, 1, 2, 3]
    assert all(list(e) == list(REGISTRY_FIELDS) for e in reg)  # no node_id, p2p or chain_id in the registry
    for e, src in zip(reg, by_address):
        assert {k: v for k, v in e.items() if k != "index"} == {k: src[k] for k in REGISTRY_FIELDS if k != "index"}
    assert [v["pub_key"]["value"] for v in genesis["validators"]] == [e["pub_key"] for e in reg]
    assert genesis["validators"][0] == {
        "address": reg[0]["address"],
        "pub_key": {"type": "tendermint/PubKeyEd25519", "value": reg[0]["pub_key"]},
        "power": "1",
        "name": reg[0]["name"],
    }
    assert peers == [f"{e['node_id']}@{e['p2p']}" for e in by_address]
    assert genesis["app_state"]["params"] == {}
    assert genesis["chain_id"] == "mpcvote-t"


def test_the_same_entries_in_any_order_give_the_same_genesis(entries, template):
    a, _ = assemble_genesis(list(entries), "mpcvote-t", template, genesis_time="2026-12-01T00:00:00Z")
    b, _ = assemble_genesis(
        [entries[2], entries[0], entries[3], entries[1]], "mpcvote-t", template, genesis_time="2026-12-01T00:00:00Z"
    )
    assert json.dumps(a) == json.dumps(b)
    assert a["genesis_time"] == "2026-12-01T00:00:00Z"


def test_keep_order_keeps_the_given_order(entries, template):
    genesis, _ = assemble_genesis(list(entries), "mpcvote-t", template, keep_order=True)
    assert [e["name"] for e in genesis["app_state"]["validators"]] == ["v0", "v1", "v2", "v3"]


def test_cometbft_fields_are_kept_and_sizes_set(entries, template):
    genesis, _ = assemble_genesis(list(entries), "mpcvote-t", template)
    params = genesis["consensus_params"]
    assert params["block"] == {"max_bytes": str(BLOCK_MAX_BYTES), "max_gas": "-1"}
    assert BLOCK_MAX_BYTES == 524288
    # CometBFT refuses a genesis whose evidence may exceed a block.
    assert int(params["evidence"]["max_bytes"]) == EVIDENCE_MAX_BYTES <= BLOCK_MAX_BYTES
    assert params["evidence"]["max_age_num_blocks"] == "100000"
    assert params["validator"] == {"pub_key_types": ["ed25519"]}
    assert genesis["genesis_time"] == template["genesis_time"] and genesis["initial_height"] == "0"
    assert template["consensus_params"]["block"]["max_bytes"] == "22020096"  # the template is not changed


def test_the_genesis_registry_checks_and_its_proofs_verify(entries, template):
    genesis, _ = assemble_genesis(list(entries), "mpcvote-t", template)
    reg = check_genesis_registry(genesis)
    triples = [
        (base64.b64decode(e["pub_key"]), bytes.fromhex(e["enc_key"]), bytes.fromhex(e["enc_proof"])) for e in reg
    ]
    assert not isinstance(registry.check_registry(b"mpcvote-t", triples), registry.Rejected)
    # A registry that is not under this chain id does not check.
    with pytest.raises(EntryError, match="proof of possession"):
        check_genesis_registry(dict(genesis, chain_id="another"))


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda g: g["app_state"]["validators"][1].update(index=3), "index"),
        (lambda g: g["app_state"]["validators"][1].update(node_id="a" * 40), "exactly the fields"),
        (lambda g: g["app_state"]["validators"][1].pop("enc_proof"), "exactly the fields"),
        (lambda g: g["validators"][1].update(power="2"), "key and power"),
        (lambda g: g["validators"].reverse(), "key and power"),
        (lambda g: g["validators"].pop(), "lists 4 validators"),
        (lambda g: g["app_state"].pop("validators"), "no app_state.validators"),
        (
            lambda g: g["app_state"]["validators"][1].update(enc_proof=g["app_state"]["validators"][0]["enc_proof"]),
            "proof of possession",
        ),
    ],
)
def test_a_tampered_genesis_registry_is_refused(entries, template, change, words):
    genesis, _ = assemble_genesis(list(entries), "mpcvote-t", template, keep_order=True)
    genesis = copy.deepcopy(genesis)
    change(genesis)
    with pytest.raises(EntryError, match=words):
        check_genesis_registry(genesis)


def test_duplicates_are_refused(entries, template, entry_for):
    with pytest.raises(EntryError, match="same name"):
        assemble_genesis([entries[0], entries[0]], "mpcvote-t", template)
    with pytest.raises(EntryError, match="same address"):
        assemble_genesis([entries[0], dict(entries[0], name="v9")], "mpcvote-t", template)
    twin = entry_for("v0", "10.0.0.9", "mpcvote-t")
    with pytest.raises(EntryError, match="same name"):
        assemble_genesis([entries[0], twin], "mpcvote-t", template)


def test_one_encryption_key_under_two_identities_is_refused(entries, template, entry_for):
    from mpc_tx.protocol.keys import EncryptionKey

    enc = EncryptionKey.generate()
    a = entry_for("a", "10.0.1.1", "mpcvote-t", enc=enc)
    b = entry_for("b", "10.0.1.2", "mpcvote-t", enc=enc)  # the same key, each with a valid proof
    with pytest.raises(EntryError, match="encryption key registered twice"):
        assemble_genesis([a, b], "mpcvote-t", template)


def test_overlapping_mpc_ports_on_one_host_are_refused(template, entry_for):
    a = entry_for("a", "10.0.2.1", "mpcvote-t", port=30000)
    b = dict(entry_for("b", "10.0.2.1", "mpcvote-t", port=30003), p2p="10.0.2.1:26700")
    with pytest.raises(EntryError, match="MPC port 30003"):
        assemble_genesis([a, b], "mpcvote-t", template)
    c = dict(entry_for("c", "10.0.2.1", "mpcvote-t", port=30004), p2p="10.0.2.1:26701")
    genesis, _ = assemble_genesis([a, c], "mpcvote-t", template)
    assert len(genesis["app_state"]["validators"]) == 2


def test_entries_of_another_chain_or_no_entries_are_refused(entries, template):
    with pytest.raises(EntryError, match="entry 1: .*is for chain"):
        assemble_genesis(list(entries), "mpcvote-other", template)
    with pytest.raises(EntryError):
        assemble_genesis([], "mpcvote-t", template)
    with pytest.raises(EntryError, match="genesis time"):
        assemble_genesis(list(entries), "mpcvote-t", template, genesis_time="yesterday")
