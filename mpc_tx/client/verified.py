"""Verified poll reads: the facts a ballot depends on, proven against headers the genesis set signed.

A node's `/poll/ID` answer is never taken as such. The poll's kind, options,
electorate, close height and validator snapshot come from its `create_poll` tx
and that tx's result (which carries the poll id), both proven with the light
client (mpc_tx/client/light.py); an early close from a `close_poll` tx whose result says
it closed the poll. `tx_search` only points at candidate txs: whatever it answers
is verified before it counts, and a node that lies about a poll is named.

What one node can still do: withhold. It can hide an early close by leaving it
out of `tx_search` as well as `/poll` (proving that no close exists would take a
scan of every block since the poll's creation); the chain then rejects the ballot
(POLL_CLOSED), and the voter sees that rejection. Shares stay encrypted to the
genesis validators either way.
"""

import time

from mpc_tx.protocol.encoding import Rejected
from mpc_tx.protocol.records import POLL_FACTS, poll_facts
from mpc_tx.protocol import canonical, registry as protocol_registry, running, tx as txcodec
from mpc_tx.client.light import LightClient, VerifyError

__all__ = ["verified_poll", "verified_close", "created_threshold"]

_CANDIDATES = 5  # tx_search hits looked at: an honest node has exactly one create_poll per id
INDEX_WAIT = 5.0  # seconds a poll's create_poll may take to show in the node's tx index


def _search(light: LightClient, query: str) -> list:
    found = light._call("tx_search", query=query, per_page=str(_CANDIDATES), order_by="asc")
    txs = found.get("txs") if isinstance(found, dict) else None
    return [t.get("hash") for t in (txs or [])[:_CANDIDATES] if isinstance(t, dict)]


def _indexed(light: LightClient, query: str) -> list:
    """tx_search, waiting (bounded) for the node's indexer: it indexes a block's txs just
    after the block commits, so a node that answers /poll/ID may not find its tx yet."""
    deadline = time.monotonic() + INDEX_WAIT
    while True:
        found = _search(light, query)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _created(light: LightClient, poll_id: int):
    """Return (tx, verified) of the create_poll that made poll `poll_id`, or raise VerifyError."""
    want = canonical.encode({"poll_id": poll_id})
    for tx_hash in _indexed(light, f"poll_created.poll_id={poll_id}"):
        verified = light.tx(str(tx_hash))
        if verified.code != 0 or verified.data != want:
            continue
        try:
            tx = txcodec.decode(verified.tx)
        except Exception:  # a committed tx whose result names the poll is ours; be total anyway
            continue
        if tx.type == "create_poll" and tx.chain_id == light.chain_id:
            return tx, verified
    raise VerifyError(
        f"{light.rpc.url} gives no verifiable create_poll tx for poll {poll_id}: the node may be inventing it"
    )


def created_threshold(body: dict, registry: list, kind: str | None = None) -> int:
    """Return the t a committed create_poll body gave its poll: its `threshold`, or the range's top if null.

    The range is the kind's (§18.1): a tally is opened on chain (t <= m-f-1), a unanimity
    poll in MPyC (t <= (m-1)//2); `kind` defaults to the body's. The chain refuses a t
    outside the range, so a committed body's t lies in it; it is checked again here so
    that a client never encrypts under a t it would refuse.
    """
    try:
        powers = [v["power"] for v in registry]
    except (KeyError, TypeError):
        raise VerifyError("the genesis file's validator registry is malformed") from None
    t = body.get("threshold") if isinstance(body, dict) else None
    if kind is None and isinstance(body, dict):
        kind = body.get("kind")
    on_chain = kind == "tally"
    got = (
        protocol_registry.default_threshold(on_chain, powers)
        if t is None
        else protocol_registry.check_threshold(on_chain, powers, t)
    )
    if isinstance(got, Rejected):
        raise VerifyError(f"the poll's threshold does not fit the genesis registry: {got.reason}")
    return got


def verified_close(light: LightClient, poll_id: int):
    """Return the height of a proven early close of the poll, or None if the node shows none."""
    for tx_hash in _search(light, f"poll_closed.poll_id={poll_id}"):
        verified = light.tx(str(tx_hash))
        if verified.code != 0:
            continue
        # §18.6: the close's data is the running data plus closed_height.
        doc = running.parse_data(verified.data)
        if isinstance(doc, Rejected) or doc["poll_id"] != poll_id or doc.get("closed_height") != verified.height:
            continue
        return verified.height
    return None


def verified_poll(light: LightClient, poll_id: int, genesis: dict, node_poll: dict) -> dict:
    """Return the poll's facts proven against the genesis set; raise VerifyError naming the node on a lie.

    `node_poll` is the node's /poll/ID answer: it must agree with the proof, and a
    poll that is closed (by its height, or by a proven close_poll) takes no ballot.
    """
    node = light.rpc.url
    registry = (genesis.get("app_state") or {}).get("validators") if isinstance(genesis, dict) else None
    if not isinstance(registry, list) or not registry:
        raise VerifyError("the genesis file has no validator registry (app_state.validators)")
    tx, created = _created(light, poll_id)
    # The set is static: the poll's snapshot is the genesis registry, as the app takes it.
    created_threshold(tx.body, registry)  # a t the chain refuses for this kind: VerifyError, naming it
    poll = poll_facts(poll_id, tx.signer, tx.body, created.height, registry)
    if not isinstance(node_poll, dict):
        raise VerifyError(f"{node} answered /poll/{poll_id} with no poll")
    differ = [k for k in POLL_FACTS if node_poll.get(k) != poll[k]]
    if differ:
        raise VerifyError(
            f"{node} lies about poll {poll_id}: its {', '.join(differ)} differ from the "
            f"verified create_poll tx {created.hash} at height {created.height}"
        )
    top = light.latest()
    closed_at = verified_close(light, poll_id)
    says_open = node_poll.get("status") == "open"
    if closed_at is not None:
        if says_open:
            raise VerifyError(
                f"{node} says poll {poll_id} is open, but it was closed at height {closed_at} "
                "(verified close_poll tx): the node hides the close"
            )
        raise VerifyError(f"poll {poll_id} was closed early at height {closed_at}")
    if top.height + 1 >= poll["close_height"]:
        if says_open and top.height >= poll["close_height"]:
            raise VerifyError(
                f"{node} says poll {poll_id} is open, but the verified height {top.height} "
                f"is past its close height {poll['close_height']}: the node hides the close"
            )
        raise VerifyError(
            f"poll {poll_id} closes at height {poll['close_height']}; the chain is at "
            f"{top.height}: a ballot can no longer be counted"
        )
    if not says_open:
        raise VerifyError(
            f"{node} says poll {poll_id} is {node_poll.get('status')!r} before its close "
            f"height, and proves no close_poll tx"
        )
    poll["status"] = "open"
    return poll
