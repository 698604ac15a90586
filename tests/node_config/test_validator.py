"""Tests of node_config.validator: one home per host with its own keys, its public entry, joining a genesis."""

import base64
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from mpc_tx.keyfile import load_encryption_key
from mpc_tx.protocol import registry
from node_config import identity
from node_config.assemble import assemble_genesis
from node_config.entries import ENTRY_FIELDS, EntryError, check_entry
from node_config.generate import find_cometbft
from node_config.validator import SETTINGS, export_entry, init_validator, join, reprove

CHAIN = "mpcvote-v"
SECRET_FILES = (
    "mpc/attest_key.json",
    "mpc/enc_key.json",
    "mpc/tls/party.key",
    "config/priv_validator_key.json",
    "config/node_key.json",
)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _config(home) -> dict:
    with open(Path(home) / "config" / "config.toml", "rb") as f:
        return tomllib.load(f)


def _init(home, i, **kw):
    return init_validator(home, chain_id=CHAIN, name=f"val{i}", host=f"10.1.0.{i + 1}", cometbft=find_cometbft(), **kw)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Three homes, each made alone, with their entries, the genesis and the peers."""
    root = tmp_path_factory.mktemp("hosts")
    homes = [root / f"host{i}" / "home" for i in range(3)]
    entries = [_init(h, i) for i, h in enumerate(homes)]
    template = json.loads((homes[0] / "config" / "genesis.json").read_text())
    genesis, peers = assemble_genesis(entries, CHAIN, template)
    blob = (json.dumps(genesis, indent=2) + "\n").encode()
    indexes = [join(h, blob, peers) for h in homes]
    return homes, entries, genesis, peers, indexes


def test_init_makes_one_home_with_private_keys_and_a_public_entry(made):
    homes, entries, *_ = made
    for i, (home, entry) in enumerate(zip(homes, entries)):
        for name in SECRET_FILES:
            assert _mode(home / name) == 0o600, name
        assert _mode(home / "mpc") == 0o700 and _mode(home / "mpc" / "tls") == 0o700
        assert not (home / "mpc" / "tls" / "ca.crt").exists()
        assert list(entry) == list(ENTRY_FIELDS)
        check_entry(entry, CHAIN)
        assert entry["name"] == f"val{i}" and entry["mpc_host"] == f"10.1.0.{i + 1}"
        assert entry["p2p"] == f"10.1.0.{i + 1}:26656" and entry["mpc_port"] == 26670 and entry["mpc_ports"] == 4
        assert entry["node_id"] == identity.node_id(home)
        assert entry["enc_key"] == load_encryption_key(home / "mpc" / "enc_key.json").public_hex
        text = json.dumps(entry)
        assert "PRIVATE KEY" not in text
        assert json.loads((home / "mpc" / "enc_key.json").read_text())["secret"] not in text
        assert json.loads((home / SETTINGS).read_text())["name"] == f"val{i}"


def test_the_config_of_a_home_before_and_after_join(made):
    homes, entries, genesis, peers, indexes = made
    for i, home in enumerate(homes):
        cfg = _config(home)
        assert cfg["moniker"] == f"val{i}"
        assert cfg["proxy_app"] == f"unix://{home.resolve()}/abci.sock"
        assert cfg["p2p"]["laddr"] == f"tcp://10.1.0.{i + 1}:26656"
        assert cfg["rpc"]["laddr"] == f"tcp://10.1.0.{i + 1}:26657"
        assert cfg["mempool"]["size"] == 10000 and cfg["consensus"]["timeout_commit"] == "300ms"
        # Joined: the peers are the others, and private addresses are not strict.
        own = identity.node_id(home)
        assert sorted(cfg["p2p"]["persistent_peers"].split(",")) == sorted(p for p in peers if not p.startswith(own))
        assert cfg["p2p"]["allow_duplicate_ip"] is True and cfg["p2p"]["addr_book_strict"] is False
        assert json.loads((home / "config" / "genesis.json").read_text()) == genesis


def test_join_reports_each_homes_index(made):
    homes, _entries, genesis, _peers, indexes = made
    pubs = [e["pub_key"] for e in genesis["app_state"]["validators"]]
    for home, index in zip(homes, indexes):
        assert pubs[index] == base64.b64encode(identity.consensus_key(home)).decode()
    assert sorted(indexes) == [0, 1, 2]


def test_join_refuses_a_genesis_without_this_home_or_with_other_keys(made, tmp_path):
    homes, entries, genesis, peers, _ = made
    stranger = tmp_path / "stranger"
    _init(stranger, 9)
    blob = json.dumps(genesis).encode()
    with pytest.raises(ValueError, match="does not register"):
        join(stranger, blob, peers)
    # A genesis that registers home 0's consensus key with another encryption key (with a valid proof).
    other = export_entry(stranger, CHAIN)
    i = next(k for k, e in enumerate(genesis["app_state"]["validators"]) if e["name"] == "val0")
    doc = json.loads(blob)
    victim = doc["app_state"]["validators"][i]
    victim["tls_cert"], victim["tls_sha256"] = other["tls_cert"], other["tls_sha256"]
    with pytest.raises(ValueError, match="another tls_sha256"):
        join(homes[0], json.dumps(doc).encode(), peers)
    assert json.loads((homes[0] / "config" / "genesis.json").read_text()) == genesis  # untouched
    with pytest.raises(EntryError):
        join(homes[0], blob, "nonsense")


def test_reprove_binds_the_new_chain_id(made):
    homes, entries, *_ = made
    proof = bytes.fromhex(reprove(homes[0], "mpcvote-v-r2"))
    found = registry.verify_key_possession(
        b"mpcvote-v-r2", identity.consensus_key(homes[0]), bytes.fromhex(entries[0]["enc_key"]), proof
    )
    assert not isinstance(found, registry.Rejected)
    again = export_entry(homes[0], "mpcvote-v-r2")
    assert again["chain_id"] == "mpcvote-v-r2" and again["enc_key"] == entries[0]["enc_key"]


@pytest.mark.parametrize(
    "kw, error",
    [
        (dict(name="bad name"), EntryError),
        (dict(host="0.0.0.0"), EntryError),
        (dict(chain_id=""), EntryError),
        (dict(power=0), ValueError),
        (dict(mpc_ports=0), ValueError),
        (dict(ports={"p2p": 80, "rpc": 26657, "metrics": 26660, "mpc_base": 26670}), ValueError),
        (dict(block_time="soon"), ValueError),
    ],
)
def test_init_refuses_bad_arguments_before_writing(tmp_path, kw, error):
    args = dict(chain_id=CHAIN, name="v", host="10.1.0.1", cometbft=find_cometbft())
    args.update(kw)
    with pytest.raises(error):
        init_validator(tmp_path / "home", **args)
    assert not (tmp_path / "home").exists()


def test_init_refuses_a_home_with_files(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "keep").write_text("x")
    with pytest.raises(FileExistsError):
        _init(tmp_path / "home", 0)
