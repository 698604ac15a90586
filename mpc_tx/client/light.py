"""Check what one node says against the genesis validator set: a light client for a static set.

The chain's validator set never changes (a new chain to change it), so the trust
root is the genesis file itself: a header is trusted when its commit carries valid
signatures from more than 2/3 of the genesis voting power, and its
`validators_hash` and `next_validators_hash` are the genesis set's. There is no
trusting period to expire and no skipping between validator sets.

Everything is computed exactly as CometBFT v0.38 does (types/block.go Header.Hash,
types/vote.go VoteSignBytes, crypto/merkle, types/validation.go
VerifyCommitLight, types/results.go), over the classes generated from CometBFT's
own protos. Every check is total: bad input gives a VerifyError with a reason,
never another exception.
"""

import base64
import calendar
import functools
import hashlib
import re
import time
from dataclasses import dataclass

from google.protobuf import timestamp_pb2, wrappers_pb2

from abci_app.abci.pb import abci, canonical, keys as pbkeys, types as pbtypes, validator as pbvalidator, version
from mpc_tx.protocol.keys import verify as ed25519_verify
from mpc_tx.client.rpc import RpcError

__all__ = [
    "VerifyError",
    "ValidatorSet",
    "VerifiedHeader",
    "VerifiedTx",
    "merkle_root",
    "header_hash",
    "vote_sign_bytes",
    "verify_signed_header",
    "verify_tx_proof",
    "results_hash",
    "LightClient",
]

PRECOMMIT = 2  # tendermint.types.SignedMsgType
FLAG_ABSENT, FLAG_COMMIT, FLAG_NIL = 1, 2, 3
_INT64_MAX = 2**63 - 1
_MAX_AUNTS = 64  # a tree of 2^63 leaves has fewer levels: deeper proofs are junk
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


class VerifyError(Exception):
    """What a node said does not verify against the genesis validator set; the message says why."""


def _total(what):
    """Turn any exception from malformed input into a VerifyError naming `what`."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (VerifyError, RpcError):
                raise
            except Exception as exc:  # malformed node answers: any shape, any type
                raise VerifyError(f"malformed {what}: {type(exc).__name__}: {exc}"[:300]) from None

        return run

    return wrap


# --- field parsing: the node's JSON, strictly ------------------------------------------
def _hex(text, name, size=None) -> bytes:
    if not isinstance(text, str) or (text and not re.fullmatch(r"[0-9A-Fa-f]*", text)) or len(text) % 2:
        raise VerifyError(f"{name} is not hex")
    raw = bytes.fromhex(text)
    if size is not None and len(raw) not in (0, size):
        raise VerifyError(f"{name} is {len(raw)} bytes, not {size}")
    return raw


def _b64(text, name) -> bytes:
    if text is None:
        return b""
    if not isinstance(text, str):
        raise VerifyError(f"{name} is not base64")
    return base64.b64decode(text, validate=True)


def _int(value, name, low=0, high=_INT64_MAX) -> int:
    # CometBFT writes int64 as JSON strings and int32 as numbers; accept both, nothing else.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise VerifyError(f"{name} is not an integer")
    if isinstance(value, str) and not re.fullmatch(r"-?\d{1,20}", value):
        raise VerifyError(f"{name} is not an integer")
    number = int(value)
    if not low <= number <= high:
        raise VerifyError(f"{name} {number} is out of range")
    return number


def _time(text, name) -> tuple[int, int]:
    """Return (seconds, nanos) of an RFC 3339 UTC time as CometBFT writes it."""
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise VerifyError(f"{name} is not an RFC 3339 UTC time")
    year, month, day, hour, minute, second, frac = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31 and int(hour) < 24 and int(minute) < 60 and int(second) < 60):
        raise VerifyError(f"{name} is not a valid time")
    return seconds, int((frac or "0").ljust(9, "0"))


# --- Merkle trees (RFC 6962 style, as crypto/merkle) ------------------------------------
def _leaf(item: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + item).digest()


def _inner(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    k = 1 << (n.bit_length() - 1)
    return k >> 1 if k == n else k


def merkle_root(items: list) -> bytes:
    """Return HashFromByteSlices(items): the Merkle root CometBFT computes."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return _leaf(items[0])
    k = _split(len(items))
    return _inner(merkle_root(items[:k]), merkle_root(items[k:]))


def _root_from_aunts(index: int, total: int, leaf_hash: bytes, aunts: list) -> bytes:
    if total == 1:
        if aunts:
            raise VerifyError("proof has aunts for a single leaf")
        return leaf_hash
    if not aunts:
        raise VerifyError("proof is missing aunts")
    k = _split(total)
    if index < k:
        return _inner(_root_from_aunts(index, k, leaf_hash, aunts[:-1]), aunts[-1])
    return _inner(aunts[-1], _root_from_aunts(index - k, total - k, leaf_hash, aunts[:-1]))


# --- the validator set ------------------------------------------------------------------
@dataclass(frozen=True)
class Validator:
    address: bytes
    pub_key: bytes
    power: int


class ValidatorSet:
    """The genesis validators in CometBFT's set order: power descending, then address."""

    def __init__(self, validators: list):
        self.validators = sorted(validators, key=lambda v: (-v.power, v.address))
        self.total = sum(v.power for v in self.validators)
        self.hash = merkle_root(
            [
                pbvalidator.SimpleValidator(
                    pub_key=pbkeys.PublicKey(ed25519=v.pub_key), voting_power=v.power
                ).SerializeToString()
                for v in self.validators
            ]
        )

    @classmethod
    @_total("genesis validators")
    def from_genesis(cls, genesis: dict) -> "ValidatorSet":
        entries = genesis.get("validators") or []
        if not entries:
            raise VerifyError("the genesis file lists no validators")
        out = []
        for i, entry in enumerate(entries):
            if entry["pub_key"]["type"] != "tendermint/PubKeyEd25519":
                raise VerifyError(f"genesis validator {i} has a {entry['pub_key']['type']} key; only ed25519")
            pub = _b64(entry["pub_key"]["value"], f"genesis validator {i} key")
            if len(pub) != 32:
                raise VerifyError(f"genesis validator {i} key is not 32 bytes")
            address = hashlib.sha256(pub).digest()[:20]  # crypto/ed25519 Address()
            if entry.get("address") and _hex(entry["address"], "address") != address:
                raise VerifyError(f"genesis validator {i} address does not match its key")
            out.append(Validator(address, pub, _int(entry["power"], f"genesis validator {i} power", 1)))
        if len({v.address for v in out}) != len(out):
            raise VerifyError("the genesis file lists a validator twice")
        return cls(out)

    def __len__(self):
        return len(self.validators)


# --- headers and commits ----------------------------------------------------------------
def _block_id(doc, name):
    block_id = pbtypes.BlockID(hash=_hex(doc.get("hash", ""), f"{name} hash", 32))
    # gogoproto non-nullable: the part set header is always encoded, even when empty.
    block_id.part_set_header.SetInParent()
    parts = doc.get("parts") or {}
    block_id.part_set_header.total = _int(parts.get("total", 0), f"{name} parts total", 0, 2**32 - 1)
    block_id.part_set_header.hash = _hex(parts.get("hash", ""), f"{name} parts hash", 32)
    return block_id


@_total("header")
def header_hash(header: dict) -> bytes:
    """Return Header.Hash() of a header as the RPC writes it (/commit, /block)."""
    ver = version.Consensus(
        block=_int(header["version"]["block"], "version.block", 0, 2**64 - 1),
        app=_int(header["version"].get("app", "0"), "version.app", 0, 2**64 - 1),
    )
    seconds, nanos = _time(header["time"], "header time")

    def hashed(field, size=32):
        return wrappers_pb2.BytesValue(value=_hex(header[field], field, size)).SerializeToString()

    return merkle_root(
        [
            ver.SerializeToString(),
            wrappers_pb2.StringValue(value=header["chain_id"]).SerializeToString(),
            wrappers_pb2.Int64Value(value=_int(header["height"], "height")).SerializeToString(),
            timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).SerializeToString(),
            _block_id(header["last_block_id"], "last_block_id").SerializeToString(),
            hashed("last_commit_hash"),
            hashed("data_hash"),
            hashed("validators_hash"),
            hashed("next_validators_hash"),
            hashed("consensus_hash"),
            hashed("app_hash", None),
            hashed("last_results_hash"),
            hashed("evidence_hash"),
            hashed("proposer_address", 20),
        ]
    )


def vote_sign_bytes(chain_id: str, height: int, round_: int, block_id: dict, timestamp: str) -> bytes:
    """Return the bytes a validator signs for a precommit: the length-delimited CanonicalVote."""
    bid = _block_id(block_id, "commit block_id")
    vote = canonical.CanonicalVote(type=PRECOMMIT, height=height, round=round_, chain_id=chain_id)
    vote.block_id.hash = bid.hash
    vote.block_id.part_set_header.SetInParent()
    vote.block_id.part_set_header.total = bid.part_set_header.total
    vote.block_id.part_set_header.hash = bid.part_set_header.hash
    vote.timestamp.SetInParent()  # non-nullable as well
    vote.timestamp.seconds, vote.timestamp.nanos = _time(timestamp, "signature timestamp")
    body = vote.SerializeToString()
    return _uvarint(len(body)) + body


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


@dataclass(frozen=True)
class VerifiedHeader:
    """A header signed by more than 2/3 of the genesis power."""

    height: int
    hash: bytes
    time: str
    app_hash: bytes
    data_hash: bytes
    last_results_hash: bytes
    signed_power: int
    total_power: int
    header: dict


@_total("signed header")
def verify_signed_header(vals: ValidatorSet, chain_id: str, signed_header: dict, height=None) -> VerifiedHeader:
    """Check a /commit answer's signed header against the genesis set; return it verified or raise VerifyError."""
    header, commit = signed_header["header"], signed_header["commit"]
    if header["chain_id"] != chain_id:
        raise VerifyError(f"header is for chain {header['chain_id']!r}, the genesis file for {chain_id!r}")
    h = _int(header["height"], "header height", 1)
    if height is not None and h != height:
        raise VerifyError(f"asked for the header at height {height}, got height {h}")
    if _int(commit["height"], "commit height", 1) != h:
        raise VerifyError(f"commit is for height {commit['height']}, header for {h}")
    for field in ("validators_hash", "next_validators_hash"):
        if _hex(header[field], field, 32) != vals.hash:
            raise VerifyError(
                f"header {h} {field} {header[field]} is not the genesis validator set's {vals.hash.hex().upper()}"
            )
    computed = header_hash(header)
    if _hex(commit["block_id"]["hash"], "commit block hash", 32) != computed:
        raise VerifyError(
            f"header {h} hashes to {computed.hex().upper()}, but the commit signs "
            f"{commit['block_id']['hash']}: the header was altered"
        )
    sigs = commit["signatures"]
    if not isinstance(sigs, list) or len(sigs) != len(vals):
        raise VerifyError(
            f"commit {h} has {len(sigs) if isinstance(sigs, list) else 'no'} signatures "
            f"for {len(vals)} genesis validators"
        )
    round_ = _int(commit["round"], "commit round", 0, 2**31 - 1)
    needed, tallied = vals.total * 2 // 3, 0
    for idx, sig in enumerate(sigs):
        flag = _int(sig["block_id_flag"], "block_id_flag", FLAG_ABSENT, FLAG_NIL)
        if flag != FLAG_COMMIT:
            continue  # absent, or a vote for nil: counts for nothing
        val = vals.validators[idx]
        if _hex(sig["validator_address"], "validator address", 20) != val.address:
            raise VerifyError(
                f"commit {h} signature {idx} is from {sig['validator_address']}, the genesis "
                f"set has {val.address.hex().upper()} there"
            )
        signature = _b64(sig["signature"], f"signature {idx}")
        msg = vote_sign_bytes(chain_id, h, round_, commit["block_id"], sig["timestamp"])
        if not ed25519_verify(val.pub_key.hex(), signature, msg):
            raise VerifyError(f"commit {h} signature {idx} ({val.address.hex().upper()}) does not verify")
        tallied += val.power
        if tallied > needed:
            # As CometBFT's VerifyCommitLight: enough power seen, the rest is not checked.
            return VerifiedHeader(
                h,
                computed,
                header["time"],
                _hex(header["app_hash"], "app_hash"),
                _hex(header["data_hash"], "data_hash", 32),
                _hex(header["last_results_hash"], "last_results_hash", 32),
                tallied,
                vals.total,
                header,
            )
    raise VerifyError(f"commit {h} is signed by {tallied} of {vals.total} voting power; more than {needed} is needed")


# --- txs and their results ----------------------------------------------------------------
@_total("tx proof")
def verify_tx_proof(proof: dict, data_hash: bytes, tx_hash: bytes) -> tuple[bytes, int, int]:
    """Check a /tx?prove=true proof against a trusted data_hash; return (tx, index, total)."""
    tx = _b64(proof["data"], "proof data")
    if hashlib.sha256(tx).digest() != tx_hash:
        raise VerifyError(f"the proven tx does not hash to {tx_hash.hex().upper()}")
    inner = proof["proof"]
    total = _int(inner["total"], "proof total", 1)
    index = _int(inner["index"], "proof index", 0, total - 1)
    aunts = [_b64(a, "aunt") for a in inner.get("aunts") or []]
    if len(aunts) > _MAX_AUNTS or any(len(a) != 32 for a in aunts):
        raise VerifyError("proof aunts are malformed")
    leaf = _leaf(tx_hash)  # the tree's leaves are the txs' hashes
    if _b64(inner["leaf_hash"], "leaf hash") != leaf:
        raise VerifyError("proof leaf hash is not the tx's")
    if _root_from_aunts(index, total, leaf, aunts) != data_hash:
        raise VerifyError("tx proof does not lead to the trusted header's data_hash")
    return tx, index, total


def _deterministic(result: dict) -> bytes:
    return abci.ExecTxResult(
        code=_int(result.get("code", 0), "code", 0, 2**32 - 1),
        data=_b64(result.get("data"), "result data"),
        gas_wanted=_int(result.get("gas_wanted", "0"), "gas_wanted", -(2**63)),
        gas_used=_int(result.get("gas_used", "0"), "gas_used", -(2**63)),
    ).SerializeToString()


@_total("block results")
def results_hash(txs_results) -> bytes:
    """Return the last_results_hash CometBFT computes: code, data, gas_wanted, gas_used of each result."""
    return merkle_root([_deterministic(r) for r in txs_results or []])


@dataclass(frozen=True)
class VerifiedTx:
    """A committed tx and its result (code, data), both proven against trusted headers."""

    hash: str
    height: int
    index: int
    tx: bytes
    code: int
    data: bytes
    log: str  # not covered by any hash: shown, never relied on


# --- the client -------------------------------------------------------------------------------
class LightClient:
    """Read headers, txs and results from one node and verify each against the genesis set."""

    def __init__(self, rpc, genesis: dict, wait_next=30.0):
        self.rpc = rpc
        self.chain_id = genesis.get("chain_id") if isinstance(genesis, dict) else None
        if not isinstance(self.chain_id, str) or not self.chain_id:
            raise VerifyError("the genesis file has no chain_id")
        self.vals = ValidatorSet.from_genesis(genesis)
        self.wait_next = wait_next  # how long to wait for the block after a tx's (its results' header)
        self.calls = 0  # RPC calls made, for cost reports
        self._headers = {}

    def __repr__(self):
        return f"LightClient({self.rpc.url}, {self.chain_id})"

    def _call(self, method, **params):
        self.calls += 1
        return self.rpc.call(method, **params)

    def header(self, height: int) -> VerifiedHeader:
        """Return the verified header at `height` (cached: a verified header never changes)."""
        if height not in self._headers:
            try:
                answer = self._call("commit", height=str(height))
                signed = answer["signed_header"]
            except RpcError:
                raise
            except Exception:
                raise VerifyError(f"{self.rpc.url} gave no signed header for height {height}") from None
            self._headers[height] = verify_signed_header(self.vals, self.chain_id, signed, height)
        return self._headers[height]

    def latest(self) -> VerifiedHeader:
        """Return the node's latest header, verified."""
        try:
            signed = self._call("commit")["signed_header"]
        except RpcError:
            raise
        except Exception:
            raise VerifyError(f"{self.rpc.url} gave no signed header") from None
        verified = verify_signed_header(self.vals, self.chain_id, signed)
        self._headers.setdefault(verified.height, verified)
        return verified

    def _next_header(self, height: int) -> VerifiedHeader:
        # A block's results are hashed into the next block's header: wait (bounded) for it.
        deadline = time.monotonic() + self.wait_next
        while True:
            try:
                return self.header(height + 1)
            except RpcError as exc:
                if "must be less than or equal to" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def tx(self, tx_hash: str) -> VerifiedTx:
        """Return a committed tx with its result, proven against headers signed by the genesis set."""
        try:
            want = bytes.fromhex(tx_hash.removeprefix("0x"))
        except (AttributeError, ValueError):
            raise VerifyError(f"{tx_hash!r} is not a tx hash") from None
        if len(want) != 32:
            raise VerifyError(f"{tx_hash!r} is not a tx hash")
        answer = self._call("tx", hash=base64.b64encode(want).decode(), prove=True)
        return self._check_tx(answer, want)

    @_total("tx answer")
    def _check_tx(self, answer: dict, want: bytes) -> VerifiedTx:
        height = _int(answer["height"], "tx height", 1)
        index = _int(answer["index"], "tx index", 0, 2**32 - 1)
        tx, proven_index, total = verify_tx_proof(answer["proof"], self.header(height).data_hash, want)
        if proven_index != index:
            raise VerifyError(f"the node says tx index {index}, its proof is for index {proven_index}")
        results = self._call("block_results", height=str(height)).get("txs_results") or []
        if results_hash(results) != self._next_header(height).last_results_hash:
            raise VerifyError(
                f"block_results of height {height} do not match the last_results_hash "
                f"of the verified header {height + 1}"
            )
        # The results' count is now proven, and with it which leaf the tx proof's index names.
        if len(results) != total:
            raise VerifyError(f"the tx proof counts {total} txs, block {height} has {len(results)} results")
        result = results[index]
        if _deterministic(answer["tx_result"]) != _deterministic(result):
            raise VerifyError(f"the node's /tx result for {want.hex().upper()} differs from the verified block results")
        return VerifiedTx(
            want.hex().upper(),
            height,
            index,
            tx,
            _int(result.get("code", 0), "code"),
            _b64(result.get("data"), "data"),
            str(result.get("log", "")),
        )
