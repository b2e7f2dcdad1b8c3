"""SQLite memory: sessions resume, profiles persist across sessions, a killed process loses nothing committed."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from convrec.agent.memory import Memory
from convrec.tools.models import Profile


def test_sessions_resume_and_messages_keep_order(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    session = memory.session("ann")
    memory.add_message(session, "user", "I loved Heat")
    memory.add_message(session, "assistant", "Try Ronin")
    assert memory.session("ann") == session  # the latest session resumes
    assert [m.content for m in memory.messages(session)] == ["I loved Heat", "Try Ronin"]
    assert [m.content for m in memory.messages(session, last=1)] == ["Try Ronin"]
    other = memory.new_session("ann")
    assert other != session and memory.session("ann") == other


def test_profile_survives_sessions_and_reopening(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    memory.save_profile("ann", Profile(liked={"6": 1.0}, genres_disliked={"Horror"}))
    memory.close()
    again = Memory(tmp_path / "state.sqlite3")
    assert again.profile("ann") == Profile(liked={"6": 1.0}, genres_disliked={"Horror"})
    assert again.profile("nobody") == Profile()


def test_sessions_belong_to_one_user(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    session = memory.session("ann")
    with pytest.raises(PermissionError):
        memory.session("bob", session)


def test_export_and_forget(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    session = memory.session("ann")
    memory.add_message(session, "user", "hi")
    memory.add_feedback("ann", "6", "rate", 4.5, session)
    memory.record_shown(session, 1, ["1", "2"])
    memory.save_profile("ann", Profile(ratings={"6": 4.5}))
    exported = memory.export_user("ann")
    assert exported["feedback"] == [{"item_id": "6", "action": "rate", "value": 4.5}]
    assert exported["sessions"][0]["shown"] == [{"turn": 1, "item_id": "1"}, {"turn": 1, "item_id": "2"}]
    assert exported["profile"]["ratings"] == {"6": 4.5}
    assert memory.forget_user("ann") is True
    assert memory.export_user("ann") == {"user": "ann", "profile": Profile().model_dump(mode="json"),
                                         "feedback": [], "sessions": []}
    assert memory.forget_user("ann") is False


def test_kill_9_loses_nothing_committed(tmp_path):
    """A child writes feedback and reports each commit; we kill it mid-loop and count what survived."""
    path = tmp_path / "state.sqlite3"
    child = textwrap.dedent(f"""
        import sys, time
        from convrec.agent.memory import Memory
        memory = Memory({str(path)!r})
        for n in range(100000):
            memory.add_feedback("ann", str(n), "like")
            print(n, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    for line in process.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    survived = Memory(path).feedback("ann")
    assert len(survived) >= acknowledged + 1
    assert [item for item, _, _ in survived[: acknowledged + 1]] == [str(n) for n in range(acknowledged + 1)]


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_the_state_database_is_private_to_its_user(tmp_path, usual_umask):
    fresh = tmp_path / "fresh" / "state.sqlite3"
    memory = Memory(fresh)
    memory.add_message(memory.session("ann"), "user", "I loved Heat")
    files = [fresh, fresh.with_name("state.sqlite3-wal"), fresh.with_name("state.sqlite3-shm")]
    assert all(file.exists() for file in files)
    assert [_mode(file) for file in files] == [0o600] * 3 and _mode(fresh.parent) == 0o700

    # A database left world-readable by an older version, in a world-readable folder, is tightened on opening.
    old = tmp_path / "old" / "state.sqlite3"
    old.parent.mkdir(mode=0o755)
    sqlite3.connect(old).execute("CREATE TABLE t (x)").connection.close()
    os.chmod(old, 0o644)
    Memory(old).session("ann")
    assert _mode(old) == 0o600 and _mode(old.parent) == 0o700


def test_only_a_rating_carries_a_value(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    with pytest.raises(ValueError, match="takes no value"):
        memory.add_feedback("ann", "1", "like", 3.0)
    with pytest.raises(ValueError, match="needs a value"):
        memory.add_feedback("ann", "1", "rate")
    memory.add_feedback("ann", "1", "rate", 4.0)
    assert memory.feedback("ann") == [("1", "rate", 4.0)]
