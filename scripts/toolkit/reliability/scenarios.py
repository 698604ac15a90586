"""The seven scenarios, each a body run by `Harness.run` with the invariants checked after it.

1. kill -9 of one validator's node, app or worker at a random moment, then a
   restart; and an app that exits between FinalizeBlock and Commit (the
   test-only fault switch).
2. SIGSTOP of one validator for more than a few blocks, then SIGCONT.
3. The whole testnet stopped and started again; reset and started again.
4. One validator cut off from the others, then healed (namespaced testnet).
5. A Byzantine validator (see `byzantine`).
6. One MPC worker down through the close, back before or after the deadline.
7. Byzantine ballots and complaints: invalid ballots from a proposer, bad shares, false
   complaints (see `ballots`).
"""

import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from mpc_tx.client.rpc import Rpc

from toolkit.reliability.ballots import byzantine_ballots
from toolkit.reliability.byzantine import byzantine_attester
from toolkit.reliability.harness import RunFailed

# The test entry point with fault switches (python -m abci_app has none).
FAULTY_APP = Path(__file__).resolve().parents[3] / "tests" / "faults" / "app.py"

__all__ = ["Variant", "VARIANTS"]

STAGE_S = 4.0  # restart an app with the fault switch this long before a wave
NODE_TO_EXIT_S = 1.3  # first guess of a node's start to its app's exit in FinalizeBlock (then learned)
EXIT_AFTER_WAVE_S = 0.55  # aim: the wave acknowledged, most of it not yet committed


@dataclass(frozen=True)
class Variant:
    scenario: str  # the number
    name: str
    body: object  # body(harness, run, rng)
    quick_runs: int
    full_runs: int
    namespaced: bool = False


def _under_load(h, run, rng, inject, kind=None):
    """A poll under load; inject(h, run, rng, load) hits it at a random moment; then close and check."""
    poll, creator = h.new_poll(kind or h.next_kind())
    load = h.start_load(poll, h.settings.ballots, rng)
    try:
        inject(h, run, rng, load)
        h.finish_load(load, run)
        h.close_and_check(run, poll, creator, load)
    finally:
        load.stop()


def _others(h, i):
    return [j for j in h.nodes() if j != i]


# --- 1. kill -9 ------------------------------------------------------------------------------
def _kill(proc):
    def inject(h, run, rng, load):
        i = rng.randrange(len(h.nodes()))
        snap = h.wait_moment(load, rng, run)
        node_pid = h.net.pid(i, "node")
        if proc == "app":
            h.sup.expect_exit(node_pid, "its app was killed: a node stops when its ABCI connection drops")
            h.sup.expect_panics(i, "its app was killed")
        height = h.top()
        pid = h.sup.kill(i, proc, "kill -9 by the scenario")
        run.fault(action="SIGKILL", process=proc, validator=i, pid=pid, height=height, **snap)
        time.sleep(rng.uniform(1.0, 4.0))
        if proc == "app":
            if h.sup.wait_exit(node_pid, 30) is None:
                run.notes.append("the node did not stop after its app was killed; stopped it")
                h.sup.stop(i, "node", "restarted with its app")
            h.sup.start(i, "app")
            h.sup.start(i, "node")
        else:
            h.sup.start(i, proc)
        run.fault(action="restart", process=proc, validator=i, pid=h.net.pid(i, proc), height=h.top())
        if proc != "worker":
            h.wait_caught_up(nodes=[i])

    def body(h, run, rng):
        _under_load(h, run, rng, inject)

    return body


_LISTENING = re.compile(rb"listening on \S+ \(height (\d+)\)")


def _listening_height(log: Path, offset: int, timeout=30.0) -> int:
    """Return the committed height the app reported when it began listening (after offset)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(offset)
            found = _LISTENING.findall(f.read())
        if found:
            return int(found[-1])
        time.sleep(0.1)
    raise RunFailed(f"the app never logged its height in {log}")


def _exit_before_commit(h, run, rng):
    i = rng.randrange(len(h.nodes()))
    log = h.net.log_file(i, "app")
    poll, creator = h.new_poll(h.next_kind())
    load = h.start_load(poll, h.settings.ballots, rng)
    try:
        # A few seconds before a wave: validator i's app restarts with the fault switch, its
        # node stays down; just before the wave the node starts, fetches the blocks it missed
        # and the app dies in the first FinalizeBlock, while the wave is in flight.
        wave = rng.randrange(1, max(2, -(-len(load.ballots) // load.wave) - 1))
        time.sleep(max(0.0, load.release_time(wave) - STAGE_S - time.monotonic()))
        height = h.top()
        for proc in ("node", "app"):
            pid = h.sup.stop(i, proc, "restart of the app with the fault switch")
            run.fault(action="SIGTERM", process=proc, validator=i, pid=pid, height=height)
        offset = log.stat().st_size if log.exists() else 0
        faulty = h.sup.start(i, "app", env={"MPCVOTE_FAULT": "exit-before-commit"}, entry=str(FAULTY_APP))
        h.sup.expect_exit(faulty, "the test-only fault switch: os._exit(17) in FinalizeBlock")
        committed = _listening_height(log, offset)
        to_exit = h.learned.get("node_start_to_exit_s", NODE_TO_EXIT_S)
        time.sleep(max(0.0, load.release_time(wave) + EXIT_AFTER_WAVE_S - to_exit - time.monotonic()))
        started = time.monotonic()
        node = h.sup.start(i, "node")
        h.sup.expect_exit(node, "its app exited inside FinalizeBlock")
        h.sup.expect_panics(i, "its app exited inside FinalizeBlock")
        ended = h.sup.wait_exit(faulty, 120)
        if ended is None:
            raise RunFailed("the app with the fault switch never reached FinalizeBlock")
        in_flight = load.in_flight_at(ended.at)
        h.learned["node_start_to_exit_s"] = (to_exit + ended.at - started) / 2
        run.fault(
            action="exit-before-commit",
            process="app",
            validator=i,
            pid=faulty,
            height=committed + 1,
            status=ended.status,
            in_flight=in_flight,
            wave=wave,
            chain_height=h.top(_others(h, i)),
            node_start_to_exit_s=round(ended.at - started, 2),
        )
        if in_flight < h.settings.min_in_flight:
            run.fail(f"only {in_flight} ballots were in flight when the app exited")
        if ended.status != "exit code 17":
            run.fail(f"the faulty app ended with {ended.status}, not exit code 17")
        if h.sup.wait_exit(node, 30) is None:
            run.notes.append("the node did not stop after its app exited; stopped it")
            h.sup.stop(i, "node", "restarted with its app")
        offset = log.stat().st_size
        h.sup.start(i, "app")
        again = _listening_height(log, offset)
        if again != committed:
            run.fail(
                f"after the exit in FinalizeBlock of {committed + 1} the app is at {again}, not {committed}: "
                "part of a block was committed"
            )
        h.sup.start(i, "node")
        run.fault(
            action="restart", process="app+node", validator=i, pid=h.net.pid(i, "app"), height=h.top(), app_height=again
        )
        h.wait_caught_up(nodes=[i])
        h.finish_load(load, run)
        h.close_and_check(run, poll, creator, load)
    finally:
        load.stop()


# --- 2. SIGSTOP ----------------------------------------------------------------------------
def _sigstop(h, run, rng):
    def inject(h, run, rng, load):
        i = rng.randrange(len(h.nodes()))
        others = _others(h, i)
        snap = h.wait_moment(load, rng, run)
        height = h.top(others)
        pids = h.sup.signal_validator(i, signal.SIGSTOP)
        frozen = time.monotonic()
        for proc, pid in pids.items():
            run.fault(action="SIGSTOP", process=proc, validator=i, pid=pid, height=height, **snap)
        try:
            target = height + 8
            deadline = frozen + 120
            while h.top(others) < target or time.monotonic() - frozen < 4.0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            h.sup.signal_validator(i, signal.SIGCONT)
        reached = h.top(others)
        run.fault(
            action="SIGCONT",
            process="node+app+worker",
            validator=i,
            pid=pids.get("node"),
            height=reached,
            stopped_s=round(time.monotonic() - frozen, 1),
            blocks_meanwhile=reached - height,
        )
        if reached - height < 5:
            run.fail(f"the other three committed only {reached - height} blocks while validator {i} was stopped")
        h.wait_caught_up(nodes=[i])

    _under_load(h, run, rng, inject)


# --- 3. the whole testnet ---------------------------------------------------------------------
def _restart_all(h, run, rng):
    def inject(h, run, rng, load):
        snap = h.wait_moment(load, rng, run)
        height = h.top()
        for s in h.sup.stop_all("the scenario stops the whole testnet"):
            run.fault(action="SIGTERM (testnet down)", height=height, **s, **snap)
        time.sleep(rng.uniform(1.0, 3.0))
        h.sup.start_all()
        h.net.wait_height(height + 1, timeout=180)
        run.fault(action="testnet up", process="all", validator=None, pid=None, height=h.top())

    _under_load(h, run, rng, inject)


def _reset(h, run, rng):
    poll, _creator = h.new_poll(h.next_kind())
    load = h.start_load(poll, h.settings.ballots, rng)
    try:
        snap = h.wait_moment(load, rng, run)
        height = h.top()
        for s in h.sup.stop_all("the scenario resets the testnet"):
            run.fault(action="SIGTERM (reset)", height=height, **s, **snap)
    finally:
        load.stop()
    run.notes.append(f"the old chain's poll {poll['id']} was discarded with the chain: {load.counts()}")
    # The reset wipes the logs with the chain: keep the old chain's for a post-mortem.
    shutil.copytree(h.net.dir / "logs", h.net.dir / f"logs-before-reset-{run.number}", dirs_exist_ok=True)
    h.net.reset()
    h.sup.forget_logs()
    h.audit.reset()
    h.sup.start_all()
    h.net.wait_height(2, timeout=180)
    run.fault(action="reset and up", process="all", validator=None, pid=None, height=h.top())
    top = h.top()
    if top >= height:
        run.fail(f"after the reset the chain is at height {top}, not below the old {height}")
    for i in h.nodes():
        polls = h.query("/polls", nodes=[i])["polls"]
        if polls:
            run.fail(f"node{i} still has {len(polls)} polls after the reset")
    # The new chain takes a poll under load like the old one did.
    fresh, creator = h.new_poll(h.next_kind())
    load = h.start_load(fresh, h.settings.ballots, rng)
    try:
        h.finish_load(load, run)
        h.close_and_check(run, fresh, creator, load)
    finally:
        load.stop()


# --- 4. partition ------------------------------------------------------------------------------------
def _partition(h, run, rng):
    network = h.net.network

    def inject(h, run, rng, load):
        i = rng.randrange(len(h.nodes()))
        others = _others(h, i)
        snap = h.wait_moment(load, rng, run)
        height, own = h.top(others), h.height(i)
        network.partition(i)
        cut = time.monotonic()
        for proc in ("node", "app", "worker"):
            run.fault(
                action="partition",
                process=proc,
                validator=i,
                pid=h.net.pid(i, proc),
                height=height,
                cut_node_height=own,
                **snap,
            )
        try:
            target, deadline = height + 8, cut + 120
            while h.top(others) < target or time.monotonic() - cut < 5.0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            reached, stuck = h.top(others), h.height(i)
        finally:
            network.heal(i)
        run.fault(
            action="heal",
            process="network",
            validator=i,
            pid=None,
            height=reached,
            cut_s=round(time.monotonic() - cut, 1),
            blocks_meanwhile=reached - height,
            cut_node_height=stuck,
        )
        if reached - height < 5:
            run.fail(f"the other three committed only {reached - height} blocks with validator {i} cut off")
        if stuck is not None and own is not None and stuck > own + 1:
            run.fail(f"the cut-off node went from {own} to {stuck} while cut off")
        h.wait_caught_up(nodes=[i], timeout=240)

    _under_load(h, run, rng, inject)


# --- 6. an MPC worker down through the close ------------------------------------------------------
def _worker_down(past_deadline: bool):
    def body(h, run, rng):
        w = rng.randrange(len(h.nodes()))
        A = h.settings.attempt_blocks
        # Unanimity: it runs in MPyC and needs every worker. A tally is opened on chain from any
        # t+1 validators' posts, so one worker down cannot stop it (tests/testnet/test_onchain_tally.py).
        poll, creator = h.new_poll("unanimity")
        load = h.start_load(poll, h.settings.ballots, rng)
        try:
            snap = h.wait_moment(load, rng, run)
            height = h.top()
            pid = h.sup.kill(w, "worker", "kill -9 by the scenario: down through the close")
            run.fault(action="SIGKILL", process="worker", validator=w, pid=pid, height=height, **snap)
            h.finish_load(load, run)
            closed, late = h.close_under_load(run, poll, creator, load)
            # Through the complaint window and the first attempt (the MPC starts once the counted
            # set is fixed, §17): the other parties report the absent one.
            fixed = h.counted_set_fixed(poll["id"], timeout=240)
            h.net.wait_height(fixed["counted_fixed_height"] + A, timeout=240)
            deadline, reports = time.monotonic() + 120, []
            while not any(w in r for r in reports) and time.monotonic() < deadline:
                time.sleep(1.0)
                reports = _absence_reports(h, poll["id"])
            if not any(w in r for r in reports):
                run.fail(f"no failed-attempt report names worker {w} (reports {reports})")
            if past_deadline:
                out = h.wait_outcome(poll["id"], h.outcome_timeout())
                h.sup.start(w, "worker")
                run.fault(action="restart", process="worker", validator=w, pid=h.net.pid(w, "worker"), height=h.top())
                h.check_outcome(run, closed, [load, late], expect_failure={"code": "deadline", "absent": [w]})
            else:
                status = h.query(f"/poll/{poll['id']}/outcome")["status"]
                if status != "closed":
                    run.fail(f"poll {poll['id']} is {status} without worker {w}: all m workers are needed")
                h.sup.start(w, "worker")
                run.fault(action="restart", process="worker", validator=w, pid=h.net.pid(w, "worker"), height=h.top())
                out = h.check_outcome(run, closed, [load, late])
                if out["final_height"] > h.query(f"/poll/{poll['id']}")["deadline_height"]:
                    run.fail("the outcome came after the deadline")
            run.notes.append(f"absence reports {reports}")
            h.check_ballots(run, closed, load, late)
        finally:
            load.stop()

    return body


def _absence_reports(h, poll_id: int) -> list[list[int]]:
    rpc = Rpc(h.net.rpc_url(0), timeout=30.0)
    try:
        found = rpc.call("tx_search", query=f"attempt_failed.poll_id={poll_id}", per_page="100")
    finally:
        rpc.close()
    reports = []
    for t in found["txs"]:
        for ev in t["tx_result"].get("events") or []:
            if ev["type"] == "attempt_failed":
                attrs = {a["key"]: a["value"] for a in ev["attributes"]}
                reports.append([int(x) for x in attrs.get("absent", "").split(",") if x])
    return reports


VARIANTS = [
    Variant("1", "kill -9 node", _kill("node"), 1, 3),
    Variant("1", "kill -9 app", _kill("app"), 1, 3),
    Variant("1", "kill -9 worker", _kill("worker"), 1, 3),
    Variant("1", "app exits between FinalizeBlock and Commit", _exit_before_commit, 1, 3),
    Variant("2", "SIGSTOP one validator", _sigstop, 1, 3),
    Variant("5", "Byzantine attester", byzantine_attester, 1, 2),
    Variant("7", "Byzantine ballots, bad shares and false complaints", byzantine_ballots, 1, 2),
    Variant("6", "worker down through the close, back before the deadline", _worker_down(False), 1, 2),
    Variant("6", "worker down past the deadline", _worker_down(True), 1, 1),
    Variant("3", "whole testnet stopped and started", _restart_all, 1, 2),
    Variant("3", "testnet reset and started again", _reset, 1, 2),
    Variant("4", "one validator partitioned, then healed", _partition, 1, 3, namespaced=True),
]
