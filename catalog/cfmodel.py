"""Surprise CF models trained on a catalog's ratings and persisted under its fingerprint.

An unchanged catalog loads the saved model; a changed one (new fingerprint) retrains; a corrupt file retrains.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.core.progress import Progress, no_progress

SEED = 0


def _algorithms() -> dict:
    from surprise import SVD, KNNBaseline

    return {
        "svd": lambda: SVD(random_state=SEED),
        "knnbaseline": lambda: KNNBaseline(sim_options={"name": "pearson_baseline", "user_based": False},
                                           verbose=False, random_state=SEED),
    }


ALGORITHMS = ("svd", "knnbaseline")


def model_path(index_dir: Path, catalog: Catalog, algo: str) -> Path:
    return index_dir / "cf" / f"{algo}-{catalog.fingerprint[:16]}.pkl"


def train(catalog: Catalog, algo: str = "svd"):
    from surprise import Dataset, Reader

    if algo not in ALGORITHMS:
        raise InputError(f"unknown CF algorithm '{algo}'", fix=f"use one of: {', '.join(ALGORITHMS)}")
    reader = Reader(rating_scale=(catalog.scale.low, catalog.scale.high))
    data = Dataset.load_from_df(catalog.ratings[["user_id", "item_id", "rating"]], reader)
    model = _algorithms()[algo]()
    model.fit(data.build_full_trainset())
    return model


def load_or_train(catalog: Catalog, index_dir: Path, algo: str = "svd",
                  progress: Progress = no_progress) -> tuple[object, bool]:
    """(model, trained): `trained` is False when the persisted model for this exact catalog was loaded."""
    path = model_path(index_dir, catalog, algo)
    model = _load(path)
    if model is not None:
        return model, False
    progress(f"training {algo}", 0, 1)
    model = train(catalog, algo)
    _save(model, path)
    progress(f"training {algo}", 1, 1)
    return model, True


def _load(path: Path):
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError, IndexError):
        return None  # corrupt or from an incompatible version: retrain


def _save(model: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    for stale in path.parent.glob(f"{path.name.split('-')[0]}-*.pkl"):
        if stale != path:
            stale.unlink(missing_ok=True)
