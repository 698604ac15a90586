"""Generate the homes, genesis and MPC keys of an N-validator testnet on one machine.

Built from the multi-host key flow, one validator at a time: `init_validator` makes
each home with its own keys only, `assemble_genesis` makes the genesis from their
public entries, `join` installs it in each home. The shortcuts of a one-machine
testnet are marked ONE-HOST SHORTCUT below.
"""

import json
import os
import shutil
from pathlib import Path

from node_config.assemble import BLOCK_MAX_BYTES, assemble_genesis
from node_config.entries import MAX_CHAIN_ID, check_chain_id, check_host
from node_config.ports import DEFAULT_PORT_BASE, multi_host_ports, one_host_ports
from node_config.validator import abci_address, check_block_time, config_changes, init_validator, join

__all__ = ["BLOCK_MAX_BYTES", "MANIFEST", "generate_testnet", "find_cometbft", "config_changes", "abci_address"]

MANIFEST = "testnet.json"
_MAX_CHAIN_ID = MAX_CHAIN_ID  # lifecycle's name for it


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

    With hosts (one address per validator, e.g. network namespaces) every node uses
    CometBFT's usual ports on its own address; otherwise all share host with ports
    from port_base (26600).
    """
    out = Path(out_dir).resolve()
    multi = hosts is not None
    _check_args(out, n, chain_id, host, hosts, port_base, block_time)
    if multi:
        plan = [(h, multi_host_ports(mpc_ports=mpc_ports)) for h in hosts]
    else:
        base = DEFAULT_PORT_BASE if port_base is None else port_base
        plan = [(host, one_host_ports(i, port_base=base, mpc_ports=mpc_ports)) for i in range(n)]
    binary = find_cometbft(cometbft)

    out.mkdir(parents=True, exist_ok=True)
    homes = [out / f"node{i}" for i in range(n)]
    # ONE-HOST SHORTCUT: one process makes every home, in one folder tree, on one
    # machine. Each home still holds its own keys only (init_validator writes one home),
    # as on separate hosts; only the public entries leave a home.
    entries = [
        init_validator(
            homes[i],
            chain_id=chain_id,
            name=f"node{i}",
            host=h,
            ports=ports,
            mpc_ports=mpc_ports,
            # RPC and metrics stay on loopback when all nodes share a machine.
            rpc_host=h if multi else "127.0.0.1",
            block_time=block_time,
            cometbft=binary,
        )
        for i, (h, ports) in enumerate(plan)
    ]
    template = json.loads((homes[0] / "config" / "genesis.json").read_text())
    # ONE-HOST SHORTCUT: node i is party i (keep_order), so that names, homes, PID
    # files and logs line up; assemble-genesis orders by consensus address.
    genesis, peers = assemble_genesis(entries, chain_id, template, keep_order=True)
    blob = (json.dumps(genesis, indent=2) + "\n").encode()
    for home in homes:
        join(home, blob, peers)

    manifest = {
        "chain_id": chain_id,
        "validators": [
            {"name": f"node{i}", "home": str(homes[i]), "host": h, "ports": ports, "node_id": entries[i]["node_id"]}
            for i, (h, ports) in enumerate(plan)
        ],
        "mpc_ports": mpc_ports,
        "port_base": None if multi else plan[0][1]["p2p"],
    }
    fd = os.open(out / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    return manifest


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
    check_chain_id(chain_id)
    check_block_time(block_time)
    if hosts is None:
        check_host(host)
    else:
        if port_base is not None:
            raise ValueError("port_base applies to one-host testnets; with hosts the ports are fixed")
        if not isinstance(hosts, (list, tuple)) or len(hosts) != n:
            raise ValueError(f"hosts must list one address per validator ({n})")
        for h in hosts:
            check_host(h)
        if len(set(hosts)) != len(hosts):
            raise ValueError("hosts must be distinct: validators on one address need port_base")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not empty; refusing to overwrite keys")
