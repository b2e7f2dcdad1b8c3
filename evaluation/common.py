"""What every experiment shares: the configuration, training catalogs, all-items ranking, titles as people type them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from convrec.catalog.models import Catalog

RATING_MODELS = ("svd", "knnbaseline", "baselineonly", "ours")


@dataclass(frozen=True)
class Config:
    """One run's settings. Everything random is seeded from here, so a run is repeatable."""

    k: int = 10  # cut-off of every top-N metric
    folds: int = 5  # rating prediction: KFold folds
    split_seed: int = 42  # KFold random_state (and the Surprise baselines' random_state)
    seed: int = 0  # user hold-out groups, sampling of users
    liked: float = 4.0  # a rating at or above this is a like
    rating_models: tuple[str, ...] = RATING_MODELS
    warm_users: int | None = None  # top-N: evaluate at most this many users (seeded sample); None: all
    cold_fraction: float = 0.2  # cold start: the share of users treated as new in one group
    cold_groups: int = 5  # how many disjoint groups of new users in turn (5 × 20 %: every user once)
    reveal: tuple[int, ...] = (1, 3, 5, 10)  # how many liked items a new user has told us
    workers: int = 1  # processes running experiment parts side by side
    quick: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


QUICK = dict(folds=2, rating_models=("svd", "baselineonly", "ours"), warm_users=150, cold_groups=1, quick=True)


def training_catalog(catalog: Catalog, ratings: pd.DataFrame, tag: str) -> Catalog:
    """The catalog's items with only `ratings`: what the system would know if the rest had not happened.

    The fingerprint is derived, not recomputed: it only names caches, and these catalogs are never cached.
    """
    digest = hashlib.sha256(f"{catalog.fingerprint}:{tag}:{len(ratings)}".encode()).hexdigest()
    return Catalog(name=f"{catalog.name}-{tag}", items=catalog.items, ratings=ratings.reset_index(drop=True),
                   scale=catalog.scale, fingerprint=digest, aliases=catalog.aliases)


class ItemSpace:
    """Catalog item ids ↔ positions, and the top k of an all-items score vector with known items excluded."""

    def __init__(self, item_ids: pd.Index) -> None:
        self.item_ids = item_ids
        self._positions = pd.Series(np.arange(len(item_ids)), index=item_ids)

    def __len__(self) -> int:
        return len(self.item_ids)

    def positions(self, item_ids) -> np.ndarray:
        return self._positions.reindex(list(item_ids)).dropna().to_numpy(dtype=np.int64)

    def expand(self, scores: pd.Series) -> np.ndarray:
        """A score Series over some items → a vector over all items; items it lacks rank last."""
        vector = np.full(len(self.item_ids), -np.inf)
        vector[self.positions(scores.index)] = scores.to_numpy(dtype=float)
        return vector

    def top(self, scores: np.ndarray, exclude, k: int) -> list[str]:
        """The k best item ids, `exclude` left out; ties go to the earlier catalog item, unscored items never rank."""
        scores = np.array(scores, dtype=float)
        scores[self.positions(exclude)] = -np.inf
        candidates = np.flatnonzero(np.isfinite(scores))
        best = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [self.item_ids[i] for i in best]


def user_item_matrix(ratings: pd.DataFrame, users: pd.Index, space: ItemSpace):
    """Binary users × items CSR matrix of who rated what (a repeated rating counts once)."""
    import scipy.sparse as sparse

    rows = users.get_indexer(ratings["user_id"])
    columns = space.positions(ratings["item_id"])
    matrix = sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, columns)),
                               shape=(len(users), len(space)))
    matrix.data[:] = 1.0
    return matrix


# --- titles as people type them --------------------------------------------------------------------------------------
_ALTERNATE = re.compile(r"\s*\([^()]*\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<article>The|A|An|Les|Le|La|L'|Il|El|Los|Las|Lo|Der|Die|Das|"
                               r"Den|Det|De|Het|Un|Une|Una|Uno|Ein|Eine|En|Ett|I|Gli|Os|As|O)$")
_TRAILING_YEAR = re.compile(r"\s*\(\d{4}(?:\s*[-–]\s*\d{0,4})?\)\s*$")


def typed_title(title: str) -> str:
    """A catalog title as a person would type it: "Matrix, The (1999)" → "The Matrix".

    The year and alternate titles in parentheses are dropped ("Amelie (Fabuleux destin d'Amélie Poulain, Le)" →
    "Amelie"), and a trailing article goes back to the front ("Dolce Vita, La" → "La Dolce Vita").
    """
    title = _TRAILING_YEAR.sub("", title.strip())
    while (alternate := _ALTERNATE.search(title)) and alternate.start() > 0:
        title = title[:alternate.start()]
    if moved := _TRAILING_ARTICLE.match(title):
        title = f"{moved['article']} {moved['body']}".replace("L' ", "L'")
    return title


def liked_sentence(titles: list[str]) -> str:
    """ "I loved A", "I loved A and B", "I loved A, B and C"."""
    if not titles:
        raise ValueError("no titles to say")
    listed = titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
    return f"I loved {listed}"
