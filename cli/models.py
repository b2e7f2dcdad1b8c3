"""`convrec model ensure [NAME]`: assemble and verify the local GGUF, or check the user's own one."""

from __future__ import annotations

from pathlib import Path

from convrec.agent.weights import checked_user_gguf, ensure_model, model_spec
from convrec.cli.progress import console, progress_bar
from convrec.core.settings import Settings


def ensure(name: str | None) -> None:
    """Without a NAME, a configured CONVREC_MODEL_PATH wins over the named default, as when chatting."""
    settings = Settings()
    if name is None and settings.model_path is not None:
        path = checked_user_gguf(settings.model_path)
        _say(f"model: your own GGUF at {path} ({_gigabytes(path)}, header checked)")
        return
    spec = model_spec(name or settings.model)
    with progress_bar(transfer=True) as report:
        path = ensure_model(spec, settings.models_dir, report)
    _say(f"model: {spec.name} ready at {path} ({_gigabytes(path)}, sha256 verified)")


def _gigabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e9:.1f} GB"


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)  # a path may contain [brackets]
