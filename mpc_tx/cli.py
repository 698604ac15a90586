"""mpcvote: keys, polls, ballots and outcomes, and a block explorer over a node's RPC.

Every command takes --node URL (default: the first node of the local testnet)
and --json (machine-readable output, one JSON document on stdout).
"""
import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

from abci_app.codes import NAMES
from . import tx as txcodec
from .keys import SigningKey
from .rpc import Rpc, RpcError, QueryError

__all__ = ["main", "Client", "CliError", "Session"]

ROOT = Path(__file__).resolve().parent.parent


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
    """Read each local worker's job states (waiting, running, attested, failed and why, done)."""
    folder = Path(testnet or os.environ.get("MPCVOTE_TESTNET", ROOT / ".testnet"))
    manifest = json.loads((folder / "testnet.json").read_text()) if (folder / "testnet.json").exists() else None
    if manifest is None:
        raise CliError(f"no testnet in {folder}")
    out = []
    for v in manifest["validators"]:
        path = Path(v["home"]) / "worker" / "jobs.json"
        out.append({"validator": v["name"], "jobs": json.loads(path.read_text()) if path.exists() else {}})
    return out


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
SPINNER = "|/-\\"


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
                pass        # no session yet, or an unreadable one: start from 0

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
                pass        # read-your-writes within this process still holds


class Client:
    """What the CLI does, as plain methods (also used by the demo and the tests)."""

    def __init__(self, node: str, keys_dir=None, genesis=None, progress=False, session=None,
                 fresh_timeout=60.0, trust_node=False):
        self.rpc = Rpc(node)
        self.node = self.rpc.url
        self.keys_dir = Path(keys_dir or os.environ.get("MPCVOTE_KEYS", Path.home() / ".mpcvote" / "keys"))
        self.genesis_path = genesis
        self.progress = progress
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
        key.save(path)
        return key

    def key(self, name: str) -> SigningKey:
        path = self.key_path(name)
        if not path.exists():
            raise CliError(f"no key {name!r} in {self.keys_dir}: create it with `mpcvote keys new {name}`")
        return SigningKey.load(path)

    def keys(self) -> list:
        if not self.keys_dir.exists():
            return []
        return [{"name": p.stem, "public_key": SigningKey.load(p).public_hex}
                for p in sorted(self.keys_dir.glob("*.json"))]

    # --- chain reads --------------------------------------------------------------------
    def query(self, path: str):
        """Answer a query from a node that has reached this session's last commit (waits, bounded)."""
        self.session.load(self.chain_key)
        want, deadline, k = self.session.seen, time.monotonic() + self.fresh_timeout, 0
        while True:
            try:
                value, height = self.rpc.query(path)
                error = None
            except QueryError as exc:
                error, height = exc, exc.height
            if height >= want:
                break
            if time.monotonic() > deadline:
                raise CliError(f"{self.node} is at height {height}, behind height {want} where your last "
                               f"transaction committed, after {self.fresh_timeout:.0f} s: the node is lagging; "
                               "try another node")
            if self.progress:
                print(f"\rwaiting for {self.node} to reach height {want} {SPINNER[k % 4]}",
                      end="", file=sys.stderr, flush=True)
            k += 1
            time.sleep(0.1)
        if error is not None:
            raise CliError(f"{path}: {error.log} (code {error.code} {NAMES.get(error.code, '')}, "
                           f"from {self.node})", error.code) from None
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
            raise CliError(f"{self.node} says the last nonce of {key.public_hex[:16]}… is {last}, far ahead of "
                           "this clock: a lying node could use up your key's nonces; not signing (check the clock, "
                           "or ask another node)")
        return max(last + 1, now)

    # --- transactions ---------------------------------------------------------------------
    def submit(self, raw: bytes, wait=True, timeout=60.0) -> dict:
        """Broadcast a tx; raise CliError with the code on rejection; wait for commit."""
        res = self.rpc.broadcast_tx_sync(raw)
        tx_hash = res["hash"]
        if int(res["code"]) != 0:
            code = int(res["code"])
            raise CliError(f"rejected by CheckTx: {res.get('log', '')} (code {code} {NAMES.get(code, '')})", code)
        if not wait:
            return {"hash": tx_hash}
        deadline = time.monotonic() + timeout
        spinner, k = "|/-\\", 0
        while True:
            try:
                result = self.rpc.tx(tx_hash)
                break
            except RpcError as exc:
                if "not found" not in str(exc):
                    raise CliError(str(exc)) from None
            if time.monotonic() > deadline:
                raise CliError(f"tx {tx_hash} not committed within {timeout:.0f} s")
            if self.progress:
                print(f"\rwaiting for commit {spinner[k % 4]}", end="", file=sys.stderr, flush=True)
            k += 1
            time.sleep(0.1)
        if self.progress:
            print("\r" + " " * 24 + "\r", end="", file=sys.stderr, flush=True)
        code = int(result["tx_result"].get("code", 0))
        if code != 0:
            raise CliError(f"rejected in block {result['height']}: {result['tx_result'].get('log', '')} "
                           f"(code {code} {NAMES.get(code, '')})", code)
        self.session.saw(self.chain_key, int(result["height"]))
        return {"hash": tx_hash, "height": int(result["height"]), "events": _events(result["tx_result"])}

    def create_poll(self, key, question, kind, options=(), voters=None, close_in=20, close_height=None,
                    max_ballots=10000, max_revotes=3, min_ballots=0, wait=True) -> dict:
        height = self.rpc.height()
        body = {"question": question, "kind": kind, "options": list(options),
                "voters": sorted(voters) if voters is not None else None,
                "close_height": close_height or height + close_in, "max_ballots": max_ballots,
                "max_revotes": max_revotes, "min_ballots": min_ballots}
        raw = txcodec.build(key, self.chain_id, "create_poll", self.next_nonce(key), body)
        res = self.submit(raw, wait=wait)
        if wait:
            res["poll"] = int(res["events"]["poll_created"]["poll_id"])
        return res

    def close_poll(self, key, poll_id: int) -> dict:
        raw = txcodec.build(key, self.chain_id, "close_poll", self.next_nonce(key), {"poll": poll_id})
        return self.submit(raw)

    def vote(self, key, poll_id: int, choice: str, wait=True) -> dict:
        from .ballot import build_ballot, BallotError
        poll = self.query(f"/poll/{poll_id}")
        if not self.trust_node:
            poll = self.verified_poll(poll_id, poll)
        try:
            raw = build_ballot(key, poll, choice, self.chain_id, self.next_nonce(key), self.genesis())
        except BallotError as exc:
            raise CliError(f"{exc} (poll from {self.node})") from None
        res = self.submit(raw, wait=wait)
        return self.verified_commit(res) if wait and not self.trust_node else res

    def outcome(self, poll_id: int, wait=False, timeout=300.0) -> dict:
        deadline = time.monotonic() + timeout
        spinner, k = "|/-\\", 0
        while True:
            out = self.query(f"/poll/{poll_id}/outcome")
            if not wait or out["status"] in ("final", "failed"):
                if self.progress and wait:
                    print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
                return out
            if time.monotonic() > deadline:
                raise CliError(f"poll {poll_id} has no final outcome after {timeout:.0f} s (status {out['status']})")
            if self.progress:
                print(f"\rpoll {poll_id} {out['status']}: waiting for the outcome {spinner[k % 4]}",
                      end="", file=sys.stderr, flush=True)
            k += 1
            time.sleep(0.3)

    # --- verified reads (light client against the genesis validator set) ------------------

    def light(self):
        from .light import LightClient, VerifyError
        if getattr(self, "_light", None) is None:
            try:
                self._light = LightClient(self.rpc, self.genesis())
            except VerifyError as exc:
                raise CliError(f"cannot verify against {self.genesis_path}: {exc}") from None
        return self._light

    def verified_poll(self, poll_id: int, node_poll: dict) -> dict:
        """Return the poll's facts proven against the genesis set; CliError naming the node if it lies."""
        from .light import VerifyError
        from .verified import verified_poll
        try:
            return verified_poll(self.light(), poll_id, self.genesis(), node_poll)
        except VerifyError as exc:
            raise CliError(f"not voting: {exc}") from None

    def verified_commit(self, res: dict) -> dict:
        """Prove that a submitted tx committed with code 0 (the node's word alone could hide a rejection)."""
        from .light import VerifyError
        try:
            t = self.light().tx(res["hash"])
        except VerifyError as exc:
            raise CliError(f"tx {res['hash']}: {self.rpc.url} says it committed, but that does not verify: "
                           f"{exc}") from None
        if t.code != 0:
            raise CliError(f"{self.rpc.url} said tx {t.hash} committed; the verified result is a rejection in "
                           f"block {t.height} (code {t.code} {NAMES.get(t.code, '')})", t.code)
        return dict(res, height=t.height, verified=True)

    def verify_header(self, height: int) -> dict:
        from .light import VerifyError
        try:
            h = self.light().header(height)
        except VerifyError as exc:
            raise CliError(f"header {height} from {self.rpc.url} does not verify: {exc}") from None
        return {"height": h.height, "hash": h.hash.hex().upper(), "time": h.time, "app_hash": h.app_hash.hex().upper(),
                "data_hash": h.data_hash.hex().upper(), "last_results_hash": h.last_results_hash.hex().upper(),
                "signed_power": h.signed_power, "total_power": h.total_power, "verified": True}

    def verify_tx(self, tx_hash: str) -> dict:
        from .light import VerifyError
        try:
            t = self.light().tx(tx_hash)
        except VerifyError as exc:
            raise CliError(f"tx {tx_hash} from {self.rpc.url} does not verify: {exc}") from None
        return {"hash": t.hash, "height": t.height, "index": t.index, "code": t.code,
                "code_name": NAMES.get(t.code, str(t.code)), "data": t.data.decode(errors="replace"),
                "tx": t.tx.decode(errors="replace"), "verified": True}

    # --- explorer -------------------------------------------------------------------------
    def blocks(self, last=10) -> list:
        top = self.rpc.height()
        low = max(1, top - last + 1)
        metas = self.rpc.call("blockchain", minHeight=str(low), maxHeight=str(top))["block_metas"]
        return [{"height": int(m["header"]["height"]), "time": m["header"]["time"],
                 "txs": int(m["num_txs"]), "hash": m["block_id"]["hash"],
                 "app_hash": m["header"]["app_hash"], "proposer": m["header"]["proposer_address"]}
                for m in metas]

    def block(self, height: int) -> dict:
        blk = self.rpc.call("block", height=str(height))
        res = self.rpc.call("block_results", height=str(height))
        txs = [base64.b64decode(t) for t in blk["block"]["data"]["txs"] or []]
        results = res.get("txs_results") or []
        return {"height": height, "hash": blk["block_id"]["hash"], "time": blk["block"]["header"]["time"],
                "app_hash": blk["block"]["header"]["app_hash"],
                "txs": [_tx_summary(raw, r) for raw, r in zip(txs, results)],
                "events": [{"type": e["type"], **{a["key"]: a["value"] for a in e["attributes"]}}
                           for e in res.get("finalize_block_events") or []]}

    def tx(self, tx_hash: str) -> dict:
        res = self.rpc.tx(tx_hash.removeprefix("0x").upper())
        return {"height": int(res["height"]), **_tx_summary(base64.b64decode(res["tx"]), res["tx_result"])}

    def txs(self, poll_id: int, page=1, per_page=50) -> dict:
        res = self.rpc.call("tx_search", query=f"ballot.poll_id={poll_id}", page=str(page),
                            per_page=str(per_page), order_by="asc")
        return {"total": int(res["total_count"]),
                "txs": [{"height": int(t["height"]), **_tx_summary(base64.b64decode(t["tx"]), t["tx_result"])}
                        for t in res["txs"]]}


def _events(tx_result) -> dict:
    out = {}
    for e in tx_result.get("events") or []:
        out.setdefault(e["type"], {}).update({a["key"]: a["value"] for a in e["attributes"]})
    return out


def _tx_summary(raw: bytes, result: dict) -> dict:
    code = int(result.get("code", 0))
    summary = {"hash": txcodec.tx_hash(raw), "code": code, "code_name": NAMES.get(code, str(code)),
               "bytes": len(raw)}
    try:
        tx = txcodec.decode(raw)
        summary.update(type=tx.type, signer=tx.signer, nonce=tx.nonce)
        body = {k: v for k, v in tx.body.items() if k != "payloads"}  # ciphertext: shown by size only
        summary["body"] = body
    except Exception:
        summary["type"] = "undecodable"
    if code:
        summary["log"] = result.get("log", "")
    return summary


# --- command line ----------------------------------------------------------------------------
def _common(parser, default):
    parser.add_argument("--node", default=default, help="node RPC URL (default: first local testnet node)")
    parser.add_argument("--json", action="store_true", default=default, help="JSON output for scripts")
    parser.add_argument("--keys", default=default, help="key folder (default $MPCVOTE_KEYS or ~/.mpcvote/keys)")
    parser.add_argument("--genesis", default=default,
                        help="the chain's genesis file (validator keys are checked against it)")


class _Sub(argparse.ArgumentParser):
    """A subcommand parser that also takes the global options after the command."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        _common(self, argparse.SUPPRESS)


def _parser():
    p = argparse.ArgumentParser(prog="mpcvote", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p, None)
    p.set_defaults(json=False)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Sub)
    keys = sub.add_parser("keys", help="voter and creator keys").add_subparsers(dest="sub", required=True, parser_class=_Sub)
    keys.add_parser("new").add_argument("name")
    keys.add_parser("show").add_argument("name")
    keys.add_parser("list")
    poll = sub.add_parser("poll", help="create, close or show a poll").add_subparsers(dest="sub", required=True, parser_class=_Sub)
    c = poll.add_parser("create")
    c.add_argument("--key", required=True)
    c.add_argument("--question", required=True)
    c.add_argument("--kind", choices=("unanimity", "tally"), required=True)
    c.add_argument("--options", default="", help="comma-separated, for a tally")
    c.add_argument("--voters", default=None, help="comma-separated key names or public keys (default: open)")
    c.add_argument("--close-in", type=int, default=20, help="blocks from now (default 20)")
    c.add_argument("--max-ballots", type=int, default=10000)
    c.add_argument("--max-revotes", type=int, default=3)
    c.add_argument("--min-ballots", type=int, default=0)
    cl = poll.add_parser("close")
    cl.add_argument("poll", type=int)
    cl.add_argument("--key", required=True)
    poll.add_parser("show").add_argument("poll", type=int)
    sub.add_parser("polls", help="list polls")
    v = sub.add_parser("vote", help="secret-share and submit a ballot")
    v.add_argument("poll", type=int)
    v.add_argument("choice", help="yes|no for unanimity, an option for a tally")
    v.add_argument("--key", required=True)
    v.add_argument("--trust-node", action="store_true",
                   help="take the poll from the node's answer unverified (only a node you run yourself)")
    o = sub.add_parser("outcome", help="a poll's outcome")
    o.add_argument("poll", type=int)
    o.add_argument("--wait", action="store_true")
    o.add_argument("--timeout", type=float, default=300.0)
    sub.add_parser("validators", help="the validator registry")
    j = sub.add_parser("jobs", help="MPC job state of each local validator's worker")
    j.add_argument("--testnet", default=None, help="testnet folder (default $MPCVOTE_TESTNET or .testnet)")
    b = sub.add_parser("blocks", help="the latest blocks")
    b.add_argument("--last", type=int, default=10)
    sub.add_parser("block").add_argument("height", type=int)
    sub.add_parser("tx").add_argument("hash")
    sub.add_parser("verify-header", help="check a header against the genesis validators").add_argument(
        "height", type=int)
    sub.add_parser("verify-tx", help="prove a tx and its result against signed headers").add_argument("hash")
    t = sub.add_parser("txs", help="ballot txs of a poll (tx_search)")
    t.add_argument("--poll", type=int, required=True)
    t.add_argument("--page", type=int, default=1)
    from .explorer.cli import add_arguments as explorer_arguments
    explorer_arguments(sub.add_parser("explorer", help="serve the web explorer", conflict_handler="resolve"))
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.cmd == "explorer":     # a server, not a one-shot command: it takes several --node
        from .explorer.cli import run as run_explorer
        return run_explorer(args)
    keys = Path(args.keys or os.environ.get("MPCVOTE_KEYS", Path.home() / ".mpcvote" / "keys"))
    client = Client(args.node or default_node(), keys, args.genesis or default_genesis(),
                    progress=not args.json and sys.stderr.isatty(), session=Session(keys / ".session"))
    try:
        result, human = _run(client, args)
    except (CliError, RpcError, QueryError) as exc:
        code = getattr(exc, "code", None)
        if args.json:
            print(json.dumps({"error": str(exc), "code": code}))
        else:
            print(f"mpcvote: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else human)
    return 0


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
            res = client.create_poll(client.key(a.key), a.question, a.kind, opts, voters, a.close_in,
                                     max_ballots=a.max_ballots, max_revotes=a.max_revotes,
                                     min_ballots=a.min_ballots)
            return res, f"poll {res['poll']} created at height {res['height']} (tx {res['hash']})"
        if a.sub == "close":
            res = client.close_poll(client.key(a.key), a.poll)
            return res, f"poll {a.poll} closed at height {res['height']}"
        poll = client.query(f"/poll/{a.poll}")
        return poll, _human_poll(poll)
    if a.cmd == "polls":
        polls = client.query("/polls")["polls"]
        return polls, "\n".join(f"{p['id']:>4} {p['kind']:9} {p['status']:7} {p['ballots']:>6} ballots  {p['question']}"
                                for p in polls) or "(no polls)"
    if a.cmd == "vote":
        client.trust_node = a.trust_node
        res = client.vote(client.key(a.key), a.poll, a.choice)
        return res, f"ballot for poll {a.poll} committed at height {res['height']} (tx {res['hash']})"
    if a.cmd == "outcome":
        out = client.outcome(a.poll, wait=a.wait, timeout=a.timeout)
        return out, _human_outcome(out)
    if a.cmd == "validators":
        vals = client.query("/validators")["validators"]
        vals = [{k: v[k] for k in v if k != "tls_cert"} for v in vals]
        return vals, "\n".join(f"{v['index']:>2} {v['name']:8} power {v['power']:>3}  mpc {v['mpc_host']}:{v['mpc_port']}  "
                               f"attest {v['attest_key'][:16]}…" for v in vals)
    if a.cmd == "jobs":
        jobs = local_jobs(a.testnet)
        lines = [f"{j['validator']:8} poll {poll:>4}  {st['state']:9} attempt {st.get('attempt', '-')}  "
                 f"{st.get('reason', '')}" + (f" absent {st['absent']}" if st.get("absent") else "")
                 for j in jobs for poll, st in sorted(j["jobs"].items(), key=lambda kv: int(kv[0]))]
        return jobs, "\n".join(lines) or "(no jobs)"
    if a.cmd == "blocks":
        blocks = client.blocks(a.last)
        return blocks, "\n".join(f"{b['height']:>7} {b['time'][:23]} {b['txs']:>5} txs  app {b['app_hash'][:16]}…"
                                 for b in blocks)
    if a.cmd == "block":
        blk = client.block(a.height)
        lines = [f"block {blk['height']} {blk['hash']} at {blk['time']}, app hash {blk['app_hash']}"]
        lines += [f"  {t['hash'][:16]}… {t.get('type', '?'):15} {t['code_name']}" for t in blk["txs"]]
        lines += [f"  event {e}" for e in blk["events"]]
        return blk, "\n".join(lines)
    if a.cmd == "tx":
        t = client.tx(a.hash)
        return t, json.dumps(t, indent=2)
    if a.cmd == "verify-header":
        h = client.verify_header(a.height)
        return h, (f"header {h['height']} {h['hash']} verified: signed by {h['signed_power']} of "
                   f"{h['total_power']} genesis power\n  time {h['time']}, app hash {h['app_hash']}")
    if a.cmd == "verify-tx":
        t = client.verify_tx(a.hash)
        return t, (f"tx {t['hash']} verified in block {t['height']} (index {t['index']}): "
                   f"result {t['code_name']}" + (f", data {t['data']}" if t["data"] else ""))
    if a.cmd == "txs":
        res = client.txs(a.poll, a.page)
        return res, f"{res['total']} ballot txs\n" + "\n".join(
            f"{t['height']:>7} {t['hash'][:16]}… {t['signer'][:16]}… {t['code_name']}" for t in res["txs"])
    raise CliError(f"unknown command {a.cmd}")


def _human_poll(p):
    lines = [f"poll {p['id']}: {p['question']}", f"  kind {p['kind']}" + (f" options {', '.join(p['options'])}" if p["options"] else ""),
             f"  status {p['status']}, {p['ballots']} ballots, closes at height {p['close_height']}",
             f"  voters {'open to any key (anyone can make keys)' if p['open'] else str(p['eligible']) + ' listed'}",
             f"  validators {len(p['validators'])}, threshold t={p['threshold']}"]
    if p["result"]:
        lines.append(f"  result {json.dumps(p['result'].get('outcome') or p['result'])}")
    return "\n".join(lines)


def _human_outcome(o):
    if o["status"] in ("open", "closed"):
        return f"poll {o['id']}: {o['status']}, no outcome yet"
    r = o["result"]
    if r["status"] == "failed":
        return f"poll {o['id']}: FAILED ({r['code']}), absent validators {r.get('absent')}"
    return (f"poll {o['id']}: {json.dumps(r['outcome'])}  counted {r['counted']}, excluded {len(r['excluded'])}, "
            f"final at height {o['final_height']}, attested by {o['attesters']}")


if __name__ == "__main__":
    sys.exit(main())
