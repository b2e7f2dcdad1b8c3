"""core/files.py: a file is replaced whole or not at all."""

from __future__ import annotations

import pytest

from convrec.core.files import atomic_write


def test_text_bytes_and_a_writer_replace_the_file(tmp_path):
    path = tmp_path / "new" / "state.json"  # the folder is made
    atomic_write(path, "é")
    assert path.read_text(encoding="utf-8") == "é"
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    atomic_write(path, lambda handle: handle.write(b"written"))
    assert path.read_bytes() == b"written" and list(path.parent.iterdir()) == [path]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.pkl"
    atomic_write(path, "old")

    def fails(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fails)
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
