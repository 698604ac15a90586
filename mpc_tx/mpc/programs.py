"""The MPC programs of a closed poll, over numpy arrays of secret-shared GF(L) elements.

Every party runs the same steps on its own shares; every branch depends only on
public values, so all parties stay in step:

a. unusable ballots: each party announces (as a bitmap, no pickle) which ballots it could
   not decrypt or parse; their union U is invalid.
b. input check: a random public combination of the remaining shares plus a random mask
   is opened with all m shares and tested to lie on one degree-t polynomial; on failure
   the set is bisected, with fresh coefficients and masks, down to the bad ballots.
c. unanimity: one zero test of sum_j c_j (v_j - 1); any invalid ballot is a veto.
d. tally: per ballot a zero test of a random combination of x(x-1) and (sum x - 1);
   only the per-option sums of the valid ballots are opened, and only if there are at
   least min_ballots of them.

Public coefficients come from the poll's seed, so all parties agree on them. The seed
must be fixed only after the ballots are (a hash of the closing block, say): a voter who
knew the coefficients could craft shares that cancel in the checks.
"""

import hashlib

from mpc_tx.mpc.runtime import exchange, np, random_shares, refuse_message
from mpc_tx.protocol.sharing import L, on_degree, reconstruct

__all__ = [
    "InconsistentShares",
    "ProtocolError",
    "derive_coefficients",
    "bisect",
    "unusable_lists",
    "find_bad_ballots",
    "open_all",
    "unanimity",
    "tally",
    "poll_outcome",
]

_SHARE_BYTES = 32  # L < 2**253
_DOMAIN = b"mpcvote/mpc-coefficients/v1\x00"


class InconsistentShares(Exception):
    """Shares that do not lie on one degree-t polynomial and cannot be set aside."""


class ProtocolError(Exception):
    """A peer's message is malformed, or the parties are not running the same job."""


def derive_coefficients(seed: bytes, label: str, count: int) -> np.ndarray:
    """Derive count nonzero public coefficients in GF(L) from seed, SHAKE-256 in counter mode."""
    label_bytes = label.encode()
    prefix = hashlib.shake_256(
        _DOMAIN + len(label_bytes).to_bytes(2, "big") + label_bytes + len(seed).to_bytes(4, "big") + bytes(seed)
    )
    out = np.empty(count, dtype=object)
    from_bytes = int.from_bytes
    for i in range(count):
        h = prefix.copy()
        h.update(i.to_bytes(8, "big"))
        out[i] = from_bytes(h.digest(64), "big") % (L - 1) + 1
    return out


def _encode(values) -> bytes:
    return b"".join(int(v).to_bytes(_SHARE_BYTES, "little") for v in values)


def _decode(payload: bytes, count: int, sender: int) -> list[int]:
    if len(payload) != count * _SHARE_BYTES:
        raise refuse_message(sender, "opening message of the wrong length")
    values = [int.from_bytes(payload[i : i + _SHARE_BYTES], "little") for i in range(0, len(payload), _SHARE_BYTES)]
    if any(v >= L for v in values):
        raise refuse_message(sender, "opening message holds a share not below L")
    return values


async def open_all(rt, values) -> list[int | None]:
    """Open shared values with all m shares; None where they do not lie on one degree-t polynomial."""
    count = len(values)
    rows = [_decode(p, count, sender) for sender, p in enumerate(await exchange(rt, _encode(values)))]
    t = rt.threshold
    opened = []
    for column in zip(*rows):
        column = list(column)
        opened.append(reconstruct(column[: t + 1]) if on_degree(column, t) else None)
    return opened


async def unusable_lists(rt, usable: np.ndarray, context: bytes) -> np.ndarray:
    """Announce the ballots this party cannot use; return an (m, n) bool array of all parties' flags.

    context (a digest of the job) must be equal at all parties, or ProtocolError.
    """
    n = len(usable)
    payload = bytes(context) + np.packbits(~usable.astype(bool)).tobytes()
    flags = []
    for received in await exchange(rt, payload):
        if len(received) != len(payload) or received[: len(context)] != bytes(context):
            raise ProtocolError("parties are not running the same job")
        bits = np.frombuffer(received[len(context) :], dtype=np.uint8)
        flags.append(np.unpackbits(bits, count=n).astype(bool))
    return np.array(flags, dtype=bool).reshape(len(flags), n)


async def bisect(test_groups, ballots) -> list[int]:
    """Find the ballots that fail test_groups, splitting failing groups in halves.

    test_groups(groups, round) -> list[bool] tests disjoint groups (arrays of ballot
    indices) in one round; a group passes if all its ballots do.
    """
    groups = [np.asarray(ballots)] if len(ballots) else []
    bad = []
    round_ = 0
    while groups:
        passed = await test_groups(groups, round_)
        round_ += 1
        next_groups = []
        for group, ok in zip(groups, passed):
            if ok:
                continue
            if len(group) == 1:
                bad.append(int(group[0]))
            else:
                half = len(group) // 2
                next_groups += [group[:half], group[half:]]
        groups = next_groups
    return sorted(bad)


async def find_bad_ballots(rt, shares: np.ndarray, ballots: np.ndarray, seed: bytes) -> list[int]:
    """Return the ballots among ballots whose shares do not lie on one degree-t polynomial.

    Raise InconsistentShares if all of them fail, or if a failure cannot be pinned on ballots.
    """
    field = rt.SecFld(L).field
    k = shares.shape[1]
    rounds = [0]

    async def test_groups(groups, round_):
        rounds[0] = round_ + 1
        members = np.concatenate(groups)
        coefficients = derive_coefficients(seed, f"input-check/{round_}", members.size * k)
        weighted = (shares[members] * coefficients.reshape(members.size, k)).sum(axis=1)
        starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
        sums = np.add.reduceat(weighted, starts) if members.size else weighted
        masks = (await random_shares(rt, field, len(groups))).value
        return [v is not None for v in await open_all(rt, (sums + masks) % L)]

    bad = await bisect(test_groups, ballots)
    if bad and len(bad) == len(ballots):
        raise InconsistentShares
    root_failed = rounds[0] > 1 or bool(bad)
    if root_failed:  # confirm what is left, with fresh coefficients and mask
        rest = np.setdiff1d(ballots, bad)
        if not (await test_groups([rest], rounds[0]))[0]:
            raise InconsistentShares
    return bad


async def unanimity(rt, shares: np.ndarray, valid: np.ndarray, seed: bytes) -> bool:
    """Tell whether every valid ballot is exactly 1, by one hardened zero test."""
    if not valid.size:
        return True
    secfld = rt.SecFld(L)
    c = derive_coefficients(seed, "unanimity", len(shares))[valid]
    z = int(((shares[valid, 0] - 1) * c).sum() % L)
    return bool(await rt.is_zero_public(secfld(secfld.field(z))))


async def tally(
    rt, shares: np.ndarray, valid: np.ndarray, seed: bytes, min_ballots: int
) -> tuple[list[int] | None, np.ndarray]:
    """Check each valid ballot is one-hot; open the per-option sums of those that are.

    Return (sums or None if fewer than min_ballots pass, the indices that pass).
    """
    n, k = shares.shape
    good = valid
    if valid.size:
        secfld = rt.SecFld(L)
        F = secfld.field
        x = shares[valid]
        secret_x = secfld.array(F.array(x))
        squares = (await rt.gather(secret_x * secret_x)).value  # one secure multiplication
        a = derive_coefficients(seed, "tally/bits", n * k).reshape(n, k)[valid]
        b = derive_coefficients(seed, "tally/one-hot", n)[valid]
        z = (((squares - x) * a).sum(axis=1) + b * (x.sum(axis=1) - 1)) % L
        passed = await rt.np_is_zero_public(secfld.array(F.array(z)))
        good = valid[np.asarray(passed, dtype=bool)]
    if len(good) < min_ballots:
        return None, good
    if not good.size:
        return [0] * k, good
    sums = await open_all(rt, shares[good].sum(axis=0) % L)
    if any(s is None for s in sums):
        raise InconsistentShares
    return [int(s) for s in sums], good


async def poll_outcome(
    rt, kind: str, shares: np.ndarray, usable: np.ndarray, seed: bytes, min_ballots: int, context: bytes = b""
) -> dict:
    """Run steps a-d on this party's (n, k) share array; return the public result.

    Rows of shares where usable is False are ignored. The result holds outcome,
    counted, excluded (sorted ballot indices) and unusable (per party).
    """
    flags = await unusable_lists(rt, usable, context)
    unusable = flags.any(axis=0)
    candidates = np.flatnonzero(~unusable)
    bad = await find_bad_ballots(rt, shares, candidates, seed)
    valid = np.setdiff1d(candidates, bad)
    vetoed = len(valid) < len(shares)
    if kind == "unanimity":
        counted = len(valid)
        if counted < min_ballots:
            outcome = {"withheld": True}
        elif vetoed:
            outcome = {"unanimous": False}  # an invalid ballot is a veto: open nothing
        else:
            outcome = {"unanimous": await unanimity(rt, shares, valid, seed)}
        excluded = np.setdiff1d(np.arange(len(shares)), valid)
    elif kind == "tally":
        sums, good = await tally(rt, shares, valid, seed, min_ballots)
        counted = len(good)
        outcome = {"withheld": True} if sums is None else {"tally": sums}
        excluded = np.setdiff1d(np.arange(len(shares)), good)
    else:
        raise ValueError("kind must be unanimity or tally")
    return {
        "outcome": outcome,
        "counted": int(counted),
        "excluded": [int(j) for j in excluded],
        "unusable": [[int(j) for j in np.flatnonzero(row)] for row in flags],
    }
