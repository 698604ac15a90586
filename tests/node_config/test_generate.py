"""Tests of node_config: CometBFT homes, genesis registry and MPC keys of a testnet."""

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from mpc_tx.keyfile import load_signing_key, load_encryption_key
from mpc_tx.protocol import registry
from node_config import MANIFEST, generate_testnet
from node_config.generate import BLOCK_MAX_BYTES, find_cometbft
from node_config.ports import STRIDE, free_port_base

ROOT = Path(__file__).resolve().parents[2]
N = 4
PORT_BASE = 27100
SECRET_FILES = (
    "mpc/attest_key.json",
    "mpc/enc_key.json",
    "mpc/tls/party.key",
    "config/priv_validator_key.json",
    "config/node_key.json",
)


def _cometbft(*args) -> str:
    done = subprocess.run([find_cometbft(), *args], capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


def _config(home) -> dict:
    with open(Path(home) / "config" / "config.toml", "rb") as f:
        return tomllib.load(f)


def _triple(entry) -> tuple:
    return base64.b64decode(entry["pub_key"]), bytes.fromhex(entry["enc_key"]), bytes.fromhex(entry["enc_proof"])


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def testnet(tmp_path_factory):
    out = tmp_path_factory.mktemp("testnet") / "net"
    manifest = generate_testnet(out, N, chain_id="mpcvote-test", port_base=PORT_BASE, block_time="250ms")
    return out, manifest


@pytest.fixture(scope="module")
def genesis(testnet):
    out, manifest = testnet
    return json.loads((Path(manifest["validators"][0]["home"]) / "config" / "genesis.json").read_bytes())


def test_manifest_is_written_and_returned(testnet):
    out, manifest = testnet
    assert json.loads((out / MANIFEST).read_text()) == manifest
    assert manifest["chain_id"] == "mpcvote-test"
    assert manifest["mpc_ports"] == 4 and manifest["port_base"] == PORT_BASE
    assert [v["name"] for v in manifest["validators"]] == [f"node{i}" for i in range(N)]
    for v in manifest["validators"]:
        assert Path(v["home"]).is_absolute() and Path(v["home"]).is_dir()
        assert v["host"] == "127.0.0.1"


def test_ports_follow_the_plan_and_are_distinct(testnet):
    _, manifest = testnet
    used = []
    for i, v in enumerate(manifest["validators"]):
        p = v["ports"]
        base = PORT_BASE + 20 * i
        assert p == {"p2p": base, "rpc": base + 1, "abci": base + 2, "metrics": base + 3, "mpc_base": base + 10}
        used += [p["p2p"], p["rpc"], p["abci"], p["metrics"]]
        used += range(p["mpc_base"], p["mpc_base"] + manifest["mpc_ports"])
    assert len(used) == len(set(used))


def test_secret_files_are_private(testnet):
    out, manifest = testnet
    assert not (out / "ca").exists()  # no shared CA: each certificate is self-signed
    for v in manifest["validators"]:
        for name in SECRET_FILES:
            assert _mode(Path(v["home"]) / name) == 0o600, name
        assert _mode(Path(v["home"]) / "mpc") == 0o700
        assert _mode(Path(v["home"]) / "mpc" / "tls") == 0o700


def test_genesis_is_identical_in_every_home(testnet):
    _, manifest = testnet
    blobs = {(Path(v["home"]) / "config" / "genesis.json").read_bytes() for v in manifest["validators"]}
    assert len(blobs) == 1


def test_genesis_keeps_cometbft_fields_and_sets_ours(genesis):
    assert genesis["chain_id"] == "mpcvote-test"
    assert genesis["consensus_params"]["block"]["max_bytes"] == str(BLOCK_MAX_BYTES)
    assert genesis["consensus_params"]["validator"]["pub_key_types"] == ["ed25519"]
    assert "genesis_time" in genesis and genesis["initial_height"] == "0"
    assert [v["name"] for v in genesis["validators"]] == [f"node{i}" for i in range(N)]


def test_registry_matches_genesis_validators_and_key_files(testnet, genesis):
    from mpc_tx.mpc import tls

    _, manifest = testnet
    entries = genesis["app_state"]["validators"]
    assert genesis["app_state"]["params"] == {}
    assert len(entries) == N
    for i, (entry, gv, v) in enumerate(zip(entries, genesis["validators"], manifest["validators"])):
        home = Path(v["home"])
        assert set(entry) == {
            "index",
            "name",
            "address",
            "pub_key",
            "power",
            "attest_key",
            "enc_key",
            "enc_proof",
            "mpc_host",
            "mpc_port",
            "mpc_ports",
            "tls_cert",
            "tls_sha256",
        }
        assert entry["index"] == i and entry["name"] == f"node{i}"
        assert entry["address"] == gv["address"] and entry["address"] == entry["address"].upper()
        assert entry["pub_key"] == gv["pub_key"]["value"]
        assert entry["power"] == int(gv["power"]) == 1
        assert entry["attest_key"] == load_signing_key(home / "mpc" / "attest_key.json").public_hex
        assert entry["enc_key"] == load_encryption_key(home / "mpc" / "enc_key.json").public_hex
        assert entry["mpc_host"] == "127.0.0.1"
        assert entry["mpc_port"] == v["ports"]["mpc_base"] and entry["mpc_ports"] == 4
        cert = (home / "mpc" / "tls" / "party.crt").read_bytes()
        assert entry["tls_cert"] == cert.decode()
        assert entry["tls_sha256"] == tls.cert_fingerprint(cert)
        assert not (home / "mpc" / "tls" / "ca.crt").exists()
        proof = bytes.fromhex(entry["enc_proof"])
        consensus = base64.b64decode(entry["pub_key"])
        found = registry.verify_key_possession(b"mpcvote-test", consensus, bytes.fromhex(entry["enc_key"]), proof)
        assert not isinstance(found, registry.Rejected)
    assert not isinstance(registry.check_registry(b"mpcvote-test", [_triple(e) for e in entries]), registry.Rejected)
    # Distinct keys per validator.
    assert len({e["attest_key"] for e in entries}) == N
    assert len({e["enc_key"] for e in entries}) == N
    assert len({e["tls_sha256"] for e in entries}) == N


def test_no_secret_in_genesis_or_manifest(testnet):
    out, manifest = testnet
    public = (out / MANIFEST).read_text()
    public += (Path(manifest["validators"][0]["home"]) / "config" / "genesis.json").read_text()
    for v in manifest["validators"]:
        home = Path(v["home"])
        secrets = [
            json.loads((home / "mpc" / "attest_key.json").read_text())["seed"],
            json.loads((home / "mpc" / "enc_key.json").read_text())["secret"],
            json.loads((home / "config" / "priv_validator_key.json").read_text())["priv_key"]["value"],
        ]
        for s in secrets:
            assert s not in public
        assert "PRIVATE KEY" not in public


def test_config_toml_is_patched(testnet):
    _, manifest = testnet
    validators = manifest["validators"]
    for i, v in enumerate(validators):
        cfg, p = _config(v["home"]), v["ports"]
        assert cfg["proxy_app"] == f"unix://{Path(v['home']).resolve()}/abci.sock"  # never a TCP port
        assert cfg["moniker"] == f"node{i}" and cfg["log_level"] == "info"
        assert cfg["rpc"]["laddr"] == f"tcp://127.0.0.1:{p['rpc']}"
        assert cfg["rpc"]["pprof_laddr"] == ""
        assert cfg["p2p"]["laddr"] == f"tcp://127.0.0.1:{p['p2p']}"
        assert cfg["p2p"]["allow_duplicate_ip"] is True
        assert cfg["p2p"]["addr_book_strict"] is False
        peers = cfg["p2p"]["persistent_peers"].split(",")
        assert sorted(peers) == sorted(
            f"{w['node_id']}@127.0.0.1:{w['ports']['p2p']}" for j, w in enumerate(validators) if j != i
        )
        assert cfg["tx_index"]["indexer"] == "kv"
        assert cfg["instrumentation"]["prometheus"] is True
        assert cfg["instrumentation"]["prometheus_listen_addr"] == f"127.0.0.1:{p['metrics']}"
        assert cfg["consensus"]["timeout_commit"] == "250ms"
        assert cfg["consensus"]["timeout_propose"] == "1s"
        assert cfg["consensus"]["create_empty_blocks"] is True
        assert cfg["mempool"]["size"] == 10000
        # Untouched settings are kept.
        assert cfg["rpc"]["max_body_bytes"] == 1000000
        assert cfg["mempool"]["max_tx_bytes"] == 1048576


def test_node_ids_match_cometbft(testnet):
    _, manifest = testnet
    for v in manifest["validators"]:
        assert _cometbft("show-node-id", "--home", v["home"]) == v["node_id"]


def test_consensus_keys_match_cometbft(testnet, genesis):
    _, manifest = testnet
    for v, entry in zip(manifest["validators"], genesis["app_state"]["validators"]):
        shown = json.loads(_cometbft("show-validator", "--home", v["home"]))
        assert shown == {"type": "tendermint/PubKeyEd25519", "value": entry["pub_key"]}
        raw = base64.b64decode(entry["pub_key"])
        assert hashlib.sha256(raw).digest()[:20].hex().upper() == entry["address"]


def test_multi_host_uses_given_addresses(tmp_path):
    hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    manifest = generate_testnet(tmp_path / "net", 4, hosts=hosts, mpc_ports=2)
    assert manifest["port_base"] is None
    genesis = json.loads((Path(manifest["validators"][0]["home"]) / "config" / "genesis.json").read_text())
    for i, (v, entry) in enumerate(zip(manifest["validators"], genesis["app_state"]["validators"])):
        host = hosts[i]
        assert v["host"] == host
        assert v["ports"] == {"p2p": 26656, "rpc": 26657, "abci": 26658, "metrics": 26660, "mpc_base": 26670}
        assert entry["mpc_host"] == host and entry["mpc_port"] == 26670 and entry["mpc_ports"] == 2
        cfg = _config(v["home"])
        assert cfg["proxy_app"] == f"unix://{Path(v['home']).resolve()}/abci.sock"
        assert cfg["rpc"]["laddr"] == f"tcp://{host}:26657"
        assert cfg["p2p"]["laddr"] == f"tcp://{host}:26656"
        assert cfg["instrumentation"]["prometheus_listen_addr"] == f"{host}:26660"
        assert sorted(cfg["p2p"]["persistent_peers"].split(",")) == sorted(
            f"{w['node_id']}@{w['host']}:26656" for j, w in enumerate(manifest["validators"]) if j != i
        )
        # Loopback addresses are neither routable nor distinct source IPs to CometBFT.
        assert cfg["p2p"]["allow_duplicate_ip"] is True
        assert cfg["p2p"]["addr_book_strict"] is False


def test_multi_host_on_public_addresses_is_strict(tmp_path):
    # Only written into config files; nothing dials these addresses.
    manifest = generate_testnet(tmp_path / "net", 2, hosts=["8.8.8.8", "1.1.1.1"])
    for v in manifest["validators"]:
        cfg = _config(v["home"])
        assert cfg["p2p"]["allow_duplicate_ip"] is False
        assert cfg["p2p"]["addr_book_strict"] is True


def test_ipv6_addresses_are_bracketed(tmp_path):
    manifest = generate_testnet(tmp_path / "net", 2, host="::1", port_base=28200)
    cfg = _config(manifest["validators"][0]["home"])
    assert cfg["p2p"]["laddr"] == "tcp://[::1]:28200"
    assert cfg["p2p"]["persistent_peers"] == f"{manifest['validators'][1]['node_id']}@[::1]:28220"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n=0), ValueError),
        (dict(n=2, hosts=["127.0.0.2"]), ValueError),
        (dict(n=2, hosts=["127.0.0.2", "127.0.0.2"]), ValueError),
        (dict(n=2, hosts=["127.0.0.2", "127.0.0.3"], port_base=30000), ValueError),
        (dict(n=2, hosts=["127.0.0.2", "bad,host"]), ValueError),
        (dict(n=2, host="0.0.0.0"), ValueError),
        (dict(n=2, hosts=["127.0.0.2", "::"]), ValueError),
        (dict(n=2, block_time="fast"), ValueError),
        (dict(n=2, chain_id=""), ValueError),
        (dict(n=2, chain_id="x" * 51), ValueError),
        (dict(n=2, mpc_ports=11), ValueError),
        (dict(n=2, port_base=65520), ValueError),
        (dict(n=2, port_base=80), ValueError),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, error):
    n = kwargs.pop("n")
    with pytest.raises(error):
        generate_testnet(tmp_path / "net", n, **kwargs)
    assert not (tmp_path / "net").exists() or not any((tmp_path / "net").iterdir())


def test_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        generate_testnet(tmp_path, 1)


def test_an_existing_empty_directory_is_fine(tmp_path):
    manifest = generate_testnet(tmp_path, 1, port_base=28000)
    assert len(manifest["validators"]) == 1
    assert _config(manifest["validators"][0]["home"])["p2p"]["persistent_peers"] == ""


def test_cli_generate(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "node_config",
            "generate",
            "--out",
            str(out),
            "--validators",
            "2",
            "--chain-id",
            "mpcvote-cli",
            "--port-base",
            "28100",
            "--block-time",
            "1s",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["chain_id"] == "mpcvote-cli" and len(manifest["validators"]) == 2
    assert manifest["validators"][1]["ports"]["p2p"] == 28120
    assert _config(manifest["validators"][0]["home"])["consensus"]["timeout_commit"] == "1s"


def test_cli_hosts_sets_the_validator_count(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "node_config",
            "generate",
            "--out",
            str(out),
            "--hosts",
            "127.0.0.2,127.0.0.3,127.0.0.4",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [v["host"] for v in json.loads((out / MANIFEST).read_text())["validators"]] == [
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
    ]


def test_cli_reports_bad_arguments(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "node_config", "generate", "--out", str(tmp_path / "x"), "--block-time", "soon"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and "block_time" in done.stderr


# --- real nodes: the generated homes make a live chain ---------------------------------------


def _free_port_base(n: int) -> int:
    """Return a port base whose n validators' loopback ports are all free right now."""
    try:
        return free_port_base(STRIDE * n, low=40000, high=60000)
    except OSError:
        pytest.skip("no free block of loopback ports")


def _height(rpc_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{rpc_port}/status", timeout=2) as r:
        return int(json.load(r)["result"]["sync_info"]["latest_block_height"])


@pytest.mark.testnet
def test_generated_testnet_produces_blocks(tmp_path):
    manifest = generate_testnet(tmp_path / "net", N, port_base=_free_port_base(N))
    procs = []
    try:
        for v in manifest["validators"]:
            log = open(Path(v["home"]) / "node.log", "wb")
            # The built-in kvstore app stands in for ours: this checks config and genesis only.
            procs.append(
                subprocess.Popen(
                    [find_cometbft(), "start", "--home", v["home"], "--proxy_app", "kvstore"], stdout=log, stderr=log
                )
            )
            log.close()
        rpc = manifest["validators"][-1]["ports"]["rpc"]
        deadline, height = time.monotonic() + 60, 0
        while time.monotonic() < deadline and height < 3:
            time.sleep(0.5)
            try:
                height = _height(rpc)
            except OSError:
                pass
            assert all(p.poll() is None for p in procs), "a node exited"
        assert height >= 3
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
