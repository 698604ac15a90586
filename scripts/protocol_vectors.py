#!/usr/bin/env python3
"""Generate (or check) the protocol's test vectors in tests/vectors/*.json from a fixed seed.

    .venv/bin/python scripts/protocol_vectors.py [--check] [--out tests/vectors]

Every random scalar comes from mpc_tx.protocol.seeded.SeededScalars, so a second
implementation that follows docs/PROTOCOL.md reproduces each byte. The vectors hold
the validators' secret keys on purpose: they are test keys. Also home of the two
adversaries the tests and vectors share: a voter who reseals one envelope, and the
complaint-oracle ballot E' = E_victim + d·G.
"""

import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mpc_tx.protocol import envelope  # noqa: E402
from mpc_tx.protocol.aggregate import Aggregate, check_aggregate_pairs, encode_aggregate_pairs, open_tally, sum_pairs  # noqa: E402
from mpc_tx.protocol.ballot import build_ballot, open_ballot, parse_ballot, verify_ballot  # noqa: E402
from mpc_tx.protocol.complaint import adjudicate, make_complaint  # noqa: E402
from mpc_tx.protocol.context import ciphertext_size, make_poll  # noqa: E402
from mpc_tx.protocol.encoding import TAG_BIT, TAG_COMMITMENTS, TAG_DLEQ, TAG_RHO, TAG_SUM, Rejected, digest  # noqa: E402
from mpc_tx.protocol.group import (
    G,
    H,
    L,
    Invalid,
    base,
    encode_scalar,
    hash_to_scalar,
    msm,
    mul,
    parse_point,
    parse_scalar,
)  # noqa: E402
from mpc_tx.protocol.proofs import prove_bit, prove_dleq, prove_dlog  # noqa: E402
from mpc_tx.protocol.registry import check_registry, max_faulty, prove_key_possession, threshold_range  # noqa: E402
from mpc_tx.protocol.seeded import SeededScalars  # noqa: E402
from mpc_tx.protocol.unanimity import check_mask, check_open, combine_masks, make_mask, make_open, unanimity_outcome  # noqa: E402
from mpc_tx.protocol import running, tally  # noqa: E402
from mpc_tx.protocol.digests import ballot_digest, counted_set_digest  # noqa: E402
from mpc_tx.protocol.registry import complaint_window  # noqa: E402

__all__ = [
    "SEED",
    "VOTER",
    "TX_HASH",
    "seeded_poll",
    "build_known",
    "reseal",
    "craft_ballot",
    "resign",
    "field_offsets",
    "generate",
    "generate_chain",
    "main",
]

SEED = b"mpcvote/v1/test-vectors"
VOTER = b"\x11" * 32
TX_HASH = b"\x22" * 32
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "vectors")


def seeded_poll(m: int, t: int, k: int, one_hot: bool, seed: bytes = b"poll"):
    """Return a PollContext with m seeded validator keys, and their secret keys."""
    rng = SeededScalars(b"keys/" + seed)
    secret_keys = [rng() for _ in range(m)]
    poll = make_poll(b"mpcvote-test", b"poll/" + seed, t, k, one_hot, [base(x).encode() for x in secret_keys])
    return poll, secret_keys


def build_known(poll, values, seed: bytes = b"ballot", voter: bytes = VOTER):
    """Return a ballot built from a seed, and its rho (the stream's first draw)."""
    return build_ballot(poll, voter, values, SeededScalars(seed)), SeededScalars(seed)()


def field_offsets(poll) -> dict:
    """Return the byte offset of each part of a ballot in poll."""
    out = {"version": 0, "E": 1, "C": 33}
    out["envelopes"] = out["C"] + 32 * poll.k * (poll.t + 1)
    out["bits"] = out["envelopes"] + poll.m * ciphertext_size(poll.k)
    out["sum"] = out["bits"] + 128 * poll.k
    out["rho"] = out["sum"] + (64 if poll.one_hot else 0)
    out["end"] = out["rho"] + 64
    return out


def _rho_proof(poll, voter, body, e_point, secret, rng) -> bytes:
    context = (poll.header, voter, hashlib.sha256(body).digest())
    return prove_dlog(TAG_RHO, context, G, e_point, secret, rng)


def reseal(
    poll, raw: bytes, rho: int, i: int, plaintext: bytes, voter: bytes = VOTER, ciphertext: bytes | None = None
) -> bytes:
    """Return raw with envelope i replaced, as a cheating voter (who knows rho) would, proofs redone."""
    b = parse_ballot(poll, raw)
    if ciphertext is None:
        ciphertext = envelope.seal(poll, voter, i, b.e_point, mul(rho, poll.keys[i]), b.commitments_digest, plaintext)
    start = field_offsets(poll)["envelopes"] + i * ciphertext_size(poll.k)
    body = raw[:start] + ciphertext + raw[start + len(ciphertext) : -64]
    return body + _rho_proof(poll, voter, body, b.e_point, rho, SeededScalars(b"reseal"))


def craft_ballot(poll, values, seed: bytes, voter: bytes = VOTER, victim_e=None):
    """Return a ballot built like build_ballot but without its checks on values, and its rho.

    A value outside {0, 1} gets a bit proof run as if it were 1 (which cannot verify).
    With victim_e, E' = victim_e + d·G as in the complaint-oracle attack: the attacker
    knows its commitments' openings, so the bit and sum proofs verify, writes garbage
    envelopes, and can only prove knowledge of d, the log of d·G, which must fail.
    """
    rng = SeededScalars(seed)
    rho = rng()
    e_point = base(rho) if victim_e is None else victim_e + base(rho)
    f = [[v % L] + [rng() for _ in range(poll.t)] for v in values]
    g = [[rng() for _ in range(poll.t + 1)] for _ in values]
    commitments = [[base(a) + mul(b, H) for a, b in zip(fe, ge)] for fe, ge in zip(f, g)]
    cdigest = digest(TAG_COMMITMENTS, *(c for row in commitments for c in row))
    parts = [b"\x01", e_point.encode()] + [c.encode() for row in commitments for c in row]
    for i, x in enumerate(poll.keys):
        if victim_e is None:
            pairs = [
                (
                    sum(c * (i + 1) ** j for j, c in enumerate(fe)) % L,
                    sum(c * (i + 1) ** j for j, c in enumerate(ge)) % L,
                )
                for fe, ge in zip(f, g)
            ]
            parts.append(envelope.seal(poll, voter, i, e_point, mul(rho, x), cdigest, envelope.encode_pairs(pairs)))
        else:
            parts.append(bytes((j * 37 + 5) % 256 for j in range(ciphertext_size(poll.k))))
    statement = (poll.header, voter, e_point, cdigest)
    for e, (v, row, ge) in enumerate(zip(values, commitments, g)):
        parts.append(prove_bit(TAG_BIT, statement + (e,), row[0], v if v in (0, 1) else 1, ge[0], rng))
    if poll.one_hot:
        dsum = msm([1] * poll.k, [row[0] for row in commitments]) - G
        parts.append(prove_dlog(TAG_SUM, statement, H, dsum, sum(ge[0] for ge in g) % L, rng))
    body = b"".join(parts)
    return body + _rho_proof(poll, voter, body, e_point, rho, rng), rho


def resign(poll, raw: bytes, rho: int, voter: bytes = VOTER) -> bytes:
    """Return raw with its proof of rho redone over its (tampered) body, as the voter could."""
    body = raw[:-64]
    return body + _rho_proof(poll, voter, body, parse_ballot(poll, raw).e_point, rho, SeededScalars(b"resign"))


def _hex_pairs(pairs):
    return [[encode_scalar(f).hex(), encode_scalar(g).hex()] for f, g in pairs]


def _poll_json(poll, secret_keys) -> dict:
    return {
        "chain_id": poll.chain_id.hex(),
        "poll_id": poll.poll_id.hex(),
        "t": poll.t,
        "k": poll.k,
        "one_hot": poll.one_hot,
        "keys": [x.encode().hex() for x in poll.keys],
        "secret_keys": [encode_scalar(x).hex() for x in secret_keys],
        "header_sha256": hashlib.sha256(poll.header).hexdigest(),
    }


def _verdict(result) -> dict:
    if isinstance(result, Rejected):
        return {"accepted": False, "reason": result.reason}
    return {"accepted": True}


def _group_vectors() -> dict:
    rng = SeededScalars(SEED + b"/group")
    valid = base(rng()).encode()
    p = 2**255 - 19
    encodings = {
        "valid": (valid, False),
        "identity": (bytes(32), False),
        "identity where allowed": (bytes(32), True),
        "top bit set": (valid[:31] + bytes([valid[31] | 0x80]), False),
        "s = p": (p.to_bytes(32, "little"), False),
        "negative s": ((1).to_bytes(32, "little"), False),
        "all ones": (b"\xff" * 32, False),
        "31 bytes": (valid[:31], False),
    }
    points = []
    for name, (data, allow) in encodings.items():
        try:
            parse_point(data, "P", allow_identity=allow)
            points.append({"name": name, "encoding": data.hex(), "identity_allowed": allow, "accepted": True})
        except Invalid as exc:
            points.append(
                {
                    "name": name,
                    "encoding": data.hex(),
                    "identity_allowed": allow,
                    "accepted": False,
                    "reason": exc.reason,
                }
            )
    scalars = []
    for name, value in [("0", 0), ("l - 1", L - 1), ("l", L), ("l + 1", L + 1), ("2^255 - 1", 2**255 - 1)]:
        data = value.to_bytes(32, "little")
        try:
            parse_scalar(data, "s")
            scalars.append({"name": name, "encoding": data.hex(), "accepted": True})
        except Invalid as exc:
            scalars.append({"name": name, "encoding": data.hex(), "accepted": False, "reason": exc.reason})
    mults = [rng() for _ in range(3)] + [0, 1, 2, L - 1]
    return {
        "G": G.encode().hex(),
        "H": H.encode().hex(),
        "H_tag": "mpcvote/v1/generator/H",
        "base_mult": [{"scalar": encode_scalar(s).hex(), "point": base(s).encode().hex()} for s in mults],
        "mul_H": [{"scalar": encode_scalar(s).hex(), "point": mul(s, H).encode().hex()} for s in mults],
        "hash_to_scalar": [
            {"input": x.hex(), "scalar": encode_scalar(hash_to_scalar(x)).hex()}
            for x in (b"", b"abc", bytes(range(100)))
        ],
        "points": points,
        "scalars": scalars,
    }


def _tamper(poll, raw: bytes, rho: int, seed: bytes) -> list[dict]:
    off = field_offsets(poll)
    e_bytes = raw[1:33]
    cases = {
        "version 2": (0, b"\x02"),
        "E bit flipped": (off["E"], bytes([raw[1] ^ 1])),
        "E identity": (off["E"], bytes(32)),
        "E top bit": (off["E"] + 31, bytes([e_bytes[31] | 0x80])),
        "C[0][0] bit flipped": (off["C"], bytes([raw[off["C"]] ^ 1])),
        "envelope 0 byte flipped": (off["envelopes"], bytes([raw[off["envelopes"]] ^ 1])),
        "bit proof c0 = l": (off["bits"], L.to_bytes(32, "little")),
        "bit proof z1 flipped": (off["bits"] + 96, bytes([raw[off["bits"] + 96] ^ 1])),
        "proof of rho z = 2^255 - 1": (off["rho"] + 32, (2**255 - 1).to_bytes(32, "little")),
        "proof of rho c = 0": (off["rho"], bytes(32)),
    }
    if poll.one_hot:
        cases["sum proof z flipped"] = (off["sum"] + 32, bytes([raw[off["sum"] + 32] ^ 1]))
    resigned = {
        "bit proof z1 flipped, proof of rho redone": (off["bits"] + 96, bytes([raw[off["bits"] + 96] ^ 1])),
        "bit proof c0 = l, proof of rho redone": (off["bits"], L.to_bytes(32, "little")),
        "bit proof z0 = 0, proof of rho redone": (off["bits"] + 64, bytes(32)),
    }
    if poll.one_hot:
        at = off["sum"] + 32
        resigned["sum proof z flipped, proof of rho redone"] = (at, bytes([raw[at] ^ 1]))
    bad_ballots = {}
    for name, (at, data) in cases.items():
        bad_ballots[name] = raw[:at] + data + raw[at + len(data) :]
    for name, (at, data) in resigned.items():
        bad_ballots[name] = resign(poll, raw[:at] + data + raw[at + len(data) :], rho)
    values = [2] + [0] * (poll.k - 1)
    bad_ballots["entry 0 commits to 2"] = craft_ballot(poll, values, seed + b"/two")[0]
    if poll.one_hot and poll.k > 1:
        bad_ballots["two entries set"] = craft_ballot(poll, [1, 1] + [0] * (poll.k - 2), seed + b"/double")[0]
    return [
        {"name": name, "ballot": bad.hex(), **_verdict(verify_ballot(poll, VOTER, bad))}
        for name, bad in bad_ballots.items()
    ]


def _ballot_vectors() -> list[dict]:
    out = []
    for m, t, k, one_hot, values in [
        (4, 1, 1, False, [1]),
        (4, 1, 3, True, [0, 0, 1]),
        (7, 3, 1, True, [1]),
        (7, 3, 3, True, [0, 1, 0]),
    ]:
        shape = b"%d-%d-%d" % (m, t, k)
        poll, secret_keys = seeded_poll(m, t, k, one_hot, seed=shape)
        seed = SEED + b"/ballot/" + shape
        raw, rho = build_known(poll, values, seed=seed)
        b = verify_ballot(poll, VOTER, raw)
        forged, _ = craft_ballot(poll, values, seed + b"/attacker", victim_e=b.e_point)
        out.append(
            {
                "poll": _poll_json(poll, secret_keys),
                "voter": VOTER.hex(),
                "seed": seed.hex(),
                "values": values,
                "size": len(raw),
                "ballot": raw.hex(),
                **_verdict(b),
                "shares": [_hex_pairs(open_ballot(poll, VOTER, b, i, x)) for i, x in enumerate(secret_keys)],
                "tampered": _tamper(poll, raw, rho, seed),
                "complaint_oracle": {"ballot": forged.hex(), **_verdict(verify_ballot(poll, VOTER, forged))},
            }
        )
    return out


def _complaint_vectors() -> dict:
    poll, secret_keys = seeded_poll(4, 1, 2, True, seed=b"complaint")
    seed = SEED + b"/complaint"
    raw, rho = build_known(poll, [1, 0], seed=seed)
    victim = 2
    b = verify_ballot(poll, VOTER, raw)
    honest = open_ballot(poll, VOTER, b, victim, secret_keys[victim])
    wrong = [((honest[0][0] + 1) % L, honest[0][1])] + honest[1:]
    bad = reseal(poll, raw, rho, victim, envelope.encode_pairs(wrong))
    cases = []

    def case(name, ballot_raw, i, complaint):
        verdict = adjudicate(poll, VOTER, TX_HASH, ballot_raw, i, complaint)
        row = {"name": name, "ballot": ballot_raw.hex(), "i": i, "complaint": complaint.hex()}
        if isinstance(verdict, Rejected):
            row.update(accepted=False, reason=verdict.reason)
        else:
            row.update(accepted=True, outcome=verdict.outcome, reason=verdict.reason)
        cases.append(row)

    rng = SeededScalars(seed + b"/validators")
    for i, x in enumerate(secret_keys):
        case(f"honest ballot, validator {i}", raw, i, make_complaint(poll, TX_HASH, b, i, x, rng))
    bad_b = parse_ballot(poll, bad)
    case(
        "bad share for validator 2", bad, victim, make_complaint(poll, TX_HASH, bad_b, victim, secret_keys[victim], rng)
    )
    r = rng()
    fake = mul(r, b.e_point)
    case(
        "fake K proven with its own log",
        raw,
        victim,
        fake.encode()
        + prove_dleq(TAG_DLEQ, (poll.header, TX_HASH, victim), G, poll.keys[victim], b.e_point, fake, r, rng),
    )
    good = make_complaint(poll, TX_HASH, b, victim, secret_keys[victim], rng)
    case("K identity", raw, victim, bytes(32) + good[32:])
    case("z = l", raw, victim, good[:64] + L.to_bytes(32, "little"))
    return {"poll": _poll_json(poll, secret_keys), "voter": VOTER.hex(), "tx_hash": TX_HASH.hex(), "cases": cases}


def _aggregate_vectors() -> dict:
    poll, secret_keys = seeded_poll(5, 2, 3, True, seed=b"aggregate")
    choices = [0, 2, 2, 1, 2]
    voters = [bytes([n + 1]) * 32 for n in range(len(choices))]
    ballots = {}
    for n, (choice, voter) in enumerate(zip(choices, voters)):
        values = [int(e == choice) for e in range(poll.k)]
        ballots[voter] = build_ballot(poll, voter, values, SeededScalars(SEED + b"/aggregate/%d" % n))
    # Voter 1 revotes for entry 0: the aggregate subtracts the old ballot and adds the new.
    revote = build_ballot(poll, voters[1], [1, 0, 0], SeededScalars(SEED + b"/aggregate/revote"))
    agg = Aggregate(poll)
    for voter, raw in ballots.items():
        agg.add(verify_ballot(poll, voter, raw))
    agg.remove(verify_ballot(poll, voters[1], ballots[voters[1]]))
    agg.add(verify_ballot(poll, voters[1], revote))
    counted = {**ballots, voters[1]: revote}
    posts = {}
    for i, x in enumerate(secret_keys):
        pairs = [open_ballot(poll, v, verify_ballot(poll, v, raw), i, x) for v, raw in counted.items()]
        posts[i] = encode_aggregate_pairs(sum_pairs(poll.k, pairs))
    checked = {i: check_aggregate_pairs(agg, i, p) for i, p in posts.items()}
    lie = bytearray(posts[3])
    lie[0] ^= 1
    return {
        "poll": _poll_json(poll, secret_keys),
        "ballots": [{"voter": v.hex(), "ballot": raw.hex()} for v, raw in ballots.items()],
        "revote": {"voter": voters[1].hex(), "ballot": revote.hex()},
        "aggregate": agg.encode().hex(),
        "count": agg.count,
        "pairs": [{"i": i, "pairs": p.hex(), **_verdict(checked[i])} for i, p in posts.items()],
        "lying_pair": {"i": 3, "pairs": bytes(lie).hex(), **_verdict(check_aggregate_pairs(agg, 3, bytes(lie)))},
        "tally": open_tally(agg, checked),
    }


def _unanimity_case(name: str, values) -> dict:
    poll, secret_keys = seeded_poll(5, 2, 1, False, seed=b"unanimity")
    rng = SeededScalars(SEED + b"/unanimity/" + name.encode())
    agg = Aggregate(poll)
    opened = {i: [] for i in range(poll.m)}
    ballots = []
    for n, v in enumerate(values):
        voter = bytes([n + 1]) * 32
        raw = build_ballot(poll, voter, [v], rng)
        b = verify_ballot(poll, voter, raw)
        agg.add(b)
        ballots.append({"voter": voter.hex(), "ballot": raw.hex()})
        for i, x in enumerate(secret_keys):
            opened[i].append(open_ballot(poll, voter, b, i, x))
    masks = [make_mask(agg, j, rng(), rng) for j in range(poll.m)]
    rd, w = combine_masks([check_mask(agg, j, data) for j, data in enumerate(masks)])
    opens = [make_open(agg, i, sum_pairs(1, opened[i])[0], w, rng) for i in range(poll.m)]
    checked = {i: check_open(agg, i, w, data) for i, data in enumerate(opens)}
    return {
        "name": name,
        "ballots": ballots,
        "masks": [x.hex() for x in masks],
        "rD": rd.encode().hex(),
        "W": w.encode().hex(),
        "opens": [x.hex() for x in opens],
        "outcome": unanimity_outcome(agg, rd, w, checked),
    }


def _unanimity_vectors() -> dict:
    poll, secret_keys = seeded_poll(5, 2, 1, False, seed=b"unanimity")
    return {
        "poll": _poll_json(poll, secret_keys),
        "cases": [_unanimity_case("all yes", [1, 1, 1]), _unanimity_case("one no", [1, 0, 1])],
    }


def _registry_vectors() -> dict:
    """Four entries with proofs of possession, refused registries, and f and t ranges by power."""
    chain = b"mpcvote-vectors"
    rng = SeededScalars(b"registry")
    entries = []
    for i in range(4):
        consensus = hashlib.sha256(b"consensus key %d" % i).digest()
        x = rng()
        key, proof = prove_key_possession(chain, consensus, x, rng)
        entries.append(
            {"consensus_key": consensus.hex(), "x": encode_scalar(x).hex(), "key": key.hex(), "proof": proof.hex()}
        )
    raw = [(bytes.fromhex(e["consensus_key"]), bytes.fromhex(e["key"]), bytes.fromhex(e["proof"])) for e in entries]
    refused = {
        "a key copied with its proof": raw[:1] + [(raw[1][0], raw[0][1], raw[0][2])] + raw[2:],
        "a proof of another key": [raw[0], raw[1], (raw[2][0], raw[2][1], raw[3][2]), raw[3]],
        "an identity registered twice": [raw[0], raw[0], raw[2], raw[3]],
    }
    powers = [[1, 1, 1, 1], [1, 1, 1, 10], [1, 2, 3, 4], [5, 5, 5], [1] * 7, [1, 1]]
    return {
        "chain_id": chain.hex(),
        "entries": entries,
        "refused": [
            {
                "name": name,
                "entries": [[c.hex(), k.hex(), p.hex()] for c, k, p in reg],
                **_verdict(check_registry(chain, reg)),
            }
            for name, reg in refused.items()
        ],
        "thresholds": [
            {
                "powers": p,
                "f": max_faulty(p),
                "on_chain": list(threshold_range(True, p)),
                "mpyc": list(threshold_range(False, p)),
            }
            for p in powers
        ],
    }


_VERDICTS = {"ballot bad": "ballot_bad", "complaint false": "complaint_false"}


def _tally_round() -> tuple[dict, dict]:
    """Return (tally.json, running.json): one tally poll's chain layer, event by event (§18).

    m = 5, t = 2, k = 3. Ballots at heights 10-12 (one a revote, one with a bad share for
    validator 1), complaints at 13 (ballot bad, moot about the replaced ballot, complaint
    false), the creator's early close at 14; complaints until 14 + W, the counted set fixed
    at 14 + W + 1; aggregate posts from the next height: 0 valid, 3 named, 2 valid, 4 valid
    (final). Tx hashes are stand-ins: SHA-256 of "tx <n>".
    """
    poll, secret_keys = seeded_poll(5, 2, 3, True, seed=b"tally")
    seed = SEED + b"/tally"
    voters = [bytes([0x30 + n]) * 32 for n in range(5)]
    plan = [(10, 0, 0), (10, 1, 2), (11, 2, 1), (11, 3, 2), (12, 1, 0), (12, 4, 1)]  # height, voter, choice
    sums = tally.empty_sums(poll.k, poll.t)
    current = {}  # voter -> (raw, tx_hash, counted)
    n_tx = 0
    log, events, steps = [], [], []
    r = running.start(poll.header)

    def tx_hash_next():
        nonlocal n_tx
        n_tx += 1
        return hashlib.sha256(b"tx %d" % n_tx).digest()

    def record(event, entry):
        nonlocal r
        r = running.step(r, event)
        events.append(event)
        counted = sum(1 for _, _, ok in current.values() if ok)
        entry.update(aggregate=sums.encode().hex(), counted=counted, running=r.hex())
        log.append(entry)
        steps.append({**_event_json(event), "running": r.hex()})

    for n, (height, v, choice) in enumerate(plan):
        voter = voters[v]
        raw, rho = build_known(poll, [int(e == choice) for e in range(poll.k)], seed + b"/ballot/%d" % n, voter)
        if v == 4:  # a bad share for validator 1: the voter reseals its envelope
            b = verify_ballot(poll, voter, raw)
            honest = open_ballot(poll, voter, b, 1, secret_keys[1])
            wrong = [((honest[0][0] + 1) % L, honest[0][1])] + honest[1:]
            raw = reseal(poll, raw, rho, 1, envelope.encode_pairs(wrong), voter)
        new = tally.commitments_of(poll, raw)
        previous = current.get(voter)
        replaced = tally.commitments_of(poll, previous[0]) if previous and previous[2] else None
        sums = tally.on_ballot(sums, replaced, new)
        h = tx_hash_next()
        current[voter] = (raw, h, True)
        entry = {"op": "ballot", "height": height, "tx_hash": h.hex(), "voter": voter.hex(), "ballot": raw.hex()}
        entry["revote"] = previous is not None
        record(running.ballot_event(height, h, voter), entry)
    replaced_tx = bytes.fromhex(log[1]["tx_hash"])  # voter 1's first ballot, replaced at height 12
    rng = SeededScalars(seed + b"/complaints")
    complaints = [(1, voters[4], None), (3, voters[1], log[1]["ballot"]), (4, voters[2], None)]
    for i, voter, old_hex in complaints:
        raw, ballot_tx, counted = current[voter]
        if old_hex is not None:
            raw, ballot_tx = bytes.fromhex(old_hex), replaced_tx
        complaint = make_complaint(poll, ballot_tx, parse_ballot(poll, raw), i, secret_keys[i], rng)
        judged = adjudicate(poll, voter, ballot_tx, raw, i, complaint)
        verdict = "moot" if old_hex is not None else _VERDICTS[judged.outcome]
        if verdict == "ballot_bad":
            sums = tally.on_disqualify(sums, tally.commitments_of(poll, raw))
            current[voter] = (raw, ballot_tx, False)
        h = tx_hash_next()
        entry = {"op": "complaint", "height": 13, "tx_hash": h.hex(), "validator": i, "voter": voter.hex()}
        entry.update(ballot_tx=ballot_tx.hex(), complaint=complaint.hex(), verdict=verdict, judged=judged.reason)
        record(running.complaint_event(13, h, i, voter, ballot_tx, verdict), entry)
    close_height = 14
    h = tx_hash_next()
    record(running.close_event(close_height, h), {"op": "close", "height": close_height, "tx_hash": h.hex()})
    complaints_until = close_height + complaint_window([1] * poll.m) + 2
    fixed = complaints_until + 1
    counted = sorted((v, raw) for v, (raw, _, ok) in current.items() if ok)  # voter order, as bdig/ is scanned
    digests = [ballot_digest(v.hex(), raw) for v, raw in counted]
    n = len(counted)
    assert tally.fresh_sums(poll.k, poll.t, [tally.commitments_of(poll, raw) for _, raw in counted]) == sums
    pairs = {}
    for i, x in enumerate(secret_keys):
        held = [open_ballot(poll, v, verify_ballot(poll, v, raw), i, x) for v, raw in counted]
        pairs[i] = tally.own_pairs(sums, poll.m, i, held)
    lie = bytearray(pairs[3])
    lie[32] ^= 1  # S_0 of validator 3
    posts = []
    for height, i, data in [(fixed + 1, 0, pairs[0]), (fixed + 1, 3, bytes(lie)), (fixed + 1, 2, pairs[2])]:
        posts.append((height, i, data))
    posts.append((fixed + 2, 4, pairs[4]))
    judged_posts, datas = [], []
    for height, i, data in posts:
        post = tally.judge_pairs(sums, poll.m, i, data)
        judged_posts.append(post)
        h = tx_hash_next()
        entry = {"op": "aggregate", "height": height, "tx_hash": h.hex(), "validator": i, "pairs": data.hex()}
        entry.update(verdict=post.verdict, reason=post.reason)
        record(running.aggregate_event(height, h, i, post.verdict), entry)
    opening = tally.open_tally(sums, n, True, judged_posts)
    options = ["red", "green", "blue"]
    result = tally.tally_result(options, counted_set_digest(digests), n, opening.counts)
    for k, step in enumerate(steps):
        last = k == len(steps) - 1
        closed = step["height"] if step["kind"] == "close" else None
        data = (
            running.final_data(7, k + 1, bytes.fromhex(step["running"]), result)
            if last
            else running.event_data(7, k + 1, bytes.fromhex(step["running"]), closed_height=closed)
        )
        datas.append(data.decode())
        step["data"] = data.decode()
    tally_json = {
        "poll": _poll_json(poll, secret_keys),
        "poll_id": 7,
        "options": options,
        "min_ballots": 3,
        "close_height": close_height,
        "complaints_until": complaints_until,
        "counted_fixed_height": fixed,
        "log": log,
        "counted": [{"voter": v.hex(), "ballot_digest": d} for (v, _), d in zip(counted, digests)],
        "ballots_digest": counted_set_digest(digests),
        "n": n,
        "own_pairs": {str(i): p.hex() for i, p in pairs.items()},
        "opening": {
            "validators": list(opening.validators),
            "counts": list(opening.counts),
            "blindings": [encode_scalar(b).hex() for b in opening.blindings],
        },
        "result": result,
        "final_data": datas[-1],
    }
    running_json = {
        "header": poll.header.hex(),
        "poll_id": 7,
        "R0": running.start(poll.header).hex(),
        "events": steps,
    }
    return tally_json, running_json


def _event_json(event) -> dict:
    out = {"kind": event.kind, "height": event.height, "tx_hash": event.tx_hash.hex()}
    for name in ("validator", "voter", "ballot_tx", "verdict"):
        value = getattr(event, name)
        if value is not None:
            out[name] = value.hex() if isinstance(value, bytes) else value
    return out


def generate_chain() -> dict:
    """Return the chain-layer vector files (§18): an aggregate round and its running digest."""
    tally_json, running_json = _tally_round()
    return {"tally.json": tally_json, "running.json": running_json}


def generate() -> dict:
    """Return every vector file's name and JSON object."""
    return {
        "group.json": _group_vectors(),
        "ballot.json": _ballot_vectors(),
        "complaint.json": _complaint_vectors(),
        "aggregate.json": _aggregate_vectors(),
        "unanimity.json": _unanimity_vectors(),
        "registry.json": _registry_vectors(),
    }


def dumps(obj) -> str:
    """Return the stored text of a vector file."""
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


def main(argv=None) -> int:
    """Write the vectors, or with --check report whether the stored ones are reproduced."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)
    stale = []
    for name, obj in {**generate(), **generate_chain()}.items():
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path) as f:
                    same = f.read() == dumps(obj)
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(name)
        else:
            os.makedirs(args.out, exist_ok=True)
            with open(path, "w") as f:
                f.write(dumps(obj))
            print(f"wrote {path}")
    if stale:
        print("stale vectors: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
