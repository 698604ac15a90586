"""MPC slots: which closed polls compute now, and on which MPC ports.

Every validator's worker runs one MPyC child per poll it computes (~50 MB each), and
each job listens on a port of the validator's registered range of K ports. The chain
bounds both: there are S = max(1, min K // 2) slots. A unanimity poll (a tally takes none:
it is opened on chain, handlers.aggregates) waits, once its counted set is fixed, for a free slot
in (close height, poll id) order and holds it until it is final or failed; its attempts
run from the height it got the slot (``mpc_start``), its deadline D blocks after that.
Slot s at attempt k listens on offset (2s + k mod 2) mod K (the arithmetic, shared with
the workers, is mpc_tx.protocol.slots): polls computing together never share a port, and
a retry never reuses the port of the attempt before it.
A released slot is free again A blocks later (mpc_attempt_blocks): a worker that had not
finished when the poll became final may still run that poll's job until its attempt's
end, two blocks before the next attempt would start, and must not hold the next poll's port.
"""

from abci_app.context import event
from mpc_tx.protocol import events
from mpc_tx.protocol.slots import slot_count
from abci_app.store.keys import poll_key, due_key, mpc_slot_key, mpc_slot_prefix, mpc_wait_key, mpc_wait_prefix

__all__ = ["enqueue", "release", "assign"]


def enqueue(state, ctx, poll: dict):
    """Put a poll closed at this height in line for a slot (the caller stores the poll)."""
    poll["mpc_slot"] = None
    poll["mpc_start"] = None
    state.put(mpc_wait_key(poll["closed_height"], poll["id"]), 1)


def release(state, ctx, poll: dict):
    """Free the slot of a poll that is final or failed, A blocks from now (the caller stores the poll)."""
    slot = poll.get("mpc_slot")
    held = state.get(mpc_slot_key(slot)) if slot is not None else None
    if held is not None and held["poll"] == poll["id"] and held["free_at"] is None:
        state.put(mpc_slot_key(slot), {"poll": poll["id"], "free_at": ctx.height + ctx.params["mpc_attempt_blocks"]})


def assign(state, ctx):
    """Give free slots to waiting polls, lowest slot to the earliest (close height, poll id)."""
    busy = {
        int(key[len(mpc_slot_prefix()) :])
        for key, held in state.scan(mpc_slot_prefix())
        if held["free_at"] is None or held["free_at"] > ctx.height
    }
    free = [s for s in range(slot_count(ctx.validators)) if s not in busy]
    if not free:
        return
    waiting = []
    for key, _ in state.scan(mpc_wait_prefix()):
        waiting.append(key)
        if len(waiting) == len(free):
            break
    for slot, key in zip(free, waiting):
        poll_id = int(key.rsplit(b"/", 1)[1])
        state.delete(key)
        poll = dict(state.get(poll_key(poll_id)))
        poll["mpc_slot"] = slot
        poll["mpc_start"] = ctx.height
        poll["deadline_height"] = ctx.height + ctx.params["mpc_deadline_blocks"]
        state.put(poll_key(poll_id), poll)
        state.put(mpc_slot_key(slot), {"poll": poll_id, "free_at": None})
        state.put(due_key(poll["deadline_height"], poll_id), "deadline")
        ctx.events.append(
            event(events.MPC_STARTED, {"poll_id": poll_id}, {"slot": slot, "deadline_height": poll["deadline_height"]})
        )
