"""One testnet under test: bring-up, polls, the ballot load of a run, and each run's record.

A run is one poll under load: ballots flow into the open poll, a fault hits
while at least `min_in_flight` of them are acknowledged by a node but not yet
committed, the testnet recovers, the poll closes, and the invariants are
checked (see `checks`). Its record lists the faults with process, PID and
height, the ballot counts, app-hash divergences, whether the outcome equals the
one computed in the clear, and every unexpected exit or panic.
"""

import json
import random
import time
import traceback
from dataclasses import dataclass, field

from mpc_tx.protocol import tx as txcodec
from mpc_tx.client.cli import Client, CliError
from mpc_tx.protocol.keys import SigningKey
from mpc_tx.client.rpc import Rpc, RpcError, QueryError

from toolkit.load import Load, build_ballots
from toolkit.reliability.checks import HashAudit, ballots_in_state, clear_outcome, compare_outcome, outcome_on_nodes
from toolkit.reliability.procs import Supervisor

__all__ = ["Settings", "RunFailed", "Run", "Harness"]

VALIDATORS = 4
OPTIONS = ("a", "b", "c")
LATE_BALLOTS = 60  # sent around the close: counted, or refused as POLL_CLOSED


@dataclass
class Settings:
    """What a reliability run does; --quick lowers counts, never skips a scenario."""

    quick: bool = False
    ballots: int = 2400
    min_in_flight: int = 200
    block_time: str = "300ms"
    attempt_blocks: int = 20  # A: an MPC attempt every A blocks after the close
    deadline_blocks: int = 100  # D: a poll without a final outcome fails D blocks after the close
    seed: int = 0
    runs: dict = field(default_factory=dict)  # scenario variant -> runs

    def rng(self, *salt) -> random.Random:
        return random.Random(f"{self.seed}/{'/'.join(map(str, salt))}")


class RunFailed(Exception):
    """A run could not do what it set out to (the reason is the message)."""


class Run:
    """The record of one run of a scenario variant."""

    def __init__(self, scenario: str, variant: str, number: int):
        self.scenario, self.variant, self.number = scenario, variant, number
        self.started = time.monotonic()
        self.faults: list[dict] = []
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.ballots = {
            "submitted": 0,
            "committed": 0,
            "lost": 0,
            "never_committed": 0,
            "rejected_in_block": 0,
            "extra_in_state": 0,
            "resent": 0,
            "late_counted": 0,
            "late_refused": 0,
        }
        self.divergences = 0
        self.outcomes: list[dict] = []
        self.crashes: list[dict] = []
        self.expected_exits: list[dict] = []

    def fault(self, **entry) -> dict:
        entry.setdefault("at_s", round(time.monotonic() - self.started, 2))
        self.faults.append(entry)
        return entry

    def fail(self, reason: str):
        self.failures.append(reason)

    def add_counts(self, counts: dict, lost: int, extra: int):
        for key in ("submitted", "committed", "never_committed", "rejected_in_block", "resent"):
            self.ballots[key] += counts[key]
        self.ballots["lost"] += lost
        self.ballots["extra_in_state"] += extra

    @property
    def outcome_correct(self) -> bool:
        return bool(self.outcomes) and all(o["correct"] for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.crashes

    def record(self) -> dict:
        return {
            "scenario": self.scenario,
            "variant": self.variant,
            "run": self.number,
            "ok": self.ok,
            "failures": self.failures,
            "faults": self.faults,
            "ballots": self.ballots,
            "divergences": self.divergences,
            "outcomes": self.outcomes,
            "outcome_correct": self.outcome_correct,
            "crashes": self.crashes,
            "expected_exits": self.expected_exits,
            "notes": self.notes,
            "duration_s": round(time.monotonic() - self.started, 1),
        }


class Harness:
    """A running testnet, its supervisor, and the helpers every scenario uses."""

    def __init__(self, net, settings: Settings, log):
        self.net = net
        self.settings = settings
        self.log = log
        self.sup = Supervisor(net)
        self.audit = HashAudit(net)
        self.kinds = 0
        self.learned = {}  # timings measured by earlier runs, to aim later faults

    # --- bring-up ---------------------------------------------------------------------------
    def up(self):
        self.net.set_params(
            {"mpc_attempt_blocks": self.settings.attempt_blocks, "mpc_deadline_blocks": self.settings.deadline_blocks}
        )
        self.sup.start_all()
        self.net.wait_height(2, timeout=180)

    @property
    def genesis(self) -> dict:
        """The chain's genesis as it is now (a reset starts a chain with a new chain id)."""
        return json.loads(self.net.genesis_path().read_text())

    def down(self):
        self.sup.stop_all("the reliability run ends")

    # --- chain access ------------------------------------------------------------------------------
    def nodes(self) -> list[int]:
        return list(range(len(self.net.validators)))

    def urls(self, nodes=None) -> dict:
        return {i: self.net.rpc_url(i) for i in (self.nodes() if nodes is None else nodes)}

    def height(self, i: int) -> int | None:
        rpc = Rpc(self.net.rpc_url(i), timeout=5.0)
        try:
            return rpc.height()
        except RpcError:
            return None
        finally:
            rpc.close()

    def heights(self, nodes=None) -> dict:
        return {i: self.height(i) for i in (self.nodes() if nodes is None else nodes)}

    def top(self, nodes=None) -> int:
        return max((h for h in self.heights(nodes).values() if h is not None), default=0)

    def client(self, i: int) -> Client:
        return Client(self.net.rpc_url(i), genesis=str(self.net.genesis_path()))

    def submit(self, make, nodes=None, attempts=6) -> dict:
        """Submit a tx built by make(client) through the first node that takes it; wait for commit."""
        last = None
        for k in range(attempts):
            for i in self.nodes() if nodes is None else nodes:
                try:
                    client = self.client(i)
                    return client.submit(make(client), timeout=90.0)
                except CliError as exc:
                    if exc.code is not None:
                        raise
                    last = exc
                except (RpcError, QueryError, OSError) as exc:
                    last = exc
            time.sleep(2.0)
        raise RunFailed(f"no node committed the tx: {last}")

    def query(self, path: str, nodes=None):
        last = None
        for i in self.nodes() if nodes is None else nodes:
            rpc = Rpc(self.net.rpc_url(i), timeout=10.0)
            try:
                return rpc.query(path)[0]
            except (RpcError, QueryError) as exc:
                last = exc
            finally:
                rpc.close()
        raise RunFailed(f"no node answered {path}: {last}")

    def new_poll(self, kind: str) -> tuple[dict, SigningKey]:
        creator = SigningKey.generate()
        options = OPTIONS if kind == "tally" else ()

        def make(client):
            height = client.rpc.height()
            body = {
                "question": "Reliability under faults?",
                "kind": kind,
                "options": list(options),
                "voters": None,
                "close_height": height + 50_000,
                "max_ballots": 100_000,
                "max_revotes": 3,
                "min_ballots": client.params().get("min_ballots_floor", 0),
                "threshold": None,  # the top of the range the chain allows (§17)
            }
            return txcodec.build(creator, client.chain_id, "create_poll", client.next_nonce(creator), body)

        res = self.submit(make)
        poll_id = int(res["events"]["poll_created"]["poll_id"])
        return self.query(f"/poll/{poll_id}"), creator

    def close_poll(self, poll: dict, creator: SigningKey) -> dict:
        self.submit(
            lambda c: txcodec.build(creator, c.chain_id, "close_poll", c.next_nonce(creator), {"poll": poll["id"]})
        )
        return self.query(f"/poll/{poll['id']}")

    def counted_set_fixed(self, poll_id: int, timeout=120.0) -> dict:
        """Return the poll once its counted set is fixed (after the complaint window, §17): its MPC starts then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            poll = self.query(f"/poll/{poll_id}")
            if poll.get("counted_fixed_height") is not None:
                return poll
            time.sleep(0.3)
        raise RunFailed(f"poll {poll_id}'s counted set was not fixed within {timeout:.0f} s")

    def wait_outcome(self, poll_id: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out = self.query(f"/poll/{poll_id}/outcome")
                if out["status"] in ("final", "failed"):
                    return out
            except RunFailed:
                pass
            time.sleep(0.5)
        raise RunFailed(f"poll {poll_id} has no final outcome after {timeout:.0f} s")

    def wait_caught_up(self, nodes=None, timeout=180.0):
        """Wait until every node reaches the height the highest one has now."""
        self.net.wait_height(self.top(), timeout=timeout, nodes=nodes)

    def outcome_timeout(self) -> float:
        return 120.0 + 1.5 * self.settings.deadline_blocks

    # --- a poll under load ------------------------------------------------------------------------
    def next_kind(self) -> str:
        """Alternate the kind of the polls under load: tally, unanimity, tally, ..."""
        self.kinds += 1
        return "tally" if self.kinds % 2 else "unanimity"

    def choices(self, kind: str, n: int, rng: random.Random) -> list[str]:
        # A unanimity poll where everyone votes yes: one lost or corrupted share turns it into a no.
        return ["yes"] * n if kind == "unanimity" else [rng.choice(OPTIONS) for _ in range(n)]

    def start_load(self, poll: dict, n: int, rng: random.Random, nodes=None) -> Load:
        ballots = build_ballots(poll, self.genesis, self.choices(poll["kind"], n, rng))
        load = Load(self.urls(nodes), ballots, start_height=max(1, self.top() - 1))
        return load.start()

    def wait_moment(self, load: Load, rng: random.Random, run: Run, waves: int | None = None) -> dict:
        """Wait for a random moment with at least min_in_flight ballots in flight; return the snapshot."""
        n, least, wave = len(load.ballots), self.settings.min_in_flight, load.wave
        # Any wave but the last (ballots keep flowing after the fault), once most of it is in flight.
        waves = min(waves or n, -(-n // wave) - 1)
        at = min(n, rng.randrange(max(1, waves)) * wave + rng.randint(least, max(least, wave)))
        snap = load.wait_moment(at, least, timeout=120.0)
        if snap is None:
            snap = load.snapshot()
            raise RunFailed(f"never {least} ballots in flight (at {snap}): the fault would not hit a load")
        return snap

    def finish_load(self, load: Load, run: Run, timeout=180.0):
        """Let the voters resend until every ballot is committed (bounded), then stop sending."""
        if not load.wait_settled(timeout):
            counts = load.counts()
            run.notes.append(f"not every ballot committed after {timeout:.0f} s: {counts}")
        load.stop_sending()

    def close_under_load(self, run: Run, poll: dict, creator: SigningKey, load: Load) -> tuple[dict, Load]:
        """Close the poll while a last few ballots are still on their way; return (poll, late ballots).

        A late ballot is counted if its block comes before the close (or it sits
        before the close tx in the same block), and refused with POLL_CLOSED after.
        """
        late = Load(
            self.urls(),
            build_ballots(poll, self.genesis, self.choices(poll["kind"], LATE_BALLOTS, random.Random(poll["id"]))),
            start_height=max(1, self.top() - 1),
            wave=LATE_BALLOTS // 6,
            wave_interval=0.1,
            resend_after=1e9,
        ).start()
        time.sleep(0.25)  # the close tx goes out while late ballots are still being sent
        try:
            closed = self.close_poll(poll, creator)
            for what, watched in (("ballots", load), ("late ballots", late)):
                if not watched.wait_height(closed["closed_height"] + 1, timeout=120.0):
                    run.fail(f"the {what}' block watcher did not reach the close height {closed['closed_height']}")
        finally:
            load.stop()
            late.stop()
        for watched in (load, late):
            if watched.watch_error:
                run.fail(f"block watcher: {watched.watch_error}")
        return closed, late

    def close_and_check(
        self, run: Run, poll: dict, creator: SigningKey, load: Load, expect_failure: dict | None = None
    ) -> dict:
        """Close the poll under the last ballots, wait for its outcome, check the invariants."""
        closed, late = self.close_under_load(run, poll, creator, load)
        out = self.check_outcome(run, closed, [load, late], expect_failure)
        self.check_ballots(run, closed, load, late)
        return out

    def check_outcome(self, run: Run, poll: dict, loads: list, expect_failure=None) -> dict:
        out = self.wait_outcome(poll["id"], self.outcome_timeout())
        self.net.wait_height(out["final_height"] + 1, timeout=180)
        committed = [b for load in loads for b in load.committed_ballots()]
        if expect_failure is not None:
            expected = {"status": "failed", **expect_failure}
        else:
            expected = {
                "status": "final",
                "outcome": clear_outcome(poll, [b.choice for b in committed]),
                "counted": len(committed),
            }
        wrong = compare_outcome(outcome_on_nodes(self.net, poll["id"]), expected)
        result = out.get("result") or {}
        run.outcomes.append(
            {
                "poll": poll["id"],
                "kind": poll["kind"],
                "status": out["status"],
                "outcome": result.get("outcome") or {k: result.get(k) for k in ("code", "absent")},
                "expected": expected.get("outcome") or {k: expected.get(k) for k in ("code", "absent")},
                "counted": result.get("counted"),
                "ballots_in_poll": out["ballots"],
                "attesters": out["attesters"],
                "dissenters": out["dissenters"],
                "closed_height": out["closed_height"],
                "final_height": out["final_height"],
                "correct": not wrong,
            }
        )
        for w in wrong:
            run.fail(f"poll {poll['id']}: {w}")
        return out

    def check_ballots(self, run: Run, poll: dict, load: Load, late: Load | None = None):
        """Every committed ballot in every node's state; every acknowledged one committed (bar late ones)."""
        loads = [load] + ([late] if late is not None else [])
        committed = {b.voter: b.hash for x in loads for b in x.committed_ballots()}
        found = ballots_in_state(self.net, poll["id"], committed)
        counts = load.counts()
        run.add_counts(counts, found["lost"], found["extra"])
        if found["lost"]:
            run.fail(
                f"poll {poll['id']}: {found['lost']} committed ballots missing from a node's state: {found['nodes']}"
            )
        if found["extra"]:
            run.fail(f"poll {poll['id']}: {found['extra']} ballots in state that the test never saw committed")
        if counts["never_committed"]:
            run.fail(
                f"poll {poll['id']}: {counts['never_committed']} acknowledged ballots never committed "
                "before the close, though resent"
            )
        if late is not None:
            self._check_late(run, poll, late)

    def _check_late(self, run: Run, poll: dict, late: Load):
        """A late ballot not committed must be refused as POLL_CLOSED (in a block, or when sent again)."""
        late_counts = late.counts()
        refused, other = 0, []
        rpc = Rpc(self.net.rpc_url(0), timeout=30.0)
        try:
            for k, ballot in enumerate(late.ballots):
                if k in late.committed:
                    continue
                code = late.rejected.get(k)
                if code is None:
                    try:
                        answer = rpc.broadcast_tx_sync(ballot.raw)
                        code = int(answer["code"])
                    except RpcError as exc:
                        code = str(exc)[:80]
                if code == 8:
                    refused += 1
                else:
                    other.append(code)
        finally:
            rpc.close()
        run.ballots["late_counted"] += late_counts["committed"]
        run.ballots["late_refused"] += refused
        run.ballots["committed"] += late_counts["committed"]
        run.ballots["submitted"] += late_counts["committed"] + refused
        if other:
            run.fail(f"poll {poll['id']}: late ballots neither counted nor refused as POLL_CLOSED: {other[:5]}")

    def check_hashes(self, run: Run):
        self.wait_caught_up(timeout=180)
        result = self.audit.audit()
        run.divergences += len(result["divergent"])
        if result["divergent"]:
            run.fail(f"app hashes differ at {len(result['divergent'])} heights, first {result['divergent'][0]}")
        if result["errors"] or result["unchecked"]:
            run.fail(f"app hashes not compared at {result['unchecked']} heights: {result['errors'][:2]}")
        run.notes.append(f"app hashes compared at heights {result['from']}..{result['to']}")

    # --- the frame of every run ---------------------------------------------------------------------------
    def run(self, scenario: str, variant: str, number: int, body) -> Run:
        """Run body(run) and the checks after it; record failures and crashes, never raise."""
        run = Run(scenario, variant, number)
        mark = self.sup.mark()
        self.log(f"{scenario} {variant} #{number}: start (height {self.top()})")
        try:
            body(run)
        except RunFailed as exc:
            run.fail(str(exc))
        except Exception as exc:  # a scenario that cannot run fails; it is never skipped
            run.fail(f"{type(exc).__name__}: {exc}")
            self.log(traceback.format_exc())
        # A run that failed half-way may leave processes down: bring them back to check and go on.
        restarted = self.sup.ensure_running()
        if restarted:
            run.notes.append(f"restarted after the run: {restarted}")
        try:
            self.check_hashes(run)
        except Exception as exc:
            run.fail(f"app-hash check: {type(exc).__name__}: {exc}")
        self._collect_exits(run, mark)
        self.log(
            f"{scenario} {variant} #{number}: {'ok' if run.ok else 'FAILED'} in "
            f"{time.monotonic() - run.started:.0f} s; ballots {run.ballots}; "
            + ("; ".join(run.failures + [f"crash {c}" for c in run.crashes]))
        )
        return run

    def _collect_exits(self, run: Run, mark):
        exits, panics = self.sup.since(mark)
        for e in exits:
            (run.expected_exits if e.expected else run.crashes).append(e.record())
        for p in panics:
            (run.expected_exits if p.expected else run.crashes).append(p.record())
