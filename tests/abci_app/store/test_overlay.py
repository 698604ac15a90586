"""The committed state (Store, in LevelDB) and the changes staged over it (Overlay)."""

import pytest

from mpc_tx.protocol import canonical

from abci_app.store.keys import APP_HASH, HEIGHT
from abci_app.store.overlay import Overlay, Store


def enc(value) -> bytes:
    return canonical.encode(value)


@pytest.fixture
def store(tmp_path):
    s = Store(str(tmp_path / "db"))
    yield s
    s.close()


@pytest.fixture
def committed(store):
    """A store holding a/1, a/2, a/4 and b/1 at height 1."""
    store.commit({b"a/1": enc(1), b"a/2": enc({"n": 2}), b"a/4": enc(4), b"b/1": enc("b")}, 1, b"\x01" * 32)
    return store


# --- Store ---------------------------------------------------------------------------------------


def test_an_empty_store_is_at_height_zero_with_no_app_hash(store):
    assert store.height == 0 and store.app_hash == b"" and store.get(b"a/1") is None


def test_commit_writes_the_changes_height_and_app_hash_together(committed):
    assert committed.height == 1 and committed.app_hash == b"\x01" * 32
    assert committed.get(b"a/1") == b"1"
    committed.commit({b"a/1": None, b"a/3": enc(3)}, 2, b"\x02" * 32)
    assert committed.get(b"a/1") is None and committed.get(b"a/3") == b"3"
    assert committed.height == 2 and committed.app_hash == b"\x02" * 32
    assert committed.get(HEIGHT) == b"2" and committed.get(APP_HASH) == b"\x02" * 32


def test_a_failed_commit_writes_nothing(committed):
    """One atomic batch: a write that fails part-way leaves the height, hash and state as they were."""
    with pytest.raises(TypeError):
        committed.commit({b"a/5": enc(5), b"a/6": "not bytes"}, 2, b"\x02" * 32)
    assert committed.get(b"a/5") is None
    assert committed.height == 1 and committed.app_hash == b"\x01" * 32


def test_the_state_survives_close_and_reopen(tmp_path):
    path = str(tmp_path / "db")
    s = Store(path)
    s.commit({b"a/1": enc([1, 2])}, 7, b"\x07" * 32)
    s.close()
    s = Store(path)
    try:
        assert s.height == 7 and s.app_hash == b"\x07" * 32 and s.get(b"a/1") == enc([1, 2])
    finally:
        s.close()


def test_store_scan_is_in_key_order_under_the_prefix_only(committed):
    assert [k for k, _ in committed.scan(b"a/")] == [b"a/1", b"a/2", b"a/4"]
    assert [k for k, _ in committed.scan(b"b/")] == [b"b/1"]
    assert list(committed.scan(b"c/")) == []


def test_store_scan_after_is_strict(committed):
    assert [k for k, _ in committed.scan(b"a/", after=b"a/2")] == [b"a/4"]
    assert [k for k, _ in committed.scan(b"a/", after=b"a/3")] == [b"a/4"]  # a key that is not there
    assert [k for k, _ in committed.scan(b"a/", after=b"a/4")] == []
    assert [k for k, _ in committed.scan(b"a/", after=b"")] == [b"a/1", b"a/2", b"a/4"]  # before the prefix
    assert [k for k, _ in committed.scan(b"a/", after=b"a/9")] == []  # stays under the prefix


# --- Overlay: staging ----------------------------------------------------------------------------


def test_reads_see_staged_values_first_and_the_store_is_untouched(committed):
    o = Overlay(committed)
    assert o.get(b"a/2") == {"n": 2}
    o.put(b"a/2", {"n": 3})
    o.put(b"new", [1])
    o.delete(b"a/1")
    assert o.get(b"a/2") == {"n": 3} and o.get(b"new") == [1]
    assert o.get(b"a/1") is None and o.get(b"a/1", "gone") == "gone"
    assert o.get_raw(b"a/2") == enc({"n": 3}) and o.get_raw(b"a/1") is None and o.get_raw(b"b/1") == enc("b")
    assert committed.get(b"a/2") == enc({"n": 2}) and committed.get(b"a/1") == b"1"  # nothing written yet


def test_a_missing_key_gives_the_default(committed):
    o = Overlay(committed)
    assert o.get(b"nope") is None and o.get(b"nope", 0) == 0 and o.get_raw(b"nope") is None


def test_writes_are_the_canonical_bytes_or_none(committed):
    o = Overlay(committed)
    o.put(b"x", {"b": 1, "a": [2]})
    o.delete(b"a/1")
    assert o.writes == {b"x": enc({"a": [2], "b": 1}), b"a/1": None}


def test_a_second_put_replaces_the_first_encoding(committed):
    o = Overlay(committed)
    o.put(b"x", 1)
    assert o.writes[b"x"] == b"1"
    o.put(b"x", 2)
    assert o.writes[b"x"] == b"2" and o.get_raw(b"x") == b"2"


def test_put_encoded_keeps_the_given_bytes(committed):
    o = Overlay(committed)
    o.put_encoded(b"x", {"a": 1}, enc({"a": 1}))
    assert o.get(b"x") == {"a": 1} and o.writes == {b"x": enc({"a": 1})}


def test_stage_raw_stages_encoded_changes(committed):
    o = Overlay(committed)
    o.stage_raw({b"x": enc({"k": "v"}), b"a/1": None})
    assert o.get(b"x") == {"k": "v"} and o.get(b"a/1") is None
    assert o.writes == {b"x": enc({"k": "v"}), b"a/1": None}


# --- Overlay: mark and rollback ------------------------------------------------------------------


def test_rollback_undoes_everything_since_the_mark(committed):
    o = Overlay(committed)
    o.put(b"kept", 1)
    mark = o.mark()
    o.put(b"kept", 2)
    o.put(b"fresh", 3)
    o.delete(b"a/1")
    o.put(b"a/2", "x")
    o.rollback(mark)
    assert o.get(b"kept") == 1 and o.get(b"fresh") is None
    assert o.get(b"a/1") == 1 and o.get(b"a/2") == {"n": 2}
    assert o.writes == {b"kept": b"1"}  # rolled-back keys leave the write set, so the app hash


def test_rollback_to_nested_marks(committed):
    o = Overlay(committed)
    first = o.mark()
    o.put(b"x", 1)
    second = o.mark()
    o.put(b"x", 2)
    o.delete(b"x")
    o.rollback(second)
    assert o.get(b"x") == 1
    o.rollback(first)
    assert o.get(b"x") is None and o.writes == {}


def test_a_rollback_after_put_encoded_does_not_keep_the_stale_bytes(committed):
    o = Overlay(committed)
    o.put(b"x", "old")
    mark = o.mark()
    o.put_encoded(b"x", "new", enc("new"))
    o.rollback(mark)
    assert o.get(b"x") == "old" and o.writes == {b"x": enc("old")} and o.get_raw(b"x") == enc("old")


def test_release_forgets_the_journal(committed):
    o = Overlay(committed)
    o.put(b"x", 1)
    o.release()
    assert o.mark() == 0
    o.rollback(0)
    assert o.get(b"x") == 1  # applied for good


# --- Overlay: scan -------------------------------------------------------------------------------


def test_scan_merges_staged_changes_in_key_order_and_skips_deletions(committed):
    o = Overlay(committed)
    o.put(b"a/3", 3)  # between committed keys
    o.put(b"a/0", 0)  # before them
    o.put(b"a/2", "replaced")
    o.delete(b"a/4")  # a committed key deleted
    o.put(b"a/5", 5)
    o.delete(b"a/5")  # a staged key deleted
    o.put(b"b/2", "other prefix")
    assert list(o.scan(b"a/")) == [(b"a/0", 0), (b"a/1", 1), (b"a/2", "replaced"), (b"a/3", 3)]
    assert list(o.scan(b"b/")) == [(b"b/1", "b"), (b"b/2", "other prefix")]


# --- Overlay over a Store: a block's life ---------------------------------------------------------


def test_an_overlay_committed_then_reopened(tmp_path):
    path = str(tmp_path / "db")
    s = Store(path)
    o = Overlay(s)
    o.put(b"a/1", {"v": 1})
    o.put(b"a/2", 2)
    o.delete(b"a/2")
    s.commit(o.writes, 1, b"\xaa" * 32)
    s.close()
    s = Store(path)
    try:
        fresh = Overlay(s)
        assert fresh.get(b"a/1") == {"v": 1} and fresh.get(b"a/2") is None
        assert list(fresh.scan(b"a/")) == [(b"a/1", {"v": 1})]
        assert s.height == 1 and s.app_hash == b"\xaa" * 32
    finally:
        s.close()
