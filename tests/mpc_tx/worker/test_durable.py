"""Private files written once: whole or absent, 0600 in 0700 folders, never someone else's file."""

import stat

from mpc_tx.worker.durable import fsync_dir, write_private


def test_a_private_file_is_written_whole_with_its_modes(tmp_path):
    folders = (tmp_path / "a", tmp_path / "a" / "b")
    path = folders[-1] / "f"
    (folders[-1].parent).mkdir()
    folders[-1].mkdir(mode=0o700)
    (folders[-1] / "f.tmp").write_bytes(b"left by a crash")  # a half write before a crash: replaced
    write_private(path, b"payload", folders)
    assert path.read_bytes() == b"payload" and not (folders[-1] / "f.tmp").exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_private(tmp_path / "c" / "g", b"x", (tmp_path / "c",))
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o700
    fsync_dir(tmp_path)  # a folder can be synced
