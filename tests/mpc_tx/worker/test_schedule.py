"""The worker's schedule: which attempt starts at which height, with how long to run, and what a poll asks."""

import ast
from pathlib import Path

import pytest

from mpc_tx.worker import schedule
from mpc_tx.worker.schedule import (
    Attempt,
    AGGREGATING,
    COMPUTING,
    FINISHED,
    QUEUED,
    WAITING,
    attempt_at,
    needs_refresh,
    next_attempt,
    phase,
)

A = 30  # mpc_attempt_blocks


def test_attempt_k_covers_the_heights_from_start_plus_k_times_a():
    assert [attempt_at(h, 100, A) for h in (100, 101, 129, 130, 159, 160, 250)] == [0, 0, 0, 1, 1, 2, 5]
    assert attempt_at(99, 100, A) == 0 and attempt_at(40, 100, A) == 0  # before the start: the first


@pytest.mark.parametrize(
    "height, expected",
    [
        (100, Attempt(0, 28.0)),  # on time: A - 2 blocks to run
        (101, Attempt(0, 27.0)),
        (102, Attempt(0, 26.0)),  # two blocks late: still joins
        (103, None),  # three blocks late: waits for the next
        (129, None),
        (130, Attempt(1, 28.0)),
        (132, Attempt(1, 26.0)),
        (133, None),
        (99, Attempt(0, 29.0)),  # a height read just before the slot's: the first attempt, a block longer
    ],
)
def test_an_attempt_is_joined_only_near_its_first_height(height, expected):
    assert next_attempt(height, 100, A, 1.0) == expected


def test_the_deadline_follows_the_block_interval_but_never_drops_below_the_minimum():
    assert next_attempt(100, 100, A, 0.5).deadline_s == 14.0
    assert next_attempt(100, 100, A, 2.0).deadline_s == 56.0
    assert next_attempt(100, 100, 4, 1.0).deadline_s == schedule.MIN_DEADLINE_S == 3.0  # (4-2)*1 s < 3 s
    assert next_attempt(102, 100, 5, 10.0).deadline_s == 10.0  # 5 - 2 late - 2 at the end = 1 block


def test_the_deadline_ends_the_job_before_the_next_attempt_starts():
    for late in range(schedule.LATE_BLOCKS + 1):
        attempt = next_attempt(100 + late, 100, A, 1.0)
        assert 100 + late + attempt.deadline_s == 100 + A - schedule.END_BLOCKS


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"status": "open"}, WAITING),
        ({"status": "closed", "mpc_slot": None}, QUEUED),
        ({"status": "closed"}, QUEUED),
        ({"status": "closed", "mpc_slot": 0}, COMPUTING),  # slot 0 is a slot
        ({"status": "closed", "mpc_slot": 3}, COMPUTING),
        ({"status": "final", "mpc_slot": 1}, FINISHED),
        ({"status": "failed"}, FINISHED),
        # a tally runs no MPC: it waits for the fix, then posts its pairs (no slot is ever given)
        ({"status": "closed", "kind": "tally", "counted_fixed_height": None}, WAITING),
        ({"status": "closed", "kind": "tally", "counted_fixed_height": 20}, AGGREGATING),
        ({"status": "closed", "kind": "tally", "counted_fixed_height": 20, "mpc_slot": 0}, AGGREGATING),
        ({"status": "closed", "kind": "unanimity", "counted_fixed_height": 20, "mpc_slot": 0}, COMPUTING),
        ({"status": "final", "kind": "tally", "counted_fixed_height": 20}, FINISHED),
    ],
)
def test_what_a_poll_asks_of_its_worker(record, expected):
    assert phase(record) == expected


def test_a_record_is_read_again_when_its_status_moves_or_while_it_waits_for_a_slot():
    assert needs_refresh(None, {"status": "open"})
    assert not needs_refresh({"status": "open"}, {"status": "open"})
    assert needs_refresh({"status": "open"}, {"status": "closed"})
    assert needs_refresh({"status": "closed", "mpc_slot": None}, {"status": "closed"})
    assert not needs_refresh({"status": "closed", "mpc_slot": 0}, {"status": "closed"})
    assert needs_refresh({"status": "closed", "mpc_slot": 0}, {"status": "final"})
    tally = {"status": "closed", "kind": "tally", "mpc_slot": None}
    assert needs_refresh({**tally, "counted_fixed_height": None}, {"status": "closed"})  # until the fix
    assert not needs_refresh({**tally, "counted_fixed_height": 20}, {"status": "closed"})  # then until final
    assert needs_refresh({**tally, "counted_fixed_height": 20}, {"status": "final"})


def test_the_schedule_does_no_io_and_reads_no_clock():
    tree = ast.parse(Path(schedule.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    }
    assert imported <= {"dataclasses"}, imported
