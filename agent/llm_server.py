"""llama-cpp-python's own OpenAI-compatible server over a local GGUF: an endpoint for `--llm openai --policy agent`
(and for any OpenAI client). Started by `convrec llm serve` and by the live agent test.

`chatml-function-calling` is the chat format that turns a named tool choice into a grammar; its "auto" answers
with no tool calls (checked with llama-cpp-python 0.3.36), so point the agent at it with
CONVREC_AGENT_TOOL_CHOICE=named.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from convrec.core.errors import ConvrecError, InputError

DEFAULT_PORT = 8351  # not 8000: llama.cpp's and Chroma's shared default
CHAT_FORMAT = "chatml-function-calling"


def server_command(model_path: Path, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, n_ctx: int = 2048,
                   n_threads: int | None = None) -> list[str]:
    try:
        import llama_cpp.server.app  # noqa: F401 - its extra's packages (sse-starlette, starlette-context)
    except ImportError as error:
        raise InputError(f"llama-cpp-python's server is not installed ({error.name} is missing)",
                         fix="pip install 'convrec[llm-server]'") from error
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--chat_format", CHAT_FORMAT,
               "--host", host, "--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False"]
    if n_threads is not None:
        command += ["--n_threads", str(n_threads)]
    return command


def base_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/v1"


def wait_ready(process: subprocess.Popen, url: str, timeout_s: float = 120.0) -> None:
    """Until GET {url}/models answers; a ConvrecError if the server exits or does not answer in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConvrecError(f"the model server exited with code {process.returncode}", where=url,
                               fix="run the command by hand to see its log")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise ConvrecError(f"the model server did not answer within {timeout_s:g} s", where=url,
                       fix="check the port and the model path")
