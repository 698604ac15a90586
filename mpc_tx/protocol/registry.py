"""Registry keys with a proof of possession, f from power, and a poll's threshold range.

docs/PROTOCOL.md §15. An entry's encryption key X = x·G comes with a Schnorr proof of x
bound to the chain id and the validator's ed25519 consensus key (not to an index: each
host makes its entry before the genesis order exists). Every check here is total: it
returns a value or a Rejected naming what failed, and never raises on any input.
"""

from math import gcd

from .context import MAX_PARTIES
from .encoding import TAG_REGISTRY_KEY, Rejected
from .group import G, Invalid, Point, base, parse_point, random_scalar
from .proofs import DLOG_BYTES, prove_dlog, verify_dlog

__all__ = [
    "CONSENSUS_KEY_BYTES",
    "PROOF_BYTES",
    "prove_key_possession",
    "verify_key_possession",
    "check_registry",
    "max_faulty",
    "threshold_range",
    "default_threshold",
    "check_threshold",
    "complaint_window",
]

CONSENSUS_KEY_BYTES = 32
PROOF_BYTES = DLOG_BYTES


def _context(chain_id: bytes, consensus_key: bytes) -> tuple:
    return (chain_id, consensus_key)


def _check_identity(chain_id, consensus_key) -> None:
    if not isinstance(chain_id, bytes) or not 1 <= len(chain_id) <= 255:
        raise Invalid("chain id: 1..255 bytes")
    if not isinstance(consensus_key, bytes) or len(consensus_key) != CONSENSUS_KEY_BYTES:
        raise Invalid(f"consensus key: must be {CONSENSUS_KEY_BYTES} bytes")


def prove_key_possession(chain_id: bytes, consensus_key: bytes, x: int, rng=random_scalar) -> tuple[bytes, bytes]:
    """Return (X, proof): the encryption key X = x·G and its proof of possession."""
    _check_identity(chain_id, consensus_key)
    key = base(x)
    return key.encode(), prove_dlog(TAG_REGISTRY_KEY, _context(chain_id, consensus_key), G, key, x, rng)


def verify_key_possession(chain_id: bytes, consensus_key: bytes, key, proof) -> Point | Rejected:
    """Return the parsed key if the proof shows its holder knows x, else a Rejected naming why."""
    try:
        _check_identity(chain_id, consensus_key)
        point = parse_point(key, "encryption key")
        verify_dlog(TAG_REGISTRY_KEY, _context(chain_id, consensus_key), G, point, proof, "proof of possession")
    except Invalid as exc:
        return Rejected(exc.reason)
    return point


def check_registry(chain_id: bytes, entries) -> list[Point] | Rejected:
    """Check a whole registry: entries are (consensus_key, encryption_key, proof) triples.

    Accepted iff 1..MAX_PARTIES entries, consensus keys and encryption keys each distinct,
    and every proof verifies. Returns the encryption keys in entry order.
    """
    if not isinstance(entries, (list, tuple)) or not 1 <= len(entries) <= MAX_PARTIES:
        return Rejected(f"registry: need 1..{MAX_PARTIES} entries")
    keys, identities = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, (list, tuple)) or len(entry) != 3:
            return Rejected(f"entry {i}: need (consensus key, encryption key, proof)")
        consensus_key, key, proof = entry
        point = verify_key_possession(chain_id, consensus_key, key, proof)
        if isinstance(point, Rejected):
            return Rejected(f"entry {i}: {point.reason}")
        if consensus_key in identities:
            return Rejected(f"entry {i}: consensus key registered twice")
        if point in keys:
            return Rejected(f"entry {i}: encryption key registered twice")
        identities.add(consensus_key)
        keys.append(point)
    return keys


def _powers(powers) -> list[int] | None:
    if not isinstance(powers, (list, tuple)) or not 1 <= len(powers) <= MAX_PARTIES:
        return None
    if not all(type(p) is int and 0 < p < 2**63 for p in powers):
        return None
    return list(powers)


def max_faulty(powers) -> int | Rejected:
    """Return f: the largest number of validators that together hold less than 1/3 of the power."""
    checked = _powers(powers)
    if checked is None:
        return Rejected(f"powers: need 1..{MAX_PARTIES} integers in 1..2^63-1")
    total, held, f = sum(checked), 0, 0
    for p in sorted(checked):
        if 3 * (held + p) >= total:
            break
        held += p
        f += 1
    return f


def threshold_range(opened_on_chain: bool, powers) -> tuple[int, int] | Rejected:
    """Return (lowest, highest) t a poll may take; highest < lowest means no t is possible.

    Opened on chain from verified shares: t+1 honest contributions must exist with f absent,
    so t <= m-f-1. Computed in MPyC: its multiplication needs 2t+1 parties, so t <= (m-1)//2.
    Never below f (f Byzantine validators must not hold t+1 shares) nor below 1.
    """
    f = max_faulty(powers)
    if isinstance(f, Rejected):
        return f
    m = len(powers)
    top = m - f - 1 if opened_on_chain else (m - 1) // 2
    return max(f, 1), top


def default_threshold(opened_on_chain: bool, powers) -> int | Rejected:
    """Return the top of the range (the most privacy the outcome allows), or a Rejected if it is empty."""
    bounds = threshold_range(opened_on_chain, powers)
    if isinstance(bounds, Rejected):
        return bounds
    low, high = bounds
    if high < low:
        return Rejected(f"no threshold: the range {low}..{high} is empty for {len(powers)} validators")
    return high


def check_threshold(opened_on_chain: bool, powers, t) -> int | Rejected:
    """Return t if it lies in the range for these powers, else a Rejected naming the range."""
    bounds = threshold_range(opened_on_chain, powers)
    if isinstance(bounds, Rejected):
        return bounds
    low, high = bounds
    if type(t) is not int or not low <= t <= high:
        return Rejected(f"threshold: need {low} <= t <= {high}")
    return t


def complaint_window(powers) -> int | Rejected:
    """Return the blocks after a close that must hold an honest proposer: 1 + min(Σ f largest, ⌈P/3⌉-1) // g.

    CometBFT's weighted round robin gives each validator about its share of any run of
    proposals; in runs of this many heights the f largest (all that may be Byzantine)
    cannot propose them all. f+1 with equal power (docs/PROTOCOL.md §17).
    """
    f = max_faulty(powers)
    if isinstance(f, Rejected):
        return f
    total = sum(powers)
    largest = sum(sorted(powers, reverse=True)[:f])
    g = 0
    for p in powers:
        g = gcd(g, p)
    return 1 + min(largest, -(-total // 3) - 1) // g
