"""The state database's connection: private to its user (0600 files in a 0700 folder), WAL, full sync, foreign keys.

SQLite creates the -wal and -shm files with the database file's permissions, so making the database 0600 before
the first connection covers them; files left 0644 by an older version are tightened here too.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def connect_private(path: Path) -> sqlite3.Connection:
    """An autocommit connection (explicit BEGIN … COMMIT for transactions), shareable between threads."""
    path = Path(path)
    _private_folder(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            os.chmod(file, PRIVATE_FILE)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def _private_folder(folder: Path) -> None:
    """Create the folder 0700; an existing one is tightened only if it is the user's own and not a shared sticky
    folder such as /tmp."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    info = folder.stat()
    own = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if own and not info.st_mode & stat.S_ISVTX and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, stat.S_IMODE(info.st_mode) & ~0o077)


class PrivateDatabase:
    """One private connection shared by threads: every statement under one lock, and transactions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = connect_private(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @contextmanager
    def transaction(self, mode: str = "") -> Iterator[sqlite3.Connection]:
        """BEGIN [mode] … COMMIT, rolled back if anything in between fails (else the connection stays inside a
        transaction and every later write fails with "cannot start a transaction within a transaction").

        Every call on this object inside it, in this thread, joins it (other threads wait): e.g. a piece of
        feedback and the profile it changes are saved together or not at all."""
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute(f"BEGIN {mode}")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
