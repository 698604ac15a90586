"""make demo: a 4-validator testnet on loopback, three private polls, their outcomes.

Starts every process it needs (nodes, apps, MPC workers) in a fresh testnet
folder, votes through different nodes (every ballot carries the proofs the chain
checks, docs/PROTOCOL.md §17), has one cheating voter cast a ballot whose share
for one validator does not open (its proofs hold, so only that validator's
complaint can put it out), closes the polls, shows that every validator holds
the same ballots and app hash, waits for each complaint window to pass and the
outcomes the validators compute together with MPyC, prints one `OUTCOME {json}`
line per poll, and stops every process it started.
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

sys.path.insert(0, str(ROOT / "scripts"))  # the scripts' shared package, toolkit
from toolkit.reliability import hostile  # noqa: E402

DEMO_DIR = ROOT / ".testnet-demo"
VICTIM = 2  # the validator whose share the cheating voter spoils


def say(msg):
    print(f"demo: {msg}", flush=True)


def run_poll(net, clients, creator, title, kind, votes, options=(), revotes=(), cheat=None):
    """Create a poll, vote through different nodes, close it, return its id.

    cheat: a choice a cheating voter casts with a ballot whose share for VICTIM does not open.
    """
    c0 = clients[0]
    res = c0.create_poll(creator, title, kind, options, close_in=200, max_ballots=100)
    poll_id = res["poll"]
    poll = c0.query(f"/poll/{poll_id}")
    t = poll["threshold"]
    say(
        f"poll {poll_id} ({kind}): {title!r} created at height {res['height']}, threshold t={t} "
        f"(any {t + 1} validators together could read its ballots)"
    )
    voters = [SigningKey.generate() for _ in votes]
    pending = []
    for i, (voter, choice) in enumerate(zip(voters, votes)):
        first = dict(revotes).get(i)
        if first is not None:  # this voter votes first for another option, then changes their mind
            clients[(i + 1) % 4].vote(voter, poll_id, first)
        pending.append(clients[i % 4].vote(voter, poll_id, choice, wait=False)["hash"])
    if cheat is not None:
        pending.append(cast_cheat(net, c0, poll, cheat))
    for h in pending:
        c0.rpc.wait_tx(h, timeout=60)
    say(
        f"poll {poll_id}: {len(pending)} ballots committed through 4 different nodes, every proof checked by the chain"
        + (f", {len(revotes)} of them replacing an earlier ballot" if revotes else "")
        + (f", 1 from a cheater whose share for validator {VICTIM} does not open" if cheat is not None else "")
    )
    closed = c0.close_poll(creator, poll_id)
    until = c0.query(f"/poll/{poll_id}")["complaints_until"]
    say(
        f"poll {poll_id}: closed by its creator at height {closed['height']}; complaints until height {until}, "
        "then the counted set is fixed"
    )
    return poll_id


def cast_cheat(net, client, poll, choice) -> str:
    """Cast a ballot whose proofs hold but whose envelope for VICTIM is garbage; return its tx hash."""
    genesis = json.loads(net.genesis_path().read_text())
    key = SigningKey.generate()
    ctx = hostile.poll_context(genesis, poll)
    raw = hostile.garbage_share(ctx, bytes.fromhex(key.public_hex), hostile.ballot_values(poll, choice), VICTIM)
    res = client.rpc.broadcast_tx_sync(hostile.ballot_tx(key, genesis["chain_id"], ctx, poll["id"], raw))
    if res["code"] != 0:
        raise SystemExit(f"demo: the chain refused the cheater's ballot: {res.get('log')}")
    return res["hash"]


def judged(client, poll_id: int) -> dict:
    """Return the poll's record, its ballots' disqualified count and its complaints' verdicts."""
    ballots = client.query(f"/poll/{poll_id}/ballots?limit=1000&fields=tx")["ballots"]
    complaints = client.query(f"/poll/{poll_id}/complaints?limit=1000")["complaints"]
    return {
        "record": client.query(f"/poll/{poll_id}"),
        "disqualified": sum(b["disqualified"] is not None for b in ballots),
        "complaints": [f"validator {c['validator']}: {c['verdict']}" for c in complaints],
    }


def main():
    if DEMO_DIR.exists():
        Testnet(DEMO_DIR).down() if (DEMO_DIR / "testnet.json").exists() else None
        shutil.rmtree(DEMO_DIR)
    net = Testnet(DEMO_DIR)
    try:
        say(
            "generating a 4-validator testnet (keys, genesis registry with proofs of possession, "
            "self-signed pinned MPC certificates) in .testnet-demo/"
        )
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
                cheat="a",
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
            seen = judged(clients[p % 4], p)
            line = {
                "poll": p,
                "kind": out["kind"],
                "status": out["status"],
                "outcome": result.get("outcome", {"failed": result.get("code")}),
                "threshold": seen["record"]["threshold"],
                "counted": result.get("counted"),
                "disqualified": seen["disqualified"],
                "complaints": seen["complaints"],
                "complaints_until": seen["record"]["complaints_until"],
                "counted_fixed_height": seen["record"]["counted_fixed_height"],
                "height": out["final_height"],
                "attesters": out["attesters"],
            }
            print("OUTCOME " + json.dumps(line), flush=True)
            ok &= out["status"] == "final"
        # The cheater's ballot is out by validator VICTIM's complaint, and the tally is the honest voters'.
        cheated = judged(clients[0], polls[2])
        caught = cheated["disqualified"] == 1 and cheated["complaints"] == [f"validator {VICTIM}: ballot_bad"]
        say(f"the cheating voter's ballot was disqualified by validator {VICTIM}'s complaint: {caught}")
        ok &= caught
        return 0 if ok else 1
    finally:
        say(f"stopped {net.down()} processes")


if __name__ == "__main__":
    sys.exit(main())
