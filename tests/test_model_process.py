"""The model process: a crash, a hang or a cancel in the child never reaches the caller as more than an LLMError,
and the next call gets a working child again. The plumbing backend ("echo") needs no weights; the real GGUF
through the same process is in test_integration_gguf.py."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from convrec.agent.llm import LLMError, LLMUnavailable
from convrec.agent.model_process import Channel, ModelProcess, ProcessOptions


def echo(delay: float = 0.0, **kwargs) -> ModelProcess:
    return ModelProcess(ProcessOptions(Path("plumbing.gguf"), backend="echo", echo_delay=delay),
                        stall_timeout=kwargs.pop("stall_timeout", 5.0), **kwargs)


def chat(process: ModelProcess, text: str) -> list[str]:
    return list(process.stream_chat([{"role": "user", "content": text}], max_tokens=16))


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Answer(BaseModel):
    title: str
    score: float


@pytest.fixture
def process():
    made = echo(delay=0.05)
    yield made
    made.close()


def test_stream_and_structured_cross_the_pipe(process):
    assert chat(process, "one two three") == ["one ", "two ", "three "]
    answer = process.structured([{"role": "user", "content": '{"title": "Heat", "score": 0.5}'}], Answer,
                                max_tokens=32)
    assert answer == Answer(title="Heat", score=0.5)
    with pytest.raises(LLMError) as bad:  # a schema failure is an ordinary LLM error: the child stays up
        process.structured([{"role": "user", "content": "not json"}], Answer, max_tokens=32)
    assert not isinstance(bad.value, LLMUnavailable)
    assert process.pid is not None and process.health.state == "ready"


def test_a_native_crash_mid_stream_fails_the_call_and_the_next_call_has_a_new_child(process):
    chat(process, "warm up")
    first_pid = process.pid
    stream = process.stream_chat([{"role": "user", "content": "a b c d e f g h i j"}], max_tokens=16)
    assert next(stream) == "a "
    os.kill(first_pid, signal.SIGSEGV)
    with pytest.raises(LLMUnavailable) as crashed:
        list(stream)
    assert "crashed (SIGSEGV)" in crashed.value.what and "restarting" in crashed.value.fix
    assert process.health.safe_mode and process.options.extra_bufts is False  # a native fault: safe mode next
    wait_for(lambda: process.health.state == "ready")  # restarted in the background
    assert process.pid not in (None, first_pid)
    assert chat(process, "after the crash") == ["after ", "the ", "crash "]
    assert process.health.restarts == 1 and "SIGSEGV" in process.health.history[0]


def test_a_hung_child_is_killed_after_the_stall_timeout_and_replaced():
    process = echo(delay=0.05, stall_timeout=1.0)
    try:
        stream = process.stream_chat([{"role": "user", "content": "a b c d e f g h i j"}], max_tokens=16)
        next(stream)
        hung_pid = process.pid
        os.kill(hung_pid, signal.SIGSTOP)
        with pytest.raises(LLMUnavailable) as hung:
            list(stream)
        assert "stopped answering" in hung.value.what
        assert not process.health.safe_mode  # a hang is not a native fault
        wait_for(lambda: process.health.state == "ready")
        assert process.pid != hung_pid and chat(process, "back") == ["back "]
        with pytest.raises(ProcessLookupError):
            os.kill(hung_pid, 0)  # the stopped child was killed and reaped
    finally:
        process.close()


def test_a_child_killed_while_idle_is_replaced_on_the_next_call(process):
    chat(process, "warm up")
    old = process.pid
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)
    assert chat(process, "still here") == ["still ", "here "]
    assert process.pid != old and "stopped (SIGKILL)" in process.health.last_failure


def test_closing_a_stream_early_stops_the_generation_and_keeps_the_child(process):
    stream = process.stream_chat([{"role": "user", "content": "a b c d e f g h i j"}], max_tokens=16)
    next(stream)
    pid = process.pid
    stream.close()
    assert chat(process, "next one") == ["next ", "one "]  # no stale pieces of the cancelled generation
    assert process.pid == pid and process.health.restarts == 0


def test_a_child_that_crashes_at_every_start_is_given_up_after_max_restarts(monkeypatch):
    crash_at_start = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    monkeypatch.setattr(ProcessOptions, "argv", lambda self: crash_at_start)
    process = echo(max_restarts=2)
    try:
        with pytest.raises(LLMUnavailable):
            process.load()
        wait_for(lambda: process.health.state == "failed")
        started = time.monotonic()
        with pytest.raises(LLMUnavailable) as given_up:
            chat(process, "anyone there?")
        assert "times in a row" in given_up.value.what and "convrec model ensure" in given_up.value.fix
        assert time.monotonic() - started < 5  # no new child: it answers at once
    finally:
        process.close()


def test_a_model_that_cannot_load_is_a_clear_error_not_a_restart_loop(tmp_path):
    not_gguf = tmp_path / "broken.gguf"
    not_gguf.write_bytes(b"not a model")
    process = ModelProcess(ProcessOptions(not_gguf), stall_timeout=30)
    try:
        with pytest.raises(LLMUnavailable) as failed:
            process.load()
        assert "could not load the local model" in failed.value.what
        assert process.health.state == "failed" and process.pid is None
    finally:
        process.close()


def test_the_channel_times_out_and_reports_a_closed_pipe():
    read_fd, write_fd = os.pipe()
    channel = Channel(read_fd, write_fd)
    assert channel.receive(0.05) is None
    channel.send({"event": "piece", "text": "héllo\nworld"})
    assert channel.receive(1) == {"event": "piece", "text": "héllo\nworld"}
    os.close(write_fd)
    with pytest.raises(EOFError):
        channel.receive(1)
    os.close(read_fd)
