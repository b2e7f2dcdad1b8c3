"""Files written so that a crash leaves either the old content or the new, never a torn file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, content: str | bytes | Callable[[BinaryIO], None]) -> None:
    """Replace `path` with `content` (text as UTF-8, bytes, or a function that writes to the open file): written to
    a temporary file beside it, flushed to disk, renamed over it, and the folder's entry flushed too. The temporary
    file is removed if anything fails. The folder is created if missing; the file gets the usual umask mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(descriptor, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync(path.parent)


def fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    flags = os.O_RDONLY
    if Path(path).is_dir():
        if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a folder
            return
        flags |= os.O_DIRECTORY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
