"""Private files written once and durably: the complaints and aggregate posts a worker must never change.

A file is written to a fresh ``.tmp`` (O_EXCL, mode 0600), fsync'd, renamed into place and its
folder fsync'd: after a crash it is either absent or whole, never a part of it, and the
worker that restarts sends exactly what it wrote before, never a second version.
"""

import os
from pathlib import Path

__all__ = ["write_private", "fsync_dir"]


def write_private(path: Path, data: bytes, folders) -> None:
    """Write `data` to `path` durably (0600), making each of `folders` (0700) first if missing."""
    for folder in folders:
        folder.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    # O_EXCL: created with its mode, never a file someone else made.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
