"""The HTTP server, live: a real uvicorn on 127.0.0.1 driven by the official `openai` client and raw httpx.

Runtimes are injected (the demo tools with no LLM, or a gated fake LLM); the last test runs `convrec serve` in a
subprocess and kills it with SIGKILL mid-stream. Every wait is a bounded poll; nothing asserts on timing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from conftest import free_port, native_events

from convrec.agent.memory import Memory
from convrec.agent.policy import Agent
from convrec.agent.runtime import Runtime
from convrec.core.settings import Settings
from convrec.server.app import create_app
from convrec.server.config import ServerConfig
from convrec.server.keys import KeyStore
from convrec.tools.explain import brief
from convrec.tools.models import Reason
from convrec.tools.textnorm import spoken_title

WAIT_S = 30  # the bound of every polling loop


# -- helpers ----------------------------------------------------------------------------------------------------------

def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise AssertionError(f"gave up waiting for {what}")


def demo_runtime(demo_tools, folder: Path, llm=None) -> Runtime:
    catalog, recommender = demo_tools
    memory = Memory(folder / "state.sqlite3")
    return Runtime(settings=Settings(data_dir=folder), catalog=catalog, memory=memory, recommender=recommender,
                   search=None, agent=Agent(catalog, recommender, memory, llm))


class LiveServer:
    """uvicorn serving `create_app` on a free 127.0.0.1 port, in a daemon thread."""

    def __init__(self, runtime: Runtime, config: ServerConfig) -> None:
        self.runtime = runtime
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app = app = create_app(lambda status: runtime, config)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until(lambda: self.server.started, "uvicorn to start")
        wait_until(lambda: httpx.get(f"{self.base}/readyz").status_code == 200, "readiness")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    @property
    def keys(self) -> KeyStore:
        return self.app.state.convrec.keys

    def key(self, name: str = "test") -> str:
        return self.keys.create(name)[1]

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base}/v1", api_key=key, max_retries=0, timeout=WAIT_S)

    def queue(self) -> dict:
        return httpx.get(f"{self.base}/readyz").json()["queue"]


class GatedLLM:
    """Answers every call (a neutral reading, a sentence), but only while `gate` is open; `busy` is set once a call
    is inside."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.busy = threading.Event()

    def structured(self, messages, schema, *, max_tokens):
        self.busy.set()
        self.gate.wait(WAIT_S)
        return schema()

    def stream_chat(self, messages, *, max_tokens, temperature=0.3, stop=None):
        self.busy.set()
        self.gate.wait(WAIT_S)
        yield "A pick worth a look."


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def data_lines(lines):
    """The JSON payloads of an SSE stream's data lines ('[DONE]' as the string)."""
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: "):]
            yield payload if payload == "[DONE]" else json.loads(payload)


@pytest.fixture(scope="module")
def plain(demo_tools, tmp_path_factory):
    """No LLM (the deterministic path), generous limits: the server most tests talk to."""
    runtime = demo_runtime(demo_tools, tmp_path_factory.mktemp("plain"))
    with LiveServer(runtime, ServerConfig(warm=False, rate_per_s=1000, burst=1000)) as server:
        yield server


# -- the OpenAI-compatible endpoint --------------------------------------------------------------------------------
def test_liveness_and_readiness_need_no_key(plain):
    assert httpx.get(f"{plain.base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{plain.base}/readyz").json()
    assert ready["ready"] is True and ready["llm"] == "none"


def test_openai_client_non_streaming(plain):
    client = plain.client(plain.key())
    assert [model.id for model in client.models.list()] == ["convrec"]
    completion = client.chat.completions.create(
        model="convrec", user="neo", messages=[{"role": "system", "content": "You are a helpful assistant."},
                                               {"role": "user", "content": "I loved The Matrix"}])
    text = completion.choices[0].message.content
    extra = completion.model_extra["convrec"]
    assert completion.choices[0].finish_reason == "stop" and text.startswith("Here are a few picks for you:")
    assert extra["user"] == "neo" and len(extra["recommendations"]) == 5
    for card in extra["recommendations"]:
        assert f"**{spoken_title(card['title'])}**" in text and card["reasons"]
        # a template: the first reason not repeating an earlier line's, else the excerpt + a reason in brief
        assert any(reason["text"] in text or brief(Reason.model_validate(reason)).lower() in text.lower()
                   for reason in card["reasons"])
    assert any(r["evidence"].get("liked_item_id") == "2571" for c in extra["recommendations"] for r in c["reasons"])
    stored = httpx.get(f"{plain.base}/v1/users/neo", headers=bearer(client.api_key)).json()["sessions"][0]
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]  # the platform's system prompt: ignored


def test_openai_client_streaming_sends_cards_first_and_the_same_text(plain):
    key = plain.key()
    stream = plain.client(key).chat.completions.create(
        model="convrec", user="trinity", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "I loved Heat, no horror please"}])
    text, cards_at, first_text_at, usage, finish = "", None, None, None, None
    for index, chunk in enumerate(stream):
        extra = (chunk.model_extra or {}).get("convrec")
        if extra and extra["type"] == "cards" and cards_at is None:
            cards_at, cards = index, extra["recommendations"]
        if chunk.choices and chunk.choices[0].delta.content:
            first_text_at = index if first_text_at is None else first_text_at
            text += chunk.choices[0].delta.content
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
        usage = chunk.usage or usage
    assert cards_at is not None and cards_at < first_text_at and finish == "stop" and usage.completion_tokens > 0
    assert len(cards) == 5 and all("Horror" not in card["genres"] for card in cards)
    stored = httpx.get(f"{plain.base}/v1/users/trinity", headers=bearer(key)).json()
    assert stored["sessions"][0]["messages"][-1] == {**stored["sessions"][0]["messages"][-1], "role": "assistant",
                                                     "content": text}


def test_streams_with_include_usage_follow_openai_and_stream_is_a_strict_bool(plain):
    headers = bearer(plain.key())
    url = f"{plain.base}/v1/chat/completions"
    for message in ("I loved Heat", "### Task:\nGenerate a concise title for the chat"):
        body = {"user": "usage", "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": message}]}
        with httpx.stream("POST", url, json=body, headers=headers) as response:
            chunks = list(data_lines(response.iter_lines()))
        assert chunks[-1] == "[DONE]"
        *streamed, last = chunks[:-1]
        assert streamed and all("usage" in chunk and chunk["usage"] is None for chunk in streamed), message
        assert last["choices"] == [] and last["usage"]["total_tokens"] == (last["usage"]["prompt_tokens"]
                                                                            + last["usage"]["completion_tokens"])
    for stream in ("yes", "true", 1):
        refused = httpx.post(url, headers=headers, json={"stream": stream, "messages": [{"role": "user",
                                                                                          "content": "hi"}]})
        assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("stream:")


def test_whole_history_is_reconciled_not_double_counted(plain):
    key = plain.key()
    client = plain.client(key)

    def ask(messages, **extra):
        completion = client.chat.completions.create(model="convrec", user="morpheus", messages=messages, **extra)
        return completion.choices[0].message.content, completion.model_extra["convrec"]["session"]

    u1, u2 = "I loved Heat", "something more recent please"
    a1, session = ask([{"role": "user", "content": u1}])
    history = [{"role": "user", "content": u1}, {"role": "assistant", "content": a1}, {"role": "user", "content": u2}]
    assert ask(history)[1] == session
    assert ask(history)[1] == session  # a platform's "regenerate": the same turn again
    assert ask([{"role": "user", "content": "I like comedies"}])[1] != session  # a new chat: a new session
    assert ask([{"role": "user", "content": "hi"}], extra_headers={"X-Convrec-Session": "chat-42"})[1] == "chat-42"

    exported = httpx.get(f"{plain.base}/v1/users/morpheus", headers=bearer(key)).json()
    first = next(s for s in exported["sessions"] if s["session"] == session)
    assert [m["content"] for m in first["messages"] if m["role"] == "user"] == [u1, u2]

    # First contact with a conversation held elsewhere: its earlier messages are taken in once, not answered.
    ask_other = client.chat.completions.create(
        model="convrec", user="switch", messages=[{"role": "user", "content": "I loved Toy Story"},
                                                  {"role": "assistant", "content": "(another model's answer)"},
                                                  {"role": "user", "content": "what else?"}])
    other = httpx.get(f"{plain.base}/v1/users/switch", headers=bearer(key)).json()
    assert [m["role"] for m in other["sessions"][0]["messages"]] == ["user", "user", "assistant"]
    assert "1" in other["profile"]["liked"] and ask_other.choices[0].message.content


def test_auth_failures_are_401_json(plain):
    url = f"{plain.base}/v1/chat/completions"
    body = {"model": "convrec", "messages": [{"role": "user", "content": "hi"}]}
    revoked = plain.keys.create("gone")
    plain.keys.revoke(revoked[0].key_id)
    for headers in ({}, bearer("crk_00000000_wrong"), bearer("not-a-key"), {"Authorization": "Basic dXNlcjpwdw=="},
                    bearer(revoked[1]), bearer(revoked[1][:-1] + "x")):
        response = httpx.post(url, json=body, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{plain.base}/v1/models").status_code == 401
    with pytest.raises(openai.AuthenticationError):
        plain.client("crk_00000000_wrong").chat.completions.create(model="convrec", messages=body["messages"])


def test_the_key_is_checked_before_the_body_and_guesses_cost_no_database_read(plain, monkeypatch):
    url = f"{plain.base}/v1/chat/completions"
    malformed = {"Content-Type": "application/json"}
    for headers in ({}, bearer("crk_00000000_wrong")):
        response = httpx.post(url, content=b'{"messages": [', headers={**malformed, **headers})
        assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    verifier = plain.app.state.convrec.verifier
    key = plain.key("before-guessing")
    assert httpx.get(f"{plain.base}/v1/models", headers=bearer(key)).status_code == 200  # the keys are read now
    reads = []
    monkeypatch.setattr(verifier, "miss_refresh_s", float(WAIT_S))  # so that no re-read is due during the test
    monkeypatch.setattr(verifier.store, "active", lambda: reads.append(1) or {})
    for guess in ("crk_00000000_wrong", "crk_0badc0de_wrong", f"crk_{key.split('_')[1]}_wrong", "not-a-key"):
        assert httpx.get(f"{plain.base}/v1/models", headers=bearer(guess)).status_code == 401
    assert reads == []


def test_bad_requests_are_4xx_json_without_tracebacks(plain):
    headers = bearer(plain.key())
    url = f"{plain.base}/v1/chat/completions"
    big = {"model": "convrec", "messages": [{"role": "user", "content": "x" * 70_000}]}
    responses = {
        "oversize": httpx.post(url, json=big, headers=headers),
        "oversize, chunked": httpx.post(url, content=(b"x" * 8192 for _ in range(10)),
                                        headers={**headers, "Content-Type": "application/json"}),
        "malformed JSON": httpx.post(url, content=b'{"messages": [', headers={**headers,
                                                                             "Content-Type": "application/json"}),
        "no messages": httpx.post(url, json={"model": "convrec"}, headers=headers),
        "no user message": httpx.post(url, json={"messages": [{"role": "system", "content": "be nice"}]},
                                      headers=headers),
        "too long a message": httpx.post(url, json={"messages": [{"role": "user", "content": "x" * 5000}]},
                                         headers=headers),
        "wrong types": httpx.post(url, json={"messages": [{"role": "user", "content": 42}]}, headers=headers),
        "unknown route": httpx.get(f"{plain.base}/v1/nothing", headers=headers),
    }
    expected = {"oversize": 413, "oversize, chunked": 413, "malformed JSON": 400, "no messages": 422,
                "no user message": 400, "too long a message": 422, "wrong types": 422, "unknown route": 404}
    assert {name: r.status_code for name, r in responses.items()} == expected
    for response in responses.values():
        assert "Traceback" not in response.text and response.json()["error"]["message"]


def test_lone_surrogates_and_control_characters_are_cleaned(plain):
    body = b'{"user": "odd", "messages": [{"role": "user", "content": "I loved Heat \\ud800\\u0000\\u001b"}]}'
    response = httpx.post(f"{plain.base}/v1/chat/completions", content=body,
                          headers={**bearer(plain.key()), "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["convrec"]["recommendations"]


def test_cors_is_off_unless_an_origin_is_allowed():
    from starlette.testclient import TestClient

    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization"}
    off = TestClient(create_app(lambda status: None, ServerConfig(warm=False)))
    assert "access-control-allow-origin" not in off.options("/v1/chat/completions", headers=preflight).headers
    on = TestClient(create_app(lambda status: None, ServerConfig(warm=False, cors_origins=("https://app.example",))))
    allowed = on.options("/v1/chat/completions", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"


# -- the native API -----------------------------------------------------------------------------------------------
def test_native_api_round_trip(plain):
    headers = bearer(plain.key())
    created = httpx.post(f"{plain.base}/v1/sessions", json={"user": "ann"}, headers=headers)
    assert created.status_code == 201
    session = created.json()["session"]
    with httpx.stream("POST", f"{plain.base}/v1/sessions/{session}/messages", json={"content": "I loved The Matrix"},
                      headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = native_events(response)
    names = [name for name, _ in events]
    assert names[0] == "cards" and names[-1] == "done" and names.count("token") == 5
    assert all(name == data["type"] for name, data in events)
    card = events[0][1]["recommendations"][0]["item_id"]

    feedback = f"{plain.base}/v1/feedback"
    assert httpx.post(feedback, json={"user": "ann", "item_id": card, "action": "dislike", "session": session},
                      headers=headers).json()["disliked"] == [card]
    assert httpx.post(feedback, json={"user": "ann", "item_id": "1", "action": "rate", "value": 4.5},
                      headers=headers).status_code == 200
    assert httpx.post(feedback, json={"user": "ann", "item_id": "1", "action": "rate"}, headers=headers).status_code == 422
    assert httpx.post(feedback, json={"user": "ann", "item_id": "1", "action": "rate", "value": 9},
                      headers=headers).status_code == 422
    assert httpx.post(feedback, json={"user": "ann", "item_id": "no-such-item", "action": "like"},
                      headers=headers).status_code == 404

    history = httpx.get(f"{plain.base}/v1/sessions/{session}", headers=headers).json()
    assert history["user"] == "ann" and [m["role"] for m in history["messages"]] == ["user", "assistant"]
    exported = httpx.get(f"{plain.base}/v1/users/ann", headers=headers).json()
    assert exported["user"] == "ann" and exported["sessions"][0]["session"] == session
    assert [(f["item_id"], f["action"]) for f in exported["feedback"]] == [(card, "dislike"), ("1", "rate")]
    assert httpx.delete(f"{plain.base}/v1/users/ann", headers=headers).json() == {"deleted": True, "user": "ann"}
    assert httpx.get(f"{plain.base}/v1/users/ann", headers=headers).status_code == 404
    assert httpx.get(f"{plain.base}/v1/sessions/{session}", headers=headers).status_code == 404


def test_feedback_is_saved_with_its_profile_or_not_at_all_and_a_like_takes_no_value(plain, monkeypatch):
    headers = bearer(plain.key())
    feedback, like = f"{plain.base}/v1/feedback", {"user": "oz", "item_id": "1", "action": "like"}
    refused = httpx.post(feedback, json={**like, "value": 3}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("value: 'like' takes no value")

    def disk_full(*args):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(plain.runtime.memory, "save_profile", disk_full)
    assert httpx.post(feedback, json=like, headers=headers).status_code == 500
    monkeypatch.undo()
    assert httpx.get(f"{plain.base}/v1/users/oz", headers=headers).status_code == 404  # no feedback row either
    assert httpx.post(feedback, json=like, headers=headers).json()["liked"] == ["1"]


def test_unknown_sessions_and_users_are_404(plain):
    headers = bearer(plain.key())
    assert httpx.get(f"{plain.base}/v1/sessions/nope", headers=headers).status_code == 404
    response = httpx.post(f"{plain.base}/v1/sessions/nope/messages", json={"content": "hi"}, headers=headers)
    assert response.status_code == 404 and response.json()["error"]["message"] == "unknown session"
    assert httpx.get(f"{plain.base}/v1/users/nobody", headers=headers).status_code == 404
    assert httpx.delete(f"{plain.base}/v1/users/nobody", headers=headers).status_code == 404


def test_a_key_sees_only_its_own_users_and_sessions(plain):
    mine, theirs = bearer(plain.key("platform-a")), bearer(plain.key("platform-b"))
    session = httpx.post(f"{plain.base}/v1/sessions", json={"user": "alice"}, headers=mine).json()["session"]
    with httpx.stream("POST", f"{plain.base}/v1/sessions/{session}/messages", json={"content": "I loved Heat"},
                      headers=mine) as response:
        native_events(response)
    before = httpx.get(f"{plain.base}/v1/users/alice", headers=mine).json()

    assert httpx.get(f"{plain.base}/v1/sessions/{session}", headers=theirs).status_code == 404
    assert httpx.post(f"{plain.base}/v1/sessions/{session}/messages", json={"content": "I hate Heat"},
                      headers=theirs).status_code == 404
    assert httpx.get(f"{plain.base}/v1/users/alice", headers=theirs).status_code == 404
    assert httpx.delete(f"{plain.base}/v1/users/alice", headers=theirs).status_code == 404
    assert httpx.post(f"{plain.base}/v1/feedback", headers=theirs, json={
        "user": "alice", "item_id": "6", "action": "dislike", "session": session}).status_code == 404
    # Naming the same session id and user from another key reaches a different conversation, in its own namespace.
    other = httpx.post(f"{plain.base}/v1/chat/completions", headers={**theirs, "X-Convrec-Session": session},
                       json={"user": "alice", "messages": [{"role": "user", "content": "I hate Heat"}]}).json()
    assert other["convrec"]["session"] == session and other["convrec"]["user"] == "alice"
    after = httpx.get(f"{plain.base}/v1/users/alice", headers=mine).json()
    assert after == before and "6" in after["profile"]["liked"]


def test_per_key_rate_limit_is_429_with_retry_after(demo_tools, tmp_path):
    runtime = demo_runtime(demo_tools, tmp_path)
    with LiveServer(runtime, ServerConfig(warm=False, rate_per_s=0.01, burst=2)) as server:
        limited, other = bearer(server.key("busy")), bearer(server.key("quiet"))
        statuses = [httpx.get(f"{server.base}/v1/models", headers=limited).status_code for _ in range(3)]
        refused = httpx.get(f"{server.base}/v1/models", headers=limited)
        assert statuses == [200, 200, 429] and refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["type"] == "rate_limit_error"
        assert httpx.get(f"{server.base}/v1/models", headers=other).status_code == 200


def test_llm_queue_is_fair_bounded_and_cancellable(demo_tools, tmp_path):
    """One model, one slot, one place in the queue: a turn's cards never wait for another turn's LLM work; a third
    turn is refused with 503 + Retry-After; a client that goes away leaves the queue."""
    llm = GatedLLM()
    runtime = demo_runtime(demo_tools, tmp_path, llm)
    config = ServerConfig(warm=False, rate_per_s=1000, burst=1000, llm_slots=1, llm_queue=1)
    with LiveServer(runtime, config) as server, httpx.Client(headers=bearer(server.key()), timeout=WAIT_S) as http:
        url = f"{server.base}/v1/chat/completions"

        def turn(user):
            return {"user": user, "stream": True, "messages": [{"role": "user", "content": "I loved The Matrix"}]}

        llm.gate.clear()
        with http.stream("POST", url, json=turn("first")) as first:
            first_chunks = data_lines(first.iter_lines())
            assert next(first_chunks)["convrec"]["type"] == "cards"
            assert llm.busy.wait(WAIT_S)  # the first turn now holds the model, blocked inside it

            second = http.send(http.build_request("POST", url, json=turn("second")), stream=True)
            second_chunks = data_lines(second.iter_lines())
            assert next(second_chunks)["convrec"]["type"] == "cards"  # cards while the model is busy elsewhere
            wait_until(lambda: server.queue()["admitted"] == 2, "two admitted turns")

            refused = http.post(url, json={**turn("third"), "stream": False})
            assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
            assert refused.json()["error"]["type"] == "service_unavailable"
        # The first client went away: its turn leaves the queue at once.
        wait_until(lambda: server.queue()["admitted"] == 1, "the first turn to be cancelled")
        llm.gate.set()
        rest = list(second_chunks)
        second.close()
        assert rest[-1] == "[DONE]" and any(c["choices"] and c["choices"][0]["finish_reason"] == "stop"
                                            for c in rest[:-1])
        wait_until(lambda: server.queue() == {**server.queue(), "admitted": 0, "running": 0, "waiting": 0},
                   "an idle queue")
        again = http.post(url, json={**turn("third"), "stream": False})
        assert again.status_code == 200 and again.json()["convrec"]["degraded"] is None


def test_schemathesis_finds_no_server_errors(plain, tmp_path):
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert cli, "schemathesis is in the dev extra"
    result = subprocess.run(
        [cli, "run", f"{plain.base}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "5",
         "--phases", "examples,coverage,fuzzing", "--seed", "7", "--generation-database", "none",
         "--request-timeout", "20", "--no-color", "-H", f"Authorization: Bearer {plain.key('schemathesis')}",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# -- a real process: SIGKILL mid-stream ------------------------------------------------------------------------------
STUCK_SERVER = textwrap.dedent("""
    import sys, threading
    import uvicorn
    from convrec.agent.runtime import build_runtime
    from convrec.core.settings import Settings
    from convrec.server.app import create_app
    from convrec.server.config import ServerConfig

    class StuckLLM:  # the model never answers: a turn stays mid-stream until the process dies
        name = "stuck"
        def structured(self, messages, schema, *, max_tokens):
            threading.Event().wait()
        def stream_chat(self, messages, *, max_tokens, temperature=0.3, stop=None):
            threading.Event().wait()
            yield ""

    app = create_app(lambda status: build_runtime(Settings(), llm=StuckLLM(), status=status), ServerConfig(warm=False))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
""")


def convrec_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_sigkill_mid_stream_loses_no_acknowledged_feedback(tmp_path, tiny_ml_dir):
    env = {**os.environ, "CONVREC_CATALOG": str(tiny_ml_dir)}
    key = convrec_cli("keys", "create", "--name", "bot", env=env).stdout.strip()
    headers = bearer(key)
    script = tmp_path / "stuck_server.py"
    script.write_text(STUCK_SERVER)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    child = subprocess.Popen([sys.executable, str(script), str(port)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, "the child server")
        session = httpx.post(f"{base}/v1/sessions", json={"user": "ann"}, headers=headers).json()["session"]
        liked = ["1", "260", "296", "318", "356", "480", "527", "589", "593", "2571"]
        for item in liked:
            saved = httpx.post(f"{base}/v1/feedback", json={"user": "ann", "item_id": item, "action": "like",
                                                            "session": session}, headers=headers)
            assert saved.status_code == 200 and saved.json()["saved"] is True
        with httpx.stream("POST", f"{base}/v1/sessions/{session}/messages", json={"content": "I loved Fargo"},
                          headers=headers, timeout=WAIT_S) as response:
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("event: ")) == "event: cards"
            os.kill(child.pid, signal.SIGKILL)  # the turn is waiting for the model: mid-stream
            child.wait(WAIT_S)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(WAIT_S)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    restarted = subprocess.Popen([sys.executable, "-c", "from convrec.cli.main import run; run()", "serve", "--llm",
                                  "none", "--no-warm", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, "the restarted server")
        exported = httpx.get(f"{base}/v1/users/ann", headers=headers).json()
        assert [f["item_id"] for f in exported["feedback"]] == liked
        assert set(liked) <= set(exported["profile"]["liked"])
        with httpx.stream("POST", f"{base}/v1/sessions/{session}/messages", json={"content": "more please"},
                          headers=headers, timeout=WAIT_S) as response:
            assert native_events(response)[-1][0] == "done"
        history = httpx.get(f"{base}/v1/sessions/{session}", headers=headers).json()
        assert [m["content"] for m in history["messages"] if m["role"] == "user"] == ["I loved Fargo", "more please"]
    finally:
        restarted.send_signal(signal.SIGTERM)
        try:
            restarted.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            restarted.kill()
            restarted.wait(WAIT_S)
