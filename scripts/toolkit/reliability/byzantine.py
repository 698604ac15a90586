"""Scenario 5: a Byzantine validator attests a wrong outcome, twice, for a seat not its own, with the wrong key.

Poll 1 gets its ballots and closes; the Byzantine validator's attestations for
it hit while poll 2's ballots are in flight. It holds its own honest worker back
(SIGSTOP; it runs that machine) until its wrong attestation is in, so the honest
attestation cannot come first. Expected: the wrong attestation is taken but
never counts, and the validator is named a dissenter; the second one, and
those for a seat it does not hold or signed with another key, are refused (by
CheckTx or in the block); the honest outcome becomes final.
"""

import base64
import json
import signal
import threading
import time
from pathlib import Path

from mpc_tx.protocol import canonical, tx as txcodec
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.keyfile import load_signing_key
from mpc_tx.client.rpc import Rpc, RpcError
from mpc_tx.protocol.digests import outcome_digest

from toolkit.load import Load, build_ballots
from toolkit.reliability.checks import clear_outcome

__all__ = ["byzantine_attester"]


def _consensus_key(home: str) -> SigningKey:
    doc = json.loads((Path(home) / "config" / "priv_validator_key.json").read_text())
    return SigningKey.from_seed(base64.b64decode(doc["priv_key"]["value"])[:32])


def _forged(signer_hex: str, key: SigningKey, chain_id: str, nonce: int, body: dict) -> bytes:
    """A submit_outcome naming signer_hex as its signer but signed with another key."""
    sig = key.sign(txcodec.signing_bytes(chain_id, "submit_outcome", signer_hex, nonce, body))
    return canonical.encode(
        {
            "type": "submit_outcome",
            "chain_id": chain_id,
            "signer": signer_hex,
            "nonce": nonce,
            "body": body,
            "sig": sig.hex(),
        }
    )


def byzantine_attester(h, run, rng):
    """Run scenario 5 once (a body for Harness.run)."""
    m = len(h.nodes())
    b = rng.randrange(m)
    home = h.net.validators[b]["home"]
    attest = load_signing_key(Path(home) / "mpc" / "attest_key.json")
    consensus = _consensus_key(home)
    chain_id = h.genesis["chain_id"]
    # Unanimity: a tally is opened on chain from aggregate posts (its attacks: a wrong post is
    # named, tests/testnet/test_onchain_tally.py); attestations are for the MPyC kind only.
    p1, c1 = h.new_poll("unanimity")
    load1 = h.start_load(p1, max(h.settings.min_in_flight, h.settings.ballots // 2), rng)
    load2, held = None, {}
    try:
        h.finish_load(load1, run)
        p2, c2 = h.new_poll(h.next_kind())
        ballots2 = build_ballots(p2, h.genesis, h.choices(p2["kind"], h.settings.ballots, rng))
        held = h.sup.signal_validator(b, signal.SIGSTOP, procs=("worker",))
        run.fault(
            action="SIGSTOP (holds back its honest worker)",
            process="worker",
            validator=b,
            pid=held.get("worker"),
            height=h.top(),
        )
        closed1, late1 = h.close_under_load(run, p1, c1, load1)
        closed1 = h.counted_set_fixed(p1["id"])  # its digest is what an attestation carries
        load2 = Load(h.urls(), ballots2, start_height=max(1, h.top() - 1)).start()
        counted1 = load1.committed_ballots() + late1.committed_ballots()
        clear = clear_outcome(closed1, [x.choice for x in counted1])
        n = len(counted1)

        def result(outcome):
            return {
                "status": "ok",
                "outcome": outcome,
                "counted": n,
                "ballots": closed1["ballots_digest"],
            }

        wrong = wrong2 = result({"unanimous": not clear["unanimous"]})
        snap = h.wait_moment(load2, rng, run, waves=2)
        height = h.top()
        nonce = time.time_ns() // 1000
        body = lambda index, res: {"poll": p1["id"], "validator": index, "result": res}  # noqa: E731
        attacks = [
            ("wrong outcome", 0, txcodec.build(attest, chain_id, "submit_outcome", nonce, body(b, wrong))),
            ("second attestation", 1, txcodec.build(attest, chain_id, "submit_outcome", nonce + 1, body(b, wrong2))),
            (
                "poll seat it does not hold (index m)",
                2,
                txcodec.build(attest, chain_id, "submit_outcome", nonce + 2, body(m, wrong)),
            ),
            (
                "another validator's seat",
                3,
                txcodec.build(attest, chain_id, "submit_outcome", nonce + 3, body((b + 1) % m, wrong)),
            ),
            (
                "signed with its consensus key",
                0,
                txcodec.build(consensus, chain_id, "submit_outcome", nonce + 4, body(b, wrong)),
            ),
            (
                "attestation key named, consensus key signed",
                1,
                _forged(attest.public_hex, consensus, chain_id, nonce + 5, body(b, wrong)),
            ),
        ]
        answers = [None] * len(attacks)

        def send(k, node, raw):
            rpc = Rpc(h.net.rpc_url(node), timeout=30.0)
            try:
                answers[k] = rpc.broadcast_tx_sync(raw)
            except RpcError as exc:
                answers[k] = {"code": None, "log": str(exc), "hash": txcodec.tx_hash(raw)}
            finally:
                rpc.close()

        # All at once, to different nodes: the two attestations race into the same or adjacent blocks.
        threads = [threading.Thread(target=send, args=(k, node, raw)) for k, (_, node, raw) in enumerate(attacks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for (what, node, raw), answer in zip(attacks, answers):
            run.fault(
                action=f"byzantine: {what}",
                process="attestation (script as validator)",
                validator=b,
                pid=held.get("worker"),
                height=height,
                node=node,
                tx=txcodec.tx_hash(raw),
                check_tx=answer and answer.get("code"),
                **snap,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            a["validator"] == b for a in h.query(f"/poll/{p1['id']}/attestations")["attestations"]
        ):
            time.sleep(0.3)
        h.sup.signal_validator(b, signal.SIGCONT, procs=("worker",))
        run.fault(
            action="SIGCONT (its honest worker attests too)",
            process="worker",
            validator=b,
            pid=held.get("worker"),
            height=h.top(),
        )
        h.finish_load(load2, run)
        out1 = h.check_outcome(run, closed1, [load1, late1])
        h.check_ballots(run, closed1, load1, late1)
        _judge_byzantine(
            h, run, p1["id"], b, m, attacks, answers, out1, {outcome_digest(wrong), outcome_digest(wrong2)}
        )
        h.close_and_check(run, p2, c2, load2)
    finally:
        if held:
            h.sup.signal_validator(b, signal.SIGCONT, procs=("worker",))
        load1.stop()
        if load2 is not None:
            load2.stop()


def _judge_byzantine(h, run, poll_id, b, m, attacks, answers, out, wrong_digests):
    atts = h.query(f"/poll/{poll_id}/attestations")["attestations"]
    from_b = [a for a in atts if a["validator"] == b]
    rpc = Rpc(h.net.rpc_url(0), timeout=30.0)
    in_block = {}
    try:
        for what, _node, raw in attacks:
            try:
                res = rpc.tx(txcodec.tx_hash(raw))
                in_block[what] = int(res["tx_result"].get("code", 0))
            except RpcError:
                in_block[what] = None  # never in a block (refused by CheckTx or its recheck)
    finally:
        rpc.close()
    for f in run.faults:
        if f["action"].startswith("byzantine: "):
            f["in_block"] = in_block[f["action"][len("byzantine: ") :]]
    accepted = [what for what, code in in_block.items() if code == 0]
    if any(a["validator"] >= m for a in atts):
        run.fail("an attestation for a seat outside the poll is in state")
    if len(from_b) != 1:
        run.fail(f"validator {b} has {len(from_b)} attestations in state, not exactly one")
    elif from_b[0]["digest"] not in wrong_digests:
        run.fail(f"validator {b}'s attestation in state is not the wrong outcome it sent")
    if len([w for w in accepted if w in ("wrong outcome", "second attestation")]) != 1 or set(accepted) - {
        "wrong outcome",
        "second attestation",
    }:
        run.fail(f"committed with code 0: {accepted}; expected exactly one of the two attestations")
    if out["status"] != "final" or b in out["attesters"] or out["dissenters"] != [b]:
        run.fail(
            f"poll {poll_id}: status {out['status']}, attesters {out['attesters']}, dissenters "
            f"{out['dissenters']}: the wrong attestation must not count and validator {b} must be named"
        )
    run.notes.append(f"byzantine validator {b}: in-block codes {in_block}; dissenters {out['dissenters']}")
