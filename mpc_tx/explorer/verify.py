"""The poll page's verify panel: what the light client proves about a poll, run in the background.

Against headers signed by more than 2/3 of the genesis power (mpc_tx/client/light.py):
- the latest header;
- the poll's `create_poll` tx and its result, and that the node's poll agrees with it
  (mpc_tx/client/verified.py finds it);
- for a final or failed poll, `mpcvote verify` (mpc_tx/client/pollverify.py): every event
  replayed, every ballot proof, complaint ruling and aggregate pair rechecked, the tally
  interpolated, the end pinned by the final tx or a scan; its steps are shown;
- for a unanimity poll, each `submit_outcome` tx (committed with code 0), and whether
  validators holding more than 2/3 of the poll's power attested the payload the node calls final.
A run takes several RPC calls per tx and waits for the next header, so it runs in a
thread with its own status; at most MAX_RUNNING at once, results kept for final polls.
"""

import threading
import time

from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.digests import outcome_digest
from mpc_tx.client.light import LightClient, VerifyError
from mpc_tx.client.pollverify import verify_poll
from mpc_tx.client.rpc import RpcError, QueryError

# The one search-and-prove of a poll's create_poll tx (the vote path uses it too): reused, not copied.
from mpc_tx.client.verified import _created, created_threshold

__all__ = ["Verifier", "MAX_RUNNING"]

MAX_RUNNING = 2
MAX_KEPT = 256
STALE_SECONDS = 30.0  # a non-final poll is verified again after this
ATTESTATIONS = 64  # submit_outcome txs looked at per poll


class Verifier:
    """Start and remember light-client checks of polls, one background thread per run."""

    def __init__(self, explorer, genesis: dict | None):
        self.explorer, self.genesis = explorer, genesis
        self._states = {}
        self._lock = threading.Lock()

    def state(self, poll_id: int) -> dict:
        """Return the poll's verify status, starting a run if there is none (or it is stale)."""
        if self.genesis is None:
            return {
                "status": "unavailable",
                "detail": "start the explorer with --genesis FILE to verify against the genesis validators",
            }
        with self._lock:
            st = self._states.get(poll_id)
            running = sum(1 for s in self._states.values() if s["status"] == "running")
            fresh = st is not None and (
                st["status"] == "running" or st.get("final") or time.monotonic() - st["at"] < STALE_SECONDS
            )
            if fresh:
                return _public(st)
            if running >= MAX_RUNNING:
                return {"status": "busy", "detail": "other verifications are running; reload in a moment"}
            st = {"status": "running", "checks": [], "at": time.monotonic()}
            self._states[poll_id] = st
            while len(self._states) > MAX_KEPT:
                self._states.pop(next(iter(self._states)))
        threading.Thread(target=self._run, args=(poll_id, st), daemon=True).start()
        return _public(st)

    def _run(self, poll_id: int, st: dict):
        t0 = time.monotonic()
        try:
            rpc, _status = self.explorer.node()
            registry = (self.genesis.get("app_state") or {}).get("validators")
            light = LightClient(rpc, self.genesis, wait_next=10.0)
            checks, final = run_checks(light, rpc, poll_id, registry, self.genesis)
            status = "verified" if all(c["ok"] is not False for c in checks) else "failed"
        except (VerifyError, RpcError, QueryError, Exception) as exc:  # the panel reports; the page stays up
            checks, final, status = [{"name": "verification", "ok": False, "detail": str(exc)[:300]}], False, "error"
        with self._lock:
            st.update(
                status=status, checks=checks, final=final, seconds=round(time.monotonic() - t0, 2), at=time.monotonic()
            )


def _public(st: dict) -> dict:
    return {k: st[k] for k in ("status", "checks", "seconds") if k in st}


def run_checks(
    light: LightClient, rpc, poll_id: int, registry: list | None = None, genesis: dict | None = None
) -> tuple[list, bool]:
    """Return ([{name, ok, detail}], poll is final) for one poll, proving each step with `light`.

    With the genesis `registry`, the poll's threshold is checked too: the proven body's t
    (null: the top of the range the registry allows). With the whole `genesis`, a final
    or failed poll is replayed by `mpcvote verify` (mpc_tx/client/pollverify.py) and its
    steps are shown; a unanimity poll's attestations are checked as well.
    """
    checks = []
    top = light.latest()
    checks.append(
        {
            "name": "latest header",
            "ok": True,
            "detail": f"header {top.height} signed by {top.signed_power} of {top.total_power} genesis voting power",
        }
    )
    tx, created = _created(light, poll_id)
    checks.append(
        {
            "name": "create_poll tx",
            "ok": True,
            "detail": f"tx {created.hash} proven in block {created.height}, result names poll {poll_id}",
        }
    )
    poll, _h = rpc.query(f"/poll/{poll_id}")
    body = tx.body
    facts = {
        "creator": tx.signer,
        "question": body["question"],
        "kind": body["kind"],
        "options": body["options"],
        "close_height": body["close_height"],
        "created_height": created.height,
        "max_ballots": body["max_ballots"],
    }
    if registry is not None:
        facts["threshold"] = created_threshold(body, registry)
    differ = [k for k, v in facts.items() if poll.get(k) != v]
    checks.append(
        {
            "name": "poll facts",
            "ok": not differ,
            "detail": "the node's poll agrees with the proven create_poll tx"
            if not differ
            else f"the node's {', '.join(differ)} differ from the proven create_poll tx",
        }
    )
    final = poll.get("status") in ("final", "failed")
    if not final:
        return checks, False
    if genesis is not None:
        report = verify_poll(rpc, poll_id, genesis, light=light)
        checks += [{"name": f"verify: {s.name}", "ok": s.ok, "detail": s.detail} for s in report.steps]
        checks.append(
            {
                "name": "mpcvote verify",
                "ok": report.ok,
                "detail": f"the poll verifies ({report.mode}): {report.state}"
                if report.ok
                else f"the poll does NOT verify: {report.failure}",
            }
        )
        if body.get("kind") == "tally" or not report.ok:
            if report.ok:  # a tally has no attestations: verify recomputed its outcome; the page shows the node's
                checks.append(_shown_outcome(report, poll.get("result")))
            return checks, True
    if poll["result"].get("code") == "deadline":
        # The chain itself fails a poll at its deadline: there is no attested payload to prove.
        checks.append(
            {
                "name": "final outcome",
                "ok": None,
                "detail": "failed at its deadline by the chain; no attested payload to prove",
            }
        )
        return checks, True
    digest = outcome_digest(poll["result"])
    power = {v["index"]: int(v["power"]) for v in poll["validators"]}
    keys = {v["index"]: v["attest_key"] for v in poll["validators"]}
    found = rpc.call(
        "tx_search", query=f"outcome_attested.poll_id={poll_id}", per_page=str(ATTESTATIONS), order_by="asc"
    )
    backing = set()
    for t in (found.get("txs") or [])[:ATTESTATIONS]:
        proven = light.tx(str(t.get("hash", "")))
        try:
            att = txcodec.decode(proven.tx)
        except Exception:
            continue
        i = att.body.get("validator")
        if proven.code != 0 or att.type != "submit_outcome" or keys.get(i) != att.signer:
            continue
        if outcome_digest(att.body["result"]) == digest:
            backing.add(i)
    signed, total = sum(power[i] for i in backing), sum(power.values())
    ok = 3 * signed > 2 * total
    checks.append(
        {
            "name": "final outcome",
            "ok": ok,
            "detail": f"validators {sorted(backing)} attested the node's final payload in proven txs: "
            f"{signed} of {total} power ({'more' if ok else 'not more'} than 2/3)",
        }
    )
    return checks, True


def _shown_outcome(report, shown) -> dict:
    """Check that the result the node shows (and the page draws) is the one `mpcvote verify` recomputed."""
    who = f"validators {report.interpolated} opened the tally; " if report.interpolated else ""
    if shown == report.result:
        return {"name": "final outcome", "ok": True, "detail": f"{who}the node's result equals the recomputed one"}
    return {
        "name": "final outcome",
        "ok": False,
        "detail": f"the node shows another result than the one the chain committed and verify recomputed: "
        f"{str(report.result)[:200]}",
    }
