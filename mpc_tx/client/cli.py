"""mpcvote: keys, polls, ballots and outcomes, and a block explorer over a node's RPC.

Every command takes --node URL (default: the first node of the local testnet)
and --json (machine-readable output, one JSON document on stdout).
"""

import argparse
import base64
import contextlib
import difflib
import json
import io
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.status import Status
from rich.table import Column, Table
from rich.text import Text

from mpc_tx.protocol.codes import NAMES, NOT_FOUND, POLL_CLOSED
from mpc_tx.protocol import canonical, events, tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.keyfile import load_signing_key, save_key
from mpc_tx.client.rpc import Rpc, RpcError, QueryError

__all__ = [
    "main",
    "Client",
    "CliError",
    "Session",
    "DropWatch",
    "dropped_message",
    "parse_close_in",
    "blocks_for",
    "span",
    "progress_words",
    "privacy_warnings",
    "job_reason",
    "mark_replaced",
]

ROOT = Path(__file__).resolve().parents[2]


class CliError(Exception):
    """A failure to report to the user, with a code where the chain gave one."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


def _local_testnet():
    path = Path(os.environ.get("MPCVOTE_TESTNET", ROOT / ".testnet")) / "testnet.json"
    return json.loads(path.read_text()) if path.exists() else None


def default_node() -> str:
    manifest = _local_testnet()
    if manifest:
        v = manifest["validators"][0]
        return f"http://127.0.0.1:{v['ports']['rpc']}"
    return "http://127.0.0.1:26657"


def local_jobs(testnet=None) -> list:
    """Read each local worker's job states (waiting, running, attested, failed and why, done) and liveness."""
    from node_config.lifecycle import Testnet

    folder = Path(testnet or os.environ.get("MPCVOTE_TESTNET", ROOT / ".testnet"))
    if not (folder / "testnet.json").exists():
        raise CliError(f"no testnet in {folder}: start one with `scripts/testnet up`, or pass --testnet DIR")
    net = Testnet(folder)
    out = []
    for i, v in enumerate(net.validators):
        path = Path(v["home"]) / "worker" / "jobs.json"
        out.append(
            {
                "validator": v["name"],
                "jobs": json.loads(path.read_text()) if path.exists() else {},
                "worker": net.worker_status(i, net.pid(i, "worker")),
            }
        )
    return out


def job_reason(job: dict, worker: dict, chain_status: str | None) -> str:
    """Say why a job is where it is, trusting the chain over a worker's last word."""
    said = job.get("reason", "")
    if job["state"] in ("done", "attested", "posted", "abstained"):  # a tally's worker is done once it posted
        return said
    if not worker["up"]:
        return f"worker down (it last said: {said or job['state']})"
    if worker.get("error"):
        return f"worker stuck: {worker['error']}"
    if chain_status and said == "poll open" and chain_status != "open":
        return (
            f"the poll is {chain_status} on chain, but this worker has not caught up "
            f"(followed to height {worker.get('height')})"
        )
    return said


def default_genesis():
    manifest = _local_testnet()
    if manifest:
        return str(Path(manifest["validators"][0]["home"]) / "config" / "genesis.json")
    return None


# A nonce is a time in microseconds; one from a node's /account answer further ahead
# of this clock than this, or near 2^63, is a lie to brick the key, not a past tx.
NONCE_AHEAD_US = 3600 * 10**6
MAX_NONCE = (1 << 63) - 1
NONCE_HEADROOM = 1 << 40
PREFIX_SCAN_BLOCKS = 1000


class Session:
    """The highest height at which this user's own txs committed: reads wait for it.

    Every command that follows a commit it made (a vote after a create, an outcome
    after a close) must see that commit, on whichever node it asks. Clients in one
    process share a Session; the CLI keeps one per chain in a file beside the keys,
    so the next command (another process, maybe another node) waits too.
    """

    def __init__(self, path: Path | None = None):
        self.path, self.seen, self.chain = path, 0, None

    def load(self, chain: str):
        """Take the height seen on `chain` (chain id and first block hash) from the file, once."""
        if self.chain == chain:
            return
        self.chain, self.seen = chain, 0
        if self.path is not None:
            try:
                doc = json.loads(self.path.read_text())
                if doc.get("chain") == chain and type(doc.get("seen")) is int:
                    self.seen = doc["seen"]
            except (OSError, ValueError, AttributeError):
                pass  # no session yet, or an unreadable one: start from 0

    def saw(self, chain: str, height: int):
        """Record that one of our txs committed at `height`."""
        self.load(chain)
        if height <= self.seen:
            return
        self.seen = height
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"chain": chain, "seen": height}))
                os.replace(tmp, self.path)
            except OSError:
                pass  # read-your-writes within this process still holds


class Client:
    """What the CLI does, as plain methods (also used by the demo and the tests)."""

    def __init__(
        self, node: str, keys_dir=None, genesis=None, progress=False, session=None, fresh_timeout=60.0, trust_node=False
    ):
        self.rpc = Rpc(node)
        self.node = self.rpc.url
        self.keys_dir = Path(keys_dir or os.environ.get("MPCVOTE_KEYS", Path.home() / ".mpcvote" / "keys"))
        self.genesis_path = genesis
        self.progress = progress
        self._status = None  # the spinner on stderr while a wait shows one
        self.session = session or Session()
        self.fresh_timeout = fresh_timeout
        self.trust_node = trust_node
        self._chain_id = self._chain_key = None

    # --- keys ---------------------------------------------------------------------
    def key_path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise CliError(f"bad key name {name!r}")
        return self.keys_dir / f"{name}.json"

    def new_key(self, name: str) -> SigningKey:
        path = self.key_path(name)
        if path.exists():
            raise CliError(f"key {name!r} exists already in {self.keys_dir}")
        self.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = SigningKey.generate()
        save_key(key, path)
        return key

    def key(self, name: str) -> SigningKey:
        path = self.key_path(name)
        if not path.exists():
            known = [k["name"] for k in self.keys()]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise CliError(
                f"no key {name!r} in {self.keys_dir}: {hint}create it with `mpcvote keys new {name}`"
                + ("" if known else " (this folder has no keys; --keys DIR or $MPCVOTE_KEYS points at another)")
            )
        return load_signing_key(path)

    def keys(self) -> list:
        if not self.keys_dir.exists():
            return []
        return [
            {"name": p.stem, "public_key": load_signing_key(p).public_hex} for p in sorted(self.keys_dir.glob("*.json"))
        ]

    def names(self) -> dict:
        """Map public keys to the names this keyring gives them (shown beside the hex)."""
        if getattr(self, "_names", None) is None:
            try:
                self._names = {k["public_key"]: k["name"] for k in self.keys()}
            except (OSError, ValueError):
                self._names = {}
        return self._names

    def who(self, public_hex: str) -> str:
        name = self.names().get(public_hex)
        return f"{public_hex[:12]}…" + (f" ({name})" if name else "")

    # --- chain reads --------------------------------------------------------------------
    def query(self, path: str):
        """Answer a query from a node that has reached this session's last commit (waits, bounded)."""
        self.session.load(self.chain_key)
        want, deadline = self.session.seen, time.monotonic() + self.fresh_timeout
        with self._spinner() as show:
            while True:
                try:
                    value, height = self.rpc.query(path)
                    error = None
                except QueryError as exc:
                    error, height = exc, exc.height
                if height >= want:
                    break
                if time.monotonic() > deadline:
                    raise CliError(
                        f"{self.node} is at height {height}, behind height {want} where your last "
                        f"transaction committed, after {self.fresh_timeout:.0f} s: the node is lagging; "
                        "try another node"
                    )
                show(f"waiting for {self.node} to reach height {want}")
                time.sleep(0.1)
        if error is not None:
            raise CliError(
                f"{path}: {error.log} (code {error.code} {NAMES.get(error.code, '')}, from {self.node})", error.code
            ) from None
        return value

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            status = self.rpc.status()
            self._chain_id = status["node_info"]["network"]
            # A testnet made again keeps its chain id; its first block differs.
            self._chain_key = f"{self._chain_id}/{status['sync_info'].get('earliest_block_hash', '')}"
        return self._chain_id

    @property
    def chain_key(self) -> str:
        """The chain id and first block hash: what a Session is kept for."""
        self.chain_id
        return self._chain_key

    def genesis(self) -> dict:
        if not self.genesis_path:
            raise CliError("no genesis file to check validator keys against: pass --genesis FILE")
        return json.loads(Path(self.genesis_path).read_text())

    def next_nonce(self, key: SigningKey) -> int:
        """Return a nonce strictly above the last committed one, refusing an implausible answer.

        Time-based (microseconds) so that txs sent to different nodes rarely collide,
        never "+1" of a guess. A node that claims a last nonce far ahead of this clock,
        or near 2^63, would have us sign a nonce that leaves the key no room: refused.
        """
        answer = self.query(f"/account/{key.public_hex}")
        last = answer.get("nonce") if isinstance(answer, dict) else None
        now = time.time_ns() // 1000
        if type(last) is not int or last < 0:
            raise CliError(f"{self.node} answered /account with no valid nonce: not signing")
        if last > now + NONCE_AHEAD_US or last > MAX_NONCE - NONCE_HEADROOM:
            raise CliError(
                f"{self.node} says the last nonce of {key.public_hex[:16]}… is {last}, far ahead of "
                "this clock: a lying node could use up your key's nonces; not signing (check the clock, "
                "or ask another node)"
            )
        return max(last + 1, now)

    # --- transactions ---------------------------------------------------------------------
    def submit(self, raw: bytes, wait=True, timeout=60.0) -> dict:
        """Broadcast a tx; raise CliError with the code on rejection; wait for commit.

        A tx CheckTx accepted can still leave the mempool without a block (the recheck
        after a commit drops it when, say, its poll closed meanwhile). While waiting,
        the client asks /check_tx for the verdict the recheck gives, and reports that
        code and reason instead of a bare time-out.
        """
        res = self.rpc.broadcast_tx_sync(raw)
        tx_hash = res["hash"]
        if int(res["code"]) != 0:
            code = int(res["code"])
            raise CliError(f"rejected by CheckTx: {res.get('log', '')} (code {code} {NAMES.get(code, '')})", code)
        if not wait:
            return {"hash": tx_hash}
        return self.wait_commit(tx_hash, raw, timeout)

    def wait_commit(self, tx_hash: str, raw: bytes, timeout=60.0) -> dict:
        """Wait until the tx is in a block; raise CliError with the chain's code if it is refused or dropped."""
        deadline = time.monotonic() + timeout
        watch, k = DropWatch(), 0
        with self._spinner() as show:
            while (result := self._committed(tx_hash)) is None:
                if k % 5 == 4:  # about twice a second: one signature check on the node each time
                    dropped = watch.observe(self._dry_run(raw))
                    # A last look first: a REPLAY can be this very tx, committed a moment ago.
                    if dropped is not None and (result := self._committed(tx_hash)) is None:
                        raise CliError(dropped_message(tx_hash, dropped), dropped["code"])
                    if result is not None:
                        break
                if time.monotonic() > deadline:
                    raise CliError(
                        f"tx {tx_hash} not committed within {timeout:.0f} s and not refused either: "
                        f"it may still commit (see `mpcvote tx {tx_hash[:12]}`)"
                    )
                show("waiting for commit")
                k += 1
                time.sleep(0.1)
        code = int(result["tx_result"].get("code", 0))
        if code != 0:
            raise CliError(
                f"rejected in block {result['height']}: {result['tx_result'].get('log', '')} "
                f"(code {code} {NAMES.get(code, '')})",
                code,
            )
        self.session.saw(self.chain_key, int(result["height"]))
        return {"hash": tx_hash, "height": int(result["height"]), "events": _events(result["tx_result"])}

    def _committed(self, tx_hash: str):
        """Return the node's /tx answer for a committed tx, or None while it is not in a block."""
        try:
            return self.rpc.tx(tx_hash)
        except RpcError as exc:
            if "not found" not in str(exc):
                raise CliError(str(exc)) from None
            return None

    def _dry_run(self, raw: bytes):
        """Return the node's /check_tx verdict on raw (None if it cannot say: then we only wait)."""
        try:
            return self.rpc.query("/check_tx", raw)[0]
        except (QueryError, RpcError):
            return None

    @contextlib.contextmanager
    def _spinner(self):
        """Yield show(text): text beside a spinner on stderr until the block ends, then nothing left.

        Only with self.progress (a terminal, no --json); otherwise show does nothing, so
        piped and JSON output carry no progress at all. A wait inside a wait (a query
        while waiting for an outcome) shows its line on the one spinner already there.
        """
        owner = getattr(self, "_status", None) is None

        def show(text):
            if not self.progress:
                return
            if getattr(self, "_status", None) is None:
                self._status = Status(text, console=Console(stderr=True), spinner="line")
                self._status.start()
            else:
                self._status.update(text)

        try:
            yield show
        finally:
            if owner and getattr(self, "_status", None) is not None:
                self._status.stop()  # transient: the line is cleared
                self._status = None

    def block_seconds(self) -> float:
        """Measure the chain's recent block interval from the latest 20 headers' times (one RPC call)."""
        if getattr(self, "_block_seconds", None) is None:
            top = self.rpc.height()
            # Block 1 carries the genesis time, however long before the start: left out. The
            # median gap, not the mean: one halt must not stretch every estimate.
            low = max(2, top - 19)
            metas = (
                self.rpc.call("blockchain", minHeight=str(low), maxHeight=str(top))["block_metas"] if top >= low else []
            )
            times = sorted((int(m["header"]["height"]), _parse_time(m["header"]["time"])) for m in metas)
            gaps = sorted(b[1] - a[1] for a, b in zip(times, times[1:]) if b[0] == a[0] + 1)
            self._block_seconds = max(0.05, gaps[len(gaps) // 2]) if gaps else 1.0
        return self._block_seconds

    def when(self, height: int) -> dict:
        """Estimate when the chain reaches `height`: the clock time and the time from now."""
        # One height for a whole listing: `polls` asks this once per open poll.
        if time.monotonic() - getattr(self, "_top_at", -10.0) > 1.0:
            self._top, self._top_at = self.rpc.height(), time.monotonic()
        seconds = (height - self._top) * self.block_seconds()
        at = time.time() + seconds
        return {
            "height": height,
            "in_seconds": round(seconds, 1),
            "at": time.strftime("%H:%M:%S", time.localtime(at)),
            "at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
            "past": seconds <= 0,
        }

    def close_blocks(self, close_in: str) -> int:
        """Turn --close-in (a duration or blocks) into blocks from now."""
        unit, amount = parse_close_in(close_in)
        return amount if unit == "blocks" else blocks_for(amount, self.block_seconds())

    def params(self) -> dict:
        if getattr(self, "_params", None) is None:
            self._params = self.query("/params")
        return self._params

    def create_poll(
        self,
        key,
        question,
        kind,
        options=(),
        voters=None,
        close_in=20,
        close_height=None,
        max_ballots=10000,
        max_revotes=3,
        min_ballots=None,
        wait=True,
        threshold=None,
    ) -> dict:
        """Create a poll closing `close_in` blocks from now; min_ballots defaults to the chain's floor.

        `threshold` is the poll's t (None: the top of the range the chain allows, §17).
        """
        height = self.rpc.height()
        params = self.params()
        if min_ballots is None:
            min_ballots = params.get("min_ballots_floor", 0)
        body = {
            "question": question,
            "kind": kind,
            "options": list(options),
            "voters": sorted(voters) if voters is not None else None,
            "close_height": close_height or height + close_in,
            "max_ballots": max_ballots,
            "max_revotes": max_revotes,
            "min_ballots": min_ballots,
            "threshold": threshold,
        }
        raw = txcodec.build(key, self.chain_id, "create_poll", self.next_nonce(key), body)
        res = self.submit(raw, wait=wait)
        if wait:
            res["poll"] = int(res["events"][events.POLL_CREATED]["poll_id"])
        return res

    def close_poll(self, key, poll_id: int) -> dict:
        raw = txcodec.build(key, self.chain_id, "close_poll", self.next_nonce(key), {"poll": poll_id})
        return self.submit(raw)

    def vote(self, key, poll_id: int, choice: str, wait=True) -> dict:
        from mpc_tx.client.ballot import build_ballot, BallotError

        poll = self.query(f"/poll/{poll_id}")
        if not self.trust_node:
            poll = self.verified_poll(poll_id, poll)
        try:
            raw = build_ballot(key, poll, choice, self.chain_id, self.next_nonce(key), self.genesis())
        except BallotError as exc:
            choices = list(poll.get("options") or []) or ["yes", "no"]
            close = difflib.get_close_matches(choice, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close and choice not in choices else ""
            raise CliError(f"{exc}{hint} (poll from {self.node})") from None
        try:
            res = self.submit(raw, wait=wait)
        except CliError as exc:
            if exc.code == POLL_CLOSED:
                raise CliError(f"{exc}; {self._standing_ballot(poll_id, key.public_hex)}", exc.code) from None
            raise
        out = self.verified_commit(res) if wait and not self.trust_node else res
        body = canonical.decode(raw)["body"]  # our own tx: what was sent, for scripts
        out["ballot"] = {"m": body["m"], "t": body["t"], "k": body["k"], "bytes": len(body["ballot"]) // 2}
        return out

    def _standing_ballot(self, poll_id: int, voter: str) -> str:
        """Say which ballot of this voter counts after a refused one (the node's word)."""
        try:
            ballot = self.query(f"/poll/{poll_id}/ballot/{voter}")
        except CliError:
            return "you have no ballot in this poll"
        return f"your earlier ballot (height {ballot['height']}, tx {ballot['tx'][:12]}…) still counts"

    def standing(self, poll_id: int, out: dict | None = None) -> dict:
        """Say where a poll without a final outcome stands: who attested, who not, next attempt, deadline."""
        out = out or self.query(f"/poll/{poll_id}/outcome")
        poll = self.query(f"/poll/{poll_id}")
        names = {v["index"]: v["name"] for v in poll["validators"]}
        if out["status"] == "open":
            return {"status": "open", "closes": self.when(poll["close_height"])}
        until, fixed = poll.get("complaints_until"), poll.get("counted_fixed_height")
        if until is not None and fixed is None:  # the complaint window: no MPC before the counted set is fixed
            return {"status": "complaints", "complaints_until": self.when(until)}
        if poll.get("kind") == "tally" and fixed is not None:  # opened on chain from aggregate pairs (§18.3)
            return self._aggregating(poll_id, poll, names, out)
        start = fixed if fixed is not None else out["closed_height"]  # attempts count from the fixed set
        attested = sorted(a["validator"] for a in self.query(f"/poll/{poll_id}/attestations")["attestations"])
        every = self.params()["mpc_attempt_blocks"]
        since = max(0, self.rpc.height() - start)
        next_attempt = start + (since // every + 1) * every
        return {
            "status": out["status"],
            "attested": [names[i] for i in attested],
            "missing": [names[i] for i in sorted(names) if i not in attested],
            "next_attempt": self.when(min(next_attempt, out["deadline_height"])),
            "deadline": self.when(out["deadline_height"]),
        }

    def _aggregating(self, poll_id: int, poll: dict, names: dict, out: dict) -> dict:
        """Where a tally stands after its fix: which validators posted valid pairs, which were named, who not."""
        got = self.query(f"/poll/{poll_id}/aggregates")
        posts = got.get("aggregates", []) if isinstance(got, dict) else got
        verdicts = {p["validator"]: p["verdict"] for p in posts}
        deadline = out.get("deadline_height") or poll["counted_fixed_height"] + self.params()["mpc_deadline_blocks"]
        return {
            "status": "aggregating",
            "needed": poll["threshold"] + 1,
            "valid": [names[i] for i in sorted(verdicts) if verdicts[i] == "valid"],
            "named": [names[i] for i in sorted(verdicts) if verdicts[i] != "valid"],
            "missing": [names[i] for i in sorted(names) if i not in verdicts],
            "deadline": self.when(deadline),
        }

    def outcome(self, poll_id: int, wait=False, timeout=300.0) -> dict:
        deadline = time.monotonic() + timeout
        k = 0
        with self._spinner() as show:
            while True:
                out = self.query(f"/poll/{poll_id}/outcome")
                if not wait or out["status"] in ("final", "failed"):
                    return out
                if time.monotonic() > deadline:
                    raise CliError(
                        f"no final outcome after {timeout:.0f} s: "
                        f"{progress_words(poll_id, self.standing_of(poll_id, out))}"
                    )
                if self.progress and k % 10 == 0:  # the attestations change once a block at most
                    show(progress_words(poll_id, self.standing_of(poll_id, out)))
                k += 1
                time.sleep(0.3)

    def standing_of(self, poll_id: int, out: dict) -> dict | None:
        try:
            return self.standing(poll_id, out)
        except (CliError, RpcError, QueryError, KeyError):
            return None

    def receipt(self, poll_id: int, key: SigningKey) -> dict:
        """Answer "did my vote count?": the standing ballot, whether it counts or was disqualified, what it replaced.

        The standing ballot comes from the node's state; unless trust_node, its tx and result
        are proven against the genesis validators, and its proofs are checked here over the
        proven tx's ballot (against the genesis registry). That a later ballot did not replace
        it, and that no complaint disqualified it, are the node's word (a light client cannot
        prove an absence).
        """
        voter = key.public_hex
        poll = self.query(f"/poll/{poll_id}")
        try:
            record = self.query(f"/poll/{poll_id}/ballot/{voter}")
        except CliError as exc:
            if exc.code != NOT_FOUND:
                raise
            record = None
        found = self.rpc.call(
            "tx_search", query=f"ballot.poll_id={poll_id} AND ballot.voter='{voter}'", per_page="100", order_by="asc"
        )
        sent = [
            {
                "hash": t["hash"],
                "height": int(t["height"]),
                "revote": int(_events(t["tx_result"]).get(events.BALLOT, {}).get("revote", 0)),
            }
            for t in found["txs"]
        ]
        out = {
            "poll": poll_id,
            "voter": voter,
            "poll_status": poll["status"],
            "counted_fixed_height": poll.get("counted_fixed_height"),
            "counted": None,
            "disqualified": None,
            "replaced": [],
            "proofs": None,
        }
        if record is None:
            return out
        standing = {"hash": record["tx"], "height": record["height"], "revote": record["revotes"], "verified": False}
        replaced = set(record.get("replaced") or [])
        out["replaced"] = [t for t in sent if t["hash"] in replaced]
        ballot_hex = record.get("ballot")
        if not self.trust_node:
            from mpc_tx.client.light import VerifyError

            try:
                proven = self.light().tx(record["tx"])
            except VerifyError as exc:
                raise CliError(f"tx {record['tx']} from {self.rpc.url} does not verify: {exc}") from None
            standing["verified"] = proven.code == 0 and proven.height == record["height"]
            ballot_hex = _ballot_of(proven.tx)
        out["proofs"] = self.check_proofs(poll, voter, ballot_hex)
        if record.get("disqualified"):
            d = record["disqualified"]
            out["disqualified"] = dict(standing, by=d["by"], disqualified_height=d["height"], reason=d["reason"])
        else:
            out["counted"] = standing
        return out

    def check_proofs(self, poll: dict, voter: str, ballot_hex) -> str:
        """Check a ballot's proofs here, over the poll's context from the genesis registry; say the verdict."""
        from mpc_tx.client.ballot import BallotError, poll_context
        from mpc_tx.protocol.ballot import verify_ballot
        from mpc_tx.protocol.encoding import Rejected

        try:
            context = poll_context(poll, self.genesis())
        except BallotError as exc:
            return f"not checked: {exc}"
        try:
            raw = bytes.fromhex(ballot_hex)
        except (TypeError, ValueError):
            return "not checked: the ballot is not hex"
        got = verify_ballot(context, bytes.fromhex(voter), raw)
        if isinstance(got, Rejected):
            return f"do NOT verify: {got.reason}"
        return "verified by this client against the genesis registry"

    # --- verified reads (light client against the genesis validator set) ------------------

    def light(self):
        from mpc_tx.client.light import LightClient, VerifyError

        if getattr(self, "_light", None) is None:
            try:
                self._light = LightClient(self.rpc, self.genesis())
            except VerifyError as exc:
                raise CliError(f"cannot verify against {self.genesis_path}: {exc}") from None
        return self._light

    def verified_poll(self, poll_id: int, node_poll: dict) -> dict:
        """Return the poll's facts proven against the genesis set; CliError naming the node if it lies."""
        from mpc_tx.client.light import VerifyError
        from mpc_tx.client.verified import verified_poll

        try:
            return verified_poll(self.light(), poll_id, self.genesis(), node_poll)
        except VerifyError as exc:
            raise CliError(f"not voting: {exc}") from None

    def verified_commit(self, res: dict) -> dict:
        """Prove that a submitted tx committed with code 0 (the node's word alone could hide a rejection)."""
        from mpc_tx.client.light import VerifyError

        try:
            t = self.light().tx(res["hash"])
        except VerifyError as exc:
            raise CliError(
                f"tx {res['hash']}: {self.rpc.url} says it committed, but that does not verify: {exc}"
            ) from None
        if t.code != 0:
            raise CliError(
                f"{self.rpc.url} said tx {t.hash} committed; the verified result is a rejection in "
                f"block {t.height} (code {t.code} {NAMES.get(t.code, '')})",
                t.code,
            )
        return dict(res, height=t.height, verified=True)

    def verify_header(self, height: int) -> dict:
        from mpc_tx.client.light import VerifyError

        try:
            h = self.light().header(height)
        except VerifyError as exc:
            raise CliError(f"header {height} from {self.rpc.url} does not verify: {exc}") from None
        return {
            "height": h.height,
            "hash": h.hash.hex().upper(),
            "time": h.time,
            "app_hash": h.app_hash.hex().upper(),
            "data_hash": h.data_hash.hex().upper(),
            "last_results_hash": h.last_results_hash.hex().upper(),
            "signed_power": h.signed_power,
            "total_power": h.total_power,
            "verified": True,
        }

    def verify_poll(self, poll_id: int):
        """Return the pollverify.Report of `mpcvote verify POLL` (§18.5) from this client's node."""
        from mpc_tx.client.pollverify import verify_poll

        return verify_poll(self.rpc, poll_id, self.genesis())

    def verify_tx(self, tx_hash: str) -> dict:
        from mpc_tx.client.light import VerifyError

        tx_hash = self.full_hash(tx_hash)
        try:
            t = self.light().tx(tx_hash)
        except VerifyError as exc:
            raise CliError(f"tx {tx_hash} from {self.rpc.url} does not verify: {exc}") from None
        return {
            "hash": t.hash,
            "height": t.height,
            "index": t.index,
            "code": t.code,
            "code_name": NAMES.get(t.code, str(t.code)),
            "data": t.data.decode(errors="replace"),
            "tx": t.tx.decode(errors="replace"),
            "verified": True,
        }

    # --- explorer -------------------------------------------------------------------------
    def blocks(self, last=10) -> list:
        top = self.rpc.height()
        low = max(1, top - last + 1)
        metas = self.rpc.call("blockchain", minHeight=str(low), maxHeight=str(top))["block_metas"]
        return [
            {
                "height": int(m["header"]["height"]),
                "time": m["header"]["time"],
                "txs": int(m["num_txs"]),
                "hash": m["block_id"]["hash"],
                "app_hash": m["header"]["app_hash"],
                "proposer": m["header"]["proposer_address"],
            }
            for m in metas
        ]

    def block(self, height: int) -> dict:
        blk = self.rpc.call("block", height=str(height))
        res = self.rpc.call("block_results", height=str(height))
        txs = [base64.b64decode(t) for t in blk["block"]["data"]["txs"] or []]
        results = res.get("txs_results") or []
        return {
            "height": height,
            "hash": blk["block_id"]["hash"],
            "time": blk["block"]["header"]["time"],
            "app_hash": blk["block"]["header"]["app_hash"],
            "txs": [_tx_summary(raw, r) for raw, r in zip(txs, results)],
            "events": [
                {"type": e["type"], **{a["key"]: a["value"] for a in e["attributes"]}}
                for e in res.get("finalize_block_events") or []
            ],
        }

    def full_hash(self, text: str) -> str:
        """Return the tx hash that `text` (a hash or a unique prefix of at least 6 hex digits) names.

        A prefix is looked for in the latest PREFIX_SCAN_BLOCKS blocks only (the node has no
        prefix index): an older tx needs its full hash.
        """
        wanted = text.strip().removeprefix("0x").removesuffix("…").upper()
        if not re.fullmatch(r"[0-9A-F]{6,64}", wanted):
            raise CliError(f"{text!r} is not a tx hash: give its 64 hex digits, or a unique prefix of at least 6")
        if len(wanted) == 64:
            return wanted
        matches, top = set(), self.rpc.height()
        low = max(1, top - PREFIX_SCAN_BLOCKS + 1)
        for high in range(top, low - 1, -20):  # the node returns at most 20 headers a call
            metas = self.rpc.call("blockchain", minHeight=str(max(low, high - 19)), maxHeight=str(high))["block_metas"]
            for m in metas:
                if int(m["num_txs"]):
                    block = self.rpc.call("block", height=m["header"]["height"])["block"]
                    matches |= {
                        h
                        for h in (txcodec.tx_hash(base64.b64decode(t)) for t in block["data"]["txs"] or [])
                        if h.startswith(wanted)
                    }
        if len(matches) == 1:
            return matches.pop()
        if matches:
            raise CliError(
                f"prefix {wanted} is not unique: " + ", ".join(sorted(matches)[:5]) + (" …" if len(matches) > 5 else "")
            )
        raise CliError(
            f"no tx whose hash starts with {wanted} in the latest {top - low + 1} blocks: "
            "give the full hash for an older tx"
        )

    def tx(self, tx_hash: str) -> dict:
        full = self.full_hash(tx_hash)
        try:
            res = self.rpc.tx(full)
        except RpcError as exc:
            if "not found" not in str(exc):
                raise
            raise CliError(
                f"no committed tx {full} on {self.node}: it may still wait in the mempool, or it "
                "left it without a block (the command that sent it said why)",
                NOT_FOUND,
            ) from None
        return {"height": int(res["height"]), **_tx_summary(base64.b64decode(res["tx"]), res["tx_result"])}

    def ballots(self, poll_id: int, after: str | None = None, limit: int = 100) -> dict:
        """Return a page of the poll's ballot records (ballot bytes shown by size), its complaints and window."""
        poll = self.query(f"/poll/{poll_id}")
        page = self.query(f"/poll/{poll_id}/ballots?limit={limit}" + (f"&after={after}" if after else ""))
        records = []
        for b in page.get("ballots") or []:
            shown = {k: v for k, v in b.items() if k != "ballot"}
            if isinstance(b.get("ballot"), str):
                shown["bytes"] = len(b["ballot"]) // 2
            records.append(shown)
        complaints = self.query(f"/poll/{poll_id}/complaints")
        if isinstance(complaints, dict):
            complaints = complaints.get("complaints") or []
        return {
            "poll": poll_id,
            "status": poll["status"],
            "threshold": poll["threshold"],
            "counted": poll["ballots"],
            "complaints_until": poll.get("complaints_until"),
            "counted_fixed_height": poll.get("counted_fixed_height"),
            "named_validators": poll.get("named_validators") or [],
            "ballots": records,
            "next": page.get("next"),
            "complaints": complaints,
        }

    def txs(self, poll_id: int, page=1, per_page=50) -> dict:
        res = self.rpc.call(
            "tx_search", query=f"ballot.poll_id={poll_id}", page=str(page), per_page=str(per_page), order_by="asc"
        )
        return {
            "total": int(res["total_count"]),
            "txs": [
                {"height": int(t["height"]), **_tx_summary(base64.b64decode(t["tx"]), t["tx_result"])}
                for t in res["txs"]
            ],
        }


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_CLOSE_IN_S = 366 * 86400


def parse_close_in(text: str) -> tuple[str, int]:
    """Parse --close-in: "90s", "10m", "2h", "1d" (a time) or "40b" / "40" (blocks); return (unit, amount).

    Raise CliError with what is accepted. Blocks are for scripts; people think in time.
    """
    text = text.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:].isalpha() else (text, "b")
    if not number.isdigit() or int(number) == 0 or len(number) > 9 or (unit != "b" and unit not in _UNITS):
        raise CliError(f"--close-in {text!r} is not a duration: give 90s, 10m, 2h or 1d (a time), or 40b (blocks)")
    if unit == "b":
        return "blocks", int(number)
    seconds = int(number) * _UNITS[unit]
    if seconds > _MAX_CLOSE_IN_S:
        raise CliError(f"--close-in {text!r} is more than a year")
    return "seconds", seconds


def blocks_for(seconds: float, block_seconds: float) -> int:
    """Return the blocks that take about `seconds` at `block_seconds` per block (at least 1)."""
    return max(1, round(seconds / block_seconds))


def span(seconds: float) -> str:
    """Say a duration the way a person reads it: 45s, 3m20s, 2h05m."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class DropWatch:
    """Decide from successive /check_tx verdicts that a pending tx has left the mempool for good.

    One refusal could be a tx committed a moment ago whose index entry lags (its nonce
    is then used: REPLAY); a refusal that holds at a later height, with the tx still
    not found, is what the node's recheck did to it.
    """

    def __init__(self):
        self.first = None  # the first refusal seen, since the last acceptance

    def observe(self, verdict) -> dict | None:
        """Take one verdict (or None); return the refusal once it has held over two heights."""
        if (
            not isinstance(verdict, dict)
            or type(verdict.get("code")) is not int
            or type(verdict.get("height")) is not int
        ):
            return None
        if verdict["code"] == 0:
            self.first = None
            return None
        if self.first is None or self.first["code"] != verdict["code"]:
            self.first = verdict
            return None
        return verdict if verdict["height"] > self.first["height"] else None


def dropped_message(tx_hash: str, verdict: dict) -> str:
    """Say why a tx left the mempool without a block, as the chain's recheck decided."""
    name = NAMES.get(verdict["code"], str(verdict["code"]))
    return (
        f"{name}: {verdict.get('log', '')}. The transaction {tx_hash[:12]}… passed CheckTx but left the "
        f"mempool without a block (the chain refuses it from height {verdict['height']}): it will not commit"
    )


def _parse_time(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 header time (nanoseconds cut to microseconds)."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    base = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return base.timestamp() + (int(frac[:6].ljust(6, "0")) / 1e6 if frac else 0.0)


def _events(tx_result) -> dict:
    out = {}
    for e in tx_result.get("events") or []:
        out.setdefault(e["type"], {}).update({a["key"]: a["value"] for a in e["attributes"]})
    return out


def _ballot_of(raw: bytes):
    """Return the ballot hex of a cast_ballot tx, or None."""
    try:
        tx = txcodec.decode(raw)
    except Exception:  # a proven tx is the chain's; be total anyway
        return None
    return tx.body.get("ballot") if tx.type == "cast_ballot" and isinstance(tx.body, dict) else None


def _tx_summary(raw: bytes, result: dict) -> dict:
    code = int(result.get("code", 0))
    summary = {"hash": txcodec.tx_hash(raw), "code": code, "code_name": NAMES.get(code, str(code)), "bytes": len(raw)}
    try:
        tx = txcodec.decode(raw)
        summary.update(type=tx.type, signer=tx.signer, nonce=tx.nonce)
        body = {k: v for k, v in tx.body.items() if k not in ("ballot", "complaint")}  # shown by size only
        if isinstance(tx.body.get("ballot"), str):
            body["ballot"] = f"{len(tx.body['ballot']) // 2} bytes (commitments, encrypted shares, proofs)"
        if isinstance(tx.body.get("complaint"), str):
            body["complaint"] = f"{len(tx.body['complaint']) // 2} bytes (the validator's key for the ballot, proven)"
        summary["body"] = body
    except Exception:
        summary["type"] = "undecodable"
    if code:
        summary["log"] = result.get("log", "")
    emitted = _events(result)
    if events.BALLOT in emitted:
        summary["revote"] = int(emitted[events.BALLOT].get("revote", 0))
    return summary


# --- command line ----------------------------------------------------------------------------
def _common(parser, default):
    parser.add_argument("--node", default=default, help="node RPC URL (default: first local testnet node)")
    parser.add_argument("--json", action="store_true", default=default, help="JSON output for scripts")
    parser.add_argument("--keys", default=default, help="key folder (default $MPCVOTE_KEYS or ~/.mpcvote/keys)")
    parser.add_argument(
        "--genesis", default=default, help="the chain's genesis file (validator keys are checked against it)"
    )


class _Sub(argparse.ArgumentParser):
    """A subcommand parser that also takes the global options after the command."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        _common(self, argparse.SUPPRESS)


class _Top(argparse.ArgumentParser):
    """The mpcvote parser: an unknown option gets a "did you mean" from every command's options."""

    def error(self, message):
        words = message.split("unrecognized arguments:", 1)
        if len(words) == 2:
            hints = [
                f"{w} -> did you mean {close[0]}?"
                for w in words[1].split()
                if w.startswith("--")
                for close in [difflib.get_close_matches(w, _option_strings(self), n=1)]
                if close
            ]
            if hints:
                message += " (" + "; ".join(hints) + ")"
        super().error(message)


def _option_strings(parser) -> list:
    out = [o for o in parser._option_string_actions if o.startswith("--")]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                out += _option_strings(child)
    return sorted(set(out))


def _parser():
    p = _Top(prog="mpcvote", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p, None)
    p.set_defaults(json=False)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Sub, metavar="COMMAND")
    keys = sub.add_parser("keys", help="voter and creator keys (files in --keys DIR, mode 0600)").add_subparsers(
        dest="sub", required=True, parser_class=_Sub, metavar="keys COMMAND"
    )
    keys.add_parser("new", help="make a new ed25519 key").add_argument("name", help="a name for the key")
    keys.add_parser("show", help="print a key's public key").add_argument("name", help="the key's name")
    keys.add_parser("list", help="every key: name and public key")
    poll = sub.add_parser("poll", help="create, close or show a poll").add_subparsers(
        dest="sub", required=True, parser_class=_Sub, metavar="poll COMMAND"
    )
    c = poll.add_parser("create", help="create a poll (you, its creator, may close it early)")
    c.add_argument("--key", required=True, help="the creator's key name")
    c.add_argument("--question", required=True, help="the question voters answer")
    c.add_argument(
        "--kind",
        choices=("unanimity", "tally"),
        required=True,
        help="unanimity: is everyone's answer yes? tally: how many chose each option",
    )
    c.add_argument("--options", default="", help="comma-separated options, for a tally (2 to 16)")
    c.add_argument(
        "--voters",
        default=None,
        help="comma-separated key names or public keys that may vote (default: open to any key)",
    )
    c.add_argument(
        "--close-in",
        default="5m",
        help="how long the poll stays open: 90s, 10m, 2h, 1d, or blocks as 40b (default 5m; "
        "converted with the chain's measured block interval)",
    )
    c.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="privacy threshold t: any t+1 validators together can read every ballot, forever (the "
        "ciphertexts stay on chain); a larger t needs more of them to collude, a smaller t lets the "
        "outcome survive more absent validators (default: the largest t the chain allows)",
    )
    c.add_argument("--max-ballots", type=int, default=10000, help="most ballots the poll takes (default 10000)")
    c.add_argument(
        "--max-revotes", type=int, default=3, help="how often one voter may replace their ballot (default 3)"
    )
    c.add_argument(
        "--min-ballots",
        type=int,
        default=None,
        help="below this many ballots the outcome is withheld (default: the chain's floor, 3)",
    )
    cl = poll.add_parser("close", help="close a poll early (its creator only)")
    cl.add_argument("poll", type=int, help="the poll id")
    cl.add_argument("--key", required=True, help="the creator's key name")
    poll.add_parser("show", help="a poll's settings, status and close (height and clock time)").add_argument(
        "poll", type=int, help="the poll id"
    )
    sub.add_parser("polls", help="list polls: status, ballots, close time, outcome")
    v = sub.add_parser("vote", help="secret-share and submit a ballot; waits for its commit")
    v.add_argument("poll", type=int, help="the poll id")
    v.add_argument("choice", help="yes|no for unanimity, an option for a tally")
    v.add_argument("--key", required=True, help="the voter's key name")
    v.add_argument(
        "--trust-node",
        action="store_true",
        help="take the poll from the node's answer unverified (only a node you run yourself)",
    )
    bl = sub.add_parser("ballots", help="a poll's ballots (counted or disqualified), its complaints and their verdicts")
    bl.add_argument("poll", type=int, help="the poll id")
    bl.add_argument("--after", default=None, help="list voters after this voter key (the previous page's next)")
    bl.add_argument("--limit", type=int, default=100, help="ballots per page (default 100)")
    r = sub.add_parser("receipt", help="did my vote count? the counted ballot, and what it replaced")
    r.add_argument("poll", type=int, help="the poll id")
    r.add_argument("--key", required=True, help="the voter's key name")
    r.add_argument(
        "--trust-node",
        action="store_true",
        help="take the node's word for the ballot's tx, unproven (only a node you run yourself)",
    )
    o = sub.add_parser("outcome", help="a poll's outcome, or who the validators are waiting for")
    o.add_argument("poll", type=int, help="the poll id")
    o.add_argument("--wait", action="store_true", help="wait until the outcome is final, showing progress")
    o.add_argument("--timeout", type=float, default=300.0, help="seconds to --wait at most (default 300)")
    sub.add_parser("validators", help="the validator registry")
    j = sub.add_parser("jobs", help="MPC job state of each local validator's worker, and why")
    j.add_argument("--testnet", default=None, help="testnet folder (default $MPCVOTE_TESTNET or .testnet)")
    b = sub.add_parser("blocks", help="the latest blocks")
    b.add_argument("--last", type=int, default=10, help="how many (default 10)")
    sub.add_parser("block", help="one block: its txs and events").add_argument(
        "height", type=int, help="the block height"
    )
    sub.add_parser("tx", help="one tx: its block, result, signer and body").add_argument(
        "hash", help="the tx hash, or a unique prefix of at least 6 hex digits (latest 1000 blocks)"
    )
    sub.add_parser("verify-header", help="check a header against the genesis validators").add_argument(
        "height", type=int, help="the block height"
    )
    sub.add_parser("verify-tx", help="prove a tx and its result against signed headers").add_argument(
        "hash", help="the tx hash, or a unique prefix of at least 6 hex digits (latest 1000 blocks)"
    )
    sub.add_parser(
        "verify",
        help="replay a poll from proven txs: every ballot proof, complaint ruling, aggregate pair and the tally",
    ).add_argument("poll", type=int, help="the poll id")
    t = sub.add_parser("txs", help="ballot txs of a poll, revotes and replaced ballots marked")
    t.add_argument("--poll", type=int, required=True, help="the poll id")
    t.add_argument("--page", type=int, default=1, help="page of 50 (default 1)")
    from mpc_tx.explorer.cli import add_arguments as explorer_arguments

    explorer_arguments(sub.add_parser("explorer", help="serve the web explorer", conflict_handler="resolve"))
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.cmd == "explorer":  # a server, not a one-shot command: it takes several --node
        from mpc_tx.explorer.cli import run as run_explorer

        return run_explorer(args)
    keys = Path(args.keys or os.environ.get("MPCVOTE_KEYS", Path.home() / ".mpcvote" / "keys"))
    client = Client(
        args.node or default_node(),
        keys,
        args.genesis or default_genesis(),
        progress=not args.json and sys.stderr.isatty(),
        session=Session(keys / ".session"),
    )
    try:
        result, human = _run(client, args)
    except (CliError, RpcError, QueryError) as exc:
        code = getattr(exc, "code", None)
        message = str(exc) + _unreachable_hint(exc, client.node)
        if args.json:
            print(json.dumps({"error": message, "code": code}))
        else:
            print(f"mpcvote: error: {message}", file=sys.stderr)
        return 1
    try:
        print(json.dumps(result) if args.json else human)
    except BrokenPipeError:  # `mpcvote jobs | head`: the reader has what it wanted
        sys.stderr.close()
    if args.cmd == "verify" and not result["ok"]:
        return 2  # the poll does not verify: the report above names the node and the step
    return 0


def _unreachable_hint(exc, node: str) -> str:
    if isinstance(exc, RpcError) and "cannot reach" in str(exc):
        return (
            f". Is the node running? `scripts/testnet status` shows the local testnet; "
            f"`scripts/testnet up` starts it; --node URL asks another node (this was {node})"
        )
    return ""


def _run(client: Client, a):
    if a.cmd == "keys":
        if a.sub == "new":
            k = client.new_key(a.name)
            return {"name": a.name, "public_key": k.public_hex}, f"{a.name}: {k.public_hex}"
        if a.sub == "show":
            k = client.key(a.name)
            return {"name": a.name, "public_key": k.public_hex}, k.public_hex
        keys = client.keys()
        return keys, "\n".join(f"{k['name']:20} {k['public_key']}" for k in keys) or "(no keys)"
    if a.cmd == "poll":
        if a.sub == "create":
            voters = None
            if a.voters:
                voters = [v if len(v) == 64 else client.key(v).public_hex for v in a.voters.split(",")]
            opts = [o for o in a.options.split(",") if o] if a.kind == "tally" else []
            res = client.create_poll(
                client.key(a.key),
                a.question,
                a.kind,
                opts,
                voters,
                client.close_blocks(a.close_in),
                max_ballots=a.max_ballots,
                max_revotes=a.max_revotes,
                min_ballots=a.min_ballots,
                threshold=a.threshold,
            )
            poll = client.query(f"/poll/{res['poll']}")
            res["closes"] = client.when(poll["close_height"])
            res["warnings"] = privacy_warnings(poll)
            lines = [
                f"poll {res['poll']} created at height {res['height']} (tx {res['hash']})",
                f"  closes at height {poll['close_height']}, {_about(res['closes'])}",
            ]
            for w in res["warnings"]:
                print(f"mpcvote: warning: {w}", file=sys.stderr)
            return res, "\n".join(lines)
        if a.sub == "close":
            res = client.close_poll(client.key(a.key), a.poll)
            return res, f"poll {a.poll} closed at height {res['height']}"
        poll = client.query(f"/poll/{a.poll}")
        closes = poll["closed_height"] or poll["close_height"]
        poll["closes"] = client.when(closes)
        poll["warnings"] = privacy_warnings(poll) if poll["status"] == "open" else []
        return poll, _human_poll(poll)
    if a.cmd == "polls":
        polls = client.query("/polls")["polls"]
        for p in polls:
            p["closes"] = client.when(p["close_height"]) if p["status"] == "open" else None
        rows = [
            (p["id"], p["kind"], p["status"], p["ballots"], _closes_short(p), _outcome_short(p), p["question"])
            for p in polls
        ]
        return polls, _table(
            ["id", "kind", "status", "ballots", "close", "outcome", "question"], rows, right={"id", "ballots"}
        ) if polls else "(no polls)"
    if a.cmd == "vote":
        client.trust_node = a.trust_node
        res = client.vote(client.key(a.key), a.poll, a.choice)
        b = res["ballot"]
        return res, (
            f"ballot for poll {a.poll} committed at height {res['height']} (tx {res['hash']})\n"
            f"  {b['bytes']} bytes: {b['k']} entr{'y' if b['k'] == 1 else 'ies'} shared among the {b['m']} genesis "
            f"validators (threshold t={b['t']}), with proofs the chain checked"
        )
    if a.cmd == "ballots":
        res = client.ballots(a.poll, a.after, a.limit)
        return res, _human_ballots(client, res)
    if a.cmd == "receipt":
        client.trust_node = a.trust_node
        res = client.receipt(a.poll, client.key(a.key))
        return res, _human_receipt(res, a.key)
    if a.cmd == "outcome":
        out = client.outcome(a.poll, wait=a.wait, timeout=a.timeout)
        if out["status"] in ("open", "closed"):
            out["progress"] = client.standing_of(a.poll, out)
        return out, _human_outcome(out)
    if a.cmd == "validators":
        vals = client.query("/validators")["validators"]
        vals = [{k: v[k] for k in v if k != "tls_cert"} for v in vals]
        return vals, "\n".join(
            f"{v['index']:>2} {v['name']:8} power {v['power']:>3}  mpc {v['mpc_host']}:{v['mpc_port']}  "
            f"attest {v['attest_key'][:16]}…"
            for v in vals
        )
    if a.cmd == "jobs":
        jobs = local_jobs(a.testnet)
        chain = {}
        for j in jobs:
            for poll in j["jobs"]:
                if poll not in chain:
                    try:
                        chain[poll] = client.query(f"/poll/{poll}/outcome")["status"]
                    except (CliError, RpcError, QueryError):
                        chain[poll] = None
        lines = []
        for j in jobs:
            w = j["worker"]
            lines.append(
                f"{j['validator']}: worker " + ("down" if not w["up"] else f"up, followed to height {w['height']}")
            )
            for poll, st in sorted(j["jobs"].items(), key=lambda kv: int(kv[0])):
                st["reason"] = job_reason(st, w, chain[poll])
                lines.append(
                    f"  poll {poll:>4}  {st['state']:9} attempt {st.get('attempt', '-')}  {st['reason']}"
                    + (f" absent {st['absent']}" if st.get("absent") else "")
                )
        return jobs, "\n".join(lines) or "(no jobs)"
    if a.cmd == "blocks":
        blocks = client.blocks(a.last)
        return blocks, "\n".join(
            f"{b['height']:>7} {b['time'][:23]} {b['txs']:>5} txs  app {b['app_hash'][:16]}…" for b in blocks
        )
    if a.cmd == "block":
        blk = client.block(a.height)
        lines = [
            f"block {blk['height']} at {blk['time']}",
            f"  hash     {blk['hash']}",
            f"  app hash {blk['app_hash']}",
            f"  {len(blk['txs'])} txs" + (":" if blk["txs"] else ""),
        ]
        lines += [
            f"    {t['hash'][:16]}  {t.get('type', '?'):15} {t['code_name']:14} by {client.who(t.get('signer', ''))}"
            for t in blk["txs"]
        ]
        lines += [
            f"  event {e['type']}: " + " ".join(f"{k}={v}" for k, v in e.items() if k != "type") for e in blk["events"]
        ]
        return blk, "\n".join(lines)
    if a.cmd == "tx":
        t = client.tx(a.hash)
        return t, _human_tx(client, t)
    if a.cmd == "verify-header":
        h = client.verify_header(a.height)
        return h, (
            f"header {h['height']} {h['hash']} verified: signed by {h['signed_power']} of "
            f"{h['total_power']} genesis power\n  time {h['time']}, app hash {h['app_hash']}"
        )
    if a.cmd == "verify-tx":
        t = client.verify_tx(a.hash)
        return t, (
            f"tx {t['hash']} verified in block {t['height']} (index {t['index']}): "
            f"result {t['code_name']}" + (f", data {t['data']}" if t["data"] else "")
        )
    if a.cmd == "verify":
        report = client.verify_poll(a.poll).to_json()
        return report, human_verify(report)
    if a.cmd == "txs":
        res = client.txs(a.poll, a.page)
        mark_replaced(res["txs"])
        return (
            res,
            f"{res['total']} ballot txs of poll {a.poll} (a later ballot of one voter replaces the earlier)\n"
            + "\n".join(
                f"{t['height']:>7}  {t['hash'][:16]}  {client.who(t['signer']):28} {t['code_name']:8} {_ballot_mark(t)}"
                for t in res["txs"]
            ),
        )
    raise CliError(f"unknown command {a.cmd}")


def human_verify(r: dict) -> str:
    """Return `mpcvote verify`'s report as lines: each step checked, then the verdict and the result."""
    how = {"final tx": "its final tx pins every event", "scan": "every block scanned"}.get(r["mode"], "")
    lines = [f"poll {r['poll']} from {r['node']}" + (f" ({how})" if how else "")]
    lines += [f"  {'ok  ' if s['ok'] else 'FAIL'} {s['name']}: {s['detail']}" for s in r["steps"]]
    if not r["ok"]:
        lines.append(f"poll {r['poll']} does NOT verify: {r['failure']}")
        return "\n".join(lines)
    res = r["result"] or {}
    outcome = res.get("outcome") or {}
    if "tally" in outcome:
        shown = ", ".join(f"{o} {c}" for o, c in outcome["tally"].items())
        what = f"tally {shown} ({_ballots(res['counted'])} counted)"
    elif outcome.get("withheld"):
        what = f"withheld: {_ballots(res['counted'])} counted, below min_ballots"
    elif res.get("status") == "failed":
        what = f"failed at its deadline: no t+1 valid aggregate pairs, absent {res['absent']}"
    else:
        lines.append(f"poll {r['poll']} verifies so far: {r['state']} (no final tally to check yet)")
        return "\n".join(lines)
    lines.append(f"poll {r['poll']} verifies: {r['state']}: {what}")
    if res.get("ballots"):
        lines.append(f"  counted-set digest {res['ballots']}")
    return "\n".join(lines)


def _table(headers: list, rows: list, right=frozenset()) -> str:
    """Render rows under headers as aligned plain-text columns (rich, no borders, no colour, never wrapped)."""
    table = Table(
        *[Column(h, justify="right" if h in right else "left", no_wrap=True) for h in headers],
        box=None,
        pad_edge=False,
        show_edge=False,
        header_style="",
        padding=(0, 2, 0, 0),
    )
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))  # Text: a question is never markup
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def privacy_warnings(poll: dict) -> list:
    """Say what a poll's settings reveal about its voters, in words a creator can act on."""
    out = []
    if poll["open"]:
        out.append(
            "this poll is open to any key, and anyone can make keys: one person can vote many times; "
            "list the voters (--voters) for a poll that counts people"
        )
    if poll["eligible"] is not None and poll["eligible"] < poll["min_ballots"]:
        out.append(
            f"only {poll['eligible']} voters are listed and the outcome is withheld below "
            f"{poll['min_ballots']} ballots: this poll can never show its outcome"
        )
    if poll["min_ballots"] < 3:
        out.append(
            f"min_ballots is {poll['min_ballots']}: an outcome over 1 or 2 ballots tells each voter how "
            "the other voted; 3 or more keeps a single vote hidden"
        )
    return out


def _about(when: dict) -> str:
    if when["past"]:
        return f"reached at about {when['at']}"
    return f"about {when['at']} (in {span(when['in_seconds'])})"


def _closes_short(p: dict) -> str:
    if p.get("closes"):
        return f"{p['closes']['at']} (height {p['close_height']})"
    return f"closed at {p.get('closed_height') or p['close_height']}"


def _outcome_short(p: dict) -> str:
    o = p.get("outcome")
    if o is None:
        return "-"
    if "failed" in o:
        return f"FAILED ({o['failed']})"
    if o == {"withheld": True}:
        return "no ballots" if p["ballots"] == 0 else f"withheld (< {p.get('min_ballots')} ballots)"
    if "unanimous" in o:
        return "unanimous yes" if o["unanimous"] else "not unanimous"
    return ", ".join(f"{k} {v}" for k, v in o["tally"].items())[:28]


def _human_poll(p):
    if p["status"] == "open":
        closing = f"closes at height {p['close_height']}, {_about(p['closes'])}"
    else:
        early = " (early, by its creator)" if p["closed_height"] and p["closed_height"] < p["close_height"] else ""
        closing = f"closed at height {p['closed_height']}{early}"
    lines = [
        f"poll {p['id']}: {p['question']}",
        f"  kind {p['kind']}" + (f" options {', '.join(p['options'])}" if p["options"] else ""),
        f"  status {p['status']}, {_ballots(p['ballots'])} (outcome withheld below {p['min_ballots']}), {closing}",
        f"  voters {'open to any key (anyone can make keys)' if p['open'] else str(p['eligible']) + ' listed'}",
        f"  validators {len(p['validators'])}, threshold t={p['threshold']} "
        f"(any {p['threshold'] + 1} validators together could read every ballot, forever)",
    ]
    lines += _window_lines(p)
    if p["result"]:
        lines.append(f"  result {_outcome_words(p['result'], p['ballots'], p['min_ballots'])}")
    lines += [f"  warning: {w}" for w in p.get("warnings", [])]
    return "\n".join(lines)


def _window_lines(p: dict) -> list:
    """Say where the poll's complaint window and counted set stand, and who was named."""
    out = []
    until, fixed = p.get("complaints_until"), p.get("counted_fixed_height")
    if until is not None:
        out.append(
            f"  counted set fixed at height {fixed}"
            if fixed is not None
            else f"  complaints taken until height {until}; then the counted set is fixed"
        )
    if p.get("named_validators"):
        out.append(
            "  named validators (a complaint of theirs was false): " + ", ".join(map(str, p["named_validators"]))
        )
    return out


def _ballots(n: int) -> str:
    return f"{n} ballot" + ("" if n == 1 else "s")


def _outcome_words(result: dict, ballots: int, min_ballots: int) -> str:
    """Say an outcome in words: no ballots, withheld and why, or the result."""
    if result.get("status") != "ok":
        return f"FAILED ({result.get('code')})"
    outcome = result["outcome"]
    if outcome == {"withheld": True}:
        if ballots == 0:
            return "no ballots"
        return (
            f"withheld: {_ballots(result['counted'])} counted, fewer than the poll's min_ballots "
            f"{min_ballots} (an outcome would reveal votes)"
        )
    if "unanimous" in outcome:
        return "unanimous yes" if outcome["unanimous"] else "not unanimous (at least one no)"
    return ", ".join(f"{k} {v}" for k, v in outcome["tally"].items())


def mark_replaced(txs: list):
    """Mark each committed ballot that a later ballot of the same voter (in this list) replaced."""
    last = {}
    for t in txs:
        if t.get("code") == 0 and t.get("signer"):
            last[t["signer"]] = t["hash"]
    for t in txs:
        t["replaced"] = t.get("code") == 0 and last.get(t.get("signer")) != t["hash"]


def _ballot_mark(t: dict) -> str:
    marks = []
    if t.get("revote"):
        marks.append(f"revote {t['revote']}")
    if t.get("replaced"):
        marks.append("replaced by a later ballot")
    elif t.get("code") == 0:
        marks.append("counted")
    return ", ".join(marks)


def _ballot_status(b: dict) -> str:
    d = b.get("disqualified")
    if d:
        return f"DISQUALIFIED by validator {d['by']} at height {d['height']}: {d['reason']}"
    return "counted"


def _human_ballots(client, r: dict) -> str:
    """Render a ballots page: each ballot's standing, then the complaints and their verdicts."""
    lines = [
        f"poll {r['poll']} ({r['status']}): {_ballots(r['counted'])} counted, threshold t={r['threshold']}",
    ]
    lines += _window_lines(r)
    rows = [
        (
            client.who(b["voter"]),
            b["height"],
            b["tx"][:12] + "…",
            b["revotes"],
            len(b.get("replaced") or []),
            _ballot_status(b),
        )
        for b in r["ballots"]
    ]
    lines.append(
        _table(
            ["voter", "height", "tx", "revotes", "replaced", "standing"], rows, right={"height", "revotes", "replaced"}
        )
        if rows
        else "(no ballots)"
    )
    if r["next"]:
        lines.append(f"more: --after {r['next']}")
    verdicts = {
        "ballot_bad": "bad share: ballot disqualified, voter named",
        "complaint_false": "share was good: complaint refused, validator named",
        "moot": "about a replaced or disqualified ballot: nobody named",
    }
    lines.append(f"{len(r['complaints'])} complaint(s)" + (":" if r["complaints"] else ""))
    for c in r["complaints"]:
        lines.append(
            f"  height {c.get('height')}: validator {c.get('validator')} about {client.who(c.get('voter', ''))}'s "
            f"ballot {str(c.get('ballot_tx', ''))[:12]}…: {verdicts.get(c.get('verdict'), c.get('verdict'))}"
            + (f" ({c['reason']})" if c.get("reason") else "")
        )
    return "\n".join(lines)


def _human_tx(client, t: dict) -> str:
    verdict = "committed, OK" if t["code"] == 0 else f"REJECTED {t['code_name']} (code {t['code']}): {t.get('log', '')}"
    lines = [
        f"tx {t['hash']}",
        f"  block {t['height']}: {verdict}",
        f"  {t.get('type', 'undecodable')} by {client.who(t.get('signer', ''))}, nonce {t.get('nonce', '-')}, "
        f"{t['bytes']} bytes",
    ]
    for k, v in (t.get("body") or {}).items():
        lines.append(f"  {k}: {', '.join(map(str, v)) if isinstance(v, list) else v}")
    if t.get("revote"):
        lines.append(f"  revote {t['revote']}: it replaced this voter's earlier ballot")
    return "\n".join(lines)


def _human_receipt(r: dict, name: str) -> str:
    who = f"{name} ({r['voter'][:12]}…)"
    c, d = r["counted"], r.get("disqualified")
    if c is None and d is None:
        return f"poll {r['poll']}: no ballot of {who} counts (none committed; a ballot refused or dropped never counts)"
    shown = c or d
    proven = "proven against the genesis validators" if shown["verified"] else "the node's word, not proven"
    if c is not None:
        if r["poll_status"] == "open":
            when = " (the poll is open: a later ballot of yours would replace it)"
        elif r.get("counted_fixed_height") is not None:
            when = f" (the counted set was fixed at height {r['counted_fixed_height']}: this is final)"
        else:
            when = " (the poll is closed; a complaint may still disqualify it until the counted set is fixed)"
        head = f"poll {r['poll']}: the ballot of {who} counts{when}"
    else:
        head = (
            f"poll {r['poll']}: the ballot of {who} was DISQUALIFIED by validator {d['by']}'s complaint "
            f"at height {d['disqualified_height']}: {d['reason']} "
            + (
                "(a revote within the cap, with fresh shares, would count)"
                if r["poll_status"] == "open"
                else "(the poll is closed: it does not count)"
            )
        )
    lines = [head, f"  tx {shown['hash']} in block {shown['height']} ({proven})"]
    if r["replaced"]:
        lines.append(
            f"  it replaced {len(r['replaced'])} earlier ballot(s): "
            + ", ".join(f"{t['hash'][:12]}… (block {t['height']})" for t in r["replaced"])
        )
    lines.append(f"  ballot proofs: {r['proofs']}")
    return "\n".join(lines)


def progress_words(poll_id: int, p: dict | None) -> str:
    """One line on a poll's way to its outcome."""
    if p is None:
        return f"poll {poll_id}: no outcome yet"
    if p["status"] == "open":
        return f"poll {poll_id}: open, closes at height {p['closes']['height']}, {_about(p['closes'])}"
    if p["status"] == "complaints":
        w = p["complaints_until"]
        return (
            f"poll {poll_id}: closed; complaints taken until height {w['height']} ({_about(w)}), "
            "then the counted set is fixed and the MPC starts"
        )
    if p["status"] == "aggregating":
        return (
            f"poll {poll_id}: counted set fixed; valid aggregate pairs from {', '.join(p['valid']) or 'nobody yet'} "
            f"({p['needed']} open the tally)"
            + (f"; named for a wrong pair: {', '.join(p['named'])}" if p["named"] else "")
            + f"; waiting for {', '.join(p['missing']) or 'nobody'}; it fails at height "
            f"{p['deadline']['height']} ({_about(p['deadline'])}) without them"
        )
    return (
        f"poll {poll_id}: closed, no outcome yet; attested by {', '.join(p['attested']) or 'nobody yet'}"
        f"; waiting for {', '.join(p['missing']) or 'nobody'}; next MPC attempt at height "
        f"{p['next_attempt']['height']} ({_about(p['next_attempt'])}); it fails at height "
        f"{p['deadline']['height']} ({_about(p['deadline'])}) without one"
    )


def _human_outcome(o):
    if o["status"] in ("open", "closed"):
        return progress_words(o["id"], o.get("progress"))
    r = o["result"]
    if r["status"] == "failed":
        return f"poll {o['id']}: FAILED ({r['code']}), absent validators {r.get('absent')}"
    how = (
        f"attested by validators {', '.join(map(str, o['attesters']))}"
        if o.get("attesters")
        else f"opened on chain from aggregate pairs; `mpcvote verify {o['id']}` rechecks it from proven txs"
    )
    return (
        f"poll {o['id']}: {_outcome_words(r, o['ballots'], o.get('min_ballots', 0))}\n"
        f"  counted {r['counted']}, final at height {o['final_height']}, {how}"
    )


if __name__ == "__main__":
    sys.exit(main())
