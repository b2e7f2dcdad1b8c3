"""`convrec model ensure [NAME]`: assemble and verify the local GGUF (or check the user's own one), then prove it runs
on this CPU in its own process (the self-test, recorded for `convrec info`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from convrec.agent.local_model import read_self_test, self_test
from convrec.agent.weights import checked_user_gguf, ensure_model, model_spec
from convrec.cli.progress import console, progress_bar
from convrec.core.settings import Settings


def ensure(name: str | None, test: Literal["if-new", "again", "no"] = "if-new") -> None:
    """Without a NAME, a configured CONVREC_MODEL_PATH wins over the named default, as when chatting."""
    settings = Settings()
    if name is None and settings.model_path is not None:
        path = checked_user_gguf(settings.model_path)
        _say(f"model: your own GGUF at {path} ({_gigabytes(path)}, header checked)")
    else:
        spec = model_spec(name or settings.model)
        with progress_bar(transfer=True) as report:
            path = ensure_model(spec, settings.models_dir, report)
        _say(f"model: {spec.name} ready at {path} ({_gigabytes(path)}, sha256 verified)")
    if test == "no":
        return
    record = read_self_test(path, settings.models_dir) if test == "if-new" else None
    if record is None:
        with console.status("self-test: running the model once on this CPU, in its own process…"):
            record = self_test(settings, path)
    _say(f"runs on this CPU: {record.summary()}")
    if record.crashed_with_extra_bufts:
        _say("  (it crashed with llama.cpp's extra buffer types on, as on CPUs with AMX; they stay off here)")


def _gigabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e9:.1f} GB"


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)  # a path may contain [brackets]


def serve_llm(model: str | None, *, port: int, n_ctx: int, threads: int | None) -> None:
    """Becomes the server process (exec): Ctrl-C and signals reach it directly."""
    import os
    import sys

    from convrec.agent.llm_server import base_url, server_command
    from convrec.agent.weights import resolve_model_path
    from convrec.evaluation.dialogues import resolve_model

    settings = Settings(**resolve_model(model))
    with progress_bar(transfer=True) as report:
        path = resolve_model_path(settings, report)
    command = server_command(path, port=port, n_ctx=n_ctx, n_threads=threads)
    _say(f"serving {path.name} at {base_url('127.0.0.1', port)}; use it with:\n"
         f"  CONVREC_LLM=openai CONVREC_OPENAI_BASE_URL={base_url('127.0.0.1', port)} CONVREC_AGENT_TOOL_CHOICE=named "
         f"convrec ask --policy agent \"something like Heat\"")
    sys.stdout.flush()
    os.execv(command[0], command)
