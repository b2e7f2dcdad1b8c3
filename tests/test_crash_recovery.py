"""Nothing takes convrec down: the real local model (0.5B GGUF) in its own process is killed mid-turn, as a native
fault in llama.cpp would kill it, under the agent, the TUI (Pilot), the HTTP server (`convrec serve`, killed from
outside) and `convrec ask`. Each time the turn ends with its cards and template reasons, says what happened, the
model process restarts, and the next turn has the model's prose again.

Asserts behaviour, not speed; every wait has a generous bound so a broken build fails instead of hanging."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import children_running, free_port, native_events
from convrec.agent.events import Done, Status, Token
from convrec.agent.local_model import model_process
from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.agent.runtime import Runtime, build_runtime
from convrec.agent.weights import MODELS, ensure_model
from convrec.core.settings import Settings
from convrec.tools.recommend import Recommender

pytestmark = pytest.mark.slow

SMALL = "qwen2.5-coder-0.5b"
BOUND_S = 180
MARKER = "convrec.agent.model_process"


def small_model_settings(**overrides) -> Settings:
    return Settings(model=SMALL, n_ctx=1024, **overrides)


@pytest.fixture(scope="module")
def small_model_path() -> Path:
    return ensure_model(MODELS[SMALL], Settings().models_dir)


def wait_until(condition, what: str, bound: float = BOUND_S) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


async def turn_events(agent: Agent, message: str, on_event=lambda event: None) -> list:
    events = []
    async for event in agent.turn("ann", message):
        events.append(event)
        on_event(event)
    return events


def test_agent_turn_survives_a_crash_mid_sentence(make_agent, demo_tools, small_model_path, kill_when_busy):
    catalog, _ = demo_tools
    llm = model_process(small_model_settings(), small_model_path)
    try:
        llm.load()
        agent = make_agent(llm)
        first_pid = llm.pid
        watchers: list[dict] = []

        def crash_once_writing_starts(event) -> None:
            if isinstance(event, Status) and event.text.startswith("writing") and not watchers:
                watchers.append(kill_when_busy(lambda: llm.pid))

        events = asyncio.run(turn_events(agent, "I loved The Matrix, something for tonight?",
                                         crash_once_writing_starts))
        watchers[0]["thread"].join(BOUND_S)
        assert watchers[0].get("pid") == first_pid
        done = events[-1]
        assert isinstance(done, Done) and "crashed (SIGSEGV)" in done.degraded
        assert any(isinstance(e, Status) and "crashed (SIGSEGV)" in e.text for e in events)
        tokens = [e for e in events if isinstance(e, Token)]
        assert len(tokens) == 5 and all(t.item_id in catalog for t in tokens)  # every card got a sentence

        wait_until(lambda: llm.health.state == "ready", "the model process to restart")
        assert llm.pid not in (None, first_pid) and llm.health.safe_mode
        again = asyncio.run(turn_events(agent, "and something funny too"))
        assert again[-1].degraded is None and len([e for e in again if isinstance(e, Token)]) == 5
    finally:
        llm.close()


# -- the TUI -----------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_tui_survives_a_crash_of_the_model_process(tiny_ml_dir, tmp_path, small_model_path, kill_when_busy,
                                                         anyio_backend):
    from convrec.tui.agent_message import AgentMessage
    from convrec.tui.app import ConvrecApp

    base = build_runtime(Settings(catalog=tiny_ml_dir, data_dir=tmp_path, llm="none"), use_llm=False)
    llm = model_process(small_model_settings(), small_model_path)
    memory = Memory(tmp_path / "state.sqlite3")
    recommender = Recommender(base.catalog, itemsim=base.recommender.itemsim, cf=base.recommender.cf)
    runtime = Runtime(settings=base.settings, catalog=base.catalog, memory=memory, recommender=recommender,
                      search=None, agent=Agent(base.catalog, recommender, memory, llm))
    app = ConvrecApp(factory=lambda **_: runtime, warm_search=False, user="ann")

    async def until(pilot, condition, what: str) -> None:
        deadline = time.monotonic() + BOUND_S
        while not condition():
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            await pilot.pause(0.05)

    async def say(pilot, text: str) -> AgentMessage:
        pilot.app.prompt.focus()
        pilot.app.prompt.value = text
        await pilot.press("enter")
        await until(pilot, lambda: not app.busy and not app._pending, "the turn to finish")
        return app.query(AgentMessage).last()

    try:
        async with app.run_test(size=(110, 36)) as pilot:
            await until(pilot, lambda: app.ready and app.status_bar.state == "ready", "the app to be ready")
            first_pid = llm.pid
            killed = kill_when_busy(lambda: llm.pid)  # the model is idle now: it dies when the turn uses it
            view = await say(pilot, "I loved Toy Story")
            assert killed["pid"] == first_pid
            status = str(view.query_one("#status").render())
            assert "crashed (SIGSEGV)" in status and view.query_one("#status").has_class("-warning")
            assert len(app.cards.cards) == 5 and view.text.count("- **") == 5  # cards and template reasons

            await until(pilot, lambda: llm.health.state == "ready", "the model process to restart")
            view = await say(pilot, "something funny please")
            assert "crashed" not in str(view.query_one("#status").render())
            assert len(app.cards.cards) == 5 and view.text.count("- **") == 5
            assert llm.pid != first_pid
    finally:
        llm.close()


# -- `convrec serve` and `convrec ask`, killed from outside --------------------------------------------------------------
def cli_environment(tiny_ml_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CONVREC_CATALOG": str(tiny_ml_dir), "CONVREC_DATA_DIR": str(tmp_path / "data"),
            "CONVREC_MODEL": SMALL, "CONVREC_N_CTX": "1024", "CONVREC_LLM": "local"}


def convrec_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from convrec.cli.main import run; run()", *args]


def native_turn(base: str, headers: dict, session: str, text: str) -> list[tuple[str, dict]]:
    with httpx.stream("POST", f"{base}/v1/sessions/{session}/messages", json={"content": text}, headers=headers,
                      timeout=BOUND_S) as response:
        assert response.status_code == 200
        return native_events(response)


def test_serve_survives_its_model_process_being_killed_mid_turn(tiny_ml_dir, tmp_path, small_model_path,
                                                                kill_when_busy):
    env = cli_environment(tiny_ml_dir, tmp_path)
    key = subprocess.run(convrec_command("keys", "create", "--name", "bot"), env=env, capture_output=True,
                         text=True, timeout=BOUND_S).stdout.strip()
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(convrec_command("serve", "--port", str(port)), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, "the server to load its model")
        workers = children_running(server.pid, MARKER)
        assert len(workers) == 1  # the model runs in a child process of `convrec serve`
        session = httpx.post(f"{base}/v1/sessions", json={"user": "ann"}, headers=headers).json()["session"]
        killed = kill_when_busy(lambda: workers[0])
        events = native_turn(base, headers, session, "I loved Toy Story")
        assert killed["pid"] == workers[0]
        names = [name for name, _ in events]
        assert names.index("cards") < names.index("done") and names.count("token") == 5
        assert "crashed (SIGSEGV)" in events[-1][1]["degraded"]

        wait_until(lambda: children_running(server.pid, MARKER) not in ([], workers), "a new model process")
        wait_until(lambda: not ready() or httpx.get(f"{base}/readyz").status_code == 200, "readiness")
        events = native_turn(base, headers, session, "something funny please")
        assert events[-1][0] == "done" and events[-1][1]["degraded"] is None
        assert [name for name, _ in events].count("token") == 5
        assert server.poll() is None
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)


def test_ask_survives_its_model_process_being_killed(tiny_ml_dir, tmp_path, small_model_path, kill_when_busy):
    env = cli_environment(tiny_ml_dir, tmp_path)
    ask = subprocess.Popen(convrec_command("ask", "--json", "I loved Toy Story, something for tonight?"), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def model_child() -> int | None:
        found = children_running(ask.pid, MARKER) if ask.poll() is None else []
        return found[0] if found else None

    killed = kill_when_busy(model_child)
    out, err = ask.communicate(timeout=BOUND_S)
    assert ask.returncode == 0, err
    assert killed.get("pid") is not None
    answer = json.loads(out)
    assert len(answer["recommendations"]) == 5 and "crashed (SIGSEGV)" in answer["degraded"]

    again = subprocess.run(convrec_command("ask", "--json", "--session", answer["session"], "something funny"),
                           env=env, capture_output=True, text=True, timeout=BOUND_S)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["degraded"] is None
