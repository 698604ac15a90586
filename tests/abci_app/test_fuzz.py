"""Fuzzing the codec and the application: generated and mutated txs through decode, CheckTx, FinalizeBlock.

Each example builds a small chain with real keys (polls open, full-ish and
closed, verifiable ballots, a revote, a complaint, an attestation), draws a batch
of txs and runs every one through `tx.decode`, then CheckTx, then one
FinalizeBlock and Commit. A tx starts as a valid tx of one of the five types (or a synthetic one with random
body fields), is mutated as a document (fields deleted, inserted, retyped, huge,
nested, unicode, wrong lengths...), is re-signed or not (re-signing lets a
mutation reach the state rules instead of stopping at the signature), is written
canonically or not (spacing, key order, escapes), and is mutated as bytes
(bit flips, truncation, splices, duplicate keys, floats, bad UTF-8...). Another
property feeds pure random bytes and random JSON documents.

Properties: nothing raises; CheckTx and FinalizeBlock answer every tx, with one
result per tx; a rejection has a non-zero code from `codes.NAMES` (never
INTERNAL) and a non-empty log, the same code in CheckTx and FinalizeBlock; a
block of only rejected txs leaves the app hash and every stored key unchanged;
an identical app that never saw the txs in CheckTx (nothing cached) reaches the
same results and app hash.

Hypothesis runs derandomized with a bounded number of examples (well over
10,000 txs); `scripts/fuzz` runs the same properties longer with a random seed.
"""

import collections
import copy
import hashlib
import json
import os
import random
import re
import tempfile

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mpc_tx.protocol import codes
from mpc_tx.protocol.codes import TxError
from mpc_tx.protocol import canonical, tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.protocol.seeded import SeededScalars

from apphelpers import Chain, aggregate_body, attested_result, ballot_body, complaint_body, poll_body, CHAIN

# Counters over the whole run, for the total check below and for scripts/fuzz.
DRIVEN = collections.Counter()
CODES = collections.Counter()

MUTATED_EXAMPLES = 400
RANDOM_EXAMPLES = 200
BATCH = (16, 24)  # txs per block in the mutated property
RANDOM_BATCH = (16, 32)  # in the random-bytes property
MIN_TXS = 10_000

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


def fuzz_settings(examples, **overrides):
    """Return the settings of a bounded, reproducible run (scripts/fuzz overrides them)."""
    options = dict(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=HEALTH,
        print_blob=False,
    )
    options.update(overrides)
    return settings(**options)


# Worlds live in memory where there is a tmpfs: each example commits six blocks, each
# with a synced write, and the disk is not what is under test.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


# --- keys and the chain every example starts from ------------------------------------


def key(name: str) -> SigningKey:
    """Return a fixed key per name, so an example's bytes are the same on every run."""
    return SigningKey.from_seed(hashlib.sha256(b"mpcvote/fuzz/" + name.encode()).digest())


KEY_NAMES = [
    "creator",
    "outsider",
    "voter0",
    "voter1",
    "voter2",
    "voter3",
    "validator0",
    "validator1",
    "validator2",
    "validator3",
]
KEYS = {name: key(name) for name in KEY_NAMES}
BY_HEX = {k.public_hex: k for k in KEYS.values()}
FAR = 1000  # close height of the world's polls: nothing is due while an example runs
# Ballots by (voter, poll, values, n): built once from a seed, so every world holds the same bytes
# (the poll contexts are the same: same chain id, same registry) and building is paid once.
BALLOTS = {}


class World:
    """A fresh chain whose state lets each tx type meet each of its rules.

    poll 1: unanimity, voters 0-2 listed, one revote allowed; voter0 has used it.
    poll 2: tally over a,b,c, open, max_ballots 3, no revotes; voters 1 and 2 voted.
    poll 3: unanimity, open, closed early by its creator with 2 ballots, its counted set fixed;
            validator 0 attested.
    poll 4: tally over a,b, open, closed early by its creator with 3 ballots, its counted set fixed;
            validator 0 posted its aggregate pairs (t = 2: two more valid posts open it).
    Validator 1 complained, falsely, about voter2's ballot in poll 2.
    """

    def __init__(self, home):
        # A floor of 1: poll 3's outcome over its 2 ballots may be revealed (the fuzz needs one valid outcome).
        c = self.chain = Chain(home, params={"min_ballots_floor": 1})
        for i, entry in enumerate(c.registry):  # fixed keys (the registry is the genesis'): same state
            c.attest[i] = KEYS[f"validator{i}"]  # and app hash in every world
            entry["attest_key"] = c.attest[i].public_hex
            seed = hashlib.sha256(b"mpcvote/fuzz/consensus%d" % i).digest()
            consensus = bytes(nacl.signing.SigningKey(seed).verify_key)  # a valid ed25519 point
            c.register(i, consensus, rng=SeededScalars(b"mpcvote/fuzz/enc%d" % i))
        self.rng = random.Random(0)
        v = [KEYS[f"voter{i}"] for i in range(4)]
        creator = KEYS["creator"]
        c.init()
        c.block()
        listed = sorted(k.public_hex for k in v[:3])
        self._ok(
            c.block(
                c.tx(creator, "create_poll", poll_body(FAR, voters=listed, max_revotes=1)),
                c.tx(
                    creator,
                    "create_poll",
                    poll_body(FAR, kind="tally", options=["a", "b", "c"], max_ballots=3, max_revotes=0),
                ),
                c.tx(creator, "create_poll", poll_body(FAR, min_ballots=1)),
                c.tx(creator, "create_poll", poll_body(FAR + 1, kind="tally", options=["a", "b"])),
            )
        )
        self._ok(
            c.block(
                self.ballot(v[0], 1),
                self.ballot(v[1], 2),
                self.ballot(v[2], 2),
                self.ballot(v[0], 3),
                self.ballot(v[1], 3),
                *[self.ballot(v[i], 4) for i in range(3)],
            )
        )
        self.replaced = c.query(f"/poll/1/ballot/{v[0].public_hex}")[1]["tx"]
        self._ok(c.block(c.tx(c.attest[1], "complain", complaint_body(c, 2, 1, v[2].public_hex, rng=self.seeded()))))
        self._ok(
            c.block(
                self.ballot(v[0], 1, values=[0]),
                c.tx(creator, "close_poll", {"poll": 3}),
                c.tx(creator, "close_poll", {"poll": 4}),
            )
        )
        while c.query("/poll/3")[1]["counted_fixed_height"] is None:
            c.block()
        self.digest = c.query("/poll/3")[1]["ballots_digest"]
        self.ballot_tx = c.query(f"/poll/3/ballot/{v[0].public_hex}")[1]["tx"]
        self._ok(
            c.block(
                c.tx(c.attest[0], "submit_outcome", {"poll": 3, "validator": 0, "result": self.result_ok()}),
                c.tx(c.attest[0], "aggregate", aggregate_body(c, 4, 0)),
            )
        )
        self.committed = dict(c.nonces)

    @staticmethod
    def _ok(res):
        assert [r.code for r in res.tx_results] == [0] * len(res.tx_results), [r.log for r in res.tx_results]

    @staticmethod
    def seeded():
        return SeededScalars(b"mpcvote/fuzz/complaint")

    def body(self, voter, poll_id, values=None, n=0):
        """A cast_ballot body with a real ballot, the same bytes in every world."""
        key = (voter.public_hex, poll_id, tuple(values or ()), n)
        if key not in BALLOTS:
            poll = self.chain.query(f"/poll/{poll_id}")[1]
            seed = SeededScalars(repr(key).encode())
            BALLOTS[key] = ballot_body(poll, voter, values, rng=seed)
        return copy.deepcopy(BALLOTS[key])

    def ballot(self, voter, poll_id, values=None):
        return self.chain.tx(voter, "cast_ballot", self.body(voter, poll_id, values))

    def complaint(self, i, voter, poll_id):
        return complaint_body(self.chain, poll_id, i, voter.public_hex, rng=self.seeded())

    def result_ok(self):
        return attested_result(self.chain, 3)

    def result_failed(self):
        return {"status": "failed", "code": "inconsistent_shares", "absent": [], "ballots": self.digest}

    def base(self, name):
        """Return (key, type, body) of a named starting tx, valid or refused for one rule."""
        h, k = self.chain.height, KEYS
        table = {
            "create_poll": (k["creator"], "create_poll", poll_body(h + 50, max_ballots=10)),
            "create_tally": (
                k["outsider"],
                "create_poll",
                poll_body(
                    h + 50,
                    kind="tally",
                    options=["x", "y"],
                    min_ballots=1,
                    voters=sorted([k["voter3"].public_hex, k["outsider"].public_hex]),
                ),
            ),
            "ballot": (k["voter1"], "cast_ballot", self.body(k["voter1"], 1)),
            "ballot_tally": (k["voter3"], "cast_ballot", self.body(k["voter3"], 2)),
            "ballot_tally_late": (k["outsider"], "cast_ballot", self.body(k["outsider"], 2)),
            "ballot_revote_cap": (k["voter0"], "cast_ballot", self.body(k["voter0"], 1, n=1)),
            "ballot_not_eligible": (k["outsider"], "cast_ballot", self.body(k["outsider"], 1)),
            "ballot_closed": (k["voter2"], "cast_ballot", self.body(k["voter2"], 3)),
            "ballot_other_poll": (k["voter2"], "cast_ballot", dict(self.body(k["voter2"], 2), poll=1)),
            "complain": (k["validator2"], "complain", self.complaint(2, k["voter0"], 1)),
            "complain_moot": (
                k["validator3"],
                "complain",
                dict(self.complaint(3, k["voter0"], 1), ballot_tx=self.replaced),
            ),
            "complain_again": (k["validator1"], "complain", self.complaint(1, k["voter2"], 2)),
            "complain_unknown": (
                k["validator0"],
                "complain",
                dict(self.complaint(0, k["voter2"], 2), ballot_tx=self.ballot_tx),
            ),
            "complain_late": (k["validator0"], "complain", self.complaint(0, k["voter0"], 3)),
            "close_poll": (k["creator"], "close_poll", {"poll": 1}),
            "close_not_creator": (k["voter2"], "close_poll", {"poll": 2}),
            "attest": (k["validator1"], "submit_outcome", {"poll": 3, "validator": 1, "result": self.result_ok()}),
            "attest_failed": (
                k["validator2"],
                "submit_outcome",
                {"poll": 3, "validator": 2, "result": self.result_failed()},
            ),
            "attest_again": (
                k["validator0"],
                "submit_outcome",
                {"poll": 3, "validator": 0, "result": self.result_ok()},
            ),
            "attest_open_poll": (
                k["validator3"],
                "submit_outcome",
                {"poll": 2, "validator": 3, "result": self.result_ok()},
            ),
            "aggregate": (k["validator2"], "aggregate", aggregate_body(self.chain, 4, 2)),
            "aggregate_named": (k["validator3"], "aggregate", dict(aggregate_body(self.chain, 4, 1), validator=3)),
            "aggregate_again": (k["validator0"], "aggregate", aggregate_body(self.chain, 4, 0)),
            "aggregate_early": (k["validator1"], "aggregate", {"poll": 2, "validator": 1, "pairs": "01" * 192}),
            "aggregate_unanimity": (k["validator0"], "aggregate", {"poll": 3, "validator": 0, "pairs": "01" * 64}),
        }
        return table[name]

    def close(self):
        self.chain.app.close()


# The starting txs of World.base and their types (the table's order is the order CheckTx meets them in
# test_world_bases_meet_their_rules).
BASE_TYPES = {
    "create_poll": "create_poll",
    "create_tally": "create_poll",
    "ballot": "cast_ballot",
    "ballot_tally": "cast_ballot",
    "ballot_tally_late": "cast_ballot",
    "ballot_revote_cap": "cast_ballot",
    "ballot_not_eligible": "cast_ballot",
    "ballot_closed": "cast_ballot",
    "ballot_other_poll": "cast_ballot",
    "complain": "complain",
    "complain_moot": "complain",
    "complain_again": "complain",
    "complain_unknown": "complain",
    "complain_late": "complain",
    "close_poll": "close_poll",
    "close_not_creator": "close_poll",
    "attest": "submit_outcome",
    "attest_failed": "submit_outcome",
    "attest_again": "submit_outcome",
    "attest_open_poll": "submit_outcome",
    "aggregate": "aggregate",
    "aggregate_named": "aggregate",
    "aggregate_again": "aggregate",
    "aggregate_early": "aggregate",
    "aggregate_unanimity": "aggregate",
}
BASES = tuple(BASE_TYPES)


# --- writing documents that canonical JSON cannot (or must not) hold -----------------


class Raw(str):
    """JSON text put into a document verbatim: deep nesting, 5000-digit integers."""


def write(value, style="canonical") -> bytes:
    """Write a document as JSON text in a given style; 'canonical' matches canonical.encode for plain data."""
    item_sep, key_sep = {
        "canonical": (",", ":"),
        "unsorted": (",", ":"),
        "ascii": (",", ":"),
        "spaced": (", ", ": "),
        "indented": (",\n ", ": "),
    }[style]
    ascii_only = style == "ascii"

    def w(v):
        if isinstance(v, Raw):
            return str(v)
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return json.dumps(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=ascii_only)
        if isinstance(v, list):
            return "[" + item_sep.join(w(x) for x in v) + "]"
        keys = list(reversed(list(v))) if style == "unsorted" else sorted(v)
        return "{" + item_sep.join(json.dumps(k, ensure_ascii=ascii_only) + key_sep + w(v[k]) for k in keys) + "}"

    return w(value).encode("utf-8", "surrogatepass")


# --- mutations -----------------------------------------------------------------------


def weighted(*choices):
    """Choose among (weight, strategy) pairs; st.one_of gives equal branches and merges equal ones."""
    table = [i for i, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda i: choices[i][1])


HUGE = [
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    10**30,
    -(10**30),
    Raw("9" * 5000),
    Raw("1" + "0" * 4300),
    Raw("-" + "7" * 4400),
]
HUGE_VALUES = st.sampled_from(range(len(HUGE))).map(HUGE.__getitem__)  # (a short repr in reports)
FIELDS = (
    "question",
    "kind",
    "options",
    "voters",
    "close_height",
    "max_ballots",
    "max_revotes",
    "min_ballots",
    "poll",
    "m",
    "t",
    "k",
    "ballot",
    "validator",
    "voter",
    "ballot_tx",
    "complaint",
    "pairs",
    "threshold",
    "result",
    "status",
    "outcome",
    "counted",
    "excluded",
    "unusable",
    "ballots",
    "code",
    "absent",
    "unanimous",
    "tally",
    "withheld",
)
BODY_FIELDS = {
    "create_poll": FIELDS[:8] + ("threshold",),
    "cast_ballot": ("poll", "m", "t", "k", "ballot"),
    "close_poll": ("poll",),
    "submit_outcome": ("poll", "validator", "result"),
    "complain": ("poll", "validator", "voter", "ballot_tx", "complaint"),
    "aggregate": ("poll", "validator", "pairs"),
}

SCALARS = st.sampled_from(
    [
        0,
        1,
        -1,
        2,
        3,
        4,
        99,
        True,
        False,
        None,
        "",
        " ",
        "a",
        "ok",
        "failed",
        "tally",
        "unanimity",
        "inconsistent_shares",
        "deadline",
        "00",
        "0" * 64,
        "f" * 128,
        "F" * 64,
        "é",
        "\u202e",
        "\x00",
        "𝕏" * 3,
        2**63 - 1,
        -(2**63),
        1.0,
        0.5,
        -0.0,
        1e308,
        float("inf"),
        float("nan"),
    ]
)
WEIRD = st.one_of(
    SCALARS,
    st.sampled_from(
        [
            [],
            {},
            [[1]],
            [1, "a"],
            [1, 1],
            [2, 1],
            [0, 1],
            [True],
            [None],
            [[]],
            [[], [], [], []],
            [[0], [], [], []],
            [[1, 0], [], [], []],
            {"status": "ok"},
            {"unanimous": True},
            {"withheld": True},
            {"tally": {"a": 1}},
            {"a": 1, "b": 0},
            ["a", "b"],
            ["a", "a"],
        ]
    ),
    HUGE_VALUES,
    st.integers(),
    st.text(max_size=24),
    st.lists(st.integers(-2, 5), max_size=5),
    st.binary(max_size=48).map(bytes.hex),
    st.dictionaries(st.sampled_from(FIELDS), st.integers(-1, 3) | st.text(max_size=4), max_size=4),
)
RESULT_FIELDS = ("status", "outcome", "counted", "excluded", "unusable", "ballots", "code", "absent")
INDEX_LIST = st.lists(
    st.one_of(st.integers(-1, 4), st.booleans(), st.none(), st.text(max_size=2), st.just([1]), st.just({})), max_size=4
)
SIMPLE_INDICES = st.lists(st.integers(0, 2), max_size=2, unique=True).map(sorted)
RESULT_VALUES = st.one_of(INDEX_LIST, st.lists(INDEX_LIST, max_size=5), WEIRD.map(lambda v: v))
DIGEST = "<ballots digest of poll 3>"  # replaced by the world's
BALLOT_TX = "<tx of voter0's ballot in poll 3>"  # replaced by the world's
TEXT = st.text(max_size=12)


def near(*valid):
    """Mostly one of the given (near-valid) values, one time in six anything at all."""
    return weighted((5, st.one_of(*valid)), (1, WEIRD))


# Body fields near their valid values, so that synthetic txs get past the codec to the state rules.
RESULT_OK = {
    "status": near(st.just("ok")),
    "outcome": near(
        st.fixed_dictionaries({"unanimous": st.booleans()}),
        st.just({"withheld": True}),
        st.fixed_dictionaries({"tally": st.dictionaries(st.sampled_from("abc"), st.integers(-1, 3))}),
    ),
    "counted": near(st.integers(-1, 3), st.booleans()),
    "excluded": near(SIMPLE_INDICES, INDEX_LIST),
    "unusable": near(st.lists(SIMPLE_INDICES, min_size=3, max_size=5), st.lists(INDEX_LIST, max_size=5)),
    "ballots": near(st.sampled_from([DIGEST, DIGEST, "00" * 32])),
}
RESULT_FAILED = {
    "status": near(st.just("failed")),
    "code": near(st.sampled_from(["inconsistent_shares", "party_absent", "deadline"])),
    "absent": near(SIMPLE_INDICES, INDEX_LIST),
    "ballots": RESULT_OK["ballots"],
}
FIELD_VALUES = {
    "question": near(
        TEXT,
        st.sampled_from(["Ship?", " "]),
        st.sampled_from([("x", 1000), ("x", 1001), ("é", 500), ("é", 501)]).map(lambda a: a[0] * a[1]),
    ),
    "kind": near(st.sampled_from(["unanimity", "tally"])),
    "options": near(
        st.just([]),
        st.lists(
            st.sampled_from(["a", "b", "c", "a", "", " ", "é" * 32, "é" * 33] + [f"o{i}" for i in range(17)]),
            max_size=18,
        ),
    ),
    "voters": near(
        st.none(),
        st.lists(st.sampled_from(sorted(BY_HEX)), max_size=4),
        st.lists(st.sampled_from(sorted(BY_HEX)), max_size=4, unique=True).map(sorted),
    ),
    "close_height": near(st.integers(-1, 12), st.sampled_from([100, 100_006, 100_007, 100_008, 2**63 - 1])),
    "max_ballots": near(st.integers(-1, 4), st.sampled_from([1_000_000, 1_000_001])),
    "max_revotes": near(st.integers(-1, 3), st.sampled_from([16, 17])),
    "min_ballots": near(st.integers(-1, 5)),
    "poll": near(st.integers(-1, 5)),
    "m": near(st.sampled_from([4, 4, 3, 5, 0, 1024, 1025])),
    "t": near(st.sampled_from([1, 1, 0, 2, 3, 4])),
    "k": near(st.sampled_from([1, 3, 2, 0, 16, 17])),
    "ballot": near(st.sampled_from([0, 1, 608, 609, 610, 1568, 1569, 1570]).map(lambda n: "ab" * n)),
    "threshold": near(st.sampled_from([None, None, 1, 0, 2])),
    "voter": near(st.sampled_from(sorted(BY_HEX))),
    "ballot_tx": near(st.sampled_from([BALLOT_TX, BALLOT_TX, "AB" * 32, "ab" * 32])),
    "complaint": near(st.sampled_from([95, 96, 96, 97]).map(lambda n: "01" * n)),
    # 64 bytes an option (k = 1, 3, 16, 17), one short, and a scalar at or above l.
    "pairs": near(st.sampled_from(["01" * 64, "01" * 192, "01" * 191, "01" * 1024, "01" * 1088, "ff" * 64])),
    "validator": near(st.integers(-1, 5)),
    "result": weighted(
        (3, st.fixed_dictionaries(RESULT_OK)),
        (2, st.fixed_dictionaries(RESULT_FAILED)),
        (1, st.fixed_dictionaries({}, optional={**RESULT_OK, **RESULT_FAILED})),
    ),
}
# Who signs a synthetic tx: mostly the key its type expects; "match" is the validator the body names.
SIGNERS = {
    "create_poll": ["creator", "outsider"],
    "cast_ballot": ["voter1", "voter3", "outsider", "voter0"],
    "close_poll": ["creator", "voter2"],
    "submit_outcome": ["match", "match", "match", "outsider"],
    "complain": ["match", "match", "outsider"],
    "aggregate": ["match", "match", "outsider"],
}
# Picks one of a document's paths, modulo their number; two times in three one inside the body.
PATH = st.tuples(st.sampled_from([True, True, False]), st.integers(0, 255))
DOC_OPS = st.one_of(
    st.tuples(st.just("delete"), PATH),
    st.tuples(
        st.just("insert"),
        PATH,
        st.sampled_from(("extra", "sig", "type", "Poll", "", "é") + FIELDS) | st.text(max_size=6),
        WEIRD,
    ),
    st.tuples(st.just("set"), PATH, WEIRD),
    st.tuples(st.just("retype"), PATH),
    st.tuples(st.just("hex_len"), PATH, st.integers(-3, 3), st.booleans()),
    st.tuples(st.just("nested"), PATH, st.sampled_from([15, 16, 17, 100, 1000, 100_000]), st.booleans()),
    st.tuples(st.just("huge"), PATH, HUGE_VALUES),
    st.tuples(st.just("flip_hex"), st.sampled_from(["ballot", "complaint", "pairs"]), st.integers(0, 1 << 20)),
    st.tuples(st.just("nonce"), st.sampled_from(["zero", "replay", "same", "later", "max", "over", "negative"])),
    st.tuples(st.just("chain_id"), st.sampled_from(["other", "", "x" * 64, "x" * 65, CHAIN.upper(), CHAIN + " "])),
    st.tuples(st.just("signer"), st.sampled_from(KEY_NAMES)),
    st.tuples(st.just("poll"), st.sampled_from([0, 1, 2, 3, 4, 99, 2**63 - 1, -1])),
    st.tuples(st.just("validator"), st.sampled_from([0, 1, 2, 3, 4, 1000, -1])),
    st.tuples(st.just("grow"), PATH, st.sampled_from([1001, 20_000, 65_000, 70_000, 1_100_000])),
)
RESULT_OP = st.tuples(st.just("result"), st.sampled_from(RESULT_FIELDS), RESULT_VALUES)
# Each base draws its document ops with more weight on what its type's rules look at.
OPS_FOR = {
    "submit_outcome": weighted((1, DOC_OPS), (1, RESULT_OP)),
    "create_poll": DOC_OPS,
    "cast_ballot": DOC_OPS,
    "close_poll": DOC_OPS,
    "complain": DOC_OPS,
    "aggregate": DOC_OPS,
}
TEXT_OPS = (
    "escape_key",
    "float_nonce",
    "exp_nonce",
    "zero_padded_nonce",
    "negative_zero",
    "nan",
    "infinity",
    "lone_surrogate",
    "low_surrogate",
    "surrogate_pair",
    "bad_utf8",
    "overlong_utf8",
    "encoded_surrogate",
    "bom",
    "utf16",
    "nul",
    "trailing_newline",
    "leading_space",
    "wrap_in_list",
    "upper_hex",
    "tab",
    "escaped_char",
)
BYTE_OPS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.integers(1, 8)),
    st.tuples(st.just("splice"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("text"), st.sampled_from(TEXT_OPS)),
    st.tuples(
        st.just("dup_key"),
        st.sampled_from(["type", "nonce", "sig", "body", "chain_id", "signer", "poll"]),
        st.booleans(),
    ),
)
SIGNING = st.sampled_from(["resign", "resign", "resign", "keep", "zero", "outsider"])
STYLE = st.sampled_from(["canonical"] * 20 + ["spaced", "indented", "unsorted", "ascii"])
AS_BYTES = weighted((5, st.just(())), (1, st.lists(BYTE_OPS, min_size=1, max_size=2)))  # 1 in 6 mutated as bytes


def _plan(type_):
    # Built once per type: strategies made inside a flatmap per draw cost more than the txs they test.
    synthetic = st.tuples(
        st.just("synthetic"),
        st.just(type_),
        st.sampled_from(SIGNERS[type_]),
        st.fixed_dictionaries({f: FIELD_VALUES[f] for f in BODY_FIELDS[type_]}),
    )
    bases = st.sampled_from([b for b in BASES if BASE_TYPES[b] == type_])
    return st.tuples(
        weighted((1, bases), (1, synthetic)), st.lists(OPS_FOR[type_], max_size=3), SIGNING, STYLE, AS_BYTES
    )


PLANS = {t: _plan(t) for t in txcodec.TYPES}


def _plan_of(type_):
    return PLANS[type_]


PLAN = st.sampled_from(txcodec.TYPES).flatmap(_plan_of)
MUTATED_BATCH = st.lists(PLAN, min_size=BATCH[0], max_size=BATCH[1], unique_by=repr)

RANDOM_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
RANDOM_INPUT = st.one_of(
    st.binary(max_size=300),
    st.tuples(RANDOM_JSON, st.sampled_from(["canonical", "spaced", "unsorted", "ascii"])).map(lambda a: write(*a)),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)
RANDOM_BATCH_ST = st.lists(RANDOM_INPUT, min_size=RANDOM_BATCH[0], max_size=RANDOM_BATCH[1])


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        items = sorted(doc.items())
    elif isinstance(doc, list):
        items = list(enumerate(doc))
    else:
        return []
    out = []
    for k, v in items:
        out.append(prefix + (k,))
        out += _paths(v, prefix + (k,))
    return out


def _pick(doc, where, containers=False):
    """Return the path `where` selects; with containers, only paths to objects and lists (and the root)."""
    in_body, n = where
    paths = _paths(doc)
    if in_body and any(p[0] == "body" for p in paths):
        paths = [p for p in paths if p[0] == "body"]
    if containers:
        paths = [()] + [p for p in paths if isinstance(_get(doc, p), (dict, list))]
    return paths[n % len(paths)] if paths else None


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _retype(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return [v] if v else None
    if isinstance(v, list):
        return {str(i): x for i, x in enumerate(v)}
    if isinstance(v, dict):
        return list(v.values())
    return 0


def apply_doc_op(doc, op, world):
    """Mutate the document in place (the root stays a dict)."""
    kind, args = op[0], op[1:]
    body = doc.get("body") if isinstance(doc.get("body"), dict) else None
    if kind in ("delete", "set", "retype", "hex_len", "nested", "huge", "grow"):
        path = _pick(doc, args[0])
        if path is None:
            return
        parent, last = _get(doc, path[:-1]), path[-1]
        value = parent[last]
        if kind == "delete":
            del parent[last]
        elif kind == "set":
            parent[last] = copy.deepcopy(args[1])
        elif kind == "retype":
            parent[last] = _retype(value)
        elif kind == "hex_len" and isinstance(value, str):
            delta, upper = args[1], args[2]
            value = value + "a" * delta if delta >= 0 else value[:delta]
            parent[last] = value.upper() if upper else value
        elif kind == "nested":
            depth, as_list = args[1], args[2]
            parent[last] = Raw("[" * depth + "]" * depth if as_list else '{"a":' * depth + "0" + "}" * depth)
        elif kind == "huge":
            parent[last] = args[1]
        elif kind == "grow" and isinstance(value, str):
            parent[last] = ((value or "ab") * (args[1] // max(1, len(value)) + 1))[: args[1]]
    elif kind == "insert":
        path = _pick(doc, args[0], containers=True)
        container = _get(doc, path)
        value = copy.deepcopy(args[2])  # strategies hand out shared constants: never mutate them
        if isinstance(container, dict):
            container[args[1]] = value
        else:
            container.insert(args[0][1] % (len(container) + 1), value)
    elif kind == "flip_hex" and body is not None and isinstance(body.get(args[0]), str) and body[args[0]]:
        # One hex digit of a ballot or complaint changed: a point, a proof or an envelope no longer checks.
        text, at = body[args[0]], args[1] % len(body[args[0]])
        body[args[0]] = (
            text[:at]
            + "0123456789abcdef"[(int(text[at], 16) + 1) % 16 if text[at] in "0123456789abcdef" else 0]
            + text[at + 1 :]
        )
    elif kind == "nonce":
        signer = doc.get("signer") if isinstance(doc.get("signer"), str) else ""
        current = doc.get("nonce") if isinstance(doc.get("nonce"), int) else 1
        doc["nonce"] = {
            "zero": 0,
            "replay": world.committed.get(signer, 0),
            "same": current,
            "later": current + 1000,
            "max": 2**63 - 1,
            "over": 2**63,
            "negative": -1,
        }[args[0]]
    elif kind == "chain_id":
        doc["chain_id"] = args[0]
    elif kind == "signer":
        doc["signer"] = KEYS[args[0]].public_hex
    elif kind in ("poll", "validator") and body is not None:
        body[kind] = args[0]
    elif kind == "result" and body is not None and isinstance(body.get("result"), dict):
        body["result"][args[0]] = copy.deepcopy(args[1])


def sign(doc, mode):
    """Re-sign the document as it now is (when it can be), keep its signature, or spoil it."""
    if "sig" not in doc:
        return
    if mode == "zero":
        doc["sig"] = "00" * 64
        return
    if mode == "keep":
        return
    signer_hex = doc.get("signer")
    signer = KEYS["outsider"] if mode == "outsider" else BY_HEX.get(signer_hex) if isinstance(signer_hex, str) else None
    if signer is None:
        return
    try:
        msg = txcodec.signing_bytes(
            doc.get("chain_id"), doc.get("type"), doc.get("signer"), doc.get("nonce"), doc.get("body")
        )
    except canonical.CanonicalError:
        return  # a float, a huge or a raw value: cannot be signed canonically; keep the old signature
    doc["sig"] = signer.sign(msg).hex()


_NONCE = re.compile(rb'"nonce":(-?[0-9]+)')


def apply_text_op(raw: bytes, name: str) -> bytes:
    nonce = lambda repl: _NONCE.sub(repl, raw, count=1)
    if name == "escape_key":
        return raw.replace(b'"type"', b'"\\u0074ype"', 1)
    if name == "float_nonce":
        return nonce(rb'"nonce":\1.0')
    if name == "exp_nonce":
        return nonce(rb'"nonce":\1e0')
    if name == "zero_padded_nonce":
        return nonce(rb'"nonce":0\1')
    if name == "negative_zero":
        return nonce(rb'"nonce":-0')
    if name == "nan":
        return nonce(rb'"nonce":NaN')
    if name == "infinity":
        return nonce(rb'"nonce":-Infinity')
    inside = {
        "lone_surrogate": b"\\ud800",
        "low_surrogate": b"\\udfff",
        "surrogate_pair": b"\\ud83d\\ude00",
        "bad_utf8": b"\xff",
        "overlong_utf8": b"\xc0\xaf",
        "encoded_surrogate": b"\xed\xa0\x80",
        "nul": b"\x00",
        "escaped_char": b"\\u0041",
    }
    if name in inside:
        return raw.replace(b'"chain_id":"', b'"chain_id":"' + inside[name], 1)
    if name == "bom":
        return b"\xef\xbb\xbf" + raw
    if name == "utf16":
        return raw.decode("utf-8", "replace").encode("utf-16")
    if name == "trailing_newline":
        return raw + b"\n"
    if name == "leading_space":
        return b" " + raw
    if name == "wrap_in_list":
        return b"[" + raw + b"]"
    if name == "upper_hex":
        return re.sub(rb'"signer":"([0-9a-f]+)"', lambda m: b'"signer":"' + m.group(1).upper() + b'"', raw, count=1)
    if name == "tab":
        return raw.replace(b":", b":\t", 1)
    raise ValueError(name)


def apply_byte_op(raw: bytes, op, doc) -> bytes:
    kind = op[0]
    if kind == "text":
        return apply_text_op(raw, op[1])
    if kind == "dup_key":
        name, conflicting = op[1], op[2]
        holder = doc.get("body") if name == "poll" and isinstance(doc.get("body"), dict) else doc
        value = holder.get(name, 1) if not conflicting else "x"
        entry = json.dumps(name).encode() + b":" + write(value) + b","
        anchor = b'"body":{' if holder is not doc else b"{"
        at = raw.find(anchor)
        return raw if at < 0 else raw[: at + len(anchor)] + entry + raw[at + len(anchor) :]
    if not raw:
        return raw
    pos = op[1] % len(raw)
    if kind == "flip":
        return raw[:pos] + bytes([raw[pos] ^ (1 << op[2])]) + raw[pos + 1 :]
    if kind == "truncate":
        return raw[:pos]
    if kind == "cut":
        return raw[:pos] + raw[pos + op[2] :]
    if kind == "splice":
        return raw[:pos] + op[2] + raw[pos:]
    raise ValueError(kind)


def build(world, plan) -> bytes:
    """Turn a plan (start, document ops, signing, style, byte ops) into the bytes of one tx."""
    start, doc_ops, sign_mode, style, byte_ops = plan
    if isinstance(start, tuple):  # synthetic: a random body of a type
        _, type_, signer_name, body = start
        body = copy.deepcopy(body)
        if isinstance(body.get("result"), dict) and body["result"].get("ballots") == DIGEST:
            body["result"]["ballots"] = world.digest
        if body.get("ballot_tx") == BALLOT_TX:
            body["ballot_tx"] = world.ballot_tx
        if signer_name == "match":
            index = body.get("validator")
            signer_name = f"validator{index}" if type(index) is int and 0 <= index < 4 else "outsider"
        signer = KEYS[signer_name]
    else:
        signer, type_, body = world.base(start)
    nonce = world.chain.nonces.get(signer.public_hex, 0) + 1
    world.chain.nonces[signer.public_hex] = nonce
    doc = {
        "type": type_,
        "chain_id": CHAIN,
        "signer": signer.public_hex,
        "nonce": nonce,
        "body": body,
        "sig": "00" * 64,
    }
    sign(doc, "resign")
    for op in doc_ops:
        apply_doc_op(doc, op, world)
    sign(doc, sign_mode)
    raw = write(doc, style)
    for op in byte_ops:
        raw = apply_byte_op(raw, op, doc)
    return raw


# --- the properties --------------------------------------------------------------------

DECODE_CODES = {
    codes.MALFORMED,
    codes.BAD_POLL,
    codes.BAD_BALLOT,
    codes.BAD_OUTCOME,
    codes.BAD_COMPLAINT,
    codes.BAD_AGGREGATE,
}


def check_decode(raw: bytes):
    """tx.decode accepts only canonical bytes, and rejects everything else with a TxError."""
    try:
        tx = txcodec.decode(raw)
    except TxError as err:
        assert err.code in DECODE_CODES and err.reason, err
        return None
    assert canonical.encode(json.loads(raw)) == raw
    # the signed bytes cut from the raw tx are exactly the ones encoded from its fields
    assert txcodec.signed_part(tx) == txcodec.signing_bytes(tx.chain_id, tx.type, tx.signer, tx.nonce, tx.body)
    return tx


def check_response(res, kind):
    assert res is not None, kind
    if res.code != codes.OK:
        assert res.code in codes.NAMES and res.code != codes.INTERNAL, (kind, res.code, res.log)
        assert res.log, (kind, res.code)


def stored(world):
    """Every key and value in the committed state, but the height."""
    return {k: v for k, v in world.chain.app.store.db.iterator() if k != b"meta/height"}


def run_block(world, raws):
    """Run a batch through decode, CheckTx and one FinalizeBlock + Commit; check every property."""
    chain = world.chain
    for raw in raws:
        check_decode(raw)
    hash_before, state_before = chain.app.info(None).last_block_app_hash, stored(world)
    checked = [chain.check(raw) for raw in raws]
    for res in checked:
        check_response(res, "check_tx")
    block = chain.block(*raws)
    assert len(block.tx_results) == len(raws)
    for res in block.tx_results:
        check_response(res, "finalize_block")
    assert [r.code for r in checked] == [r.code for r in block.tx_results], [
        (r.code, r.log, b.code, b.log) for r, b in zip(checked, block.tx_results)
    ]
    assert not block.events  # nothing is due in an example: the block's changes are its txs'
    hash_after = chain.app.info(None).last_block_app_hash
    assert len(hash_after) == 32
    if all(r.code != codes.OK for r in block.tx_results):
        assert hash_after == hash_before
        assert stored(world) == state_before
    else:
        assert hash_after != hash_before  # an accepted tx writes at least its signer's nonce
    DRIVEN["txs"] += len(raws)
    DRIVEN["accepted"] += sum(r.code == codes.OK for r in block.tx_results)
    CODES.update(codes.NAMES[r.code] for r in block.tx_results)
    return block


def check_mutated(batch):
    """The properties, for a batch of generated and mutated txs in a fresh world.

    The block is then run again on a second, identical world that never saw the txs
    in CheckTx: a node whose mempool did not hold them (nothing cached, nothing
    verified) must reach the same results and app hash.
    """
    with tempfile.TemporaryDirectory(prefix="mpcvote-fuzz-", dir=SCRATCH) as home:
        world, fresh = World(os.path.join(home, "a")), World(os.path.join(home, "b"))
        try:
            assert fresh.chain.app.info(None).last_block_app_hash == world.chain.app.info(None).last_block_app_hash
            raws = [build(world, plan) for plan in batch]
            block = run_block(world, raws)
            again = fresh.chain.block(*raws)
            assert [(r.code, r.log) for r in again.tx_results] == [(r.code, r.log) for r in block.tx_results]
            assert again.app_hash == block.app_hash
        finally:
            world.close()
            fresh.close()


def check_random(batch):
    """The properties, for random bytes and random JSON documents: all refused as MALFORMED."""
    with tempfile.TemporaryDirectory(prefix="mpcvote-fuzz-", dir=SCRATCH) as home:
        world = World(home)
        try:
            block = run_block(world, batch)
            assert {r.code for r in block.tx_results} == {codes.MALFORMED}
        finally:
            world.close()


@fuzz_settings(MUTATED_EXAMPLES)
@given(MUTATED_BATCH)
def test_mutated_transactions(batch):
    check_mutated(batch)


@fuzz_settings(RANDOM_EXAMPLES)
@given(RANDOM_BATCH_ST)
def test_random_bytes_and_documents(batch):
    check_random(batch)


def test_at_least_ten_thousand_txs_driven():
    if DRIVEN["txs"] == 0:
        pytest.skip("the fuzz properties did not run in this session")
    assert DRIVEN["txs"] >= MIN_TXS, DRIVEN
    assert DRIVEN["accepted"] > 0  # the mutations also reach the state rules, not only the codec
    assert len(CODES) >= 15, CODES  # and nearly every rejection code


# --- the harness itself, and what the fuzzing found ------------------------------------


def test_world_bases_meet_their_rules(tmp_path):
    world = World(tmp_path / "app")
    expected = {
        "create_poll": 0,
        "create_tally": 0,
        "ballot": 0,
        "ballot_tally": 0,
        "ballot_tally_late": codes.POLL_FULL,  # after ballot_tally took the last place
        "ballot_revote_cap": codes.REVOTE_LIMIT,
        "ballot_not_eligible": codes.NOT_ELIGIBLE,
        "ballot_closed": codes.POLL_CLOSED,
        "ballot_other_poll": codes.BAD_BALLOT,
        "complain": 0,
        "complain_moot": 0,
        "complain_again": codes.ALREADY_COMPLAINED,
        "complain_unknown": codes.UNKNOWN_BALLOT,
        "complain_late": codes.COMPLAINT_WINDOW,
        "close_poll": 0,
        "close_not_creator": codes.NOT_CREATOR,
        "attest": 0,
        "attest_failed": 0,
        "attest_again": codes.ALREADY_ATTESTED,
        "attest_open_poll": codes.BAD_OUTCOME,  # poll 2 is a tally: opened from aggregate pairs
        "aggregate": 0,
        "aggregate_named": 0,  # accepted: the naming is committed
        "aggregate_again": codes.ALREADY_AGGREGATED,
        "aggregate_early": codes.AGGREGATE_WINDOW,
        "aggregate_unanimity": codes.NOT_TALLY,
    }
    for name, code in expected.items():
        raw = build(world, (name, [], "resign", "canonical", []))
        assert raw == canonical.encode(json.loads(raw))
        assert world.chain.check(raw).code == code, (name, world.chain.check(raw).log)
    world.close()


def test_writer_matches_canonical_encoding():
    doc = {"b": [1, "é", None, True], "a": {"z": -3, "y": ""}}
    assert write(doc) == canonical.encode(doc)


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udfff", b"\\udbff\\u0041"])
def test_lone_surrogate_escape_is_malformed_not_a_crash(tmp_path, escape):
    # Found by fuzzing: "\ud800" parses to a str that cannot be re-encoded as UTF-8; the
    # UnicodeEncodeError escaped decode, and CheckTx answered with an exception (the node stops).
    raw = txcodec.build(KEYS["creator"], CHAIN, "create_poll", 1, poll_body(50))
    raw = raw.replace(b'"question":"', b'"question":"' + escape, 1)
    with pytest.raises(TxError) as err:
        txcodec.decode(raw)
    assert err.value.code == codes.MALFORMED
    with pytest.raises(canonical.CanonicalError):
        canonical.encode({"q": "\ud800"})
    world = World(tmp_path / "app")
    assert world.chain.check(raw).code == codes.MALFORMED
    world.close()


@pytest.mark.parametrize(
    "field, value",
    [
        ("absent", [[1]]),
        ("absent", [1, "a"]),
        ("absent", [{}]),
        ("excluded", [[]]),
        ("excluded", [0, None, "x"]),
        ("unusable", [[[0]], [], [], []]),
        ("unusable", [["a", 0], [], [], []]),
        ("counted", True),
    ],
)
def test_outcome_with_odd_index_lists_is_bad_outcome_not_a_crash(tmp_path, field, value):
    # Found by fuzzing: check_result ran sorted(set(v)) before checking the elements were
    # integers, so a validator's attestation with [[1]] or [1, "a"] raised TypeError in CheckTx
    # (the node stops) and in FinalizeBlock (every node stops at the same block).
    world = World(tmp_path / "app")
    result = world.result_failed() if field == "absent" else world.result_ok()
    result[field] = value
    raw = world.chain.tx(KEYS["validator1"], "submit_outcome", {"poll": 3, "validator": 1, "result": result})
    assert world.chain.check(raw).code == codes.BAD_OUTCOME
    block = run_block(world, [raw])
    assert [r.code for r in block.tx_results] == [codes.BAD_OUTCOME]
    world.close()
