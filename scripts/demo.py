"""make demo: a 4-validator testnet on loopback, three private polls, their outcomes.

Starts every process it needs (nodes, apps, MPC workers) in a fresh testnet
folder, votes through different nodes, closes the polls, shows that every
validator holds the same ballots and app hash, waits for the outcomes the
validators compute together with MPyC, prints one `OUTCOME {json}` line per
poll, and stops every process it started.
"""

import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mpc_tx.client.cli import Client, Session  # noqa: E402
from mpc_tx.protocol.keys import SigningKey  # noqa: E402
from node_config.lifecycle import Testnet  # noqa: E402

DEMO_DIR = ROOT / ".testnet-demo"


def say(msg):
    print(f"demo: {msg}", flush=True)


def run_poll(net, clients, creator, title, kind, votes, options=(), revotes=()):
    """Create a poll, vote through different nodes, close it, return its id."""
    c0 = clients[0]
    res = c0.create_poll(creator, title, kind, options, close_in=200, max_ballots=100)
    poll_id = res["poll"]
    say(f"poll {poll_id} ({kind}): {title!r} created at height {res['height']}")
    voters = [SigningKey.generate() for _ in votes]
    pending = []
    for i, (voter, choice) in enumerate(zip(voters, votes)):
        first = dict(revotes).get(i)
        if first is not None:  # this voter votes first for another option, then changes their mind
            clients[(i + 1) % 4].vote(voter, poll_id, first)
        pending.append(clients[i % 4].vote(voter, poll_id, choice, wait=False)["hash"])
    for h in pending:
        clients[0].rpc.wait_tx(h, timeout=60)
    say(
        f"poll {poll_id}: {len(votes)} ballots committed through 4 different nodes"
        + (f", {len(revotes)} of them replacing an earlier ballot" if revotes else "")
    )
    closed = c0.close_poll(creator, poll_id)
    say(f"poll {poll_id}: closed by its creator at height {closed['height']}")
    return poll_id


def main():
    if DEMO_DIR.exists():
        Testnet(DEMO_DIR).down() if (DEMO_DIR / "testnet.json").exists() else None
        shutil.rmtree(DEMO_DIR)
    net = Testnet(DEMO_DIR)
    try:
        say("generating a 4-validator testnet (keys, genesis registry, testnet CA) in .testnet-demo/")
        net.generate(4, port_base=26800, block_time="200ms")
        t0 = time.monotonic()
        for i in range(4):
            net.start_validator(i)
        net.wait_height(2, timeout=90, progress=True)
        say(f"4 nodes, 4 apps and 4 MPC workers up in {time.monotonic() - t0:.1f} s")
        # One session: whichever node a client asks, it sees the commits the others made.
        session = Session()
        clients = [
            Client(net.rpc_url(i), genesis=str(net.genesis_path()), progress=False, session=session) for i in range(4)
        ]
        creator = SigningKey.generate()
        polls = [
            run_poll(net, clients, creator, "Adopt the new bylaws?", "unanimity", ["yes"] * 5),
            run_poll(net, clients, creator, "Renew the contract?", "unanimity", ["yes"] * 4 + ["no"]),
            run_poll(
                net,
                clients,
                creator,
                "Pick the venue",
                "tally",
                ["a"] * 7 + ["b"] * 9 + ["c"] * 4,
                options=("a", "b", "c"),
                revotes=[(0, "c")],
            ),
        ]
        top = max(c.rpc.height() for c in clients)
        net.wait_height(top)
        answers = [
            json.dumps([c.query(f"/poll/{p}/ballots?limit=1000")["ballots"] for p in polls], sort_keys=True)
            for c in clients
        ]
        status = net.status()
        say(
            f"every validator holds the same committed ballots: {len(set(answers)) == 1}; "
            f"app hashes agree: {status['agree']} "
            f"({', '.join(n['name'] + '@' + str(n['height']) for n in status['nodes'])})"
        )
        if len(set(answers)) != 1 or not status["agree"]:
            raise SystemExit("demo: validators disagree")
        ok = True
        for p in polls:
            out = clients[p % 4].outcome(p, wait=True, timeout=180)
            result = out["result"]
            line = {
                "poll": p,
                "kind": out["kind"],
                "status": out["status"],
                "outcome": result.get("outcome", {"failed": result.get("code")}),
                "counted": result.get("counted"),
                "excluded": len(result.get("excluded", [])),
                "height": out["final_height"],
                "attesters": out["attesters"],
            }
            print("OUTCOME " + json.dumps(line), flush=True)
            ok &= out["status"] == "final"
        return 0 if ok else 1
    finally:
        say(f"stopped {net.down()} processes")


if __name__ == "__main__":
    sys.exit(main())
