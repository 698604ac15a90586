"""The complaint store: durable, private, first complaint wins, every stored one found again."""

import os
import stat

import pytest

from mpc_tx.protocol import canonical
from mpc_tx.worker.complaints import SETTLED, ComplaintStore, complain_body

TX_A, TX_B = "AB" * 32, "CD" * 32


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_complaint_is_written_privately_before_anything_else(tmp_path):
    store = ComplaintStore(tmp_path, "chain-x")
    body = complain_body(7, 2, "ee" * 32, TX_A, b"\x01" * 96)
    assert body == {"poll": 7, "validator": 2, "voter": "ee" * 32, "ballot_tx": TX_A, "complaint": "01" * 96}
    assert store.load(7, TX_A) is None
    assert store.save(body) == body
    path = tmp_path / "mpc" / "complaints" / "chain-x" / "7" / TX_A
    assert store.path(7, TX_A) == path and path.read_bytes() == canonical.encode(body)
    assert _mode(path) == 0o600
    for folder in (path.parent, path.parent.parent, path.parent.parent.parent):
        assert _mode(folder) == 0o700
    assert not list(path.parent.glob("*.tmp"))
    assert store.load(7, TX_A) == body


def test_the_first_stored_complaint_wins_so_a_second_one_is_never_sent(tmp_path):
    store = ComplaintStore(tmp_path, "chain-x")
    first = complain_body(7, 2, "ee" * 32, TX_A, b"\x01" * 96)
    store.save(first)
    second = complain_body(7, 2, "ee" * 32, TX_A, b"\x02" * 96)
    assert store.save(second) == first
    assert ComplaintStore(tmp_path, "chain-x").load(7, TX_A) == first  # as a restarted worker reads it


def test_every_stored_complaint_is_found_again_and_chains_are_apart(tmp_path):
    store = ComplaintStore(tmp_path, "chain-x")
    bodies = [complain_body(p, 0, "ee" * 32, tx, bytes([p]) * 96) for p, tx in ((7, TX_B), (7, TX_A), (12, TX_A))]
    for body in bodies:
        store.save(body)
    (store.root / "7" / "stray.tmp").write_text("half written")  # not a complaint
    found = list(ComplaintStore(tmp_path, "chain-x").stored())
    key = lambda b: (b["poll"], b["ballot_tx"])  # noqa: E731
    assert sorted(found, key=key) == sorted(bodies, key=key) and len(found) == 3
    assert list(ComplaintStore(tmp_path, "chain-y").stored()) == []


@pytest.mark.parametrize("chain_id", ["", ".", "..", "a/b", "a\x00b"])
def test_a_chain_id_that_cannot_name_a_folder_is_refused(tmp_path, chain_id):
    with pytest.raises(ValueError):
        ComplaintStore(tmp_path, chain_id)


@pytest.mark.parametrize("poll_id, tx", [(-1, TX_A), ("7", TX_A), (7, TX_A.lower()), (7, "../x"), (7, TX_A[:-2])])
def test_only_a_poll_id_and_an_upper_case_tx_hash_name_a_complaint(tmp_path, poll_id, tx):
    with pytest.raises(ValueError):
        ComplaintStore(tmp_path, "chain-x").path(poll_id, tx)


def test_the_refusals_no_retry_changes_are_the_complaint_codes():
    assert SETTLED == (23, 24, 25, 26)
