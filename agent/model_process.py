"""The local model in a supervised child process: a native crash or a hang of llama.cpp never takes down the TUI,
the server or `ask`.

llama.cpp is C++: a fault in it (measured: SIGSEGV in ggml's AMX code on Sapphire Rapids-class CPUs) kills whatever
process holds it, and no `try` can catch that. So the weights live in a child, `python -m
convrec.agent.model_process`, and the parent talks to it with JSON lines over pipes (one generation at a time, as
llama.cpp's single KV cache wants). `ModelProcess` is an ordinary `LLM` to the rest of the agent:

- the child dies (a signal, an exit)            → `LLMUnavailable` for the call in flight, and a fresh child
                                                  is started in the background for the next call;
- the child stops answering (no output for `stall_timeout` s) → it is killed, then as above;
- a native fault (SIGSEGV, SIGILL, SIGBUS)      → the next child runs in safe mode: llama.cpp's extra buffer
                                                  types off (`use_extra_bufts=False`, where the AMX fault lives);
- `max_restarts` crashes in a row with no good call between them → the model is given up for this process, with
                                                  a message saying what to do; cards and template reasons go on.

The child keeps llama.cpp's KV cache and RAM cache across calls, so prompt-cache reuse works as in-process; the
pipe adds microseconds per token (bench/model_process.py measures the share of a turn's LLM time).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convrec.agent.llm import LLMError, LLMUnavailable, Message, T, parse_structured

NATIVE_FAULTS = {signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT}
MAX_LINE = 16 * 1024 * 1024


# -- one JSON object per line, both directions ------------------------------------------------------------------------
class Channel:
    """JSON lines over a pair of file descriptors, with a timeout on reads (select) and no buffering surprises."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False) + "\n").encode()
        while data:
            written = os.write(self.write_fd, data)
            data = data[written:]

    def receive(self, timeout: float | None) -> dict[str, Any] | None:
        """The next message; None if none came within `timeout` s; EOFError if the other side closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.read_fd, 65536)
            if not chunk:
                raise EOFError("the other side closed the pipe")
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                raise EOFError("a message longer than the protocol allows")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


# -- the parent's side ------------------------------------------------------------------------------------------------
@dataclass
class ProcessOptions:
    """How the child runs the model. `backend` "llama" is the product; "echo" is a plumbing backend for tests."""

    model_path: Path
    n_ctx: int = 2048
    n_threads: int = 1
    n_threads_batch: int = 2
    extra_bufts: bool = True
    backend: str = "llama"
    echo_delay: float = 0.0
    log_path: Path | None = None

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "convrec.agent.model_process", "--model", str(self.model_path),
                "--n-ctx", str(self.n_ctx), "--threads", str(self.n_threads),
                "--threads-batch", str(self.n_threads_batch), "--backend", self.backend,
                "--echo-delay", str(self.echo_delay), *([] if self.extra_bufts else ["--no-extra-bufts"])]


@dataclass
class Health:
    """What the front ends show about the model process."""

    state: str = "not started"  # not started | loading | ready | restarting | failed
    restarts: int = 0
    last_failure: str | None = None
    safe_mode: bool = False
    history: list[str] = field(default_factory=list)


class ModelProcess:
    """An `LLM` whose model runs in a supervised child process (see the module docstring)."""

    def __init__(self, options: ProcessOptions, *, stall_timeout: float = 60.0, load_timeout: float = 180.0,
                 max_restarts: int = 3) -> None:
        self.options = options
        self.name = Path(options.model_path).stem
        self.stall_timeout = stall_timeout
        self.load_timeout = load_timeout
        self.max_restarts = max_restarts
        self.health = Health(safe_mode=not options.extra_bufts)
        self.last_usage: dict[str, int] = {}
        self._child: subprocess.Popen | None = None
        self._channel: Channel | None = None
        self._lock = threading.Lock()  # one request at a time, as in-process
        self._failures_in_a_row = 0
        atexit.register(self.close)

    # -- the LLM protocol ---------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Start the child and load the weights (1.5-6 s). Safe to call from a worker thread; later calls are free."""
        with self._lock:
            self._ensure_running()

    def stream_chat(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.3,
                    stop: list[str] | None = None) -> Iterator[str]:
        with self._lock:
            channel = self._ensure_running()
            self._send(channel, {"op": "chat", "messages": messages, "max_tokens": max_tokens,
                                 "temperature": temperature, "stop": stop})
            finished = False
            try:
                while True:
                    reply = self._receive(channel)
                    if reply["event"] == "piece":
                        yield reply["text"]
                    elif reply["event"] == "done":
                        finished = True
                        self._succeeded()
                        return
                    else:
                        finished = True
                        self._raise_reply_error(reply)
            finally:
                if not finished and self._channel is channel:
                    self._cancel(channel)  # the caller stopped early: stop the generation, keep the child

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        with self._lock:
            channel = self._ensure_running()
            self._send(channel, {"op": "structured", "messages": messages, "schema": schema.model_json_schema(),
                                 "key": schema.__qualname__, "max_tokens": max_tokens})
            reply = self._receive(channel)
            if reply["event"] != "result":
                self._raise_reply_error(reply)
            self._succeeded()
        self.last_usage = dict(reply.get("usage") or {})
        return parse_structured(reply["text"], schema)

    def self_test(self) -> dict[str, Any]:
        """A short multi-token generation in the child: tok/s of prefill and decode (what `convrec model ensure`
        records). Raises LLMUnavailable if the child dies doing it."""
        with self._lock:
            channel = self._ensure_running()
            self._send(channel, {"op": "selftest"})
            reply = self._receive(channel)
            if reply["event"] != "selftest":
                self._raise_reply_error(reply)
            self._succeeded()
            return reply["result"]

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._child.poll() is None else None

    def close(self) -> None:
        """End the child. At exit a generation may still hold the lock in a daemon thread: kill the child anyway."""
        locked = self._lock.acquire(timeout=1)
        try:
            self._stop_child()
            if self.health.state != "failed":
                self.health.state = "not started"
        finally:
            if locked:
                self._lock.release()

    # -- supervision --------------------------------------------------------------------------------------------------
    def _ensure_running(self) -> Channel:
        if self._channel is not None and self._child is not None and self._child.poll() is None:
            return self._channel
        if self._child is not None:  # died while idle (killed from outside): note it before starting again
            self._note_failure(self._death_reason())
        if self._failures_in_a_row > self.max_restarts:
            raise LLMUnavailable(f"the local model failed {self._failures_in_a_row} times in a row "
                                   f"(last: {self.health.last_failure})", where=self.name,
                                   fix="run `convrec model ensure` to check it on this CPU; meanwhile convrec runs "
                                       "with template reasons (or set CONVREC_LLM=none)")
        return self._start()

    def _start(self) -> Channel:
        self.health.state = "loading" if self.health.restarts == 0 else "restarting"
        log = open(self.options.log_path, "ab") if self.options.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._child = subprocess.Popen(self.options.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=log, env=_child_environment(), start_new_session=True)
        except OSError as error:
            self.health.state = "failed"
            raise LLMUnavailable(f"could not start the model process: {error}", where=self.name,
                                   fix="check that this Python can run `python -m convrec.agent.model_process`") \
                from error
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        self._channel = Channel(self._child.stdout.fileno(), self._child.stdin.fileno())
        channel = self._channel
        self._send(channel, {"op": "load"})
        reply = self._receive(channel, timeout=self.load_timeout)
        if reply["event"] != "loaded":
            self._raise_reply_error(reply)
        self.health.state = "ready"
        return channel

    def _send(self, channel: Channel, message: dict[str, Any]) -> None:
        try:
            channel.send(message)
        except OSError as error:  # BrokenPipeError: the child is gone
            self._fail(self._death_reason() or f"the pipe broke ({error})")

    def _receive(self, channel: Channel, timeout: float | None = None) -> dict[str, Any]:
        timeout = self.stall_timeout if timeout is None else timeout
        try:
            reply = channel.receive(timeout)
        except (EOFError, OSError, ValueError):
            self._fail(self._death_reason() or "the model process closed its pipe")
        if reply is None:
            self._fail(f"the local model stopped answering (nothing for {timeout:g} s)")
        return reply

    def _cancel(self, channel: Channel) -> None:
        """Ask the child to stop the running generation and wait for it to say so; kill it if it does not."""
        try:
            channel.send({"op": "cancel"})
            while (reply := channel.receive(self.stall_timeout)) is not None:
                if reply["event"] in ("done", "error"):
                    return
        except (EOFError, OSError, ValueError):
            pass
        self._note_failure("the model process did not stop a cancelled generation")
        self._stop_child()

    def _raise_reply_error(self, reply: dict[str, Any]) -> None:
        """The child answered with an error: an ordinary LLM failure (bad JSON, a load error), child still alive."""
        message = reply.get("message", "unknown error")
        if reply.get("kind") == "load":
            self._note_failure(message)
            self._stop_child()
            self.health.state = "failed"
            raise LLMUnavailable(f"could not load the local model: {message}", where=self.name,
                                   fix="run `convrec model ensure`, or set CONVREC_LLM=none to run without an LLM")
        raise LLMError(message, where=self.name, fix="ignored for this turn")

    def _fail(self, reason: str) -> None:
        """The child is dead or hung: end it, start a new one in the background, and fail this call."""
        self._note_failure(reason)
        self._stop_child()
        restarting = self._failures_in_a_row <= self.max_restarts
        if restarting:
            self.health.state = "restarting"
            threading.Thread(target=self._restart_quietly, name="convrec-model-restart", daemon=True).start()
        else:
            self.health.state = "failed"
        raise LLMUnavailable(reason, where=self.name,
                               fix="restarting it; this turn keeps its cards and template reasons" if restarting
                               else "run `convrec model ensure`; convrec goes on with template reasons")

    def _restart_quietly(self) -> None:
        try:
            self.load()
        except LLMError:
            pass  # recorded in health; the next call reports it

    def _note_failure(self, reason: str) -> None:
        self._failures_in_a_row += 1
        self.health.restarts += 1
        self.health.last_failure = reason
        self.health.history.append(f"{time.strftime('%H:%M:%S')} {reason}")
        self._safe_mode_after_native_fault()

    def _safe_mode_after_native_fault(self) -> None:
        code = self._child.poll() if self._child is not None else None
        if code is not None and code < 0 and signal.Signals(-code) in NATIVE_FAULTS and self.options.extra_bufts:
            self.options.extra_bufts = False  # where the measured AMX fault lives; costs some prefill speed
            self.health.safe_mode = True

    def _succeeded(self) -> None:
        self._failures_in_a_row = 0

    def _death_reason(self) -> str | None:
        if self._child is None:
            return None
        try:
            code = self._child.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return None
        if code < 0:
            name = signal.Signals(-code).name
            return f"the local model process crashed ({name})" if signal.Signals(-code) in NATIVE_FAULTS \
                else f"the local model process was stopped ({name})"
        return f"the local model process exited (code {code})"

    def _stop_child(self) -> None:
        child, self._child, self._channel = self._child, None, None
        if child is None:
            return
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _child_environment() -> dict[str, str]:
    """OpenMP threads that sleep when they wait: spinning ones collapsed decode to 0.9 tok/s with 2 threads while
    other processes held the cores (bench/model_process.py)."""
    environment = dict(os.environ)
    environment.setdefault("PYTHONUNBUFFERED", "1")
    environment.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return environment


# -- the child's side ---------------------------------------------------------------------------------------------------
class EchoBackend:
    """A backend with no model: streams the last user message back word by word (`delay` s apart), and answers
    `structured` with that message as JSON. It tests the process plumbing (crash, hang, cancel) without weights."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def load(self) -> None:
        pass

    def chat(self, messages: list[Message], **_: Any) -> Iterator[str]:
        for word in messages[-1]["content"].split(" "):
            time.sleep(self.delay)
            yield word + " "

    def structured_text(self, messages: list[Message], schema: dict[str, Any], key: str,
                        max_tokens: int) -> tuple[str, dict[str, int]]:
        time.sleep(self.delay)
        return messages[-1]["content"], {}

    def self_test(self) -> dict[str, Any]:
        return {"prefill_tps": 0.0, "decode_tps": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "text": "echo"}


class LlamaBackend:
    def __init__(self, args: Any) -> None:
        from convrec.agent.llama_backend import LlamaCppLLM

        self.llm = LlamaCppLLM(Path(args.model), n_ctx=args.n_ctx, n_threads=args.threads,
                               n_threads_batch=args.threads_batch, extra_bufts=not args.no_extra_bufts)

    def load(self) -> None:
        self.llm.load()

    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float,
             stop: list[str] | None) -> Iterator[str]:
        return self.llm.stream_chat(messages, max_tokens=max_tokens, temperature=temperature, stop=stop)

    def structured_text(self, messages: list[Message], schema: dict[str, Any], key: str,
                        max_tokens: int) -> tuple[str, dict[str, int]]:
        return self.llm.structured_text(messages, schema, key, max_tokens=max_tokens)

    def self_test(self) -> dict[str, Any]:
        return self.llm.self_test()


def serve(channel: Channel, backend: Any) -> None:
    """Answer requests until the parent closes the pipe."""
    while True:
        try:
            request = channel.receive(None)
        except EOFError:
            return
        op = request.get("op")
        if op == "load":
            try:
                started = time.perf_counter()
                backend.load()
                channel.send({"event": "loaded", "load_s": round(time.perf_counter() - started, 2)})
            except Exception as error:  # the parent turns this into a clear LLMUnavailable
                channel.send({"event": "error", "kind": "load", "message": str(error)})
        elif op == "chat":
            _serve_chat(channel, backend, request)
        elif op == "structured":
            try:
                text, usage = backend.structured_text(request["messages"], request["schema"], request["key"],
                                                      request["max_tokens"])
                channel.send({"event": "result", "text": text, "usage": usage})
            except Exception as error:
                channel.send({"event": "error", "kind": "generate", "message": str(error)})
        elif op == "selftest":
            try:
                channel.send({"event": "selftest", "result": backend.self_test()})
            except Exception as error:
                channel.send({"event": "error", "kind": "generate", "message": str(error)})
        elif op == "cancel":
            channel.send({"event": "done"})  # nothing was running
        else:
            channel.send({"event": "error", "kind": "protocol", "message": f"unknown op {op!r}"})


def _serve_chat(channel: Channel, backend: Any, request: dict[str, Any]) -> None:
    pieces = backend.chat(request["messages"], max_tokens=request["max_tokens"],
                          temperature=request["temperature"], stop=request["stop"])
    try:
        for piece in pieces:
            channel.send({"event": "piece", "text": piece})
            if (message := channel.receive(0)) is not None and message.get("op") == "cancel":
                break
        channel.send({"event": "done"})
    except Exception as error:
        channel.send({"event": "error", "kind": "generate", "message": str(error)})
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m convrec.agent.model_process")
    parser.add_argument("--model", required=True)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--threads-batch", type=int, default=2)
    parser.add_argument("--no-extra-bufts", action="store_true")
    parser.add_argument("--backend", choices=["llama", "echo"], default="llama")
    parser.add_argument("--echo-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    # The protocol owns the real stdout; anything else that writes to fd 1 (C code included) goes to stderr.
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    backend = EchoBackend(args.echo_delay) if args.backend == "echo" else LlamaBackend(args)
    serve(Channel(0, protocol_out), backend)


if __name__ == "__main__":
    main()
