"""Application state in LevelDB, and the in-memory stages over it.

The committed state lives in one LevelDB. A block's changes are staged in an
Overlay during FinalizeBlock and written, with the new height and app hash, in
one atomic write batch at Commit; CheckTx runs on a separate Overlay that is
dropped after every Commit. Values are canonical JSON. The key layout is in
abci_app.store.keys.
"""

import plyvel

from abci_app.store.keys import APP_HASH, HEIGHT
from mpc_tx.protocol import canonical

__all__ = ["Store", "Overlay"]

WRITE_BUFFER = 16 << 20


class Store:
    """The committed state on disk."""

    def __init__(self, path: str):
        # A 16 MiB memtable (LevelDB's default is 4): a block of 1,500 ballots writes ~2.5 MB,
        # and each memtable flush starts a compaction that competes with CheckTx for the CPU.
        self.db = plyvel.DB(path, create_if_missing=True, write_buffer_size=WRITE_BUFFER)

    @property
    def height(self) -> int:
        raw = self.db.get(HEIGHT)
        return int(raw) if raw else 0

    @property
    def app_hash(self) -> bytes:
        return self.db.get(APP_HASH) or b""

    def get(self, key: bytes):
        return self.db.get(key)

    def scan(self, prefix: bytes, after: bytes | None = None):
        """Yield (key, value) under prefix in key order, strictly after `after`."""
        start = after + b"\x00" if after is not None else None
        it = (
            self.db.iterator(prefix=prefix)
            if start is None
            else self.db.iterator(start=max(start, prefix), stop=_prefix_end(prefix))
        )
        yield from it

    def commit(self, writes: dict, height: int, app_hash: bytes):
        """Write the block's changes, height and app hash atomically and durably."""
        with self.db.write_batch(transaction=True, sync=True) as batch:
            for key, value in writes.items():
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            batch.put(HEIGHT, str(height).encode())
            batch.put(APP_HASH, app_hash)

    def close(self):
        self.db.close()


def _prefix_end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])


_ABSENT = object()
_DELETED = object()


class Overlay:
    """Changes staged over a Store; reads see the staged values first.

    Staged values are kept decoded and encoded only when `writes` is read (once
    per block, for the app hash and Commit): CheckTx's overlay, dropped after
    every Commit, never encodes, and a record rewritten by every tx of a block
    (a poll's ballot count) is encoded once.
    """

    def __init__(self, store: Store):
        self.store = store
        self._staged: dict = {}  # key -> value, or _DELETED
        self._encoded: dict = {}  # key -> canonical bytes of the staged value
        self._decoded: dict = {}  # key -> decoded committed value
        self._journal: list = []  # (key, staged value before, or _ABSENT)

    @property
    def writes(self) -> dict:
        """Return the staged changes as {key: canonical bytes, or None to delete}."""
        out = {}
        for key, value in self._staged.items():
            if value is _DELETED:
                out[key] = None
                continue
            raw = self._encoded.get(key)
            if raw is None:
                raw = self._encoded[key] = canonical.encode(value)
            out[key] = raw
        return out

    def stage_raw(self, writes: dict):
        """Stage already-encoded changes ({key: bytes or None})."""
        for key, raw in writes.items():
            if raw is None:
                self._staged[key] = _DELETED
                self._encoded.pop(key, None)
            else:
                self._staged[key] = canonical.decode(raw)
                self._encoded[key] = raw

    def get_raw(self, key: bytes):
        if key in self._staged:
            value = self._staged[key]
            if value is _DELETED:
                return None
            raw = self._encoded.get(key)
            if raw is None:
                raw = self._encoded[key] = canonical.encode(value)
            return raw
        return self.store.get(key)

    def get(self, key: bytes, default=None):
        """Return the decoded value at key."""
        if key in self._staged:
            value = self._staged[key]
            return default if value is _DELETED else value
        if key in self._decoded:
            return self._decoded[key]
        raw = self.store.get(key)
        if raw is None:
            return default
        value = self._decoded[key] = canonical.decode(raw)
        return value

    def put(self, key: bytes, value):
        self._journal.append((key, self._staged.get(key, _ABSENT)))
        self._staged[key] = value
        self._encoded.pop(key, None)

    def put_encoded(self, key: bytes, value, raw: bytes):
        """put(key, value) where the caller already has canonical.encode(value) (a hot path's)."""
        self.put(key, value)
        self._encoded[key] = raw

    def delete(self, key: bytes):
        self._journal.append((key, self._staged.get(key, _ABSENT)))
        self._staged[key] = _DELETED
        self._encoded.pop(key, None)

    def mark(self) -> int:
        """Return a point to roll back to."""
        return len(self._journal)

    def rollback(self, mark: int):
        """Undo every put and delete since `mark`."""
        while len(self._journal) > mark:
            key, before = self._journal.pop()
            self._encoded.pop(key, None)
            if before is _ABSENT:
                del self._staged[key]
            else:
                self._staged[key] = before

    def release(self):
        """Forget the undo journal (after a tx is applied for good)."""
        self._journal.clear()

    def scan(self, prefix: bytes):
        """Yield (key, decoded value) under prefix in key order, staged changes included."""
        merged = {k: canonical.decode(v) for k, v in self.store.scan(prefix)}
        for key, value in self._staged.items():
            if key.startswith(prefix):
                merged[key] = value
        for key in sorted(merged):
            if merged[key] is not _DELETED:
                yield key, merged[key]
