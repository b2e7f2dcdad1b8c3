"""`convrec model ensure`."""

from __future__ import annotations

from convrec.agent.weights import ensure_model, model_spec
from convrec.cli.progress import console, progress_bar
from convrec.core.settings import Settings


def ensure(name: str | None) -> None:
    settings = Settings()
    spec = model_spec(name or settings.model)
    with progress_bar(transfer=True) as report:
        path = ensure_model(spec, settings.models_dir, report)
    size_gb = path.stat().st_size / 1e9
    console.print(f"model: {spec.name} ready at {path} ({size_gb:.2f} GB, sha256 verified)")
