"""scripts/testnet: manage a local testnet that keeps running between commands."""
import argparse
import json
import sys
from pathlib import Path

from node_config.lifecycle import Testnet, DEFAULT_DIR, PROCESSES

__all__ = ["main"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/testnet", description=__doc__)
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="testnet folder (default %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="generate (if needed) and start every validator")
    up.add_argument("--validators", type=int, default=4)
    up.add_argument("--port-base", type=int, default=None)
    up.add_argument("--block-time", default="300ms")
    up.add_argument("--chain-id", default="mpcvote-local")
    up.add_argument("--no-worker", action="store_true", help="start nodes and apps only")
    st = sub.add_parser("status", help="height, app hash and peers of every node")
    st.add_argument("--json", action="store_true")
    lg = sub.add_parser("logs", help="the last lines of each process's log")
    lg.add_argument("node", nargs="?", help="node0, node1, ... (default: all)")
    lg.add_argument("--lines", type=int, default=20)
    sub.add_parser("down", help="stop every process by its PID")
    sub.add_parser("reset", help="stop, then wipe chain data and app state together")
    sub.add_parser("destroy", help="stop and delete the whole testnet folder")
    for name in ("start", "stop", "kill"):
        p = sub.add_parser(name, help=f"{name} one process of one validator")
        p.add_argument("node", help="node0, node1, ...")
        p.add_argument("process", choices=PROCESSES + ("all",))
    args = parser.parse_args(argv)
    net = Testnet(Path(args.dir))

    try:
        if args.command == "up":
            fresh = not net.exists()
            net.up(args.validators, worker=not args.no_worker, chain_id=args.chain_id,
                   port_base=args.port_base, block_time=args.block_time)
            print(f"testnet {'created and ' if fresh else ''}up in {net.dir}: "
                  f"{len(net.validators)} validators, RPC {net.rpc_url(0)}")
        elif args.command == "status":
            status = net.status()
            if args.json:
                print(json.dumps({"nodes": [{k: n[k] for k in ("name", "rpc", "height", "app_hash", "peers")}
                                            for n in status["nodes"]], "agree": status["agree"]}))
            else:
                print(f"{'node':8} {'rpc':26} {'height':>7} {'peers':>5}  app hash")
                for n in status["nodes"]:
                    print(f"{n['name']:8} {n['rpc']:26} {n['height'] if n['height'] is not None else 'down':>7} "
                          f"{n['peers'] if n['peers'] is not None else '-':>5}  {n['app_hash'] or '-'}")
                print("app hashes agree" if status["agree"] else "app hashes DO NOT agree (or a node is down)")
        elif args.command == "logs":
            names = [args.node] if args.node else [v["name"] for v in net.validators]
            for name in names:
                i = _index(net, name)
                for proc in PROCESSES:
                    path = net.log_file(i, proc)
                    if path.exists():
                        lines = path.read_text(errors="replace").splitlines()[-args.lines:]
                        print(f"==> {path} <==")
                        print("\n".join(lines))
        elif args.command == "down":
            print(f"stopped {net.down()} processes")
        elif args.command == "reset":
            chain_id = net.reset()
            print(f"reset {net.dir}: chain data and app state wiped; `scripts/testnet up` starts a new chain, "
                  f"{chain_id} (txs signed for the old chain id are refused on it)")
        elif args.command == "destroy":
            net.destroy()
            print(f"deleted {net.dir}")
        else:
            i = _index(net, args.node)
            procs = PROCESSES if args.process == "all" else (args.process,)
            for proc in procs if args.command == "start" else reversed(procs):
                if args.command == "start":
                    print(f"{args.node} {proc}: pid {net.start(i, proc)}")
                elif args.command == "stop":
                    net.stop(i, proc)
                else:
                    net.kill(i, proc)
    except (FileNotFoundError, TimeoutError, RuntimeError, ValueError) as exc:
        print(f"testnet: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _index(net, name: str) -> int:
    names = [v["name"] for v in net.validators]
    if name not in names:
        raise ValueError(f"no validator {name!r}; have {', '.join(names)}")
    return names.index(name)


if __name__ == "__main__":
    sys.exit(main())
