"""Generate the CometBFT homes, genesis and MPC keys of an N-validator testnet.

`cometbft testnet` makes the consensus and node keys; this module then gives each
home its ports, peers and settings, its MPC keys and TLS certificate, and writes
one genesis whose app_state holds the validator registry (party index = position
in the genesis validators = node number).
"""

import base64
import ipaddress
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from node_config import identity, tomlpatch
from node_config.ports import DEFAULT_PORT_BASE, multi_host_ports, one_host_ports

__all__ = ["BLOCK_MAX_BYTES", "MANIFEST", "generate_testnet", "find_cometbft", "config_changes", "abci_address"]

MANIFEST = "testnet.json"
# Room for a few thousand encrypted ballots per block, well under CometBFT's 100 MB cap.
BLOCK_MAX_BYTES = 4 * 1024 * 1024
MEMPOOL_SIZE = 10000
# A proposer on loopback or a LAN answers in milliseconds; a dead one should cost
# a round quickly rather than CometBFT's default 3 s.
TIMEOUT_PROPOSE = "1s"

_GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
_HOST = re.compile(r"[A-Za-z0-9.:-]+")
_MAX_CHAIN_ID = 50  # CometBFT's limit on chain_id length


def generate_testnet(
    out_dir,
    n: int = 4,
    *,
    chain_id: str = "mpcvote-local",
    host: str = "127.0.0.1",
    port_base: int | None = None,
    block_time: str = "300ms",
    hosts: list[str] | None = None,
    mpc_ports: int = 4,
    cometbft=None,
) -> dict:
    """Create n validator homes under out_dir and return the manifest written there.

    With hosts (one address per validator) every node uses CometBFT's usual ports
    on its own address; otherwise all share host with ports from port_base (26600).
    """
    out = Path(out_dir).resolve()
    multi = hosts is not None
    _check_args(out, n, chain_id, host, hosts, port_base, block_time)
    if multi:
        plan = [(h, multi_host_ports(mpc_ports=mpc_ports)) for h in hosts]
    else:
        base = DEFAULT_PORT_BASE if port_base is None else port_base
        plan = [(host, one_host_ports(i, port_base=base, mpc_ports=mpc_ports)) for i in range(n)]

    _run_cometbft_testnet(find_cometbft(cometbft), n, out)
    homes = [out / f"node{i}" for i in range(n)]
    node_ids = [identity.node_id(h) for h in homes]

    registry = _make_mpc_identities(out, homes, plan, chain_id, mpc_ports)
    genesis = _genesis(homes, chain_id, registry)
    for home in homes:
        (home / "config" / "genesis.json").write_bytes(genesis)

    peers = [f"{nid}@{_hostport(h, ports['p2p'])}" for nid, (h, ports) in zip(node_ids, plan)]
    lenient = not (multi and all(_is_public_ip(h) for h, _ in plan))
    for i, home in enumerate(homes):
        h, ports = plan[i]
        changes = config_changes(
            i,
            h,
            ports,
            home=home,
            peers=[p for j, p in enumerate(peers) if j != i],
            block_time=block_time,
            multi_host=multi,
            # Nodes sharing one address, or a loopback/private network, trip
            # CometBFT's duplicate-IP and routability checks.
            allow_duplicate_ip=lenient or not multi,
            addr_book_strict=not lenient,
        )
        tomlpatch.patch_file(home / "config" / "config.toml", changes)

    manifest = {
        "chain_id": chain_id,
        "validators": [
            {"name": f"node{i}", "home": str(homes[i]), "host": h, "ports": ports, "node_id": node_ids[i]}
            for i, (h, ports) in enumerate(plan)
        ],
        "mpc_ports": mpc_ports,
        "port_base": None if multi else plan[0][1]["p2p"],
    }
    _write(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def abci_address(home) -> str:
    """Return where node and app meet: a unix socket in the validator's home (mode 0600).

    Only the owner of the home can reach it; a TCP port on loopback would let any
    local user (or a process in the node's network namespace) speak to the app.
    """
    return f"unix://{Path(home).resolve()}/abci.sock"


def config_changes(
    index: int,
    host: str,
    ports: dict,
    *,
    home,
    peers: list[str],
    block_time: str,
    multi_host: bool,
    allow_duplicate_ip: bool,
    addr_book_strict: bool,
) -> dict:
    """Return the {section: {key: value}} settings of node index's config.toml."""
    # RPC and metrics stay on loopback when all nodes share a machine; with one
    # validator per machine they listen on that machine's address only.
    public = host if multi_host else "127.0.0.1"
    return {
        "": {"proxy_app": abci_address(home), "moniker": f"node{index}", "log_level": "info"},
        "rpc": {"laddr": f"tcp://{_hostport(public, ports['rpc'])}", "pprof_laddr": ""},
        "p2p": {
            "laddr": f"tcp://{_hostport(host, ports['p2p'])}",
            "persistent_peers": ",".join(peers),
            "allow_duplicate_ip": allow_duplicate_ip,
            "addr_book_strict": addr_book_strict,
        },
        "mempool": {"size": MEMPOOL_SIZE},
        "consensus": {"timeout_commit": block_time, "timeout_propose": TIMEOUT_PROPOSE, "create_empty_blocks": True},
        "tx_index": {"indexer": "kv"},
        "instrumentation": {"prometheus": True, "prometheus_listen_addr": _hostport(public, ports["metrics"])},
    }


def find_cometbft(path=None) -> str:
    """Return the cometbft binary: path, else <repo>/.bin/cometbft, else one on PATH."""
    if path is not None:
        return str(path)
    local = Path(__file__).resolve().parent.parent / ".bin" / "cometbft"
    if local.is_file():
        return str(local)
    found = shutil.which("cometbft")
    if found is None:
        raise FileNotFoundError("no cometbft binary: run scripts/setup or pass its path")
    return found


def _check_args(out: Path, n, chain_id, host, hosts, port_base, block_time) -> None:
    if type(n) is not int or n < 1:
        raise ValueError("the number of validators must be a positive int")
    if not isinstance(chain_id, str) or not 0 < len(chain_id) <= _MAX_CHAIN_ID:
        raise ValueError(f"chain_id must be 1 to {_MAX_CHAIN_ID} characters")
    if not isinstance(block_time, str) or not _GO_DURATION.fullmatch(block_time):
        raise ValueError(f"block_time {block_time!r} is not a duration like 300ms or 1s")
    if hosts is None:
        _check_host(host)
    else:
        if port_base is not None:
            raise ValueError("port_base applies to one-host testnets; with hosts the ports are fixed")
        if not isinstance(hosts, (list, tuple)) or len(hosts) != n:
            raise ValueError(f"hosts must list one address per validator ({n})")
        for h in hosts:
            _check_host(h)
        if len(set(hosts)) != len(hosts):
            raise ValueError("hosts must be distinct: validators on one address need port_base")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not empty; refusing to overwrite keys")


def _check_host(host) -> None:
    # The address ends up in persistent_peers ("id@host:port,..."): no separators in it.
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        raise ValueError(f"{host} cannot be dialled: give the address peers reach this host at")


def _run_cometbft_testnet(binary: str, n: int, out: Path) -> None:
    cmd = [binary, "testnet", "--v", str(n), "--o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cometbft testnet failed ({done.returncode}): {done.stderr.strip()}")


def _make_mpc_identities(out: Path, homes: list, plan: list, chain_id: str, mpc_ports: int) -> list[dict]:
    """Write each home's MPC keys and certificate; return the public registry entries."""
    from mpc_tx.mpc import tls  # imported here: only generation needs certificates
    from mpc_tx.protocol.keys import EncryptionKey, SigningKey
    from mpc_tx.keyfile import save_key

    ca_dir = out / "ca"
    ca_dir.mkdir(mode=0o700)
    ca_cert, ca_key = tls.make_ca(f"mpcvote testnet CA ({chain_id})")
    _write(ca_dir / "ca.crt", ca_cert)
    _write(ca_dir / "ca.key", ca_key, secret=True)

    entries = []
    for i, home in enumerate(homes):
        host, ports = plan[i]
        mpc_dir = home / "mpc"
        mpc_dir.mkdir(mode=0o700)
        (mpc_dir / "tls").mkdir(mode=0o700)
        attest, enc = SigningKey.generate(), EncryptionKey.generate()
        save_key(attest, mpc_dir / "attest_key.json")
        save_key(enc, mpc_dir / "enc_key.json")
        cert, key = tls.make_party_cert(ca_cert, ca_key, i, host)
        _write(mpc_dir / "tls" / "party.crt", cert)
        _write(mpc_dir / "tls" / "party.key", key, secret=True)
        _write(mpc_dir / "tls" / "ca.crt", ca_cert)
        pub = identity.consensus_key(home)
        entries.append(
            {
                "consensus_pub": pub,
                "attest_key": attest.public_hex,
                "enc_key": enc.public_hex,
                "mpc_host": host,
                "mpc_port": ports["mpc_base"],
                "mpc_ports": mpc_ports,
                "tls_cert": cert.decode("ascii"),
                "tls_sha256": tls.cert_fingerprint(cert),
            }
        )
    return entries


def _genesis(homes: list, chain_id: str, registry: list[dict]) -> bytes:
    """Return the one genesis.json of every home, with the registry as app_state."""
    with open(homes[0] / "config" / "genesis.json", encoding="utf-8") as f:
        genesis = json.load(f)
    by_key = {v["pub_key"]["value"]: v for v in genesis["validators"]}
    validators, app_validators = [], []
    # Put genesis validators in node order so party index == node number.
    for i, entry in enumerate(registry):
        pub_b64 = base64.b64encode(entry["consensus_pub"]).decode()
        gv = by_key.pop(pub_b64)
        gv["name"] = f"node{i}"
        if gv["address"] != identity.consensus_address(entry["consensus_pub"]):
            raise RuntimeError(f"node{i}: genesis address does not match its consensus key")
        validators.append(gv)
        app_validators.append(
            {
                "index": i,
                "name": f"node{i}",
                "address": gv["address"],
                "pub_key": pub_b64,
                "power": int(gv["power"]),
                **{k: v for k, v in entry.items() if k != "consensus_pub"},
            }
        )
    if by_key:
        raise RuntimeError("genesis lists validators that have no home")
    genesis["chain_id"] = chain_id
    genesis["validators"] = validators
    # CometBFT's JSON carries int64 as strings.
    genesis["consensus_params"]["block"]["max_bytes"] = str(BLOCK_MAX_BYTES)
    genesis["app_state"] = {"params": {}, "validators": app_validators}
    return (json.dumps(genesis, indent=2) + "\n").encode()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_public_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a host name: do not assume CometBFT will find it routable


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    # O_EXCL with the final mode: a secret file is never briefly world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
