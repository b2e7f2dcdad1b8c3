"""Persistent state in one SQLite file (WAL): users, sessions, messages, profiles, feedback, shown items.

Every write commits before it returns, so whatever the user has been told was saved survives a kill -9.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from convrec.core.sqlite import PrivateDatabase
from convrec.tools.models import Profile
from convrec.tools.profile import FeedbackAction

VALUED_ACTIONS = frozenset({"rate"})  # the only feedback that carries a value: the rating


def check_feedback_value(action: FeedbackAction, value: float | None) -> None:
    """ValueError unless a rating has a value and every other action has none."""
    if action in VALUED_ACTIONS and value is None:
        raise ValueError(f"a {action} needs a value")
    if action not in VALUED_ACTIONS and value is not None:
        raise ValueError(f"'{action}' takes no value (only {', '.join(sorted(VALUED_ACTIONS))} does)")

MIGRATIONS = [
    """
    CREATE TABLE users (user_id TEXT PRIMARY KEY, created_at REAL NOT NULL);
    CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users ON DELETE CASCADE,
                           created_at REAL NOT NULL, updated_at REAL NOT NULL);
    CREATE INDEX sessions_by_user ON sessions (user_id, updated_at);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
                           role TEXT NOT NULL, content TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE INDEX messages_by_session ON messages (session_id, id);
    CREATE TABLE profiles (user_id TEXT PRIMARY KEY REFERENCES users ON DELETE CASCADE, profile TEXT NOT NULL,
                           updated_at REAL NOT NULL);
    CREATE TABLE feedback (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users ON DELETE CASCADE,
                           session_id TEXT, item_id TEXT NOT NULL, action TEXT NOT NULL, value REAL,
                           created_at REAL NOT NULL);
    CREATE TABLE shown (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions ON DELETE CASCADE,
                        turn INTEGER NOT NULL, item_id TEXT NOT NULL, rank INTEGER NOT NULL, created_at REAL NOT NULL);
    """,
    # 2: was the HTTP server's `api_keys` table; server/keys.py owns its keys now and moves those rows over.
    "",
]


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    created_at: float


class Memory(PrivateDatabase):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    # -- users and sessions ----------------------------------------------------------------------------------------
    def ensure_user(self, user_id: str) -> None:
        self._write("INSERT OR IGNORE INTO users VALUES (?, ?)", (user_id, time.time()))

    def session(self, user_id: str, session_id: str | None = None) -> str:
        """The given session (created if new), else the user's most recent one, else a new one."""
        self.ensure_user(user_id)
        if session_id is None:
            latest = self._read("SELECT session_id FROM sessions WHERE user_id = ? ORDER BY updated_at DESC LIMIT 1",
                                (user_id,))
            if latest:
                return latest[0][0]
            session_id = uuid.uuid4().hex[:12]
        owner = self._read("SELECT user_id FROM sessions WHERE session_id = ?", (session_id,))
        if owner and owner[0][0] != user_id:
            raise PermissionError(f"session {session_id} belongs to another user")
        now = time.time()
        self._write("INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?)", (session_id, user_id, now, now))
        return session_id

    def session_owner(self, session_id: str) -> str | None:
        rows = self._read("SELECT user_id FROM sessions WHERE session_id = ?", (session_id,))
        return rows[0][0] if rows else None

    def has_user(self, user_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM users WHERE user_id = ?", (user_id,)))

    def new_session(self, user_id: str) -> str:
        return self.session(user_id, uuid.uuid4().hex[:12])

    def sessions(self, user_id: str) -> list[tuple[str, float]]:
        return self._read("SELECT session_id, updated_at FROM sessions WHERE user_id = ? ORDER BY updated_at DESC",
                          (user_id,))

    # -- messages ----------------------------------------------------------------------------------------------------
    def add_message(self, session_id: str, role: str, content: str) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute("INSERT INTO messages (session_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                       (session_id, role, content, now))
            db.execute("UPDATE sessions SET updated_at = ? WHERE session_id = ?", (now, session_id))

    def messages(self, session_id: str, last: int | None = None) -> list[StoredMessage]:
        rows = self._read("SELECT role, content, created_at FROM messages WHERE session_id = ? ORDER BY id DESC "
                          "LIMIT ?", (session_id, last if last is not None else -1))
        return [StoredMessage(*row) for row in reversed(rows)]

    # -- profiles, feedback, shown items ------------------------------------------------------------------------------
    def profile(self, user_id: str) -> Profile:
        rows = self._read("SELECT profile FROM profiles WHERE user_id = ?", (user_id,))
        return Profile.model_validate_json(rows[0][0]) if rows else Profile()

    def save_profile(self, user_id: str, profile: Profile) -> None:
        self.ensure_user(user_id)
        self._write("INSERT INTO profiles VALUES (?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
                    "profile = excluded.profile, updated_at = excluded.updated_at",
                    (user_id, profile.model_dump_json(), time.time()))

    def add_feedback(self, user_id: str, item_id: str, action: FeedbackAction, value: float | None = None,
                     session_id: str | None = None) -> None:
        check_feedback_value(action, value)
        self.ensure_user(user_id)
        self._write("INSERT INTO feedback (user_id, session_id, item_id, action, value, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (user_id, session_id, item_id, action, value, time.time()))

    def feedback(self, user_id: str) -> list[tuple[str, str, float | None]]:
        return self._read("SELECT item_id, action, value FROM feedback WHERE user_id = ? ORDER BY id", (user_id,))

    def delete_feedback(self, user_id: str, item_id: str) -> int:
        """Forget the user's feedback on one item (the profile panel's "remove"); returns how many rows went."""
        return self._write("DELETE FROM feedback WHERE user_id = ? AND item_id = ?", (user_id, item_id)).rowcount

    def record_shown(self, session_id: str, turn: int, item_ids: list[str]) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany("INSERT INTO shown (session_id, turn, item_id, rank, created_at) VALUES (?, ?, ?, ?, ?)",
                           [(session_id, turn, item_id, rank, now) for rank, item_id in enumerate(item_ids)])

    def shown(self, session_id: str) -> list[tuple[int, str]]:
        return self._read("SELECT turn, item_id FROM shown WHERE session_id = ? ORDER BY turn, rank", (session_id,))

    # -- privacy -----------------------------------------------------------------------------------------------------
    def export_user(self, user_id: str) -> dict:
        sessions = [session_id for session_id, _ in self.sessions(user_id)]
        return {
            "user": user_id,
            "profile": json.loads(self.profile(user_id).model_dump_json()),
            "feedback": [{"item_id": i, "action": a, "value": v} for i, a, v in self.feedback(user_id)],
            "sessions": [{"session": s, "messages": [m.__dict__ for m in self.messages(s)],
                          "shown": [{"turn": t, "item_id": i} for t, i in self.shown(s)]} for s in sessions],
        }

    def forget_user(self, user_id: str) -> bool:
        """Delete everything about the user; True if there was anything."""
        with self.transaction() as db:
            db.execute("DELETE FROM feedback WHERE user_id = ?", (user_id,))
            existed = db.execute("DELETE FROM users WHERE user_id = ?", (user_id,)).rowcount > 0
        return existed
