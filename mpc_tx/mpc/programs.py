"""The MPC program of a unanimity poll's fixed counted set, over numpy arrays of secret-shared GF(L) elements.

A tally is a sum: the chain opens it from the validators' aggregate pairs (docs/PROTOCOL.md
§18), so no MPC program computes one. Every party runs the same steps on its own value
shares f(i+1) of the counted ballots (§17); every branch depends only on public values,
so all parties stay in step:

a. same job: the parties exchange a digest of the job's public terms and stop on a mismatch.
b. input check: a random public combination of all the shares plus a random mask is
   opened with all m shares and tested to lie on one degree-t polynomial. Every honest
   party checked its shares against the ballot's commitments when the ballot committed,
   so a failure means a party input other shares than its checked ones: the attempt
   fails as inconsistent shares (the check names nobody).
c. unanimity: one zero test of sum_j c_j (v_j - 1), only if there are at least
   min_ballots ballots (else nothing is opened).

No check here that each value is a bit: the chain verified every counted ballot's bit
proof over its commitments, and the input check ties the inputs to those commitments (at
least t+1 honest parties' shares fix the polynomial), so the values are bits already.

Public coefficients come from the poll's seed, so all parties agree on them. The seed
is fixed only after the ballots are (a hash of the closing block): a voter who knew the
coefficients could craft shares that cancel in the checks.
"""

import hashlib

from mpc_tx.mpc.runtime import exchange, np, random_shares, refuse_message
from mpc_tx.protocol.sharing import L, on_degree, reconstruct

__all__ = [
    "InconsistentShares",
    "ProtocolError",
    "derive_coefficients",
    "same_job",
    "check_inputs",
    "open_all",
    "unanimity",
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


async def same_job(rt, context: bytes) -> None:
    """Exchange the digest of the job's public terms; ProtocolError unless every party sent ours."""
    for received in await exchange(rt, bytes(context)):
        if received != bytes(context):
            raise ProtocolError("parties are not running the same job")


async def check_inputs(rt, shares: np.ndarray, seed: bytes) -> None:
    """Raise InconsistentShares unless every party's inputs lie on one degree-t polynomial per value.

    One random public combination of all n*k shares, plus a fresh random mask (so the
    opened value tells nothing of the ballots), opened with all m shares.
    """
    n, k = shares.shape
    if not n:
        return
    field = rt.SecFld(L).field
    coefficients = derive_coefficients(seed, "input-check", n * k).reshape(n, k)
    combined = int((shares * coefficients).sum() % L)
    mask = (await random_shares(rt, field, 1)).value
    if (await open_all(rt, (np.array([combined], dtype=object) + mask) % L))[0] is None:
        raise InconsistentShares


async def unanimity(rt, shares: np.ndarray, seed: bytes) -> bool:
    """Tell whether every ballot is exactly 1, by one hardened zero test."""
    if not len(shares):
        return True
    secfld = rt.SecFld(L)
    c = derive_coefficients(seed, "unanimity", len(shares))
    z = int(((shares[:, 0] - 1) * c).sum() % L)
    return bool(await rt.is_zero_public(secfld(secfld.field(z))))


async def poll_outcome(rt, kind: str, shares: np.ndarray, seed: bytes, min_ballots: int, context: bytes = b"") -> dict:
    """Run steps a-c on this party's (n, 1) share array of the counted ballots; return the public result.

    The result holds outcome and counted (n: every ballot of the fixed set counts). Only
    kind unanimity: a tally is opened on chain (ValueError, before anything is exchanged).
    """
    if kind != "unanimity":
        raise ValueError("kind must be unanimity: a tally is opened on chain from aggregate pairs")
    await same_job(rt, context)
    await check_inputs(rt, shares, seed)
    n = len(shares)
    if n < min_ballots:
        outcome = {"withheld": True}  # below min_ballots nothing is opened
    else:
        outcome = {"unanimous": await unanimity(rt, shares, seed)}
    return {"outcome": outcome, "counted": int(n)}
