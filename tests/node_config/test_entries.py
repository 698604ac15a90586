"""Tests of node_config.entries: an exported entry is checked whole, each refusal names its field."""

import copy

import pytest

from mpc_tx.mpc import tls
from mpc_tx.protocol.keys import EncryptionKey
from node_config.entries import (
    ENTRY_FIELDS,
    REGISTRY_FIELDS,
    EntryError,
    check_entry,
    check_host,
    hostport,
    parse_peers,
)


def test_registry_fields_are_the_apps_plus_the_proof():
    from abci_app.genesis import REGISTRY_FIELDS as APP_FIELDS

    assert set(APP_FIELDS) | {"enc_proof"} == set(REGISTRY_FIELDS)
    assert set(ENTRY_FIELDS) == set(REGISTRY_FIELDS) - {"index"} | {"chain_id", "node_id", "p2p"}


def test_a_valid_entry_passes(entries):
    assert check_entry(entries[0]) is entries[0]
    assert check_entry(entries[0], "mpcvote-t") is entries[0]


def _other_cert(e):
    cert, _ = tls.make_party_cert("v0", "10.0.0.1")
    return cert.decode()


def _other_key_same_proof(e):
    return EncryptionKey.generate().public_hex


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda e: e.pop("enc_proof"), "lacks enc_proof"),
        (lambda e: e.update(index=0), "unknown field 'index'"),
        (lambda e: e.update(secret="x"), "unknown field 'secret'"),
        (lambda e: e.update(chain_id=""), "chain_id"),
        (lambda e: e.update(name="bad name"), "name"),
        (lambda e: e.update(address="00" * 20), "address"),
        (lambda e: e.update(pub_key="AAAA"), "pub_key"),
        (lambda e: e.update(power=0), "power"),
        (lambda e: e.update(power=True), "power"),
        (lambda e: e.update(attest_key="AB" * 32), "attest_key"),
        (lambda e: e.update(enc_key="00" * 32), "identity"),
        (lambda e: e.update(enc_key=_other_key_same_proof(e)), "proof of possession"),
        (lambda e: e.update(enc_proof="00" * 64), "proof of possession"),
        (lambda e: e.update(enc_proof="00" * 63), "enc_proof"),
        (lambda e: e.update(mpc_host="0.0.0.0"), "cannot be dialled"),
        (lambda e: e.update(mpc_host="a,b"), "host"),
        (lambda e: e.update(mpc_port=80), "MPC ports"),
        (lambda e: e.update(mpc_port=65534, mpc_ports=4), "MPC ports"),
        (lambda e: e.update(mpc_ports=0), "MPC ports"),
        (lambda e: e.update(tls_cert="not a cert"), "tls_cert"),
        (lambda e: e.update(tls_cert=_other_cert(e)), "tls_sha256"),
        (lambda e: e.update(tls_sha256="00" * 32), "tls_sha256"),
        (lambda e: e.update(node_id="XY"), "node_id"),
        (lambda e: e.update(p2p="10.0.0.1"), "p2p"),
        (lambda e: e.update(p2p="0.0.0.0:26656"), "cannot be dialled"),
        (lambda e: e.update(name=7), "name"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_problem(entries, change, words):
    entry = copy.deepcopy(entries[0])
    change(entry)
    with pytest.raises(EntryError, match=words):
        check_entry(entry)


def test_an_entry_for_another_chain_is_refused(entries):
    with pytest.raises(EntryError, match="is for chain 'mpcvote-t', not 'other'"):
        check_entry(entries[0], "other")


def test_a_proof_under_another_chain_id_does_not_verify(entries):
    # The entry claims chain "x" but its proof is bound to mpcvote-t.
    with pytest.raises(EntryError, match="proof of possession"):
        check_entry(dict(entries[0], chain_id="x"))


def test_a_proof_for_another_consensus_key_does_not_verify(entries):
    stolen = dict(entries[1], enc_key=entries[0]["enc_key"], enc_proof=entries[0]["enc_proof"])
    with pytest.raises(EntryError, match="proof of possession"):
        check_entry(stolen)


def test_a_non_object_entry_is_refused():
    for bad in (None, [], "x"):
        with pytest.raises(EntryError):
            check_entry(bad)


def test_peers_parse_and_ipv6_is_bracketed():
    a, b = "a" * 40, "b" * 40
    assert parse_peers(f"{a}@10.0.0.1:26656, {b}@[::1]:28200,") == [(a, "10.0.0.1", 26656), (b, "::1", 28200)]
    assert parse_peers([]) == []
    assert hostport("::1", 5) == "[::1]:5" and hostport("h", 5) == "h:5"
    for bad in (f"{a}@h", "xx@h:1", f"{a}@h:0", f"{a}@h:99999", f"{a}@a b:1", f"{a}h:1"):
        with pytest.raises(EntryError):
            parse_peers(bad)


def test_hosts_must_be_dialable():
    check_host("10.0.0.1")
    check_host("node1.example")
    check_host("0.0.0.0", dialled=False)
    for bad in ("0.0.0.0", "::", "a,b", "", None, "x" * 254):
        with pytest.raises(EntryError):
            check_host(bad)
