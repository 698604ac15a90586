"""scripts/testnet: manage a local testnet that keeps running between commands."""

import argparse
import json
import sys
from pathlib import Path

from node_config.lifecycle import Testnet, DEFAULT_DIR, PROCESSES

__all__ = ["main", "human_status"]


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
    st = sub.add_parser("status", help="per validator: node, app and worker (up, height, lag); whether the nodes agree")
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
            net.up(
                args.validators,
                worker=not args.no_worker,
                chain_id=args.chain_id,
                port_base=args.port_base,
                block_time=args.block_time,
            )
            print(
                f"testnet {'created and ' if fresh else ''}up in {net.dir}: "
                f"{len(net.validators)} validators, RPC {net.rpc_url(0)}"
            )
        elif args.command == "status":
            status = net.status()
            if args.json:
                print(json.dumps(status))
            else:
                print(human_status(status))
        elif args.command == "logs":
            names = [args.node] if args.node else [v["name"] for v in net.validators]
            for name in names:
                i = _index(net, name)
                for proc in PROCESSES:
                    path = net.log_file(i, proc)
                    if path.exists():
                        lines = path.read_text(errors="replace").splitlines()[-args.lines :]
                        print(f"==> {path} <==")
                        print("\n".join(lines))
        elif args.command == "down":
            print(f"stopped {net.down()} processes")
        elif args.command == "reset":
            chain_id = net.reset()
            print(
                f"reset {net.dir}: chain data and app state wiped; `scripts/testnet up` starts a new chain, "
                f"{chain_id} (txs signed for the old chain id are refused on it)"
            )
        elif args.command == "destroy":
            net.destroy()
            print(f"deleted {net.dir}")
        else:
            i = _index(net, args.node)
            procs = PROCESSES if args.process == "all" else (args.process,)
            for proc in procs if args.command == "start" else reversed(procs):
                if args.command == "start":
                    print(f"{args.node} {proc}: pid {net.start(i, proc)}")
                else:
                    pid = net.pid(i, proc)
                    done = net.stop(i, proc) if args.command == "stop" else net.kill(i, proc)
                    verb = "stopped" if args.command == "stop" else "killed (SIGKILL)"
                    print(
                        f"{args.node} {proc}: {verb}, pid {pid}"
                        if done and pid
                        else f"{args.node} {proc}: was not running"
                    )
    except (FileNotFoundError, TimeoutError, RuntimeError, ValueError) as exc:
        print(f"testnet: error: {exc}", file=sys.stderr)
        return 1
    return 0


def human_status(status: dict) -> str:
    """Render testnet status: one line per validator (node, app, worker), then agreement in words."""
    lines = [f"{'validator':10} {'node':24} {'app':16} {'worker':30} app hash"]
    for n in status["nodes"]:
        lines.append(
            f"{n['name']:10} {_node_cell(n):24} {_app_cell(n):16} {_worker_cell(n):30} {(n['app_hash'] or '-')[:16]}"
        )
    for n in status["nodes"]:
        if n["error"]:
            lines.append(f"  {n['name']}: {n['error']}")
        if n["worker"]["up"] and n["worker"]["error"]:
            lines.append(f"  {n['name']} worker: {n['worker']['error']}")
    total, up = len(status["nodes"]), status["reachable"]
    if up == 0:
        lines.append("no node answers: `scripts/testnet up` starts them, `scripts/testnet logs` says why they stopped")
    elif status["reachable_agree"]:
        lines.append(f"{up} of {total} nodes answer; their app hashes agree at height {status['common_height']}")
    else:
        lines.append(
            f"{up} of {total} nodes answer; their app hashes DIFFER at height {status['common_height']}: "
            "the apps disagree on state (see `scripts/testnet logs`)"
        )
    return "\n".join(lines)


def _node_cell(n) -> str:
    if n["height"] is None:
        return "down" if n["processes"]["node"] is None else "not answering"
    lag = f", {n['lag']} behind" if n["lag"] else ""
    return f"up h {n['height']} {n['peers']} peers{lag}"


def _app_cell(n) -> str:
    app = n["app"]
    if not app["up"]:
        return "down"
    return f"up h {app['height']}" if app["height"] is not None else "up (node away)"


def _worker_cell(n) -> str:
    w = n["worker"]
    if not w["up"]:
        return "down"
    if w["error"]:
        return "up, node unreachable"
    if w["height"] is None:
        return "up (no heartbeat yet)"
    lag = f", {w['lag']} behind" if w["lag"] else ""
    return f"up h {w['height']}{lag} ({w['seen_s']:.0f}s ago)"


def _index(net, name: str) -> int:
    names = [v["name"] for v in net.validators]
    if name not in names:
        raise ValueError(f"no validator {name!r}; have {', '.join(names)}")
    return names.index(name)


if __name__ == "__main__":
    sys.exit(main())
