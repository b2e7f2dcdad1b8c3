"""Every test runs against its own data dir and no user config file; nothing touches the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir per test, and no user config file. The model cache stays shared (it is 1 GB)."""
    for name in list(os.environ):
        if name.startswith("CONVREC_") and name != "CONVREC_CACHE_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONVREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CONVREC_CONFIG", str(tmp_path / "no-config.toml"))
    return tmp_path


@pytest.fixture
def tiny_ml_dir() -> Path:
    """60 popular MovieLens movies rated by 78 users, in the MovieLens CSV layout."""
    return FIXTURES / "tiny_ml"


@pytest.fixture(scope="session")
def demo_tools(tmp_path_factory):
    """The demo catalog with its CF model and EASE, built once per test session (about 10 s)."""
    from convrec.tools.cfmodel import load_or_train
    from convrec.catalog.loaders import load_demo_catalog
    from convrec.tools.cf import SVDScorer
    from convrec.tools.itemsim import EASE
    from convrec.tools.knowledge import knowledge_index
    from convrec.tools.recommend import Recommender

    folder = tmp_path_factory.mktemp("demo-index")
    catalog = load_demo_catalog()
    algo, _ = load_or_train(catalog, folder)
    itemsim = EASE.load_or_fit(catalog, folder)
    return catalog, Recommender(catalog, itemsim=itemsim, cf=SVDScorer(algo, catalog),
                                knowledge=knowledge_index(catalog, folder))


@pytest.fixture
def make_agent(demo_tools, tmp_path):
    """An Agent over the demo catalog with a fresh memory; pass a ScriptedLLM or None."""
    from convrec.agent.memory import Memory
    from convrec.agent.policy import Agent

    catalog, recommender = demo_tools

    def build(llm=None):
        return Agent(catalog, recommender, Memory(tmp_path / "state.sqlite3"), llm)

    return build


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture
def kill_when_busy():
    """`kill(pid_source, sig)` in a thread: waits until the model process is computing (its CPU ticks grow), then
    sends it `sig`: a crash that lands mid-generation, as a native fault would, with no hook inside the product."""
    import signal
    import threading
    import time

    threads = []

    def kill(pid_source, sig=signal.SIGSEGV, busy_ticks: int = 5, timeout: float = 120.0) -> dict:
        outcome: dict = {}

        def watch() -> None:
            deadline = time.monotonic() + timeout
            pid = None
            while pid is None and time.monotonic() < deadline:
                pid = pid_source()
                time.sleep(0.01)
            if pid is None:
                return
            start = cpu_ticks(pid)
            while time.monotonic() < deadline:
                try:
                    if cpu_ticks(pid) - start >= busy_ticks:
                        os.kill(pid, sig)
                        outcome["pid"] = pid
                        return
                except (OSError, IndexError):
                    return
                time.sleep(0.005)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        threads.append(thread)
        outcome["thread"] = thread
        return outcome

    yield kill
    for thread in threads:
        thread.join(5)


def children_running(pid: int, marker: str) -> list[int]:
    """Pids of `pid`'s child processes whose command line contains `marker`."""
    found = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # the process has ended
        return found
    for task in tasks:
        try:  # a thread may end between the listing and the read
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                if marker in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(child))
            except OSError:
                pass
    return found


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def native_events(response) -> list[tuple[str, dict]]:
    """(event name, payload) of the native API's SSE stream."""
    import json

    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[len("data: "):])))
    return events
