"""Command line: python -m node_config generate --out DIR [options]."""

import argparse
import sys

from node_config.generate import MANIFEST, generate_testnet
from node_config.ports import DEFAULT_PORT_BASE

__all__ = ["main"]


def main(argv=None) -> int:
    """Parse argv and run the chosen command."""
    parser = argparse.ArgumentParser(
        prog="python -m node_config", description="Generate CometBFT homes for an mpcvote testnet."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="create validator homes, genesis and MPC keys")
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
    args = parser.parse_args(argv)

    hosts = [h.strip() for h in args.hosts.split(",")] if args.hosts else None
    n = args.validators if args.validators is not None else (len(hosts) if hosts else 4)
    try:
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
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"chain {manifest['chain_id']}: {len(manifest['validators'])} validators, manifest {args.out}/{MANIFEST}")
    for v in manifest["validators"]:
        p = v["ports"]
        print(
            f"  {v['name']} {v['host']} p2p {p['p2p']} rpc {p['rpc']} "
            f"metrics {p['metrics']} mpc {p['mpc_base']}+{manifest['mpc_ports']}  {v['home']} "
            f"(app on {v['home']}/abci.sock)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
