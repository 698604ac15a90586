"""A real testnet for the light client's and verified reads' tests, and a lying node in front of it.

`light_chain` is the body of a module-scoped `chain` fixture (a test module declares the
fixture and yields from it, so each module that uses it starts its own testnet).
"""

import json
import re
import time

from lyingproxy import LyingProxy, query_values
from mpc_tx.client.cli import Client, CliError
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from netfixtures import running_testnet, wait_committed

__all__ = ["light_chain", "poll_rewrite", "vote_through", "refused"]


def light_chain(tmp_path_factory):
    """Yield a testnet with: poll `open` (tally), poll `closed` (closed early), a block of several txs."""
    tmp = tmp_path_factory.mktemp("light")
    with running_testnet(tmp, workers=False) as net:
        genesis = json.loads(net.genesis_path().read_text())
        c = Client(net.rpc_url(0), keys_dir=tmp / "keys", genesis=str(net.genesis_path()))
        creator = SigningKey.generate()
        open_poll = c.create_poll(creator, "Venue?", "tally", ["a", "b", "c"], close_in=2000)
        closed = c.create_poll(creator, "Ship?", "unanimity", close_in=2000)
        close_tx = c.close_poll(creator, closed["poll"])
        # Several txs sent at once through two nodes land in few blocks: proofs with aunts.
        rpcs, hashes = [net.rpc(0), net.rpc(1)], []
        height = net.rpc(0).height()
        for i in range(7):
            key = SigningKey.generate()
            body = {
                "question": f"q{i}",
                "kind": "unanimity",
                "options": [],
                "voters": None,
                "close_height": height + 2000 + i,
                "max_ballots": 10,
                "max_revotes": 0,
                "min_ballots": 3,
                "threshold": None,
            }
            raw = txcodec.build(key, genesis["chain_id"], "create_poll", time.time_ns() // 1000, body)
            hashes.append(rpcs[i % 2].broadcast_tx_async(raw)["hash"])
        batch = wait_committed(net.rpc(0), hashes)
        net.wait_height(max(int(r["height"]) for r in batch.values()) + 2, timeout=60)
        yield {
            "net": net,
            "genesis": genesis,
            "client": c,
            "creator": creator,
            "open": open_poll,
            "closed": closed,
            "close_tx": close_tx,
            "batch": batch,
            "tmp": tmp,
        }


def poll_rewrite(poll_id, change):
    def lie(path, poll):
        if path == f"/poll/{poll_id}":
            change(poll)
            return poll
        return None

    return query_values(lie)


def vote_through(chain, rewrite, poll_id=None, choice="a"):
    """Vote through a lying proxy in front of node 0; return (error message or None, methods called)."""
    poll_id = poll_id or chain["open"]["poll"]
    with LyingProxy(chain["net"].rpc_url(0), rewrite) as proxy:
        c = Client(proxy.url, keys_dir=chain["tmp"] / "keys", genesis=str(chain["net"].genesis_path()))
        try:
            c.vote(SigningKey.generate(), poll_id, choice)
            error = None
        except CliError as exc:
            error = str(exc)
        return error, proxy.methods(), proxy.url


def refused(chain, rewrite, match, **kw):
    error, methods, url = vote_through(chain, rewrite, **kw)
    assert error is not None, "the vote went through"
    assert error.startswith("not voting:") and re.search(match, error), error
    assert not [m for m in methods if m.startswith("broadcast")], methods
    return error, url
