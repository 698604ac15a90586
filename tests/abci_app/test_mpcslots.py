"""MPC slots: polls that compute together never share a port; the rest wait their turn."""

import itertools

from mpc_tx.protocol.slots import port_offset, slot_count
from mpc_tx.protocol.keys import SigningKey

from apphelpers import Chain, poll_body
from apphelpers import attested_result, cast, fixed, result_codes


def test_port_offsets_of_distinct_slots_never_meet():
    for ports in (2, 4, 8, 9):
        slots = slot_count([{"mpc_ports": ports}, {"mpc_ports": ports + 3}])
        seen = {}
        for slot, attempt in itertools.product(range(slots), range(2)):
            offset = port_offset(slot, attempt, ports)
            assert offset not in seen and 0 <= offset < ports
            seen[offset] = (slot, attempt)
    assert slot_count([{"mpc_ports": 1}]) == 1 and port_offset(0, 1, 1) == 0


def test_polls_closing_together_take_distinct_slots_and_wait_in_order(tmp_path):
    c = Chain(tmp_path / "app", params={"mpc_attempt_blocks": 2, "mpc_deadline_blocks": 6})
    c.init()
    c.block()
    creator = SigningKey.generate()
    K = c.registry[0]["mpc_ports"]  # 4: two slots
    ids = []
    for _ in range(K + 1):  # ids 1..K+1: 1 and K+1 collided under the old (id + k) mod K ports
        res = c.block(c.tx(creator, "create_poll", poll_body(c.height + 50)))
        ids.append(int([a.value for e in res.tx_results[0].events for a in e.attributes if a.key == "poll_id"][0]))
    cast(c, ids[0])  # the chain's min_ballots floor: an outcome over 0 ballots is withheld
    c.block(*[c.tx(creator, "close_poll", {"poll": p}) for p in (ids[0], ids[K], ids[1])])
    close = fixed(c, ids[0])["counted_fixed_height"]  # the MPC starts once the counted set is fixed
    polls = {p: c.query(f"/poll/{p}")[1] for p in (ids[0], ids[K], ids[1])}
    # Fixed at one height, they take slots in (close height, poll id) order: ids[K] waits.
    assert [polls[p]["mpc_slot"] for p in (ids[0], ids[1], ids[K])] == [0, 1, None]
    assert polls[ids[0]]["mpc_start"] == close and polls[ids[K]]["deadline_height"] is None
    # The first poll becomes final: A blocks later (its late jobs have ended by then) its
    # slot goes to the one waiting, whose clock starts then.
    final = c.block(
        *[
            c.tx(c.attest[i], "submit_outcome", {"poll": ids[0], "validator": i, "result": attested_result(c, ids[0])})
            for i in range(3)
        ]
    )
    assert result_codes(final) == [0, 0, 0]
    final_height = c.height
    c.block()
    assert c.query(f"/poll/{ids[K]}")[1]["mpc_slot"] is None
    c.block()
    waiting = c.query(f"/poll/{ids[K]}")[1]
    assert waiting["mpc_slot"] == 0 and waiting["mpc_start"] == c.height == final_height + 2
    assert waiting["deadline_height"] == c.height + 6
    # A deadline frees a slot as well.
    for _ in range(7):
        c.block()
    assert c.query(f"/poll/{ids[1]}")[1]["status"] == "failed"
    c.app.close()
