"""CF models trained on a catalog's ratings and persisted under its fingerprint.

An unchanged catalog loads the saved model; a changed one (new fingerprint) retrains; a corrupt file retrains.
Only the newest model per algorithm is kept on disk.

Two engines give the same thing to the scorer (`tools.cf.SVDScorer`): `LatentFactors`, i.e. mu, user and item
biases and factors. "svd" is Surprise SVD (single-threaded, the default); "spark-als" is Spark ALS
(`tools.sparkals`, optional extra `convrec[spark]`) for catalogs that outgrow one core or one machine.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convrec.catalog.models import Catalog
from convrec.core.errors import InputError
from convrec.core.files import atomic_write
from convrec.core.progress import Progress, no_progress
from convrec.core.settings import Settings

SEED = 0
ALGORITHMS = ("svd", "knnbaseline")
ENGINES = ("svd", "spark-als")  # the latent-factor engines behind `load_or_train_factors`
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
    atomic_write(path, lambda handle: pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL))
    algo = path.name.split("-")[0]
    for stale in path.parent.glob(f"{algo}-*.pkl"):
        if stale != path:
            stale.unlink(missing_ok=True)


@dataclass(frozen=True)
class LatentFactors:
    """A biased latent-factor model: estimate(u, i) = mu + bu[u] + bi[i] + pu[u]·qi[i], clipped to [low, high].

    Rows of bu/pu follow `user_ids`, rows of bi/qi follow `item_ids` (raw catalog ids, strings)."""

    mu: float
    low: float
    high: float
    user_ids: np.ndarray
    item_ids: np.ndarray
    bu: np.ndarray
    bi: np.ndarray
    pu: np.ndarray
    qi: np.ndarray

    @classmethod
    def from_surprise(cls, algo) -> LatentFactors:
        """The factors of a trained biased Surprise SVD, rows in its inner-id order."""
        trainset = algo.trainset
        low, high = trainset.rating_scale
        return cls(mu=float(trainset.global_mean), low=float(low), high=float(high),
                   user_ids=np.array([trainset.to_raw_uid(u) for u in range(trainset.n_users)], dtype=str),
                   item_ids=np.array([trainset.to_raw_iid(i) for i in range(trainset.n_items)], dtype=str),
                   bu=np.asarray(algo.bu), bi=np.asarray(algo.bi), pu=np.asarray(algo.pu), qi=np.asarray(algo.qi))

    def save(self, path: Path) -> None:
        """Atomically, as .npz without pickles; older factor files of the same engine are removed."""
        atomic_write(path, lambda handle: np.savez(
            handle, scalars=np.array([self.mu, self.low, self.high]), user_ids=self.user_ids, item_ids=self.item_ids,
            bu=self.bu, bi=self.bi, pu=self.pu, qi=self.qi))
        engine = path.name.rsplit("-", 1)[0]
        for stale in path.parent.glob(f"{engine}-*.npz"):
            if stale != path:
                stale.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> LatentFactors | None:
        """The saved factors, or None when absent or unreadable (then they are trained again)."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                mu, low, high = (float(value) for value in saved["scalars"])
                factors = cls(mu=mu, low=low, high=high, user_ids=saved["user_ids"], item_ids=saved["item_ids"],
                              bu=saved["bu"], bi=saved["bi"], pu=saved["pu"], qi=saved["qi"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError):
            return None
        consistent = (len(factors.bu) == len(factors.pu) == len(factors.user_ids)
                      and len(factors.bi) == len(factors.qi) == len(factors.item_ids))
        return factors if consistent else None


def factors_path(index_dir: Path, catalog: Catalog, engine: str) -> Path:
    return Path(index_dir) / "cf" / f"{engine}-{catalog.fingerprint[:16]}.npz"


def load_or_train_factors(catalog: Catalog, index_dir: Path, engine: str = "svd",
                          spark_master: str = "local[2]", spark_driver_memory: str = "4g",
                          progress: Progress = no_progress) -> tuple[LatentFactors, bool]:
    """(factors, trained) from the configured engine: Surprise SVD (persisted as its pickle, as `load_or_train`)
    or Spark ALS (persisted as .npz under the catalog fingerprint)."""
    if engine == "svd":
        algo, trained = load_or_train(catalog, index_dir, "svd", progress)
        return LatentFactors.from_surprise(algo), trained
    if engine != "spark-als":
        raise InputError(f"unknown CF engine '{engine}'", fix=f"use one of: {', '.join(ENGINES)}")
    from convrec.tools.sparkals import train_als

    path = factors_path(index_dir, catalog, engine)
    factors = LatentFactors.load(path)
    if factors is not None:
        return factors, False
    progress(f"training {engine}", 0, 1)
    factors = train_als(catalog, master=spark_master, driver_memory=spark_driver_memory)
    factors.save(path)
    progress(f"training {engine}", 1, 1)
    return factors, True


def configured_factors(catalog: Catalog, settings: Settings,
                       progress: Progress = no_progress) -> tuple[LatentFactors, bool]:
    """`load_or_train_factors` with the engine, Spark master and memory from `settings`."""
    return load_or_train_factors(catalog, settings.index_dir, settings.cf, settings.spark_master,
                                 settings.spark_driver_memory, progress)
