"""One validator's home, made on its own host: its keys, its public registry entry, and joining a genesis.

`init_validator` runs `cometbft init` for one home and adds the MPC keys (attestation
key, ristretto255 encryption key, self-signed MPC certificate) under home/mpc, each
secret 0600 in that home only. `export_entry` returns the home's public registry entry
for a chain id (with the proof of possession bound to that chain id and the home's
consensus key); `join` installs an assembled genesis and the peers in the home, after
checking that the genesis registers this home's keys and that every proof verifies.
"""

import base64
import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path

from mpc_tx.keyfile import load_encryption_key, load_signing_key, save_key
from mpc_tx.mpc import tls
from mpc_tx.protocol.keys import EncryptionKey, SigningKey
from node_config import identity, tomlpatch
from node_config.assemble import check_genesis_registry
from node_config.entries import (
    check_chain_id,
    check_entry,
    check_host,
    check_name,
    hostport,
    parse_peers,
)
from node_config.ports import HOST_PORTS, MAX_PORT

__all__ = [
    "SETTINGS",
    "init_validator",
    "export_entry",
    "reprove",
    "join",
    "config_changes",
    "abci_address",
    "check_block_time",
]

SETTINGS = "mpc/validator.json"  # the home's public settings, read back by export_entry
MEMPOOL_SIZE = 10000
# A proposer on loopback or a LAN answers in milliseconds; a dead one should cost
# a round quickly rather than CometBFT's default 3 s.
TIMEOUT_PROPOSE = "1s"
_GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def init_validator(
    home,
    *,
    chain_id: str,
    name: str,
    host: str,
    mpc_host: str | None = None,
    ports: dict | None = None,
    mpc_ports: int = 4,
    power: int = 1,
    rpc_host: str | None = None,
    block_time: str = "300ms",
    cometbft: str,
) -> dict:
    """Make one validator's home with its own keys; return its public registry entry for chain_id.

    host is the address peers reach this validator's node at, mpc_host its MPC parties
    (default host); ports default to CometBFT's usual ones with MPC from 26670; rpc_host
    is where RPC and metrics listen (default host).
    """
    home = Path(home).resolve()
    ports = dict(HOST_PORTS if ports is None else ports)
    mpc_host = host if mpc_host is None else mpc_host
    _check_init_args(home, chain_id, name, host, ports, mpc_ports, power, rpc_host, block_time)
    check_host(mpc_host)
    done = subprocess.run([cometbft, "init", "--home", str(home)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cometbft init failed ({done.returncode}): {done.stderr.strip()}")

    mpc = home / "mpc"
    mpc.mkdir(mode=0o700)
    (mpc / "tls").mkdir(mode=0o700)
    save_key(SigningKey.generate(), mpc / "attest_key.json")
    save_key(EncryptionKey.generate(), mpc / "enc_key.json")
    cert, key = tls.make_party_cert(name, mpc_host)
    _write(mpc / "tls" / "party.crt", cert)
    _write(mpc / "tls" / "party.key", key, secret=True)
    settings = {
        "name": name,
        "power": power,
        "host": host,
        "mpc_host": mpc_host,
        "ports": ports,
        "mpc_ports": mpc_ports,
    }
    _write(home / SETTINGS, (json.dumps(settings, indent=2) + "\n").encode())

    changes = config_changes(
        name,
        host,
        ports,
        home=home,
        rpc_host=rpc_host or host,
        peers=[],
        block_time=block_time,
        allow_duplicate_ip=not _is_public_ip(host),
        addr_book_strict=_is_public_ip(host),
    )
    tomlpatch.patch_file(home / "config" / "config.toml", changes)
    return export_entry(home, chain_id)


def export_entry(home, chain_id: str) -> dict:
    """Return home's public registry entry for chain_id: no index yet, plus node_id and p2p for the peers."""
    home = Path(home)
    settings = json.loads((home / SETTINGS).read_text())
    pub = identity.consensus_key(home)
    cert = (home / "mpc" / "tls" / "party.crt").read_bytes()
    entry = {
        "chain_id": chain_id,
        "name": settings["name"],
        "address": identity.consensus_address(pub),
        "pub_key": base64.b64encode(pub).decode(),
        "power": settings["power"],
        "attest_key": load_signing_key(home / "mpc" / "attest_key.json").public_hex,
        "enc_key": load_encryption_key(home / "mpc" / "enc_key.json").public_hex,
        "enc_proof": reprove(home, chain_id),
        "mpc_host": settings["mpc_host"],
        "mpc_port": settings["ports"]["mpc_base"],
        "mpc_ports": settings["mpc_ports"],
        "tls_cert": cert.decode("ascii"),
        "tls_sha256": tls.cert_fingerprint(cert),
        "node_id": identity.node_id(home),
        "p2p": hostport(settings["host"], settings["ports"]["p2p"]),
    }
    check_entry(entry)  # what assembling would refuse is refused here, on the host that can fix it
    return entry


def reprove(home, chain_id: str) -> str:
    """Return the hex proof of possession of home's encryption key under chain_id and its consensus key."""
    enc = load_encryption_key(Path(home) / "mpc" / "enc_key.json")
    return enc.prove_possession(chain_id, identity.consensus_key(home)).hex()


def join(home, genesis: bytes, peers: list[str] | str) -> int:
    """Install genesis and the peers (all validators', this one's own is skipped) in home; return its index.

    Refused (ValueError) unless the registry verifies (every proof of possession, no key
    twice) and registers this home's consensus, attestation, encryption and TLS keys.
    """
    home = Path(home).resolve()
    doc = json.loads(genesis)
    registry = check_genesis_registry(doc)
    pub = base64.b64encode(identity.consensus_key(home)).decode()
    mine = [e for e in registry if e["pub_key"] == pub]
    if not mine:
        raise ValueError(f"the genesis does not register {home}'s consensus key")
    entry = mine[0]
    cert = (home / "mpc" / "tls" / "party.crt").read_bytes()
    local = {
        "attest_key": load_signing_key(home / "mpc" / "attest_key.json").public_hex,
        "enc_key": load_encryption_key(home / "mpc" / "enc_key.json").public_hex,
        "tls_sha256": tls.cert_fingerprint(cert),
    }
    for field, value in local.items():
        if entry[field] != value:
            raise ValueError(f"the genesis registers another {field} for {entry['name']} than {home} holds")

    own_id = identity.node_id(home)
    parsed = parse_peers(peers)
    others = [p for p in parsed if p[0] != own_id]
    settings = json.loads((home / SETTINGS).read_text())
    hosts = [settings["host"]] + [p[1] for p in others]
    public = all(_is_public_ip(h) for h in hosts)
    changes = {
        "p2p": {
            "persistent_peers": ",".join(f"{nid}@{hostport(h, port)}" for nid, h, port in others),
            # Nodes sharing one address, or a loopback/private network, trip
            # CometBFT's duplicate-IP and routability checks.
            "allow_duplicate_ip": len(set(hosts)) < len(hosts) or not public,
            "addr_book_strict": public,
        }
    }
    tomlpatch.patch_file(home / "config" / "config.toml", changes)
    _replace(home / "config" / "genesis.json", genesis)
    return entry["index"]


def abci_address(home) -> str:
    """Return where node and app meet: a unix socket in the validator's home (mode 0600).

    Only the owner of the home can reach it; a TCP port on loopback would let any
    local user (or a process in the node's network namespace) speak to the app.
    """
    return f"unix://{Path(home).resolve()}/abci.sock"


def config_changes(
    name: str,
    host: str,
    ports: dict,
    *,
    home,
    rpc_host: str,
    peers: list[str],
    block_time: str,
    allow_duplicate_ip: bool,
    addr_book_strict: bool,
) -> dict:
    """Return the {section: {key: value}} settings of a validator's config.toml."""
    return {
        "": {"proxy_app": abci_address(home), "moniker": name, "log_level": "info"},
        "rpc": {"laddr": f"tcp://{hostport(rpc_host, ports['rpc'])}", "pprof_laddr": ""},
        "p2p": {
            "laddr": f"tcp://{hostport(host, ports['p2p'])}",
            "persistent_peers": ",".join(peers),
            "allow_duplicate_ip": allow_duplicate_ip,
            "addr_book_strict": addr_book_strict,
        },
        "mempool": {"size": MEMPOOL_SIZE},
        "consensus": {"timeout_commit": block_time, "timeout_propose": TIMEOUT_PROPOSE, "create_empty_blocks": True},
        "tx_index": {"indexer": "kv"},
        "instrumentation": {"prometheus": True, "prometheus_listen_addr": hostport(rpc_host, ports["metrics"])},
    }


def check_block_time(block_time) -> None:
    """Refuse a consensus timeout that is not a Go duration like 300ms or 1s."""
    if not isinstance(block_time, str) or not _GO_DURATION.fullmatch(block_time):
        raise ValueError(f"block_time {block_time!r} is not a duration like 300ms or 1s")


def _check_init_args(home: Path, chain_id, name, host, ports, mpc_ports, power, rpc_host, block_time) -> None:
    check_chain_id(chain_id)
    check_name(name)
    check_host(host)
    if rpc_host is not None:
        check_host(rpc_host, dialled=False)
    check_block_time(block_time)
    if type(power) is not int or not 1 <= power <= (1 << 63) - 1:
        raise ValueError("power must be a positive int")
    if type(mpc_ports) is not int or mpc_ports < 1:
        raise ValueError("mpc_ports must be a positive int")
    for field in ("p2p", "rpc", "metrics", "mpc_base"):
        port = ports.get(field)
        if type(port) is not int or not 1024 <= port <= MAX_PORT:
            raise ValueError(f"the {field} port must be an int in 1024..{MAX_PORT}")
    if ports["mpc_base"] + mpc_ports - 1 > MAX_PORT:
        raise ValueError(f"MPC ports {ports['mpc_base']}..+{mpc_ports} run past {MAX_PORT}")
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise FileExistsError(f"{home} exists and is not empty; refusing to overwrite keys")


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


def _replace(path: Path, data: bytes) -> None:
    # Write beside, then rename: a node never reads half a genesis.
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    _write(tmp, data)
    os.replace(tmp, path)
