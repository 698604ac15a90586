"""What the explorer's pages show, read from nodes' RPC and shaped into plain data.

Each page function takes an `Explorer` and returns a dict (the `?format=json`
view is that dict as such). Nothing here renders HTML. Rules kept throughout:
- only public chain data: a ballot (commitments, encrypted shares, proofs) and a
  complaint are shown by size, never content; registry TLS certificates by fingerprint;
- every argument that reaches a CometBFT query was checked first (digits, hex or
  the key format), so no input can become query injection or an expensive scan;
- every list is bounded (page sizes below), every loop over a node's answer too;
- a node that is down is reported as down; the page is served from another one;
- only immutable data is cached: committed blocks and txs, polls that are final.
"""

import base64
import calendar
import re
import threading
from collections import OrderedDict

from mpc_tx.protocol.codes import NAMES
from mpc_tx.protocol import events, tx as txcodec
from mpc_tx.protocol.digests import outcome_digest
from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.registry import max_faulty, threshold_range
from mpc_tx.client.rpc import Rpc, RpcError, QueryError

__all__ = [
    "Explorer",
    "NodesDown",
    "NotFound",
    "BadInput",
    "BALLOTS_PAGE",
    "POLLS_PAGE",
    "BLOCKS_SHOWN",
    "SEARCH_RESULTS",
    "parse_search",
    "home",
    "polls_page",
    "poll_page",
    "block_page",
    "tx_page",
    "validators_page",
    "search",
]

BALLOTS_PAGE = 50  # ballots per page of a poll's table
MAX_REPLACED = 100  # replaced tx hashes shown per ballot (the revote cap keeps it far below)
POLLS_PAGE = 100  # polls per page (and on the home page)
BLOCKS_SHOWN = 10  # latest blocks on the home page
RATE_WINDOW = 20  # blocks the block rate is measured over
SEARCH_RESULTS = 20  # hits per search field
CHART_BALLOTS = 1000  # ballots read for a poll's ballots-per-block chart
CHART_COLUMNS = 60  # at most this many block columns in that chart
MPC_EVENTS = 50  # attempt reports and attestations read per poll
PARTICIPATION_BLOCKS = 10  # latest commits read for validators' recent participation
CACHE_ENTRIES = 512

_DIGITS = re.compile(r"[0-9]{1,19}")
_HEX64 = re.compile(r"(?:0x)?([0-9A-Fa-f]{64})")
_KEY = re.compile(r"[0-9a-f]{64}")
_MAX_INT = (1 << 63) - 1
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


class NodesDown(Exception):
    """No node answered; `nodes` says which were tried and why each failed."""

    def __init__(self, nodes: list):
        super().__init__("no node answered")
        self.nodes = nodes


class NotFound(Exception):
    """The chain has no such block, tx or poll."""


class BadInput(Exception):
    """A request argument is not acceptable; the message says what is expected."""


class Explorer:
    """The nodes the explorer reads, a cache of immutable pages, and the verify runs."""

    def __init__(self, nodes: list, rpc_factory=None, genesis: dict | None = None, timeout: float = 3.0):
        if not nodes:
            raise ValueError("the explorer needs at least one node URL")
        self.urls = list(nodes)
        # A fresh client per request: Rpc keeps one connection and requests run in threads.
        self.rpc_factory = rpc_factory or (lambda url: Rpc(url, timeout=timeout))
        self.genesis = genesis
        self._cache = OrderedDict()
        self._lock = threading.Lock()
        self.verifier = None  # set by server: runs the light client in the background

    # --- nodes ---------------------------------------------------------------------------------
    def statuses(self) -> list:
        """Ask every node for its status; a node that does not answer is listed as down."""
        out = []
        for url in self.urls:
            rpc = self.rpc_factory(url)
            try:
                st = rpc.status()
                info, sync = st["node_info"], st["sync_info"]
                out.append(
                    {
                        "url": rpc.url,
                        "up": True,
                        "moniker": str(info.get("moniker", "")),
                        "chain_id": str(info.get("network", "")),
                        "height": int(sync["latest_block_height"]),
                        "app_hash": str(sync.get("latest_app_hash", "")),
                        "catching_up": bool(sync.get("catching_up")),
                        "rpc": rpc,
                    }
                )
            except (RpcError, KeyError, TypeError, ValueError) as exc:
                out.append({"url": rpc.url, "up": False, "error": _short(exc), "rpc": None})
        return out

    def node(self):
        """Return (rpc, status) of the first node that answers; raise NodesDown if none does."""
        tried = []
        for url in self.urls:
            rpc = self.rpc_factory(url)
            try:
                st = rpc.status()
                return rpc, {
                    "chain_id": str(st["node_info"]["network"]),
                    "height": int(st["sync_info"]["latest_block_height"]),
                    "url": rpc.url,
                }
            except (RpcError, KeyError, TypeError, ValueError) as exc:
                tried.append({"url": rpc.url, "up": False, "error": _short(exc)})
        raise NodesDown(tried)

    # --- cache of immutable data -----------------------------------------------------------------
    def cached(self, key):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def keep(self, key, value):
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value


# --- input checks: before anything reaches a node ---------------------------------------------------
def height_arg(text, what="height") -> int:
    """Parse a height or poll id: 1 to 19 decimal digits, 1..2^63-1."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text) or not 1 <= int(text) <= _MAX_INT:
        raise BadInput(f"{what} must be a positive decimal integer")
    return int(text)


def hash_arg(text) -> str:
    """Parse a tx hash: 64 hex digits (optionally 0x-prefixed); return it upper-case."""
    m = _HEX64.fullmatch(text or "")
    if not m:
        raise BadInput("a tx hash is 64 hex digits")
    return m.group(1).upper()


def key_arg(text, what="voter key") -> str:
    if not isinstance(text, str) or not _KEY.fullmatch(text):
        raise BadInput(f"{what} must be 64 lower-case hex digits")
    return text


def page_arg(text, what="page", high=10000) -> int:
    if text is None:
        return 1
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= high:
        raise BadInput(f"{what} must be from 1 to {high}")
    return int(text)


def parse_search(q) -> dict:
    """Classify a search string: {'number': n} for a height or poll id, {'hex': h} for a tx hash or key."""
    q = (q or "").strip()
    if len(q) > 80:
        raise BadInput("search takes a height or poll id (digits), a tx hash or a voter key (64 hex digits)")
    if _DIGITS.fullmatch(q) and 1 <= int(q) <= _MAX_INT:
        return {"number": int(q)}
    m = _HEX64.fullmatch(q)
    if m:
        return {"hex": m.group(1)}
    raise BadInput("search takes a height or poll id (digits), a tx hash or a voter key (64 hex digits)")


# --- shaping helpers ------------------------------------------------------------------------------------
def _short(exc) -> str:
    return str(exc)[:200]


def _seconds(text) -> float | None:
    """Seconds since the epoch of a CometBFT RFC 3339 time, or None."""
    m = _RFC3339.fullmatch(text or "")
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    whole = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
    return whole + (int(frac.ljust(9, "0")) / 1e9 if frac else 0.0)


def _events(events) -> list:
    """Flatten ABCI events to [{type, attributes: [[key, value]]}] (bounded)."""
    out = []
    for e in (events or [])[:100]:
        attrs = [[str(a.get("key", "")), str(a.get("value", ""))] for a in (e.get("attributes") or [])[:50]]
        out.append({"type": str(e.get("type", "")), "attributes": attrs})
    return out


def tx_summary(raw: bytes, result: dict) -> dict:
    """Decode one committed tx with the chain's own codec; ballots and complaints only by size."""
    code = int(result.get("code", 0) or 0)
    out = {
        "hash": txcodec.tx_hash(raw),
        "bytes": len(raw),
        "code": code,
        "code_name": "OK" if code == 0 else NAMES.get(code, str(code)),
        "log": str(result.get("log", ""))[:500] if code else "",
        "events": _events(result.get("events")),
    }
    try:
        tx = txcodec.decode(raw)
    except Exception:  # junk cannot commit past ProcessProposal, but be total
        out.update(type="undecodable", signer=None, nonce=None, body={}, poll=None)
        return out
    body = dict(tx.body)
    if tx.type == "cast_ballot" and isinstance(body.get("ballot"), str):
        size, m = len(body.pop("ballot")) // 2, body.get("m")
        body["ballot"] = f"{size} bytes: commitments, {m} encrypted shares, proofs"
    if tx.type == "complain" and isinstance(body.get("complaint"), str):
        body["complaint"] = f"{len(body.pop('complaint')) // 2} bytes: the validator's key for the ballot, proven"
    if tx.type == "create_poll" and body.get("voters") is not None:
        body["voters"] = f"{len(body['voters'])} listed voter keys"
    out.update(type=tx.type, signer=tx.signer, nonce=tx.nonce, chain_id=tx.chain_id, body=body, poll=body.get("poll"))
    return out


def _signers(commit: dict) -> set:
    sigs = commit.get("signatures") if isinstance(commit, dict) else None
    return {
        str(s.get("validator_address", ""))
        for s in (sigs or [])[:1000]
        if isinstance(s, dict) and s.get("block_id_flag") == 2
    }


def _registry(rpc) -> list:
    vals, _h = rpc.query("/validators")
    out = []
    for v in (vals.get("validators") or [])[:1000]:
        entry = {
            k: v.get(k)
            for k in (
                "index",
                "name",
                "address",
                "power",
                "attest_key",
                "enc_key",
                "mpc_host",
                "mpc_port",
                "mpc_ports",
                "tls_sha256",
            )
        }
        out.append(entry)
    return out


def _names(rpc) -> dict:
    try:
        return {v["address"]: v["name"] for v in _registry(rpc)}
    except (RpcError, QueryError, KeyError, TypeError, AttributeError):
        return {}


# --- pages ----------------------------------------------------------------------------------------------------
def home(ex: Explorer) -> dict:
    """Chain id, height, block rate, validators signing, app hash agreement, latest blocks, polls."""
    nodes = ex.statuses()
    up = [n for n in nodes if n["up"]]
    shown = [{k: v for k, v in n.items() if k != "rpc"} for n in nodes]
    if not up:
        raise NodesDown(shown)
    rpc = up[0]["rpc"]
    top = max(n["height"] for n in up)
    height = up[0]["height"]
    metas = rpc.call("blockchain", minHeight=str(max(1, height - RATE_WINDOW + 1)), maxHeight=str(height))[
        "block_metas"
    ][:RATE_WINDOW]
    names = _names(rpc)
    blocks = [
        {
            "height": int(m["header"]["height"]),
            "time": m["header"]["time"],
            "txs": int(m["num_txs"]),
            "hash": m["block_id"]["hash"],
            "proposer": names.get(m["header"]["proposer_address"], m["header"]["proposer_address"]),
        }
        for m in metas
    ]
    times = [_seconds(b["time"]) for b in blocks]
    rate = None
    if len(blocks) >= 2 and None not in times and max(times) > min(times):
        rate = round((len(blocks) - 1) / (max(times) - min(times)), 2)
    # App hashes agree at a height every node has reached (their latest heights differ).
    common = min(n["height"] for n in up)
    hashes = {}
    for n in up:
        try:
            meta = n["rpc"].call("blockchain", minHeight=str(common), maxHeight=str(common))["block_metas"][0]
            hashes[n["url"]] = meta["header"]["app_hash"]
        except (RpcError, KeyError, IndexError, TypeError):
            hashes[n["url"]] = None
    for n in shown:
        if n["up"]:
            n["app_hash_at_common"] = hashes.get(n["url"])
    try:
        commit = rpc.call("commit", height=str(height))["signed_header"]["commit"]
        signing = len(_signers(commit))
    except (RpcError, KeyError, TypeError):
        signing = None
    last = _last_poll_id(rpc)
    polls = polls_page(ex, str(max(0, last - POLLS_PAGE)), rpc=rpc)
    return {
        "chain_id": up[0]["chain_id"],
        "height": top,
        "block_rate": rate,
        "nodes": shown,
        "nodes_up": len(up),
        "validators_signing": signing,
        "validators_total": len(names) or None,
        "app_hash_height": common,
        "app_hashes_agree": len({h for h in hashes.values()}) == 1 and None not in hashes.values(),
        "blocks": sorted(blocks, key=lambda b: -b["height"])[:BLOCKS_SHOWN],
        "polls": polls["polls"],
        "polls_last": last,
        "polls_earlier": polls["after"] > 0,
        "time_to_final": _time_to_final(polls["polls"]),
    }


def _exists(rpc, poll_id: int) -> bool:
    try:
        rpc.query(f"/poll/{poll_id}")
        return True
    except QueryError as exc:
        if exc.code == 20:  # NOT_FOUND
            return False
        raise


def _last_poll_id(rpc) -> int:
    """The highest poll id, by doubling then bisecting over /poll/ID (about 2 log2(n) reads, at most 128)."""
    if not _exists(rpc, 1):
        return 0
    low, high = 1, 2
    while high < _MAX_INT and _exists(rpc, high):  # poll ids are dense: 1..last
        low, high = high, min(_MAX_INT, high * 2)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _exists(rpc, mid) else (low, mid)
    return low


def _time_to_final(polls: list) -> list:
    return [
        {"poll": p["id"], "blocks": p["final_height"] - p["closed_height"]}
        for p in polls
        if p.get("final_height") and p.get("closed_height")
    ]


def polls_page(ex: Explorer, after, rpc=None) -> dict:
    """Polls in id order, POLLS_PAGE at a time, with their close and final heights."""
    after = 0 if after in (None, "0") else height_arg(after, "after")
    if rpc is None:
        rpc, _st = ex.node()
    listed, _h = rpc.query(f"/polls?after={after}&limit={POLLS_PAGE}")
    polls = []
    for p in (listed.get("polls") or [])[:POLLS_PAGE]:
        entry = dict(p)
        if p["status"] in ("final", "failed"):
            # The list leaves out close and final heights; one read per final poll, cached for good.
            full = _poll_record(ex, rpc, int(p["id"]))
            entry.update(closed_height=full.get("closed_height"), final_height=full.get("final_height"))
        polls.append(entry)
    return {"polls": polls, "next": listed.get("next"), "after": after}


def _poll_record(ex: Explorer, rpc, poll_id: int) -> dict:
    got = ex.cached(("poll", poll_id))
    if got is not None:
        return got
    try:
        poll, _h = rpc.query(f"/poll/{poll_id}")
    except QueryError as exc:
        if exc.code == 20:  # NOT_FOUND
            raise NotFound(f"no poll {poll_id}") from None
        raise
    if poll["status"] in ("final", "failed"):
        ex.keep(("poll", poll_id), poll)
    return poll


def _ballots(rpc, poll_id: int, after: str | None, limit: int) -> list:
    """A page of ballot records as a page shows them: the ballot's bytes by size only."""
    path = f"/poll/{poll_id}/ballots?limit={limit}" + (f"&after={after}" if after else "")
    answer, _h = rpc.query(path)
    out = []
    for b in (answer.get("ballots") or [])[:limit]:
        d = b.get("disqualified") if isinstance(b.get("disqualified"), dict) else None
        out.append(
            {
                "voter": b["voter"],
                "height": b["height"],
                "revotes": b["revotes"],
                "tx": b["tx"],
                "replaced": list(b.get("replaced") or [])[:MAX_REPLACED],
                "disqualified": d and {"by": d.get("by"), "height": d.get("height"), "reason": str(d.get("reason"))},
            }
        )
    return out


VERDICTS = {
    "ballot_bad": "bad share: ballot disqualified, voter named",
    "complaint_false": "the share was good: complaint refused, validator named",
    "moot": "about a replaced or disqualified ballot: nobody named",
}


def _complaints(rpc, poll_id: int) -> list:
    """The poll's accepted complaints, each with its verdict in words (bounded)."""
    answer, _h = rpc.query(f"/poll/{poll_id}/complaints")
    listed = answer.get("complaints") if isinstance(answer, dict) else answer
    return [
        {
            "validator": c.get("validator"),
            "voter": str(c.get("voter", "")),
            "ballot_tx": str(c.get("ballot_tx", "")),
            "verdict": str(c.get("verdict", "")),
            "words": VERDICTS.get(c.get("verdict"), str(c.get("verdict"))),
            "reason": str(c.get("reason") or ""),
            "height": c.get("height"),
        }
        for c in (listed or [])[:MPC_EVENTS]
        if isinstance(c, dict)
    ]


def _aggregates(rpc, poll_id: int) -> list:
    """A tally's aggregate posts (§18.3): each validator's one post, valid or named (bounded; none if not served)."""
    try:
        answer, _h = rpc.query(f"/poll/{poll_id}/aggregates")
    except QueryError:
        return []
    listed = answer.get("aggregates") if isinstance(answer, dict) else answer
    return [
        {
            "validator": a.get("validator"),
            "verdict": str(a.get("verdict", "")),
            "reason": str(a.get("reason") or ""),
            "height": a.get("height"),
            "tx": str(a.get("tx", "")),
        }
        for a in (listed if isinstance(listed, list) else [])[:MPC_EVENTS]
        if isinstance(a, dict)
    ]


def _search_txs(rpc, query: str, per_page: int) -> list:
    found = rpc.call("tx_search", query=query, per_page=str(per_page), order_by="asc")
    out = []
    for t in (found.get("txs") or [])[:per_page]:
        s = tx_summary(base64.b64decode(t["tx"]), t["tx_result"])
        s["height"] = int(t["height"])
        out.append(s)
    return out


def poll_page(ex: Explorer, poll_id, after=None) -> dict:
    """One poll: parameters, ballots (paged), validators' attestations and reports, outcome, timeline."""
    poll_id = height_arg(str(poll_id), "poll id")
    if after is not None:
        after = key_arg(after, "after (a voter key)")
    rpc, st = ex.node()
    poll = _poll_record(ex, rpc, poll_id)
    final = poll["status"] in ("final", "failed")
    details = ex.cached(("poll-details", poll_id)) if final else None
    if details is None:
        chart_ballots = _ballots(rpc, poll_id, None, CHART_BALLOTS) if poll["ballots"] else []
        atts, _h = rpc.query(f"/poll/{poll_id}/attestations")
        attestations = [
            {
                "validator": a["validator"],
                "digest": a["digest"],
                "height": a["height"],
                "status": a["result"].get("status"),
                "result": a["result"],
            }
            for a in (atts.get("attestations") or [])[:MPC_EVENTS]
        ]
        reports = [
            {
                "height": t["height"],
                "validator": t["body"].get("validator"),
                "absent": t["body"].get("result", {}).get("absent"),
                "hash": t["hash"],
            }
            for t in _search_txs(rpc, f"attempt_failed.poll_id={poll_id}", MPC_EVENTS)
        ]
        created = [t["hash"] for t in _search_txs(rpc, f"poll_created.poll_id={poll_id}", 1)]
        details = {
            "complaints": _complaints(rpc, poll_id),
            "aggregates": _aggregates(rpc, poll_id) if poll.get("kind") == "tally" else [],
            "chart_ballots": chart_ballots,
            "attestations": attestations,
            "reports": reports,
            "created_tx": created[0] if created else None,
        }
        if final:
            ex.keep(("poll-details", poll_id), details)
    ballots = _ballots(rpc, poll_id, after, BALLOTS_PAGE + 1) if poll["ballots"] else []
    more = len(ballots) > BALLOTS_PAGE
    ballots = ballots[:BALLOTS_PAGE]
    result = poll.get("result") or {}
    final_digest = outcome_digest(result) if result else None
    by_validator = {a["validator"]: a for a in details["attestations"]}
    by_post = {a["validator"]: a for a in details.get("aggregates", [])}
    validators = []
    for v in poll["validators"]:
        i = v["index"]
        a = by_validator.get(i)
        post = by_post.get(i)
        if post is not None and post["verdict"] == "named":
            verdict = "named: its aggregate pair does not match the commitments"
        elif i in (poll.get("named_validators") or []):
            verdict = "named: a complaint of theirs was false"
        elif post is not None:
            verdict = "valid: posted its aggregate pair"
        elif a is not None and i in poll.get("dissenters", []):
            verdict = "named as dissenter: attested another payload"
        elif a is not None and final and a["digest"] == final_digest:
            verdict = "valid: attested the final outcome"
        elif a is not None:
            verdict = "attested; not final yet"
        elif final and result.get("status") == "failed" and i in (result.get("absent") or []):
            verdict = "named as absent"
        elif final:
            verdict = "no attestation"
        else:
            verdict = "waiting"
        validators.append(
            {
                "index": i,
                "name": v["name"],
                "power": v["power"],
                "attest_key": v["attest_key"],
                "mpc": f"{v['mpc_host']}:{v['mpc_port']}",
                "attested_height": a and a["height"],
                "digest": a and a["digest"],
                "aggregate_height": post and post["height"],
                "aggregate_tx": post and post["tx"],
                "verdict": verdict,
                "reports": [r for r in details["reports"] if r["validator"] == i],
            }
        )
    per_block = {}
    for b in details["chart_ballots"]:
        if not b["disqualified"]:
            per_block[b["height"]] = per_block.get(b["height"], 0) + 1
    columns = sorted(per_block.items())[-CHART_COLUMNS:]
    outcome = _outcome(poll)
    timeline = [{"height": poll["created_height"], "what": "created"}]
    timeline += [
        {"height": h, "what": f"{n} counted ballot{'s' if n != 1 else ''} (latest per voter)"} for h, n in columns
    ]
    if poll.get("closed_height"):
        timeline.append(
            {
                "height": poll["closed_height"],
                "what": "closed early by its creator"
                if poll["closed_height"] < poll["close_height"]
                else "closed at its close height",
            }
        )
    timeline += [
        {
            "height": c["height"],
            "what": f"complaint by validator {c['validator']} about a ballot of {c['voter'][:12]}…: {c['words']}",
        }
        for c in details["complaints"]
        if isinstance(c["height"], int)
    ]
    if poll.get("complaints_until"):
        timeline.append({"height": poll["complaints_until"], "what": "complaint window ends"})
    if poll.get("counted_fixed_height"):
        timeline.append({"height": poll["counted_fixed_height"], "what": "counted set fixed (its digest recorded)"})
    timeline += [
        {
            "height": r["height"],
            "what": f"MPC attempt failed, reported by validator {r['validator']} (absent {r['absent']})",
        }
        for r in details["reports"]
    ]
    timeline += [
        {"height": a["height"], "what": f"validator {a['validator']} attested ({a['status']})"}
        for a in details["attestations"]
    ]
    if poll.get("final_height"):
        timeline.append({"height": poll["final_height"], "what": f"{poll['status']}"})
    timeline.sort(key=lambda e: e["height"])
    shown = {
        k: poll[k]
        for k in (
            "id",
            "question",
            "kind",
            "options",
            "open",
            "eligible",
            "creator",
            "created_height",
            "close_height",
            "closed_height",
            "deadline_height",
            "final_height",
            "status",
            "ballots",
            "max_ballots",
            "max_revotes",
            "min_ballots",
            "threshold",
            "attesters",
            "dissenters",
            "ballots_digest",
        )
    }
    shown.update({k: poll.get(k) for k in ("complaints_until", "counted_fixed_height")})
    shown["named_validators"] = list(poll.get("named_validators") or [])
    return {
        "poll": shown,
        "height": st["height"],
        "created_tx": details["created_tx"],
        "blocks_to_close": max(0, poll["close_height"] - st["height"]) if poll["status"] == "open" else None,
        "ballots_page": ballots,
        "ballots_more": more,
        "ballots_next": ballots[-1]["voter"] if more else None,
        "after": after,
        "ballots_chart": [{"height": h, "ballots": n} for h, n in columns],
        "ballots_chart_partial": poll["ballots"] > CHART_BALLOTS,
        "validators": validators,
        "outcome": outcome,
        "result": result or None,
        "timeline": timeline,
        "complaints": details["complaints"],
        "named_voters": sorted({c["voter"] for c in details["complaints"] if c["verdict"] == "ballot_bad"}),
        "verify": ex.verifier.state(poll_id) if ex.verifier else None,
    }


def _outcome(poll: dict) -> dict:
    """The outcome as a page shows it: a tally's bars, a unanimity bit, withheld or failed."""
    result = poll.get("result")
    if not result:
        return {"state": poll["status"]}
    if result.get("status") == "failed":
        return {"state": "failed", "code": result.get("code"), "absent": result.get("absent")}
    out = result.get("outcome") or {}
    if out.get("withheld"):
        return {"state": "withheld", "min_ballots": poll["min_ballots"], "counted": result.get("counted")}
    if "tally" in out:
        tally = out["tally"]
        return {
            "state": "tally",
            "counted": result.get("counted"),
            "bars": [[o, int(tally.get(o, 0))] for o in poll["options"]],
        }
    if "unanimous" in out:
        return {
            "state": "unanimity",
            "unanimous": bool(out["unanimous"]),
            "counted": result.get("counted"),
        }
    return {"state": "other", "counted": result.get("counted")}


def block_page(ex: Explorer, height) -> dict:
    """One committed block: header, decoded txs with results, FinalizeBlock events."""
    height = height_arg(str(height))
    got = ex.cached(("block", height))
    if got is not None:
        return got
    rpc, st = ex.node()
    if height > st["height"]:
        raise NotFound(f"no block {height} yet: the chain is at height {st['height']}")
    try:
        blk = rpc.call("block", height=str(height))
        res = rpc.call("block_results", height=str(height))
    except RpcError as exc:
        raise NotFound(f"block {height}: {_short(exc)}") from None
    header = blk["block"]["header"]
    raws = [base64.b64decode(t) for t in (blk["block"]["data"]["txs"] or [])]
    results = res.get("txs_results") or []
    names = _names(rpc)
    page = {
        "height": height,
        "hash": blk["block_id"]["hash"],
        "time": header["time"],
        "proposer": names.get(header["proposer_address"], header["proposer_address"]),
        "app_hash": header["app_hash"],
        "data_hash": header["data_hash"],
        "last_results_hash": header["last_results_hash"],
        "chain_id": header["chain_id"],
        "signers": len(_signers(blk["block"].get("last_commit") or {})),
        "txs": [tx_summary(raw, r) for raw, r in zip(raws, results)],
        "events": _events(res.get("finalize_block_events")),
        "latest": st["height"],
    }
    return ex.keep(("block", height), page)


def tx_page(ex: Explorer, tx_hash) -> dict:
    """One committed tx: decoded type, signer, nonce, body summary, result code and name, events."""
    tx_hash = hash_arg(tx_hash)
    got = ex.cached(("tx", tx_hash))
    if got is not None:
        return got
    rpc, _st = ex.node()
    try:
        res = rpc.tx(tx_hash)
    except RpcError as exc:
        if "not found" in str(exc):
            raise NotFound(f"no committed tx {tx_hash}") from None
        raise
    page = tx_summary(base64.b64decode(res["tx"]), res["tx_result"])
    page.update(height=int(res["height"]), index=int(res.get("index", 0)))
    return ex.keep(("tx", tx_hash), page)


def validators_page(ex: Explorer) -> dict:
    """The registry (power, keys, MPC endpoint) and who signed the latest commits."""
    rpc, st = ex.node()
    registry = _registry(rpc)
    signed = {v["address"]: 0 for v in registry}
    seen = 0
    for h in range(st["height"], max(0, st["height"] - PARTICIPATION_BLOCKS), -1):
        try:
            commit = rpc.call("commit", height=str(h))["signed_header"]["commit"]
        except (RpcError, KeyError, TypeError):
            continue
        seen += 1
        for addr in _signers(commit):
            if addr in signed:
                signed[addr] += 1
    for v in registry:
        v["signed"] = signed.get(v["address"], 0)
    return {
        "validators": registry,
        "height": st["height"],
        "commits_seen": seen,
        "total_power": sum(int(v["power"] or 0) for v in registry),
        "thresholds": _thresholds([v["power"] for v in registry]),
    }


def _thresholds(powers) -> dict | None:
    """f and the ranges of t a poll may take on this registry, unanimity (MPyC) and tally (on chain, §18.1), or None."""
    f = max_faulty(powers)
    bounds, tally = threshold_range(False, powers), threshold_range(True, powers)
    if isinstance(f, Rejected) or isinstance(bounds, Rejected) or isinstance(tally, Rejected):
        return None
    return {"max_faulty": f, "low": bounds[0], "high": bounds[1], "tally_low": tally[0], "tally_high": tally[1]}


def search(ex: Explorer, q) -> dict:
    """Find a height, poll id, tx hash or voter key; every term checked before it reaches a query."""
    term = parse_search(q)
    rpc, st = ex.node()
    hits = []
    if "number" in term:
        n = term["number"]
        if n <= st["height"]:
            hits.append({"kind": "block", "label": f"block {n}", "href": f"/block/{n}"})
        try:
            poll = _poll_record(ex, rpc, n)
            hits.append({"kind": "poll", "label": f"poll {n}: {poll['question']}", "href": f"/poll/{n}"})
        except NotFound:
            pass
    else:
        h = term["hex"]
        try:
            rpc.tx(h.upper())
            hits.append({"kind": "tx", "label": f"tx {h.upper()}", "href": f"/tx/{h.upper()}"})
        except RpcError:
            pass
        key = h.lower()
        for t in _search_txs(rpc, f"ballot.voter='{key}'", SEARCH_RESULTS):
            hits.append(
                {
                    "kind": "ballot",
                    "label": f"ballot in poll {t['poll']} at height {t['height']}",
                    "href": f"/tx/{t['hash']}",
                }
            )
        for t in _search_txs(rpc, f"poll_created.creator='{key}'", SEARCH_RESULTS):
            made = [dict(e["attributes"]).get("poll_id") for e in t["events"] if e["type"] == events.POLL_CREATED]
            if made and made[0] and made[0].isdigit():
                hits.append(
                    {
                        "kind": "poll",
                        "label": f"poll {made[0]}, created by this key at height {t['height']}",
                        "href": f"/poll/{made[0]}",
                    }
                )
    return {"q": str(q).strip(), "hits": hits}
