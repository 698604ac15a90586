"""Command line: python -m node_config generate | init-validator | entry | assemble-genesis | join.

generate makes a whole testnet on one machine; the other four are the multi-host key
flow: each host runs init-validator for its own home and sends out only the printed
public entry; one (or each) host runs assemble-genesis over all entries; each host
runs join with the genesis and the peers it printed.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from node_config.assemble import assemble_genesis
from node_config.generate import MANIFEST, find_cometbft, generate_testnet
from node_config.ports import DEFAULT_PORT_BASE, HOST_PORTS
from node_config.validator import export_entry, init_validator, join

__all__ = ["main"]


def main(argv=None) -> int:
    """Parse argv and run the chosen command."""
    parser = argparse.ArgumentParser(
        prog="python -m node_config", description="Make CometBFT homes and the genesis of an mpcvote chain."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _generate_args(commands.add_parser("generate", help="create a whole testnet on this machine"))
    _init_args(commands.add_parser("init-validator", help="make this host's validator home; print its public entry"))
    entry = commands.add_parser("entry", help="print an existing home's public entry (e.g. for a new chain id)")
    entry.add_argument("--home", required=True)
    entry.add_argument("--chain-id", required=True)
    entry.add_argument("--entry", default=None, help="also write the entry to this file")
    asm = commands.add_parser("assemble-genesis", help="make genesis.json from public entries; print the peers")
    asm.add_argument("--chain-id", required=True)
    asm.add_argument("--entry", action="append", required=True, help="an entry file (repeat, one per validator)")
    asm.add_argument("--out", required=True, help="the genesis.json to write")
    asm.add_argument("--genesis-time", default=None, help="RFC 3339 UTC time; give the same one to assemble alike")
    asm.add_argument("--template", default=None, help="a CometBFT genesis.json for its defaults (default: fresh)")
    asm.add_argument(
        "--order", choices=("address", "given"), default="address", help="party order (default: consensus address)"
    )
    asm.add_argument("--cometbft", default=None, help="cometbft binary (default .bin/cometbft)")
    jn = commands.add_parser("join", help="install genesis.json and the peers in this host's home")
    jn.add_argument("--home", required=True)
    jn.add_argument("--genesis", required=True)
    jn.add_argument("--peers", required=True, help="id@host:port,... as assemble-genesis printed")
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _generate_args(gen) -> None:
    gen.add_argument("--out", required=True, help="new or empty directory for the testnet")
    gen.add_argument(
        "--validators", type=int, default=None, help="number of validators (default 4, or the number of --hosts)"
    )
    gen.add_argument("--chain-id", default="mpcvote-local")
    gen.add_argument("--host", default="127.0.0.1", help="the shared address on one host")
    gen.add_argument(
        "--port-base",
        type=int,
        default=None,
        help=f"first port on one host; node i uses base+20*i.. (default {DEFAULT_PORT_BASE})",
    )
    gen.add_argument("--block-time", default="300ms", help="consensus timeout_commit")
    gen.add_argument("--hosts", default=None, help="comma-separated addresses, one validator per host (fixed ports)")
    gen.add_argument("--mpc-ports", type=int, default=4, help="MPC ports per validator")
    gen.add_argument("--cometbft", default=None, help="cometbft binary (default .bin/cometbft)")


def _init_args(init) -> None:
    init.add_argument("--home", required=True, help="new or empty directory for this validator's home")
    init.add_argument("--chain-id", required=True)
    init.add_argument("--name", required=True, help="this validator's name (letters, digits, '.', '_', '-')")
    init.add_argument("--mpc-host", required=True, help="the address the other validators reach this host at")
    init.add_argument("--mpc-port", type=int, default=HOST_PORTS["mpc_base"], help="first MPC port")
    init.add_argument("--mpc-ports", type=int, default=4, help="MPC ports from --mpc-port")
    init.add_argument("--p2p-host", default=None, help="the address peers dial the node at (default --mpc-host)")
    init.add_argument("--p2p-port", type=int, default=HOST_PORTS["p2p"])
    init.add_argument("--rpc-host", default=None, help="where RPC and metrics listen (default the p2p host)")
    init.add_argument("--rpc-port", type=int, default=HOST_PORTS["rpc"])
    init.add_argument("--metrics-port", type=int, default=HOST_PORTS["metrics"])
    init.add_argument("--power", type=int, default=1)
    init.add_argument("--block-time", default="300ms", help="consensus timeout_commit")
    init.add_argument("--entry", default=None, help="also write the public entry to this file")
    init.add_argument("--cometbft", default=None, help="cometbft binary (default .bin/cometbft)")


def _generate(args) -> int:
    hosts = [h.strip() for h in args.hosts.split(",")] if args.hosts else None
    n = args.validators if args.validators is not None else (len(hosts) if hosts else 4)
    manifest = generate_testnet(
        args.out,
        n,
        chain_id=args.chain_id,
        host=args.host,
        port_base=args.port_base,
        block_time=args.block_time,
        hosts=hosts,
        mpc_ports=args.mpc_ports,
        cometbft=args.cometbft,
    )
    print(f"chain {manifest['chain_id']}: {len(manifest['validators'])} validators, manifest {args.out}/{MANIFEST}")
    for v in manifest["validators"]:
        p = v["ports"]
        print(
            f"  {v['name']} {v['host']} p2p {p['p2p']} rpc {p['rpc']} "
            f"metrics {p['metrics']} mpc {p['mpc_base']}+{manifest['mpc_ports']}  {v['home']} "
            f"(app on {v['home']}/abci.sock)"
        )
    return 0


def _init(args) -> int:
    p2p_host = args.p2p_host or args.mpc_host
    ports = dict(HOST_PORTS, p2p=args.p2p_port, rpc=args.rpc_port, metrics=args.metrics_port, mpc_base=args.mpc_port)
    entry = init_validator(
        args.home,
        chain_id=args.chain_id,
        name=args.name,
        host=p2p_host,
        mpc_host=args.mpc_host,
        ports=ports,
        mpc_ports=args.mpc_ports,
        power=args.power,
        rpc_host=args.rpc_host,
        block_time=args.block_time,
        cometbft=find_cometbft(args.cometbft),
    )
    _emit(entry, args.entry)
    print(f"made {args.home}; send only its public entry to whoever assembles the genesis", file=sys.stderr)
    return 0


def _entry(args) -> int:
    _emit(export_entry(args.home, args.chain_id), args.entry)
    return 0


def _assemble(args) -> int:
    entries = [json.loads(Path(path).read_text()) for path in args.entry]
    if args.template:
        template = json.loads(Path(args.template).read_text())
    else:
        template = _fresh_template(find_cometbft(args.cometbft))
    genesis, peers = assemble_genesis(
        entries, args.chain_id, template, keep_order=args.order == "given", genesis_time=args.genesis_time
    )
    Path(args.out).write_text(json.dumps(genesis, indent=2) + "\n")
    print(",".join(peers))
    names = ", ".join(f"{i} {e['name']}" for i, e in enumerate(genesis["app_state"]["validators"]))
    print(f"wrote {args.out} for chain {args.chain_id}: parties {names}", file=sys.stderr)
    return 0


def _join(args) -> int:
    index = join(args.home, Path(args.genesis).read_bytes(), args.peers)
    print(f"{args.home} joined {json.loads(Path(args.genesis).read_text())['chain_id']} as party {index}")
    return 0


def _fresh_template(cometbft: str) -> dict:
    """Return the genesis `cometbft init` writes: CometBFT's defaults for its own fields."""
    # The throwaway home's keys belong to nobody and are deleted with it.
    with tempfile.TemporaryDirectory(prefix="mpcvote-template-") as tmp:
        done = subprocess.run([cometbft, "init", "--home", tmp], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"cometbft init failed ({done.returncode}): {done.stderr.strip()}")
        return json.loads((Path(tmp) / "config" / "genesis.json").read_text())


def _emit(entry: dict, path) -> None:
    text = json.dumps(entry, indent=2) + "\n"
    if path:
        Path(path).write_text(text)
    print(text, end="")


_COMMANDS = {
    "generate": _generate,
    "init-validator": _init,
    "entry": _entry,
    "assemble-genesis": _assemble,
    "join": _join,
}

if __name__ == "__main__":
    sys.exit(main())
