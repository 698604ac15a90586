"""Invariants checked after each run, over every node's RPC.

1. Every ballot whose tx was committed is in state on every node (and nothing else is).
2. All nodes agree on the app hash at every common height: each node's own
   FinalizeBlock app hash (`block_results`) and the block headers.
3. The outcome every node reports equals the one computed in the clear from
   the test's own record of the votes (or the named failure the scenario expects).
"""

import threading

from mpc_tx.client.rpc import Rpc, RpcError, QueryError

__all__ = ["clear_outcome", "ballots_in_state", "HashAudit", "outcome_on_nodes", "compare_outcome"]


def clear_outcome(poll: dict, choices: list[str]) -> dict:
    """Return the outcome computed in the clear from the votes."""
    if poll["kind"] == "unanimity":
        return {"unanimous": all(c == "yes" for c in choices)}
    return {"tally": {o: sum(c == o for c in choices) for o in poll["options"]}}


def _state_ballots(url: str, poll_id: int) -> dict:
    """Return {voter: tx hash} of a poll's counted ballots in one node's state (a disqualified one is not)."""
    rpc = Rpc(url, timeout=30.0)
    found, after = {}, None
    try:
        for _ in range(10_000):
            path = f"/poll/{poll_id}/ballots?limit=1000&fields=tx" + (f"&after={after}" if after else "")
            page, _ = rpc.query(path)
            for b in page["ballots"]:
                if b.get("disqualified") is None:
                    found[b["voter"]] = b["tx"]
            if not page["next"]:
                return found
            after = page["next"]
        raise RuntimeError("too many ballot pages")
    finally:
        rpc.close()


def ballots_in_state(net, poll_id: int, committed: dict, nodes=None) -> dict:
    """Compare {voter: tx hash} of the committed ballots with each node's state.

    Returns lost (committed ballots missing, or with another tx, on at least one
    node), extra (ballots in some node's state the test never saw committed),
    and the per-node counts.
    """
    nodes = range(len(net.validators)) if nodes is None else nodes
    lost, extra, per_node = set(), set(), {}
    for i in nodes:
        try:
            state = _state_ballots(net.rpc_url(i), poll_id)
        except (RpcError, QueryError, RuntimeError) as exc:
            per_node[i] = {"error": str(exc)[:200]}
            lost |= set(committed)
            continue
        missing = {v for v, h in committed.items() if state.get(v) != h}
        more = set(state) - set(committed)
        lost |= missing
        extra |= more
        per_node[i] = {"in_state": len(state), "missing": len(missing), "extra": len(more)}
    return {"lost": len(lost), "extra": len(extra), "nodes": per_node}


class HashAudit:
    """Compare every node's app hash at every common height not compared yet."""

    def __init__(self, net):
        self.net = net
        self.checked = 0

    def reset(self):
        """Start again from height 1 (the chain was reset)."""
        self.checked = 0

    def audit(self, nodes=None) -> dict:
        nodes = list(range(len(self.net.validators)) if nodes is None else nodes)
        rpcs = {i: Rpc(self.net.rpc_url(i), timeout=30.0) for i in nodes}
        try:
            tops = {i: rpcs[i].height() for i in nodes}
            common = min(tops.values())
            low = self.checked + 1
            seen = {i: {} for i in nodes}  # node -> height -> (finalize app hash, header app hash)
            errors = []

            def read(i):
                try:
                    headers = {}
                    h = low
                    while h <= common:
                        top = min(common, h + 19)
                        metas = rpcs[i].call("blockchain", minHeight=str(h), maxHeight=str(top))["block_metas"]
                        for m in metas:
                            headers[int(m["header"]["height"])] = m["header"]["app_hash"]
                        h = top + 1
                    for h in range(low, common + 1):
                        res = rpcs[i].call("block_results", height=str(h))
                        seen[i][h] = (res.get("app_hash"), headers.get(h))
                except RpcError as exc:
                    errors.append(f"node{i}: {exc}"[:200])

            threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
            divergent, unchecked = [], 0
            for h in range(low, common + 1):
                values = {i: seen[i].get(h) for i in nodes}
                if None in values.values() or any(None in v for v in values.values()):
                    unchecked += 1
                elif len(set(values.values())) != 1:
                    divergent.append(
                        {
                            "height": h,
                            "app_hashes": {f"node{i}": v[0] for i, v in values.items()},
                            "headers": {f"node{i}": v[1] for i, v in values.items()},
                        }
                    )
            if not errors and not unchecked:
                self.checked = max(self.checked, common)
            return {"from": low, "to": common, "divergent": divergent, "unchecked": unchecked, "errors": errors}
        finally:
            for r in rpcs.values():
                r.close()


def outcome_on_nodes(net, poll_id: int, nodes=None) -> dict:
    """Return {node: /poll/ID/outcome} (or an error text) from each node."""
    nodes = range(len(net.validators)) if nodes is None else nodes
    out = {}
    for i in nodes:
        rpc = Rpc(net.rpc_url(i), timeout=30.0)
        try:
            out[i] = rpc.query(f"/poll/{poll_id}/outcome")[0]
        except (RpcError, QueryError) as exc:
            out[i] = {"error": str(exc)[:200]}
        finally:
            rpc.close()
    return out


def compare_outcome(answers: dict, expected: dict) -> list[str]:
    """Return what is wrong with the nodes' outcomes (empty if nothing).

    expected: {"status": "final", "outcome": ..., "counted": n} or
              {"status": "failed", "code": ..., "absent": [...]}.
    """
    wrong = []
    distinct = {repr(sorted(a.items())) for a in answers.values()}
    if len(distinct) != 1:
        wrong.append("nodes report different outcomes")
    for i, a in answers.items():
        if "error" in a:
            wrong.append(f"node{i}: {a['error']}")
            continue
        result = a.get("result") or {}
        if a["status"] != expected["status"]:
            wrong.append(f"node{i}: status {a['status']} ({result.get('code', '')}), expected {expected['status']}")
        elif expected["status"] == "final":
            if result.get("outcome") != expected["outcome"]:
                wrong.append(f"node{i}: outcome {result.get('outcome')} != clear {expected['outcome']}")
            if result.get("counted") != expected["counted"]:
                wrong.append(f"node{i}: counted {result.get('counted')}, expected {expected['counted']}")
            if "excluded" in result or "unusable" in result:
                wrong.append(f"node{i}: the outcome excludes ballots; only a judged complaint may (§17)")
        else:
            if result.get("code") != expected["code"] or result.get("absent") != expected["absent"]:
                wrong.append(
                    f"node{i}: failure {result.get('code')} absent {result.get('absent')}, "
                    f"expected {expected['code']} absent {expected['absent']}"
                )
    return wrong
