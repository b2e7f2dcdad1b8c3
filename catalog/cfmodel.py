"""Surprise CF models trained on a catalog's ratings and persisted under its fingerprint.

An unchanged catalog loads the saved model; a changed one (new fingerprint) retrains; a corrupt file retrains.
Only the newest model per algorithm is kept on disk.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.core.progress import Progress, no_progress
from convrec.core.settings import Settings

SEED = 0
ALGORITHMS = ("svd", "knnbaseline")
# What a truncated, garbled or incompatible pickle raises instead of loading.
_UNREADABLE = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError, TypeError,
               ValueError, MemoryError)


def model_path(index_dir: Path, catalog: Catalog, algo: str = "svd") -> Path:
    return Path(index_dir) / "cf" / f"{algo}-{catalog.fingerprint[:16]}.pkl"


def train(catalog: Catalog, algo: str = "svd"):
    """Fit `algo` on all of the catalog's ratings, on its rating scale, seeded. Raw ids are strings."""
    from surprise import SVD, Dataset, KNNBaseline, Reader

    if algo == "svd":
        model = SVD(random_state=SEED)
    elif algo == "knnbaseline":
        model = KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False,
                            random_state=SEED)
    else:
        raise InputError(f"unknown CF algorithm '{algo}'", fix=f"use one of: {', '.join(ALGORITHMS)}")
    ratings = catalog.ratings[["user_id", "item_id", "rating"]].astype({"user_id": str, "item_id": str})
    data = Dataset.load_from_df(ratings, Reader(rating_scale=(catalog.scale.low, catalog.scale.high)))
    model.fit(data.build_full_trainset())
    return model


def load_or_train(catalog: Catalog, index_dir: Path | None = None, algo: str = "svd",
                  progress: Progress = no_progress) -> tuple[object, bool]:
    """(model, trained): `trained` is False when the persisted model for this exact catalog was loaded.

    `index_dir` defaults to `Settings().index_dir`.
    """
    path = model_path(index_dir or Settings().index_dir, catalog, algo)
    model = _load(path)
    if model is not None:
        return model, False
    progress(f"training {algo}", 0, 1)
    model = train(catalog, algo)
    _save(model, path)
    progress(f"training {algo}", 1, 1)
    return model, True


def _load(path: Path):
    from surprise import AlgoBase

    try:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
    except FileNotFoundError:
        return None
    except _UNREADABLE:
        return None  # corrupt, or written by an incompatible version: retrain
    return model if isinstance(model, AlgoBase) else None


def _save(model: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    algo = path.name.split("-")[0]
    for stale in path.parent.glob(f"{algo}-*.pkl"):
        if stale != path:
            stale.unlink(missing_ok=True)
