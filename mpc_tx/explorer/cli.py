"""`mpcvote explorer`: its options and the function that runs it (kept out of mpc_tx/client/cli.py)."""

import argparse
import os
import sys
from pathlib import Path

__all__ = ["add_arguments", "run", "main", "local_nodes"]


def local_nodes() -> tuple[list, str | None]:
    """Every node of the local testnet ($MPCVOTE_TESTNET or .testnet) and its genesis file, if there is one."""
    from node_config.lifecycle import Testnet

    net = Testnet(Path(os.environ.get("MPCVOTE_TESTNET", Path(__file__).resolve().parents[2] / ".testnet")))
    if not net.exists():
        return [], None
    return [net.rpc_url(i) for i in range(len(net.validators))], str(net.genesis_path())


def add_arguments(p: argparse.ArgumentParser):
    """Add the explorer's options; --node may be given once per node."""
    p.add_argument(
        "--node",
        action="append",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="a node's RPC URL, once per node (default: every node of the local testnet)",
    )
    p.add_argument(
        "--listen", default="127.0.0.1:8080", help="HOST:PORT to serve on (default 127.0.0.1:8080: loopback only)"
    )


def run(args) -> int:
    """Serve the explorer for parsed arguments (node, listen, genesis)."""
    from mpc_tx.explorer.server import serve

    nodes = getattr(args, "node", None) or []
    nodes = [nodes] if isinstance(nodes, str) else list(nodes)  # `mpcvote --node URL explorer` gives one
    genesis = getattr(args, "genesis", None)
    if not nodes:
        nodes, local_genesis = local_nodes()
        genesis = genesis or local_genesis
    if not nodes:
        print("mpcvote explorer: no --node given and no local testnet (scripts/testnet up)", file=sys.stderr)
        return 2
    try:
        return serve(nodes, args.listen, genesis)
    except ValueError as exc:
        print(f"mpcvote explorer: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mpc_tx.explorer", description=__doc__)
    add_arguments(p)
    p.add_argument("--genesis", default=None, help="genesis file for the verify panel's light client")
    return run(p.parse_args(argv))
