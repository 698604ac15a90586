"""`mpcvote verify POLL`: replay a poll from verified reads and check every ruling the chain made (PROTOCOL §18.5).

Nothing a node says is taken as such. The poll's create_poll, every event tx and its
result data are proven with the light client (headers signed by more than 2/3 of the
genesis power); `tx_search` only points at candidates. Each event is replayed: ballot
proofs, eligibility, caps and windows, complaint rulings, the aggregate A, every
aggregate pair, the interpolation and the final check. The running digest in each
event's committed data pins the events before it (`running.check_trail`); the final
tx's data pins the end (`running.check_final`). A poll without a final tx is checked by
a scan of every block that can hold one of its events. The first failure stops the
run and names the tx and the step.
"""

import base64
import hashlib
from dataclasses import dataclass, field

from mpc_tx.protocol import canonical, running, tally
from mpc_tx.protocol import tx as txcodec
from mpc_tx.protocol.ballot import verify_ballot
from mpc_tx.protocol.complaint import BALLOT_BAD, adjudicate
from mpc_tx.protocol.context import make_poll
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import poll_entries
from mpc_tx.protocol.registry import check_registry, complaint_window
from mpc_tx.client.light import LightClient, VerifyError, merkle_root, results_hash
from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.client.verified import _created, created_threshold

__all__ = ["Step", "Report", "verify_poll", "EVENT_QUERIES"]

# The tx events that point at a poll's event txs (untrusted: each hit is proven, then replayed).
EVENT_QUERIES = ("ballot", "complaint", "poll_closed", "aggregate", "outcome_final")
_PER_PAGE = 100
_MAX_PAGES = 10000
# abci_app/params.py DEFAULTS of the two parameters the timeline needs (the client never imports the app).
_PARAM_DEFAULTS = {"complaint_slack_blocks": 2, "mpc_deadline_blocks": 300}
_KINDS = {"cast_ballot": "ballot", "complain": "complaint", "close_poll": "close", "aggregate": "aggregate"}
_EVENT_TYPES = set(_KINDS)


class _Failed(Exception):
    """A step failed: the message names the tx and what it found."""

    def __init__(self, step: str, detail: str):
        super().__init__(detail)
        self.step, self.detail = step, detail


@dataclass
class Step:
    """One step of the replay: what was checked and what it found."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict:
        """Return the step as a JSON object."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    """What `verify_poll` checked, in order, and its conclusion."""

    poll_id: int
    node: str
    ok: bool = False
    mode: str | None = None  # "final tx" or "scan"
    state: str | None = None  # final, withheld, failed, open, closed, ...
    steps: list = field(default_factory=list)
    result: dict | None = None
    failure: str | None = None
    named: list = field(default_factory=list)
    interpolated: list = field(default_factory=list)

    def add(self, name: str, detail: str, ok: bool = True):
        """Record a step."""
        self.steps.append(Step(name, ok, detail))

    def to_json(self) -> dict:
        """Return the report as a JSON object."""
        return {
            "poll": self.poll_id,
            "node": self.node,
            "ok": self.ok,
            "mode": self.mode,
            "state": self.state,
            "result": self.result,
            "named_validators": self.named,
            "interpolated": self.interpolated,
            "failure": self.failure,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass
class _Event:
    """One proven event tx of the poll, in chain order."""

    height: int
    index: int
    hash: str
    tx: object
    data: bytes


def verify_poll(rpc_or_url, poll_id: int, genesis: dict, wait_next: float = 10.0, light=None) -> Report:
    """Verify poll `poll_id` from `rpc_or_url` against `genesis`; return the Report (ok False names the failure)."""
    rpc = Rpc(rpc_or_url) if isinstance(rpc_or_url, str) else rpc_or_url
    report = Report(poll_id, getattr(rpc, "url", str(rpc_or_url)))
    try:
        _Replay(rpc, poll_id, genesis, report, wait_next, light).run()
        report.ok = True
    except _Failed as exc:
        report.add(exc.step, exc.detail, ok=False)
        report.failure = f"{exc.step}: {exc.detail}"
    except (VerifyError, RpcError) as exc:
        report.add("verified read", f"{report.node}: {exc}"[:500], ok=False)
        report.failure = f"verified read: {report.node}: {exc}"[:500]
    except Exception as exc:  # noqa: BLE001 -- a malformed proven tx or answer: still a report, never a raise
        report.add("replay", f"malformed input: {type(exc).__name__}: {exc}"[:300], ok=False)
        report.failure = f"replay: malformed input: {type(exc).__name__}: {exc}"[:300]
    if not report.ok:
        report.result = None  # a failed verify vouches for no result, even one recomputed before the failure
    return report


def _hex_bytes(text) -> bytes:
    return bytes.fromhex(text)


class _Replay:
    """The replay of one poll: the chain's state for it, recomputed event by event."""

    def __init__(self, rpc, poll_id, genesis, report, wait_next, light):
        self.rpc, self.poll_id, self.genesis, self.report = rpc, poll_id, genesis, report
        self.light = light or _light(rpc, genesis, wait_next)
        self.node = report.node

    # --- 1. the trust root ---------------------------------------------------------------
    def trust_root(self):
        g = self.genesis
        app_state = g.get("app_state") if isinstance(g, dict) else None
        registry = app_state.get("validators") if isinstance(app_state, dict) else None
        if not isinstance(registry, list) or not registry:
            raise _Failed("genesis", "the genesis file has no validator registry (app_state.validators)")
        try:
            self.params = _params(app_state.get("params"))
            triples = [
                (base64.b64decode(v["pub_key"]), bytes.fromhex(v["enc_key"]), bytes.fromhex(v["enc_proof"]))
                for v in registry
            ]
            self.powers = [v["power"] for v in registry]
            self.attest = [v["attest_key"] for v in registry]
            consensus = {base64.b64decode(v["pub_key"]["value"]): int(v["power"]) for v in g["validators"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise _Failed("genesis", f"the genesis parameters or registry are malformed: {exc}") from None
        if {c: p for (c, _x, _p), p in zip(triples, self.powers)} != consensus or len(triples) != len(consensus):
            raise _Failed("genesis", "the registry's consensus keys and powers are not the genesis validator set's")
        keys = check_registry(self.light.chain_id.encode(), triples)
        if isinstance(keys, Rejected):
            raise _Failed("genesis", f"the registry does not check: {keys.reason}")
        self.registry, self.keys = registry, [x for _c, x, _p in triples]
        window = complaint_window(self.powers)
        if isinstance(window, Rejected):
            raise _Failed("genesis", window.reason)
        self.window = window + self.params["complaint_slack_blocks"]
        self.report.add(
            "trust root",
            f"chain {self.light.chain_id}: {len(registry)} validators (keys and proofs of possession checked), "
            f"power {sum(self.powers)}; complaint window {self.window} blocks, "
            f"deadline {self.params['mpc_deadline_blocks']} blocks after the fix",
        )

    # --- 2. the poll -----------------------------------------------------------------------
    def poll(self):
        tx, created = _created(self.light, self.poll_id)
        self.creator, self.body = tx.signer, tx.body
        kind = tx.body.get("kind")
        self.t = created_threshold(tx.body, self.registry, kind)
        self.kind, self.options = kind, tx.body.get("options") or []
        self.k = poll_entries(kind, self.options)
        self.voters = tx.body.get("voters")
        self.created = created.height
        self.close_height = tx.body["close_height"]
        self.ctx = make_poll(
            self.light.chain_id.encode(), str(self.poll_id).encode(), self.t, self.k, self.k > 1, self.keys
        )
        self.header = self.ctx.header
        self.report.add(
            "poll",
            f"create_poll tx {created.hash} proven at height {created.height}: {kind} poll, "
            f"m = {len(self.keys)}, t = {self.t} (in the {kind} range), k = {self.k}, "
            f"close height {self.close_height}, min_ballots {tx.body.get('min_ballots')}",
        )

    # --- 3. the events -------------------------------------------------------------------
    def search(self) -> list:
        hashes = []
        for name in EVENT_QUERIES:
            page = 1
            while page <= _MAX_PAGES:
                found = self.light._call(
                    "tx_search",
                    query=f"{name}.poll_id={self.poll_id}",
                    page=str(page),
                    per_page=str(_PER_PAGE),
                    order_by="asc",
                )
                txs = found.get("txs") if isinstance(found, dict) else None
                txs = txs if isinstance(txs, list) else []
                hashes += [t.get("hash") for t in txs if isinstance(t, dict) and isinstance(t.get("hash"), str)]
                try:
                    total = int(found.get("total_count", 0))
                except (TypeError, ValueError, AttributeError):
                    total = 0
                if len(txs) < _PER_PAGE or page * _PER_PAGE >= total:
                    break
                page += 1
        events, seen = [], set()
        for h in hashes:
            if h.upper() in seen:
                continue
            seen.add(h.upper())
            proven = self.light.tx(h)
            event = self._event(proven.height, proven.index, proven.hash, proven.tx, proven.code, proven.data)
            if event is not None:
                events.append(event)
        events.sort(key=lambda e: (e.height, e.index))
        self.report.add(
            "events",
            f"tx_search named {len(seen)} txs; {len(events)} proven with code 0 as events of poll {self.poll_id}",
        )
        return events

    def _event(self, height, index, tx_hash, raw, code, data):
        if code != 0:
            return None
        tx = _decode(raw)
        if tx is None or tx.type not in _EVENT_TYPES or tx.chain_id != self.light.chain_id:
            return None
        if tx.body.get("poll") != self.poll_id:
            return None
        return _Event(height, index, tx_hash, tx, data)

    # --- 4. the end: the final tx, or a scan -----------------------------------------------
    def scan(self, events: list) -> list:
        """Return the poll's events read from every block that can hold one, each block proven."""
        top = self.light.latest().height
        found, close, fixed_end = [], self.close_height, None
        h = self.created + 1
        scanned = 0
        while h <= top - 1:  # a block's results are proven by the next header
            if fixed_end is not None and h > fixed_end:
                break
            block = self.light._call("block", height=str(h))
            try:
                txs = [base64.b64decode(t, validate=True) for t in (block["block"]["data"]["txs"] or [])]
            except (KeyError, TypeError, ValueError):
                raise _Failed("scan", f"{self.node} gave a malformed block {h}") from None
            if merkle_root([hashlib.sha256(t).digest() for t in txs]) != self.light.header(h).data_hash:
                raise _Failed("scan", f"{self.node}'s block {h} txs do not hash to the verified header's data_hash")
            scanned += 1
            ours = [(i, t) for i, t in enumerate(txs) if self._mentions(t)]
            if ours:
                results = self.light._call("block_results", height=str(h)).get("txs_results") or []
                if results_hash(results) != self.light.header(h + 1).last_results_hash or len(results) != len(txs):
                    raise _Failed("scan", f"{self.node}'s block_results of height {h} do not verify")
                for i, raw in ours:
                    r = results[i]
                    try:
                        code = int(r.get("code", 0))
                        data = base64.b64decode(r.get("data") or "", validate=True)
                    except (TypeError, ValueError, AttributeError):
                        raise _Failed("scan", f"malformed result {i} at height {h}") from None
                    ev = self._event(h, i, hashlib.sha256(raw).hexdigest().upper(), raw, code, data)
                    if ev is not None:
                        found.append(ev)
                        if ev.tx.type == "close_poll":
                            close = min(close, h)
            fix = close + self.window + 1
            if h >= fix and fixed_end is None:
                # A unanimity poll's last event is before its fix (its outcome is attested in end
                # blocks); a tally's posts may come until its deadline (a withheld one has none).
                fixed_end = fix if self.kind != "tally" else fix + self.params["mpc_deadline_blocks"]
            h += 1
        self.report.mode = "scan"
        self.report.add(
            "scan",
            f"no final tx shown: scanned blocks {self.created + 1}..{h - 1} ({scanned} blocks, each proven), "
            f"{len(found)} events",
        )
        return found

    def _mentions(self, raw: bytes) -> bool:
        tx = _decode(raw)
        return tx is not None and tx.type in _EVENT_TYPES and tx.body.get("poll") == self.poll_id

    # --- 5-8. the replay ----------------------------------------------------------------
    def run(self):
        self.trust_root()
        self.poll()
        events = self.search()
        finals = [e for e in events if _has_result(e.data)]
        if finals:
            self.report.mode = "final tx"
            self.report.add("end", f"final tx {finals[-1].hash} at height {finals[-1].height} (its data has result)")
        else:
            shown = {e.hash for e in events}
            events = self.scan(events)
            hidden = [e for e in events if e.hash not in shown]
            if hidden:
                raise _Failed(
                    "scan",
                    f"{self.node} hides {len(hidden)} event txs of poll {self.poll_id} from tx_search "
                    f"(the proven blocks hold them): {', '.join(e.hash for e in hidden[:4])}",
                )
            extra = shown - {e.hash for e in events}
            if extra:
                raise _Failed("scan", f"proven events outside the scanned blocks: {', '.join(sorted(extra)[:4])}")
        self.replay(events)

    def replay(self, events: list):
        r = running.start(self.header)
        sums = tally.empty_sums(self.k, self.t)
        ballots = {}  # voter hex -> record
        bad_commitments, complained, posted = set(), set(), {}
        n, closed_at, verdicts, proofs = 0, None, {}, 0
        named, posts, result, final_at = set(), [], None, None
        done_events, datas = [], []
        for number, ev in enumerate(events, 1):
            tx, body, where = ev.tx, ev.tx.body, f"tx {ev.hash} at height {ev.height}"
            if final_at is not None:
                raise _Failed("replay", f"{where}: an event after the final tx {final_at}")
            fix = (closed_at or self.close_height) + self.window + 1
            committed = running.parse_data(ev.data)
            if not isinstance(committed, Rejected) and committed["events"] != number:
                # Checked before the event's own rules: a window check would fail too, but the cause is the count.
                raise _Failed(
                    "running digest",
                    f"{where} ({_KINDS[tx.type]}): the chain committed it as event {committed['events']}, "
                    f"{self.node} shows {number - 1} events before it: the node hides or adds events",
                )
            if tx.type == "cast_ballot":
                voter = tx.signer
                if (body.get("m"), body.get("t"), body.get("k")) != (len(self.keys), self.t, self.k):
                    raise _Failed("ballot", f"{where}: built for another (m, t, k): the chain must refuse it")
                raw = _hex_bytes(body["ballot"])
                checked = verify_ballot(self.ctx, bytes.fromhex(voter), raw)
                if isinstance(checked, Rejected):
                    raise _Failed("ballot", f"{where}: the proofs do not verify ({checked.reason})")
                proofs += 1
                if ev.height >= self.close_height or closed_at is not None:
                    raise _Failed("ballot", f"{where}: cast after the close")
                if self.voters is not None and voter not in self.voters:
                    raise _Failed("ballot", f"{where}: voter {voter[:16]}… is not eligible")
                old = ballots.get(voter)
                revotes = 0 if old is None else old["revotes"] + 1
                if revotes > self.body["max_revotes"]:
                    raise _Failed("ballot", f"{where}: revote {revotes} over the cap {self.body['max_revotes']}")
                counted_before = old is not None and not old["bad"]
                if not counted_before and n >= self.body["max_ballots"]:
                    raise _Failed("ballot", f"{where}: over max_ballots {self.body['max_ballots']}")
                if checked.commitments_digest in bad_commitments:
                    raise _Failed("ballot", f"{where}: reuses disqualified commitments")
                sums = tally.on_ballot(sums, old["commitments"] if counted_before else None, checked.commitments)
                ballots[voter] = {
                    "raw": raw,
                    "tx": ev.hash,
                    "revotes": revotes,
                    "replaced": ([] if old is None else old["replaced"] + [old["tx"]]),
                    "bad": False,
                    "commitments": checked.commitments,
                    "cdigest": checked.commitments_digest,
                }
                n += 0 if counted_before else 1
                event = running.ballot_event(ev.height, _raw_hash(ev.hash), bytes.fromhex(voter))
            elif tx.type == "complain":
                i, voter, ballot_tx = body["validator"], body["voter"], body["ballot_tx"]
                if i >= len(self.attest) or self.attest[i] != tx.signer:
                    raise _Failed("complaint", f"{where}: not signed by validator {i}'s attestation key")
                if closed_at is not None or ev.height >= self.close_height:
                    until = (closed_at or self.close_height) + self.window
                    if ev.height > until:
                        raise _Failed("complaint", f"{where}: after the complaint window (until {until})")
                record = ballots.get(voter)
                if record is None or (ballot_tx != record["tx"] and ballot_tx not in record["replaced"]):
                    raise _Failed("complaint", f"{where}: about no ballot of voter {voter[:16]}…")
                if (ballot_tx, i) in complained:
                    raise _Failed("complaint", f"{where}: validator {i} complained about this ballot already")
                complained.add((ballot_tx, i))
                if ballot_tx != record["tx"] or record["bad"]:
                    verdict = "moot"
                else:
                    judged = adjudicate(
                        self.ctx,
                        bytes.fromhex(voter),
                        _raw_hash(ballot_tx),
                        record["raw"],
                        i,
                        _hex_bytes(body["complaint"]),
                    )
                    if isinstance(judged, Rejected):
                        raise _Failed("complaint", f"{where}: the chain must refuse it ({judged.reason})")
                    if judged.outcome == BALLOT_BAD:
                        verdict = "ballot_bad"
                        record["bad"] = True
                        bad_commitments.add(record["cdigest"])
                        sums = tally.on_disqualify(sums, record["commitments"])
                        n -= 1
                    else:
                        verdict = "complaint_false"
                        named.add(i)
                verdicts[verdict] = verdicts.get(verdict, 0) + 1
                event = running.complaint_event(
                    ev.height, _raw_hash(ev.hash), i, bytes.fromhex(voter), _raw_hash(ballot_tx), verdict
                )
            elif tx.type == "close_poll":
                if tx.signer != self.creator:
                    raise _Failed("close", f"{where}: not signed by the poll's creator")
                if closed_at is not None or ev.height >= self.close_height:
                    raise _Failed("close", f"{where}: the poll was closed already")
                doc = running.parse_data(ev.data)
                if isinstance(doc, Rejected) or doc.get("closed_height") != ev.height:
                    raise _Failed("close", f"{where}: its result data does not say it closed the poll here")
                closed_at = ev.height
                event = running.close_event(ev.height, _raw_hash(ev.hash))
            else:  # aggregate
                i = body.get("validator")
                if self.kind != "tally":
                    raise _Failed("aggregate", f"{where}: a {self.kind} poll takes no aggregate posts")
                if type(i) is not int or i >= len(self.attest) or self.attest[i] != tx.signer:
                    raise _Failed("aggregate", f"{where}: not signed by validator {i}'s attestation key")
                if ev.height < fix:
                    raise _Failed("aggregate", f"{where}: before the counted set is fixed at height {fix}")
                if n < self.body["min_ballots"]:
                    raise _Failed("aggregate", f"{where}: the poll is withheld ({n} counted), no pair is wanted")
                if i in posted:
                    raise _Failed("aggregate", f"{where}: validator {i} posted already")
                if ev.height >= fix + self.params["mpc_deadline_blocks"]:  # failed at the start of that block
                    raise _Failed("aggregate", f"{where}: after the deadline")
                post = tally.judge_pairs(sums, len(self.keys), i, _pairs(body.get("pairs")))
                if isinstance(post, Rejected):
                    raise _Failed("aggregate", f"{where}: malformed pairs, the chain must refuse them ({post.reason})")
                posted[i] = post.verdict
                posts.append(post)
                if post.verdict == tally.NAMED:
                    named.add(i)
                event = running.aggregate_event(ev.height, _raw_hash(ev.hash), i, post.verdict)
                if sum(1 for p in posts if p.verdict == tally.VALID) == self.t + 1:
                    opening = tally.open_tally(sums, n, self.k > 1, posts)
                    if isinstance(opening, Rejected):
                        raise _Failed("opening", f"{where}: {opening.reason}")
                    result = tally.tally_result(self.options, self._digest(ballots), n, list(opening.counts))
                    self.report.interpolated = list(opening.validators)
                    final_at = ev.hash
            r = running.step(r, event)
            done_events.append(event)
            datas.append(ev.data)
            doc = running.parse_data(ev.data)
            if (
                isinstance(doc, Rejected)
                or doc["events"] != number
                or doc["running"] != r
                or doc["poll_id"] != self.poll_id
            ):
                shown = "unreadable" if isinstance(doc, Rejected) else f"event {doc['events']}"
                raise _Failed(
                    "running digest",
                    f"{where} ({_KINDS[tx.type]}): the chain committed {shown} with another running digest than the "
                    f"recomputed event {number}: {self.node} hides, adds or changes an event before it, "
                    "or the chain ruled otherwise",
                )
            if result is None and _has_result(ev.data):
                raise _Failed("end", f"{where}: carries a result, but the recomputed tally is not final here")
        checked = running.check_trail(self.header, self.poll_id, done_events, datas)
        if isinstance(checked, Rejected):
            raise _Failed("running digest", checked.reason)
        self.report.add(
            "ballots",
            f"{proofs} ballots: every proof verified (verify_ballot), eligibility, close, revote cap, "
            f"max_ballots and disqualified commitments rechecked; A updated for each",
        )
        shown = ", ".join(f"{v} {c}" for v, c in sorted(verdicts.items())) or "none"
        self.report.add("complaints", f"{sum(verdicts.values())} complaints re-judged: {shown}")
        self.report.add("running digest", f"{len(done_events)} events: each committed count and digest recomputed")
        self.report.named = sorted(named)
        counted_digest = self._digest(ballots)
        fresh = tally.fresh_sums(self.k, self.t, [b["commitments"] for b in ballots.values() if not b["bad"]])
        if fresh != sums:
            raise _Failed("counted set", "the aggregate A does not equal the fresh sum over the counted set")
        self.report.add(
            "counted set",
            f"{n} counted ballots, digest {counted_digest}; A = the sum of their commitments; "
            f"fixed at height {(closed_at or self.close_height) + self.window + 1}",
        )
        if posts:
            valid = [p.validator for p in posts if p.verdict == tally.VALID]
            self.report.add(
                "aggregate pairs",
                f"{len(posts)} posts judged against A: valid {valid}, named "
                f"{[p.validator for p in posts if p.verdict == tally.NAMED]}",
            )
        self.report.add("named validators", f"{sorted(named) or 'none'}")
        if self.report.mode == "final tx" or result is not None:
            if result is None:
                raise _Failed("end", "the final tx shown is not where the recomputed tally becomes final")
            final = running.check_final(self.header, self.poll_id, done_events, datas, result)
            if isinstance(final, Rejected):
                raise _Failed("end", f"{self.node}: {final.reason}")
            self.report.add(
                "opening",
                f"validators {self.report.interpolated} interpolated (t+1 = {self.t + 1}); "
                f"T_e·G + R_e·H = A[e][0], T_e <= n and sum T_e = n checked",
            )
            self.report.add(
                "end",
                f"the final tx's events ({len(done_events)}), running digest and result equal the recomputation",
            )
            self.report.state, self.report.result = "final", result
            return
        self.valid_posts = [p.validator for p in posts if p.verdict == tally.VALID]
        self._scanned_end(n, counted_digest, closed_at)

    def _scanned_end(self, n, counted_digest, closed_at):
        fix = (closed_at or self.close_height) + self.window + 1
        top = self.light.latest().height
        if top < fix:
            self.report.state = "open" if top < (closed_at or self.close_height) else "closed"
            self.report.add("end", f"the counted set is not fixed yet (at height {fix}); the scan is complete to now")
            return
        base = {"ballots": counted_digest, "counted": n, "status": "ok"}
        if n < self.body["min_ballots"]:
            self.report.state, self.report.result = "withheld", dict(base, outcome={"withheld": True})
        elif self.kind != "tally":
            self.report.state = "fixed"
            self.report.result = dict(base, outcome=None)
            self.report.add(
                "end", "a unanimity outcome is attested from its MPC job over this counted set; not recomputed here"
            )
            return
        elif top >= fix + self.params["mpc_deadline_blocks"]:
            absent = [i for i in range(len(self.keys)) if i not in self.valid_posts]
            self.report.state = "failed"
            # the chain's failed form (outcomes._fail): the absent and the fixed set's digest
            self.report.result = {"status": "failed", "code": "deadline", "absent": absent, "ballots": counted_digest}
        else:
            self.report.state = "awaiting pairs"
        self.report.add("end", f"scanned end state: {self.report.state}")

    def _digest(self, ballots) -> str:
        return counted_set_digest([ballot_digest(v, b["raw"]) for v, b in sorted(ballots.items()) if not b["bad"]])


def _params(given) -> dict:
    """Return the two chain parameters the replay needs: the genesis values, or the chain's defaults."""
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ValueError("app_state.params is not an object")
    out = {}
    for name, default in _PARAM_DEFAULTS.items():
        value = given.get(name, default)
        if type(value) is not int or not 0 < value < (1 << 63):
            raise ValueError(f"chain parameter {name} must be a positive integer")
        out[name] = value
    return out


def _light(rpc, genesis, wait_next):
    try:
        return LightClient(rpc, genesis, wait_next=wait_next)
    except VerifyError as exc:
        raise _Failed("genesis", str(exc)) from None


def _has_result(data: bytes) -> bool:
    doc = running.parse_data(data)
    return not isinstance(doc, Rejected) and "result" in doc


def _raw_hash(text: str) -> bytes:
    return bytes.fromhex(text)


def _pairs(text):
    if not isinstance(text, str) or len(text) % 2 or text != text.lower():
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _decode(raw: bytes):
    """Return a decoded tx, or None; an `aggregate` tx is read by its canonical fields until the codec knows it."""
    try:
        return txcodec.decode(raw)
    except Exception:  # noqa: BLE001 -- any malformed bytes: not one of our events
        pass
    try:
        doc = canonical.decode(raw)
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(doc, dict) or doc.get("type") != "aggregate" or not isinstance(doc.get("body"), dict):
        return None
    body = doc["body"]
    if set(body) != {"poll", "validator", "pairs"} or not isinstance(doc.get("signer"), str):
        return None
    return _AggregateTx("aggregate", doc.get("chain_id"), doc["signer"], body)


@dataclass(frozen=True)
class _AggregateTx:
    type: str
    chain_id: str
    signer: str
    body: dict
